import { spawn } from 'node:child_process';
import type dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { StreamRequestHandler, WorkerCrashedError, WorkerPoolStrategy, WorkerStartError, type StreamServerOptions } from 'sockserve';
import { datagramTransports, type DatagramClient, type DatagramServerClass } from '../../../test/helpers/datagram.js';
import { memoryLogger } from '../../../test/helpers/log.js';
import { transports, type Extend, type StreamServerClass } from '../../../test/helpers/matrix.js';
import { Clients, exchange, gate, readAll, readLine, until } from '../../../test/helpers/net.js';

const fixtures = new URL('./fixtures/handlers.js', import.meta.url);

/**
 * Whether a process runs. A worker that exited but was not reaped yet (an orphan waits for init,
 * which may be slow to reap) is a zombie: it no longer runs, so it counts as gone.
 */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

function pool(options: Partial<ConstructorParameters<typeof WorkerPoolStrategy>[0]> = {}) {
  return new WorkerPoolStrategy({ module: fixtures, workers: 2, ...options });
}

/** A server subclass that overrides verifyRequest() (refused when workers take requests themselves). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin pattern needs any[]
function overridingVerifyRequest<C extends new (...args: any[]) => object>(Base: C): C {
  return class extends Base {
    verifyRequest(): boolean {
      return true;
    }
  };
}

/** Writes `line` and reads one reply line. */
/**
 * Sends rounds of 4 'busy' datagrams (each keeps its worker from reading for 100 ms, so the next
 * go to others) until `count` workers have answered, or 8 s have passed; the pids that answered.
 */
async function answeringPids(client: DatagramClient, count: number): Promise<Set<string>> {
  const pids = new Set<string>();
  const deadline = Date.now() + 8_000;
  while (pids.size < count && Date.now() < deadline) {
    for (let i = 0; i < 4; i++) await client.send('busy');
    for (let i = 0; i < 4; i++) pids.add(String(await client.receive()));
  }
  return pids;
}

async function ask(socket: net.Socket, line: string): Promise<string> {
  socket.write(line);
  return readLine(socket);
}

