/**
 * `pnpm clean` (and the release, which cleans before it builds) removes every built file, including
 * the outputs of sources that no longer exist, which `tsc -b --clean` leaves behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
// @ts-expect-error: a plain JavaScript script of the repository, without declarations.
import { buildDirs, cleanBuilds } from '../scripts/clean.js';

test('cleanBuilds removes dist/ with stale outputs and the build info, and keeps the sources', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sockserve-clean-'));
  try {
    await mkdir(join(dir, 'dist'));
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'index.ts'), 'export {};\n');
    await writeFile(join(dir, 'dist', 'index.js'), 'export {};\n');
    await writeFile(join(dir, 'dist', 'renamed_long_ago.js'), 'export {};\n');
    await writeFile(join(dir, 'tsconfig.tsbuildinfo'), '{}');
    cleanBuilds([dir]);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    expect(existsSync(join(dir, 'tsconfig.tsbuildinfo'))).toBe(false);
    expect(existsSync(join(dir, 'src', 'index.ts'))).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('buildDirs lists every package and example that tsc -b builds', () => {
  const dirs = (buildDirs() as string[]).map((dir) => dir.split(/[\\/]/).slice(-2).join('/'));
  expect(dirs).toEqual(expect.arrayContaining(['packages/core', 'packages/worker-pool', 'examples/echo', 'examples/resp']));
  expect(dirs.every((dir) => dir.startsWith('packages/') || dir.startsWith('examples/'))).toBe(true);
});
