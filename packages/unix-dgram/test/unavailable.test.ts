import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('where no binary can be loaded, using the socket fails with a coded error naming the cause', () => {
  // A copy of the package's code with no build and no prebuilds beside it.
  const copy = mkdtempSync(join(packageDir, '.no-binary-'));
  try {
    cpSync(join(packageDir, 'dist'), join(copy, 'dist'), { recursive: true });
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(join(copy, 'dist', 'index.js'))});
         try { new m.UnixDatagramSocket(); console.log('loaded'); }
         catch (error) { console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message })); }`,
      ],
      { encoding: 'utf8' },
    );
    const error = JSON.parse(out) as { name: string; code: string; message: string };
    expect(error.name).toBe('AddonUnavailableError');
    expect(error.code).toBe('ERR_SOCKSERVE_ADDON_UNAVAILABLE');
    expect(error.message).toContain(`${process.platform}-${process.arch}`);
    expect(error.message).toMatch(/No native build was found/);
    // The usual causes and their fixes: build scripts blocked, or nothing to build with.
    expect(error.message).toContain('pnpm approve-builds');
    expect(error.message).toContain('npm rebuild @sockserve/unix-dgram');
    expect(error.message).toContain('C compiler and Python');
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