describe.each(transports)('WorkerPoolStrategy over $name', (transport) => {
  async function serving(options: StreamServerOptions = {}, extend?: Extend<StreamServerClass>) {
    const { PoolEcho } = await import(fixtures.href);
    const fixture = transport.create(PoolEcho as never, { logger: false, concurrency: pool(), ...options }, extend);
    await fixture.server.listen();
    void fixture.server.serveForever();
    return fixture;
  }

  test('echoes, and spreads connections over the workers', async () => {
    await using fixture = await serving();
    expect((await exchange(fixture.server, 'a\nb\n')).toString()).toBe('a\nb\n');
    await using clients = new Clients();
    const sockets = await Promise.all(Array.from({ length: 6 }, () => clients.connect(fixture.server)));
    const pids = await Promise.all(sockets.map((socket) => ask(socket, 'pid\n')));
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(`${process.pid}\n`);
  });

  test("a worker's error reaches the parent's handleError, rebuilt with message, code and stack", async () => {
    const errors: unknown[] = [];
    await using fixture = await serving({}, (Base) =>
      class extends Base {
        override handleError(_request: unknown, _client: unknown, error: unknown): void {
          errors.push(error);
        }
      },
    );
    await exchange(fixture.server, 'fail\n');
    expect((await exchange(fixture.server, 'still\n')).toString()).toBe('still\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: 'failed in a worker', code: 'E_FIXTURE' });
    expect((errors[0] as Error).stack).toContain('handlers.js');
  });

  test("a handler's error reaches the parent's handleError before the connection closes", async () => {
    let closed = false;
    const seen = gate<boolean>();
    await using fixture = await serving({}, (Base) =>
      class extends Base {
        override async handleError(): Promise<void> {
          // Long enough for a close made by the worker to reach the client.
          await new Promise((resolve) => setTimeout(resolve, 150));
          seen.open(closed);
        }
      },
    );
    await using clients = new Clients();
    const client = await clients.connect(fixture.server);
    const all = readAll(client);
    client.once('end', () => (closed = true));
    client.write('fail\n');
    expect(await seen.promise).toBe(false);
    await all;
    expect(closed).toBe(true);
  });

  test('verifyRequest runs in the parent, before any handoff', async () => {
    let verified = 0;
    await using fixture = await serving({}, (Base) =>
      class extends Base {
        override verifyRequest(): boolean {
          verified++;
          return verified > 1;
        }
      },
    );
    expect((await exchange(fixture.server, 'refused\n')).length).toBe(0);
    expect((await exchange(fixture.server, 'accepted\n')).toString()).toBe('accepted\n');
  });

  test('a 1 MiB reply written in a worker arrives whole', async () => {
    await using fixture = await serving();
    expect((await exchange(fixture.server, 'big\n')).equals(Buffer.alloc(1024 * 1024, 'b'))).toBe(true);
  });

  test('a worker killed mid-request is reported and replaced, and serving goes on', async () => {
    await using fixture = await serving();
    const failed = gate<unknown>();
    fixture.server.on('requestError', (error) => failed.open(error));
    await exchange(fixture.server, 'crash\n');
    expect(await failed.promise).toBeInstanceOf(WorkerCrashedError);
    await until(() => (fixture.server.concurrency as WorkerPoolStrategy).pids.length === 2, 10_000);
    expect((await exchange(fixture.server, 'after\n')).toString()).toBe('after\n');
    expect(fixture.server.stats().strategy).toMatchObject({ workers: 2, restarts: 1 });
  });

  test('shutdown() from a worker stops the parent serveForever()', async () => {
    const { PoolEcho } = await import(fixtures.href);
    await using fixture = transport.create(PoolEcho as never, { logger: false, concurrency: pool() });
    await fixture.server.listen();
    const served = fixture.server.serveForever();
    expect((await exchange(fixture.server, 'stop\n')).toString()).toBe('stopping\n');
    await served;
  });

  test('serverClose() drains workers, then aborts past the deadline, and reports', async () => {
    const fixture = await serving();
    await using clients = new Clients();
    const slow = await clients.connect(fixture.server);
    const slowReply = readAll(slow);
    slow.end('slow\n');
    const hanging = await clients.connect(fixture.server);
    hanging.write('hang\n');
    await until(() => (fixture.server.concurrency as WorkerPoolStrategy).running === 2);
    expect(await fixture.server.serverClose({ timeout: 300 })).toEqual({ completed: 1, aborted: 1 });
    expect((await slowReply).toString()).toBe('slow done\n');
    expect((fixture.server.concurrency as WorkerPoolStrategy).pids).toEqual([]);
    await fixture[Symbol.asyncDispose]();
  });
});

describe.each(transports)('WorkerPoolStrategy over $name: handler view', (transport) => {
  async function serving() {
    const { PoolInfo } = await import(fixtures.href);
    const fixture = transport.create(PoolInfo as never, { logger: false, concurrency: pool() });
    await fixture.server.listen();
    return fixture;
  }

  test('handlers see the client address, the server address, and setup/handle before finish', async () => {
    await using fixture = await serving();
    void fixture.server.serveForever();
    const info = JSON.parse((await exchange(fixture.server, 'info\n')).toString()) as Record<string, unknown>;
    expect(info.server).toEqual(JSON.parse(JSON.stringify(fixture.server.serverAddress)));
    expect(info.calls).toEqual(['setup', 'handle']);
    if (typeof fixture.server.serverAddress === 'string') expect(info.client).toEqual({ path: null });
    else expect(info.client).toMatchObject({ host: fixture.server.serverAddress.host, family: fixture.server.serverAddress.family });
  });

  test('handleRequest() handles exactly one request in a worker', async () => {
    await using fixture = await serving();
    const handled = fixture.server.handleRequest();
    const reply = await exchange(fixture.server, 'once\n');
    await handled;
    expect(JSON.parse(reply.toString()).calls).toEqual(['setup', 'handle']);
  });

  test("an over-long line fails that request only (the handler's maxLineLength holds in workers)", async () => {
    await using fixture = await serving();
    void fixture.server.serveForever();
    const errors: unknown[] = [];
    fixture.server.on('requestError', (error) => errors.push(error));
    expect((await exchange(fixture.server, 'x'.repeat(5000) + '\n')).length).toBe(0);
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: 'ERR_SOCKSERVE_LIMIT_EXCEEDED' });
    expect((await exchange(fixture.server, 'ok\n')).length).toBeGreaterThan(0);
  });

  test('a client resetting mid-write reaches handleError, and serving goes on', async () => {
    await using fixture = await serving();
    void fixture.server.serveForever();
    const failed = gate<unknown>();
    fixture.server.on('requestError', (error) => failed.open(error));
    await using clients = new Clients();
    const socket = await clients.connect(fixture.server);
    socket.write('flood\n');
    await new Promise((resolve) => socket.once('data', resolve));
    if (typeof fixture.server.serverAddress === 'string' || (socket as { encrypted?: boolean }).encrypted === true) socket.destroy();
    else socket.resetAndDestroy();
    const error = (await failed.promise) as { code?: string };
    expect(['ECONNRESET', 'EPIPE', 'ERR_SOCKSERVE_CONNECTION_CLOSED']).toContain(error.code);
    expect((await exchange(fixture.server, 'next\n')).length).toBeGreaterThan(0);
  });
});

