/**
 * The README's first example, extracted from the README itself (so the two cannot drift), run as
 * a program the way a user runs it, and stopped with Ctrl-C while clients are attached.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { expect, test } from 'vitest';
import { Clients, readLine } from './helpers/net.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test("the README's first example stops on the first Ctrl-C with idle clients attached, within its grace period", async () => {
  const example = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  expect(example).toContain('serveUntilSignal()');
  // The README promises 5 seconds of grace by default.
  expect(readme).toContain('5 seconds to finish');
  const graceMs = 5_000;
  const port = await freePort();
  const program = ts
    .transpileModule(example, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } })
    .outputText.replace(/from 'sockserve'/g, `from '${pathToFileURL(join(root, 'packages/sockserve/dist/index.js')).href}'`)
    .replace(/port: 9000/, `port: ${port}`);
  const dir = await mkdtemp(join(tmpdir(), 'sockserve-readme-'));
  const file = join(dir, 'example.mjs');
  await writeFile(file, program);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const address = { serverAddress: { host: '127.0.0.1', port, family: 'IPv4' as const } };
    // The example prints nothing: wait until it accepts connections.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await new Promise<boolean>((resolve) => {
        const probe = net.connect(port, '127.0.0.1');
        probe.once('connect', () => (probe.destroy(), resolve(true)));
        probe.once('error', () => resolve(false));
      });
      if (up) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the example did not start:\n${err}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await using clients = new Clients();
    // One client talks, then sits idle in lines(); another sent half a line; a third never spoke.
    const talker = await clients.connect(address);
    talker.write('hello\n');
    expect(await readLine(talker)).toBe('hello\n');
    const half = await clients.connect(address);
    half.write('no newline yet');
    const silent = await clients.connect(address);
    const closed = [talker, half, silent].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const signalled = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    const took = Date.now() - signalled;
    expect({ code, err }).toEqual({ code: 0, err: expect.any(String) });
    expect(took).toBeLessThan(graceMs + 1_000);
    await Promise.all(closed);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}, 20_000);
