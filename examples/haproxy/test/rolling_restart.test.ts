/**
 * Backends behind a real HAProxy. A rolling restart: while 200 clients keep exchanging verified
 * requests for 30 seconds, each of 3 backends in turn gets SIGTERM and is started again; no
 * request may fail or get a wrong answer, every backend must exit 0, and each must see the
 * clients' own addresses (PROXY protocol v2). A crash: a backend killed with SIGKILL fails only
 * the requests it had in flight.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../../../test/helpers/net.js';
import { haproxyConfig, type Backend } from '../src/config.js';

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
const backendMain = fileURLToPath(new URL('../dist/backend.js', import.meta.url));
const CLIENTS = 200;
const SECONDS = 30;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a backend; resolves once it listens. */
async function startBackend(backend: Backend): Promise<ChildProcess> {
  const child = spawn(process.execPath, [backendMain, '--port', String(backend.port), '--agent-port', String(backend.agentPort), '--drain-delay', '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('backend listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`backend exited with ${code} before listening`)));
  });
  return child;
}

/** One request on a new connection through HAProxy: resolves with the reply line. */
function request(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('\n')) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => (reply.endsWith('\n') ? resolve(reply.trimEnd()) : reject(new Error(`closed with ${JSON.stringify(reply)}`))));
    socket.on('connect', () => socket.write(`${line}\n`));
  });
}

/**
 * Three backends and HAProxy in front of them, on loopback; up once a request goes through. On
 * dispose, everything is stopped.
 */
async function startCluster() {
  const dir = tempDir();
  const port = await freePort();
  const backends: Backend[] = [];
  for (let i = 0; i < 3; i++) backends.push({ name: `app${i + 1}`, port: await freePort(), agentPort: await freePort() });
  const running = new Map<Backend, ChildProcess>();
  for (const backend of backends) running.set(backend, await startBackend(backend));
  const config = dir.file('haproxy.cfg');
  writeFileSync(config, haproxyConfig(port, backends));
  const haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // HAProxy's own log (server state changes, alerts), read so that its pipe never fills, and
  // shown if the cluster does not come up.
  let log = '';
  haproxy.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-4000)));
  const dispose = async (): Promise<void> => {
    haproxy.kill('SIGTERM');
    for (const child of running.values()) child.kill('SIGTERM');
    await Promise.all(
      [haproxy, ...running.values()].map((child) =>
        child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined,
      ),
    );
    dir[Symbol.dispose]();
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await request(port, '0 warm');
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await dispose();
        throw new Error(`HAProxy did not pass a request within 15 s (${(error as Error).message}); its log:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { port, backends, running, [Symbol.asyncDispose]: dispose };
}

describe.skipIf(!hasHaproxy)('examples/haproxy: a rolling restart', () => {
  test(
    `${CLIENTS} clients for ${SECONDS} s while each of 3 backends is restarted: no request fails`,
    async () => {
      await using cluster = await startCluster();
      const { port, backends, running } = cluster;
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const client = async (id: number): Promise<void> => {
        for (let seq = 0; !stop; seq++) {
          const text = `c${id}s${seq}`;
          try {
            const reply = await request(port, `${id}:${seq} ${text}`);
            const [rid, body, seen] = reply.split(' ');
            if (rid !== `${id}:${seq}` || body !== text.toUpperCase() || !seen?.startsWith('127.0.0.1:')) failures.push(`wrong reply ${reply}`);
            else ok++;
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      };
      const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
      const exits: Array<number | null> = [];
      const slot = (SECONDS * 1000) / backends.length;
      for (const backend of backends) {
        await new Promise((resolve) => setTimeout(resolve, slot / 2));
        const child = running.get(backend)!;
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        exits.push(await exited);
        running.set(backend, await startBackend(backend));
        await new Promise((resolve) => setTimeout(resolve, slot / 2));
      }
      stop = true;
      await Promise.all(clients);
      expect(exits).toEqual([0, 0, 0]);
      expect(failures.slice(0, 10)).toEqual([]);
      expect(ok).toBeGreaterThan(CLIENTS * SECONDS);
    },
    (SECONDS + 30) * 1000,
  );

  test('a backend killed with SIGKILL fails only the requests it had in flight; the others go on', async () => {
    await using cluster = await startCluster();
    const { port, backends, running } = cluster;
    let stop = false;
    let killedAt = Number.POSITIVE_INFINITY;
    let okAfter = 0;
    const failures: number[] = [];
    const clients = Array.from({ length: 50 }, async (_, id) => {
      for (let seq = 0; !stop; seq++) {
        try {
          const reply = await request(port, `${id}:${seq} x`);
          if (!reply.startsWith(`${id}:${seq} X `)) failures.push(Date.now());
          else if (Date.now() > killedAt + 1_000) okAfter++;
        } catch {
          failures.push(Date.now());
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const victim = running.get(backends[0]!)!;
    killedAt = Date.now();
    victim.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    stop = true;
    await Promise.all(clients);
    // At most the 50 requests in flight could fail, all of them at the moment of the kill.
    expect(failures.length).toBeLessThanOrEqual(50);
    expect(failures.filter((at) => at > killedAt + 1_000)).toEqual([]);
    expect(okAfter).toBeGreaterThan(100);
  }, 30_000);
});