describe.each(transports)("WorkerPoolStrategy over $name, connections: 'shared'", (transport) => {
  async function serving(options: StreamServerOptions & { workers?: number } = {}, extend?: Extend<StreamServerClass>) {
    const { PoolEcho } = await import(fixtures.href);
    const { workers = 2, ...serverOptions } = options;
    const fixture = transport.create(PoolEcho as never, { logger: false, concurrency: pool({ connections: 'shared', workers }), ...serverOptions }, extend);
    await fixture.server.listen();
    void fixture.server.serveForever();
    return fixture;
  }

  /** Pids that answer on new connections, until `count` distinct ones did (or 10 s passed). */
  async function answering(server: Parameters<typeof exchange>[0], count: number): Promise<Set<string>> {
    const pids = new Set<string>();
    const end = Date.now() + 10_000;
    while (pids.size < count && Date.now() < end) pids.add((await exchange(server, 'pid\n')).toString().trim());
    return pids;
  }

  test('workers accept on the listener themselves: every worker serves, the parent accepts nothing', async () => {
    await using fixture = await serving();
    let accepted = 0;
    fixture.server.on('request', () => accepted++);
    expect((await exchange(fixture.server, 'a\nb\n')).toString()).toBe('a\nb\n');
    const pids = await answering(fixture.server, 2);
    expect([...pids].sort()).toEqual((fixture.server.concurrency as WorkerPoolStrategy).pids.map(String).sort());
    // 'request' events come batched from the workers, once someone listens.
    await until(() => accepted > 0);
    // The parent holds no listener: its process has no descriptor listening on the address.
    expect((fixture.server as unknown as { _listener: unknown })._listener).toBeUndefined();
  });

  test("a worker's error reaches the parent's handleError and 'requestError'", async () => {
    const errors: unknown[] = [];
    const requests: unknown[] = [];
    await using fixture = await serving({}, (Base) =>
      class extends Base {
        override handleError(request: unknown, _client: unknown, error: unknown): void {
          requests.push(request);
          errors.push(error);
        }
      },
    );
    await exchange(fixture.server, 'fail\n');
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ message: 'failed in a worker', code: 'E_FIXTURE' });
    expect(requests[0]).toBeInstanceOf(net.Socket); // not connected: the connection lived in the worker
    expect((await exchange(fixture.server, 'still\n')).toString()).toBe('still\n');
  });

  test('a server that overrides verifyRequest is refused at listen(), which leaves nothing behind', async () => {
    const { PoolEcho } = await import(fixtures.href);
    const strategy = pool({ connections: 'shared' });
    await using fixture = transport.create(PoolEcho as never, { logger: false, concurrency: strategy }, overridingVerifyRequest);
    await expect(fixture.server.listen()).rejects.toMatchObject({ code: 'ERR_SOCKSERVE_INVALID_ARGUMENT', message: /connections: 'handoff'/ });
    expect(strategy.pids).toEqual([]);
  });

  test('a crashed worker is replaced, the replacement accepts too, and serving goes on', async () => {
    await using fixture = await serving();
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    const before = strategy.pids;
    await exchange(fixture.server, 'crash\n');
    await until(() => strategy.pids.length === 2 && strategy.pids.some((pid) => !before.includes(pid)), 10_000);
    const pids = await answering(fixture.server, 2);
    expect([...pids].sort()).toEqual(strategy.pids.map(String).sort());
  });

  test('a pool whose only worker crashed listens again at the same address once it is replaced', async () => {
    await using fixture = await serving({ workers: 1 });
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    const [first] = strategy.pids;
    await exchange(fixture.server, 'crash\n');
    await until(() => strategy.pids.length === 1 && strategy.pids[0] !== first, 10_000);
    let reply = '';
    for (let attempt = 0; attempt < 40 && reply === ''; attempt++) {
      reply = await exchange(fixture.server, 'pid\n').then(
        (bytes) => bytes.toString().trim(),
        () => new Promise<string>((resolve) => setTimeout(() => resolve(''), 100)),
      );
    }
    expect(reply).toBe(String(strategy.pids[0]));
  });

  test('serverClose() stops the workers accepting, lets their requests finish, aborts the rest at the deadline, and reports', async () => {
    const fixture = await serving();
    let accepted = 0;
    fixture.server.on('request', () => accepted++);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the listener reaches the workers
    await using clients = new Clients();
    const slow = await clients.connect(fixture.server);
    const slowReply = readAll(slow);
    slow.end('slow\n');
    const hanging = await clients.connect(fixture.server);
    hanging.write('hang\n');
    await until(() => accepted === 2);
    expect(await fixture.server.serverClose({ timeout: 300 })).toEqual({ completed: 1, aborted: 1 });
    expect((await slowReply).toString()).toBe('slow done\n');
    expect((fixture.server.concurrency as WorkerPoolStrategy).pids).toEqual([]);
    // Nobody listens any more (and a Unix socket path is gone).
    await expect(exchange(fixture.server, 'x\n')).rejects.toMatchObject({ code: expect.stringMatching(/ECONNREFUSED|ENOENT/) });
    await fixture[Symbol.asyncDispose]();
  });
});

