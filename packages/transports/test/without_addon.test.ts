/**
 * `@sockserve/unix-dgram` is optional: a project installed without it (`npm install
 * --omit=optional`) compiles and runs everything but Unix datagrams, and using those says why.
 * The project is laid out as npm would install it, minus the addon package.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'sockserve-no-addon-'));
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '@sockserve', 'transports'), { recursive: true });
  mkdirSync(join(modules, '@types'), { recursive: true });
  symlinkSync(join(root, 'packages/core'), join(modules, '@sockserve', 'core'));
  for (const entry of ['package.json', 'dist']) {
    cpSync(join(root, 'packages/transports', entry), join(modules, '@sockserve', 'transports', entry), { recursive: true });
  }
  symlinkSync(join(root, 'packages/transports/node_modules/pino'), join(modules, 'pino'));
  symlinkSync(join(root, 'node_modules/@types/node'), join(modules, '@types', 'node'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'tcp-only', private: true, type: 'module' }));
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

test("no declaration of the packages users install imports the optional addon's types", () => {
  for (const pkg of ['core', 'handlers', 'transports', 'worker-pool', 'sockserve']) {
    const dist = join(root, 'packages', pkg, 'dist');
    for (const file of readdirSync(dist).filter((name) => name.endsWith('.d.ts'))) {
      expect(readFileSync(join(dist, file), 'utf8'), `${pkg}/dist/${file}`).not.toMatch(/(from|import\()\s*['"]@sockserve\/unix-dgram['"]/);
    }
  }
});

test('a TCP program compiles under skipLibCheck: false without the addon package', () => {
  writeFileSync(
    join(project, 'main.ts'),
    `import { TCPServer, UnixDatagramServer } from '@sockserve/transports';
     class Handler { handle(): void {} }
     const server = new TCPServer({ host: '127.0.0.1', port: 0 }, Handler);
     const logs: UnixDatagramServer | undefined = undefined;
     console.log(server.serverAddress.port, logs);\n`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, module: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
      files: ['main.ts'],
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  expect(() => execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' })).not.toThrow();
});

test('using a UnixDatagramServer there fails with a coded error that says the package is not installed', () => {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { UnixDatagramServer } = await import('@sockserve/transports');
       const server = new UnixDatagramServer(${JSON.stringify(join(project, 'log.sock'))}, class { handle() {} }, { logger: false });
       try { await server.listen(); console.log('listening'); }
       catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }
       await server.serverClose();`,
    ],
    { cwd: project, encoding: 'utf8' },
  );
  const error = JSON.parse(out) as { code: string; message: string };
  expect(error.code).toBe('ERR_SOCKSERVE_ADDON_UNAVAILABLE');
  expect(error.message).toContain('@sockserve/unix-dgram is not installed');
  expect(error.message).toContain('npm install @sockserve/unix-dgram');
  expect(error.message).not.toContain('C compiler');
});
