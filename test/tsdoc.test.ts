/** Every public declaration carries TSDoc with an example, and every module says what it is. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));
const files = readdirSync(packages).flatMap((pkg) =>
  readdirSync(join(packages, pkg, 'src'))
    .filter((file) => file.endsWith('.ts') && !file.startsWith('_'))
    .map((file) => join(pkg, 'src', file)),
);

describe.each(files)('%s', (file) => {
  const source = readFileSync(join(packages, file), 'utf8');

  test('opens with a module comment', () => {
    expect(source.startsWith('/**')).toBe(true);
    expect(source.slice(0, source.indexOf('*/'))).toContain('@module');
  });

  test('documents every exported declaration with an @example', () => {
    const missing: string[] = [];
    const declaration = /^export (?:abstract )?(?:class|function|interface|type|const) (\w+)/gm;
    for (const match of source.matchAll(declaration)) {
      const before = source.slice(0, match.index).trimEnd();
      const doc = before.endsWith('*/') ? before.slice(before.lastIndexOf('/**')) : '';
      if (!doc.includes('@example')) missing.push(match[1]!);
    }
    expect(missing).toEqual([]);
  });
});