const datagramModes = datagramTransports.flatMap((transport) =>
  (['relay', 'shared'] as const).map((datagrams) => ({ name: `${transport.name}, ${datagrams}`, transport, datagrams })),
);

describe.each(datagramModes)('WorkerPoolStrategy over $name', ({ transport, datagrams }) => {
  async function serving(options: { workers?: number; maxDatagramSize?: number } = {}, extend?: Extend<DatagramServerClass>) {
    const { PoolUpper } = await import(fixtures.href);
    const { workers = 2, ...serverOptions } = options;
    const fixture = transport.create(
      PoolUpper as never,
      {
        logger: false,
        concurrency: pool({ datagrams, workers }),
        ...serverOptions,
      },
      extend,
    );
    await fixture.server.listen();
    void fixture.server.serveForever();
    return fixture;
  }

  test('runs datagram handlers in workers, sends their replies, and reports their errors', async () => {
    await using fixture = await serving();
    const errors: unknown[] = [];
    fixture.server.on('requestError', (error) => errors.push(error));
    await using client = await transport.client(fixture.server);
    await client.send('hello');
    expect((await client.receive())?.toString()).toBe('HELLO');
    await client.send('fail');
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ message: 'datagram failed in a worker' });
    expect((errors[0] as Error).stack).toContain('handlers.js');
    await client.send('pid');
    expect(Number((await client.receive())?.toString())).not.toBe(process.pid);
  });

  test('spreads datagrams over the workers', async () => {
    await using fixture = await serving();
    await using client = await transport.client(fixture.server);
    const pids = await answeringPids(client, 2);
    expect(pids.size).toBe(2);
    expect(pids).not.toContain(String(process.pid));
  });

  test("'request' and 'dropped' events fire in the parent", async () => {
    await using fixture = await serving({ maxDatagramSize: 16 });
    const requests: unknown[] = [];
    const dropped: unknown[] = [];
    fixture.server.on('request', (client) => requests.push(client));
    fixture.server.on('dropped', (info) => dropped.push(info));
    await using client = await transport.client(fixture.server);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the listener reaches the workers
    await client.send('one');
    expect((await client.receive())?.toString()).toBe('ONE');
    await client.send('x'.repeat(17));
    await until(() => requests.length === 1 && dropped.length === 1);
    expect(dropped[0]).toMatchObject({ reason: 'too-large', size: 17 });
  });

  test('a crashed worker is replaced and serving goes on', async () => {
    await using fixture = await serving();
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    const before = strategy.pids;
    const failed: unknown[] = [];
    fixture.server.on('requestError', (error) => failed.push(error));
    await using client = await transport.client(fixture.server);
    await client.send('crash');
    await until(() => strategy.pids.length === 2 && strategy.pids.some((pid) => !before.includes(pid)), 10_000);
    if (datagrams === 'relay') {
      await until(() => failed.length === 1);
      expect(failed[0]).toBeInstanceOf(WorkerCrashedError);
    }
    // The replacement reads once it has loaded and received the socket: it answers in time.
    const pids = await answeringPids(client, 2);
    expect([...pids].sort()).toEqual(strategy.pids.map(String).sort());
  });

  test('a pool whose only worker crashed serves again once it is replaced', async () => {
    await using fixture = await serving({ workers: 1 });
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    const [first] = strategy.pids;
    await using client = await transport.client(fixture.server);
    await client.send('crash');
    await until(() => strategy.pids.length === 1 && strategy.pids[0] !== first, 10_000);
    let reply: Buffer | undefined;
    for (let attempt = 0; attempt < 20 && reply === undefined; attempt++) {
      await client.send('pid');
      reply = await client.receive(250);
    }
    expect(reply?.toString()).toBe(String(strategy.pids[0]));
  });

  test('serverClose() lets requests in workers finish, aborts the rest at the deadline, and reports', async () => {
    const fixture = await serving();
    await using client = await transport.client(fixture.server);
    await client.send('slow');
    await client.send('hang');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await fixture.server.serverClose({ timeout: 300 })).toEqual({ completed: 1, aborted: 1 });
    expect((await client.receive())?.toString()).toBe('SLOW');
    expect((fixture.server.concurrency as WorkerPoolStrategy).pids).toEqual([]);
    await fixture[Symbol.asyncDispose]();
  });

  if (datagrams === 'relay') {
    test('verifyRequest runs in the parent', async () => {
      await using fixture = await serving({}, (Base) =>
        class extends Base {
          override verifyRequest([packet]: [Buffer, dgram.Socket]): boolean {
            return packet.toString() !== 'refused';
          }
        },
      );
      await using client = await transport.client(fixture.server);
      await client.send('refused');
      await client.send('accepted');
      expect((await client.receive())?.toString()).toBe('ACCEPTED');
    });
  } else {
    test('a server that overrides verifyRequest is refused at listen(), which leaves nothing behind', async () => {
      const { PoolUpper } = await import(fixtures.href);
      const strategy = pool({ datagrams });
      await using fixture = transport.create(PoolUpper as never, { logger: false, concurrency: strategy }, overridingVerifyRequest);
      await expect(fixture.server.listen()).rejects.toMatchObject({ code: 'ERR_SOCKSERVE_INVALID_ARGUMENT', message: /datagrams: 'relay'/ });
      expect(strategy.pids).toEqual([]);
    });
  }
});

