/**
 * The first-publish experience, on every run: pack every public package as a release would, install
 * the tarballs with npm into a fresh project, import every export (ESM, and require() where Node
 * loads ES modules with it), compile a TypeScript consumer under `nodenext` and `bundler`, and run
 * a tiny echo server from the installed packages.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
// @ts-expect-error: a plain JavaScript script of the repository, without declarations.
import { packAll, root } from '../scripts/pack.js';

const run = promisify(execFile);
const tsc = join(root as string, 'node_modules/typescript/bin/tsc');

interface Pack {
  name: string;
  version: string;
  tarball: string;
  files: Array<{ path: string; size: number }>;
}

let dir = '';
let app = '';
let packs: Pack[] = [];
/** Node loads ES modules with require() (20.19+, 22.12+). */
const requireEsm = (process.features as { require_module?: boolean }).require_module === true;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sockserve-packaging-'));
  packs = packAll(dir) as Pack[];
  app = join(dir, 'app');
  const tarballs = Object.fromEntries(packs.map((pack) => [pack.name, `file:${pack.tarball}`]));
  await run('mkdir', ['-p', app]);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { ...tarballs, '@types/node': '20.19.43' }, overrides: tarballs }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, timeout: 170_000 });
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every tarball has its README, LICENSE, built code and declarations, and no workspace: or catalog: range', async () => {
  expect(packs.map((pack) => pack.name).sort()).toEqual(
    ['@sockserve/core', '@sockserve/handlers', '@sockserve/testing', '@sockserve/transports', '@sockserve/unix-dgram', '@sockserve/worker-pool', 'sockserve'].sort(),
  );
  for (const pack of packs) {
    const paths = pack.files.map((file) => file.path);
    expect(paths, pack.name).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(paths.some((path) => path.endsWith('.test.ts')), pack.name).toBe(false);
    const manifest = await readFile(join(app, 'node_modules', pack.name, 'package.json'), 'utf8');
    expect(manifest, pack.name).not.toMatch(/"(workspace|catalog):/);
    expect(JSON.parse(manifest).repository?.directory, pack.name).toMatch(/^packages\//);
  }
});

test('typed events come without rxjs or typed-emitter in the install', async () => {
  const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: app });
  expect(stdout).not.toMatch(/node_modules\/(rxjs|typed-emitter)$/m);
});

test('every export of every package imports as ESM, and with require() where Node allows it', async () => {
  const script = `
    import { createRequire } from 'node:module';
    import { readFileSync } from 'node:fs';
    const require = createRequire(import.meta.url);
    const names = ${JSON.stringify(packs.map((pack) => pack.name))};
    const out = {};
    for (const name of names) {
      const manifest = JSON.parse(readFileSync(new URL('./node_modules/' + name + '/package.json', import.meta.url), 'utf8'));
      for (const subpath of Object.keys(manifest.exports).filter((key) => key !== './package.json')) {
        const specifier = subpath === '.' ? name : name + subpath.slice(1);
        const esm = Object.keys(await import(specifier)).sort();
        const cjs = ${requireEsm} ? Object.keys(require(specifier)).filter((key) => key !== '__esModule' && key !== 'module.exports').sort() : esm;
        out[specifier] = { esm: esm.length, same: JSON.stringify(esm) === JSON.stringify(cjs) };
      }
    }
    console.log(JSON.stringify(out));
  `;
  await writeFile(join(app, 'imports.mjs'), script);
  const { stdout } = await run(process.execPath, ['imports.mjs'], { cwd: app });
  const result = JSON.parse(stdout) as Record<string, { esm: number; same: boolean }>;
  expect(Object.keys(result)).toEqual(expect.arrayContaining(['sockserve', '@sockserve/core', '@sockserve/core/internal', '@sockserve/transports/tcp', '@sockserve/transports/tls', '@sockserve/unix-dgram']));
  for (const [specifier, { esm, same }] of Object.entries(result)) {
    expect(esm, specifier).toBeGreaterThan(0);
    expect(same, specifier).toBe(true);
  }
});