describe('WorkerPoolStrategy lifecycle', () => {
  const [tcp] = transports;

  test('the fixtures workers import are the same classes in the test process (one copy of each package)', async () => {
    const { PoolEcho } = await import(fixtures.href);
    expect(Object.getPrototypeOf(PoolEcho)).toBe(StreamRequestHandler);
    const conformance = await import('../../../test/fixtures/conformance_handlers.js');
    expect(Object.getPrototypeOf(conformance.EchoLines)).toBe(StreamRequestHandler);
  });

  test('a module without the export fails listen() with WorkerStartError, leaving nothing behind', async () => {
    const { PoolEcho } = await import(fixtures.href);
    await using fixture = tcp!.create(PoolEcho as never, { logger: false, concurrency: pool({ exportName: 'Missing' }) });
    const error = await fixture.server.listen().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as Error).message).toContain('no export named `Missing`');
    expect((error as Error).message).toContain('`exportName`');
    expect((error as Error).message).toMatch(/for example `exportName: 'Pool\w+'`/);
  });

  test('a handler class without a name is refused at listen(), suggesting exportName', async () => {
    const { PoolEcho } = await import(fixtures.href);
    const Anonymous = (() => class extends (PoolEcho as typeof StreamRequestHandler) {})();
    expect(Anonymous.name).toBe('');
    const strategy = pool();
    await using fixture = tcp!.create(Anonymous as never, { logger: false, concurrency: strategy });
    const error = await fixture.server.listen().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SOCKSERVE_INVALID_ARGUMENT' });
    expect((error as Error).message).toContain('exportName');
    expect(strategy.pids).toEqual([]);
  });

  test('a module that cannot be imported fails listen() with WorkerStartError', async () => {
    const { PoolEcho } = await import(fixtures.href);
    await using fixture = tcp!.create(PoolEcho as never, {
      logger: false,
      concurrency: pool({ module: new URL('./fixtures/missing.js', import.meta.url) }),
    });
    await expect(fixture.server.listen()).rejects.toMatchObject({ code: 'ERR_SOCKSERVE_WORKER_START' });
  });

  test('workers log through the parent logger with a worker binding', async () => {
    const { logger, records } = memoryLogger('info');
    const { PoolEcho } = await import(fixtures.href);
    await using fixture = tcp!.create(PoolEcho as never, { logger, concurrency: pool() });
    await fixture.server.listen();
    void fixture.server.serveForever();
    expect((await exchange(fixture.server, 'log\n')).toString()).toBe('logged\n');
    await until(() => records.some((r) => r.event === 'from-worker'));
    const record = records.find((r) => r.event === 'from-worker')!;
    expect(record.msg).toBe('logged in a worker');
    expect(typeof record.worker).toBe('number');
    expect(record.client).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test('rejects bad options, quoting them', () => {
    expect(() => new WorkerPoolStrategy({ module: fixtures, workers: 0 })).toThrow(/got `0`/);
    expect(() => new WorkerPoolStrategy({ module: '' })).toThrow(/import\.meta\.url/);
    expect(() => new WorkerPoolStrategy({ module: fixtures, datagrams: 'threads' as never })).toThrow(/got `threads`/);
  });

  test.skipIf(process.platform !== 'linux')('killing the parent with SIGKILL leaves no worker behind, even one stuck in a loop', async () => {
    const parent = spawn(process.execPath, [new URL('./fixtures/parent.js', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    const line = await new Promise<string>((resolve) => {
      let out = '';
      parent.stdout!.on('data', (chunk: Buffer) => {
        out += chunk;
        if (out.includes('\n')) resolve(out);
      });
    });
    const [, first, second, , port] = line.trim().split(' ');
    const pids = [Number(first), Number(second)];
    // One worker is stuck in a busy loop and will never read its IPC channel again.
    const spinner = net.connect(Number(port), '127.0.0.1');
    spinner.on('error', () => {});
    spinner.write('spin\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    parent.kill('SIGKILL');
    await exited;
    await until(() => pids.every((pid) => !alive(pid)), 2_000);
    spinner.destroy();
  });
});

describe.skipIf(process.platform !== 'linux')('a handler module that also starts the server (one-file layout)', () => {
  /** Runs fixtures/one_file.js as a program; every process that loads it writes its pid to a file. */
  async function runOneFile(env: Record<string, string>) {
    const dir = await mkdtemp(join(tmpdir(), 'sockserve-one-file-'));
    const pidFile = join(dir, 'pids');
    await writeFile(pidFile, '');
    const started = Date.now();
    const child = spawn(process.execPath, [new URL('./fixtures/one_file.js', import.meta.url).pathname], {
      env: { ...process.env, SOCKSERVE_TEST_PIDS: pidFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<{ code: number | null; after: number }>((resolve) =>
      child.once('exit', (code) => resolve({ code, after: Date.now() - started })),
    );
    const pids = async (): Promise<number[]> =>
      (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    return {
      child,
      exited,
      pids,
      out: () => out,
      err: () => err,
      async [Symbol.asyncDispose]() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  test('without a guard it fails at once with ServerInWorkerError, forks no more than its workers, and leaves none behind', async () => {
    await using program = await runOneFile({});
    const { code, after } = await program.exited;
    expect(code).not.toBe(0);
    expect(program.err()).toContain('ERR_SOCKSERVE_SERVER_IN_WORKER');
    expect(program.err()).toContain('if (!isWorker)');
    // Node's start-up and two workers' imports: well under the 10 s start timeout it used to wait.
    expect(after).toBeLessThan(3_000);
    const pids = await program.pids();
    expect(pids.length).toBeGreaterThanOrEqual(2); // the program and at least one worker
    expect(pids.length).toBeLessThanOrEqual(3); // the program and its 2 workers, never more
    await until(() => pids.every((pid) => !alive(pid)), 3_000);
  });

  test('guarded by isWorker it serves from every worker, and SIGINT stops it cleanly with idle clients attached', async () => {
    await using program = await runOneFile({ GUARDED: '1' });
    await until(() => /port \d+/.test(program.out()), 10_000);
    const port = Number(/port (\d+)/.exec(program.out())![1]);
    await using clients = new Clients();
    const sockets = await Promise.all(Array.from({ length: 4 }, () => clients.connect({ serverAddress: { host: '127.0.0.1', port, family: 'IPv4' } })));
    const replies = await Promise.all(sockets.map((socket) => ask(socket, 'hi\n')));
    const pids = await program.pids();
    expect(pids).toHaveLength(3);
    for (const reply of replies) expect(pids.slice(1)).toContain(Number(reply.split(' ')[0]));
    // Each client stays connected and idle: its handler waits in lines().
    const signalled = Date.now();
    program.child.kill('SIGINT');
    const { code } = await program.exited;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(1_000 + 1_000);
    expect(program.out()).toMatch(/stopped by SIGINT: 0 completed, 4 aborted/);
    await until(() => pids.every((pid) => !alive(pid)), 3_000);
  });
});

describe.skipIf(process.platform !== 'linux')('WorkerPoolStrategy: a worker that dies during a handoff', () => {
  const [tcp] = transports;
  const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

  test('the handed connection is closed and reported, and the parent keeps no descriptor of it', async () => {
    const { PoolEcho } = await import(fixtures.href);
    await using fixture = tcp!.create(PoolEcho as never, { logger: false, concurrency: pool({ workers: 1 }) });
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    const errors: unknown[] = [];
    fixture.server.on('requestError', (error) => errors.push(error));
    await fixture.server.listen();
    void fixture.server.serveForever();
    expect((await exchange(fixture.server, 'warm\n')).toString()).toBe('warm\n');
    await until(() => strategy.running === 0); // the worker reports after the client saw the close
    const baseline = openDescriptors();
    const [victim] = strategy.pids;
    // A stopped worker cannot take the connection; it dies before it acknowledges it.
    process.kill(victim!, 'SIGSTOP');
    await using clients = new Clients();
    const client = await clients.connect(fixture.server);
    const heard = readAll(client);
    client.write('hello\n');
    await until(() => strategy.running === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.kill(victim!, 'SIGKILL');
    expect((await heard).length).toBe(0); // closed, not left hanging
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(WorkerCrashedError);
    await until(() => strategy.pids.length === 1 && strategy.pids[0] !== victim, 10_000);
    await until(() => openDescriptors() <= baseline, 2_000);
    expect((await exchange(fixture.server, 'after\n')).toString()).toBe('after\n');
  });

  test('serverClose({ timeout }) resolves within its deadline after a crash with no traffic since', async () => {
    const { PoolEcho } = await import(fixtures.href);
    const fixture = tcp!.create(PoolEcho as never, { logger: false, concurrency: pool({ workers: 1 }) });
    const strategy = fixture.server.concurrency as WorkerPoolStrategy;
    await fixture.server.listen();
    void fixture.server.serveForever();
    expect((await exchange(fixture.server, 'warm\n')).toString()).toBe('warm\n');
    const [victim] = strategy.pids;
    await exchange(fixture.server, 'crash\n');
    await until(() => strategy.pids.length === 1 && strategy.pids[0] !== victim, 10_000);
    const started = Date.now();
    await fixture.server.serverClose({ timeout: 2_000 });
    expect(Date.now() - started).toBeLessThan(2_000 + 500);
    await fixture[Symbol.asyncDispose]();
  });
});