const consumer = `
import net from 'node:net';
import { StreamRequestHandler, TCPServer, type ServerStats } from 'sockserve';
import { TCPServer as TcpOnly } from '@sockserve/transports/tcp';

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

const server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
server.on('request', (client) => void client.port);
await server.listen();
void server.serveForever();
const socket = net.connect(server.serverAddress.port, '127.0.0.1');
socket.end('hello\\n');
let reply = '';
for await (const chunk of socket) reply += String(chunk);
const stats: ServerStats = server.stats();
await server.serverClose();
console.log(JSON.stringify({ reply, requests: stats.requests, same: TcpOnly === TCPServer }));
`;

for (const resolution of ['nodenext', 'bundler'] as const) {
  test(`a TypeScript consumer compiles under moduleResolution ${resolution} and its echo server runs`, async () => {
    const sub = join(app, resolution);
    await run('mkdir', ['-p', sub]);
    await writeFile(join(sub, 'main.ts'), consumer);
    await writeFile(join(sub, 'package.json'), JSON.stringify({ type: 'module' }));
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    await run(process.execPath, [tsc, '--strict', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, '--types', 'node', '--skipLibCheck', 'false', '--outDir', 'out', 'main.ts'], { cwd: sub }).catch((error: { stdout: string }) => {
      throw new Error(`tsc failed:\n${error.stdout}`);
    });
    const { stdout } = await run(process.execPath, ['out/main.js'], { cwd: sub });
    expect(JSON.parse(stdout)).toEqual({ reply: 'hello\n', requests: 1, same: true });
  });
}

test.runIf(requireEsm)('a CommonJS consumer (.cts under nodenext) compiles, and require() runs its echo', async () => {
  const sub = join(app, 'cjs');
  await run('mkdir', ['-p', sub]);
  await writeFile(
    join(sub, 'main.cts'),
    `
import net = require('node:net');
import sockserve = require('sockserve');

class Echo extends sockserve.StreamRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.pipeFrom(this.rfile);
  }
}

async function main(): Promise<void> {
  const server = new sockserve.TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
  await server.listen();
  void server.serveForever();
  const socket = net.connect(server.serverAddress.port, '127.0.0.1');
  socket.end('hi\\n');
  let reply = '';
  for await (const chunk of socket) reply += String(chunk);
  await server.serverClose();
  console.log(reply.trim());
}
void main();
`,
  );
  await run(process.execPath, [tsc, '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--outDir', 'out', 'main.cts'], { cwd: sub }).catch((error: { stdout: string }) => {
    throw new Error(`tsc failed:\n${error.stdout}`);
  });
  const { stdout } = await run(process.execPath, ['out/main.cjs'], { cwd: sub });
  expect(stdout.trim()).toBe('hi');
});

test('publishing refuses anything but `pnpm release`, and the addon refuses without all its binaries', async () => {
  const guard = join(root as string, 'scripts/prepublish.js');
  const attempt = (pkg: string, env: Record<string, string>) =>
    run(process.execPath, [guard], { cwd: join(root as string, 'packages', pkg), env: { PATH: process.env.PATH ?? '', ...env } }).then(
      () => ({ ok: true, stderr: '' }),
      (error: { stderr: string }) => ({ ok: false, stderr: error.stderr }),
    );
  const npm = await attempt('core', { npm_config_user_agent: 'npm/10.8.2 node/v20.20.2 linux x64' });
  expect(npm.ok).toBe(false);
  expect(npm.stderr).toContain('Refusing to publish @sockserve/core');
  expect(npm.stderr).toContain('pnpm release');
  const bare = await attempt('core', { npm_config_user_agent: 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64' });
  expect(bare.ok).toBe(false);
  expect(await attempt('core', { npm_config_user_agent: 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64', SOCKSERVE_RELEASE: '1' })).toEqual({ ok: true, stderr: '' });
  // The binaries a release gathers from every platform are never all on one machine.
  const addon = await attempt('unix-dgram', { npm_config_user_agent: 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64', SOCKSERVE_RELEASE: '1' });
  expect(addon.ok).toBe(false);
  expect(addon.stderr).toMatch(/prebuilt binaries are missing for .*darwin-arm64/);
});
