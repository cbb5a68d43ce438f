import { readdirSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  BaseRequestHandler,
  ConnectionClosedError,
  InvalidArgumentError,
  ListenError,
  MemoryServer,
  ServerClosedError,
  SockserveError,
  StreamRequestHandler,
  TCPServer,
  TimeoutError,
  UDPServer,
  type InetAddress,
} from 'sockserve';
import { memoryLogger } from '../../../test/helpers/log.js';
import { Clients, connect, exchange, gate, readAll, until } from '../../../test/helpers/net.js';

const local = { host: '127.0.0.1', port: 0 };

class Echo extends StreamRequestHandler {
  override async handle() {
    await this.wfile.pipeFrom(this.rfile);
  }
}


function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('listen()', () => {
  test('is idempotent and reports the real port', async () => {
    await using server = new TCPServer(local, Echo, { logger: false });
    const first = server.listen();
    expect(server.listen()).toBe(first);
    await first;
    expect(server.serverAddress.port).toBeGreaterThan(0);
    expect(server.serverAddress).toMatchObject({ host: '127.0.0.1', family: 'IPv4' });
    expect(server.listening).toBe(true);
    const { port } = server.serverAddress;
    await server.serverClose();
    expect(server.serverAddress.port).toBe(port); // still the bound address after close
  });

  test('rejects with EADDRINUSE for a taken port, and may be retried', async () => {
    await using first = new TCPServer(local, Echo, { logger: false });
    await first.listen();
    await using second = new TCPServer({ host: '127.0.0.1', port: first.serverAddress.port }, Echo, { logger: false });
    const error = (await second.listen().catch((e: unknown) => e)) as ListenError;
    expect(error).toBeInstanceOf(ListenError);
    expect(error).toBeInstanceOf(SockserveError);
    expect(error.code).toBe('EADDRINUSE');
    expect(error.message).toContain(`127.0.0.1:${first.serverAddress.port}`);
    expect(second.listening).toBe(false);
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  test.skipIf(process.platform !== 'linux')('a failed bind leaks no descriptor', async () => {
    await using first = new TCPServer(local, Echo, { logger: false });
    await first.listen();
    const before = openDescriptors();
    for (let i = 0; i < 20; i++) {
      const server = new TCPServer({ host: '127.0.0.1', port: first.serverAddress.port }, Echo, { logger: false });
      await expect(server.listen()).rejects.toBeInstanceOf(ListenError);
      await server.serverClose();
    }
    expect(openDescriptors()).toBe(before);
  });

  test('rejects a bad port with InvalidArgumentError that quotes it', async () => {
    for (const port of [-1, 65_536, 1.5, Number.NaN]) {
      await using server = new TCPServer({ host: '127.0.0.1', port }, Echo, { logger: false });
      const error = await server.listen().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe('ERR_SOCKSERVE_INVALID_ARGUMENT');
      expect((error as Error).message).toContain(`got \`${port}\``);
    }
  });

  test('rejects a host with a port in it, saying so and how to pass them, on TCP and UDP', async () => {
    for (const [host, bare, port] of [
      ['127.0.0.1:8080', '127.0.0.1', 8080],
      ['localhost:80', 'localhost', 80],
      ['[::1]:9000', '::1', 9000],
    ] as const) {
      for (const Server of [TCPServer, UDPServer]) {
        await using server = new Server({ host, port: 0 }, Echo as never, { logger: false });
        const error = await server.listen().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toContain('host must not include a port');
        expect((error as Error).message).toContain(`{ host: '${bare}', port: ${port} }`);
      }
    }
    // Bare IPv6 addresses are hosts, not host:port pairs.
    await using v6 = new TCPServer({ host: '::1', port: 0 }, Echo, { logger: false });
    await v6.listen();
    await using bracketed = new TCPServer({ host: '[::1]', port: 0 }, Echo, { logger: false });
    await expect(bracketed.listen()).rejects.toThrow(/write IPv6 addresses bare, as '::1'/);
  });

  test('rejects an address that is not on this machine with EADDRNOTAVAIL', async () => {
    await using server = new TCPServer({ host: '192.0.2.1', port: 0 }, Echo, { logger: false });
    await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  test('validates options when the server is created', () => {
    expect(() => new TCPServer(local, Echo, { timeout: -1 })).toThrow(InvalidArgumentError);
    expect(() => new TCPServer(local, Echo, { backlog: 1.5 })).toThrow(/got `1.5`/);
    expect(() => new TCPServer(local, 'nope' as never)).toThrow(InvalidArgumentError);
  });

  test('listens dual-stack on ::, accepting IPv4 clients', async () => {
    await using server = new TCPServer({ host: '::', port: 0 }, Echo, { logger: false });
    await server.listen();
    void server.serveForever();
    expect(server.serverAddress.family).toBe('IPv6');
    const reply = await exchange({ serverAddress: { ...server.serverAddress, host: '127.0.0.1' } }, 'v4');
    expect(reply.toString()).toBe('v4');
  });
});

// The lifecycle does not depend on the transport: these run in memory (MemoryServer).
describe('serveForever() and shutdown()', () => {
  test('20 servers shut down at once, each serveForever() resolving', async () => {
    const servers = Array.from({ length: 20 }, () => new MemoryServer(Echo, { logger: false }));
    await Promise.all(servers.map((server) => server.listen()));
    const loops = servers.map((server) => server.serveForever());
    const replies = await Promise.all(servers.map((server, i) => exchange(server, `server ${i}`)));
    replies.forEach((reply, i) => expect(reply.toString()).toBe(`server ${i}`));
    await Promise.all(servers.map((server) => server.shutdown()));
    await expect(Promise.all(loops)).resolves.toHaveLength(20);
    const reports = await Promise.all(servers.map((server) => server.serverClose()));
    expect(reports.every((report) => report.completed === 0 && report.aborted === 0)).toBe(true);
  });

  test('serveForever() called twice returns the same promise', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    const loop = server.serveForever();
    expect(server.serveForever()).toBe(loop);
    await server.shutdown();
    await loop;
  });

  test('shutdown() before serveForever() is remembered: the next serveForever() returns at once and serves nothing', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    const events: string[] = [];
    server.on('shutdown', () => events.push('shutdown'));
    await server.listen();
    await server.shutdown(); // resolves at once (Python's would block until a loop ran)
    const early = connect(server);
    await server.serveForever(); // returns at once instead of running on
    expect(events).toEqual(['shutdown']);
    const socket = await early;
    const replies = readAll(socket);
    let answered = false;
    socket.once('data', () => (answered = true));
    socket.end('not served yet');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    // The request waits (as it would after any shutdown) and the next loop serves it.
    const loop = server.serveForever();
    expect((await replies).toString()).toBe('not served yet');
    await server.shutdown();
    await loop;
  });

  test('connections that arrive while nobody serves wait, and are served by the next serveForever()', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    await server.listen();
    const reply = exchange(server, 'queued');
    await new Promise((resolve) => setTimeout(resolve, 50));
    void server.serveForever();
    expect((await reply).toString()).toBe('queued');
  });

  test('emits listening, request, shutdown and close in order', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    const events: string[] = [];
    server.on('listening', () => events.push('listening'));
    server.on('request', (client) => events.push(`request ${(client as InetAddress).host}`));
    server.on('shutdown', () => events.push('shutdown'));
    server.on('close', (report) => events.push(`close ${report.completed}/${report.aborted}`));
    await server.listen();
    void server.serveForever();
    await exchange(server, 'x');
    await server.shutdown();
    await server.serverClose();
    expect(events).toEqual(['listening', 'request 127.0.0.1', 'shutdown', 'close 0/0']);
  });

  test('a throwing event listener does not break serving', async () => {
    const { logger, records } = memoryLogger();
    await using server = new MemoryServer(Echo, { logger });
    server.on('request', () => {
      throw new Error('listener bug');
    });
    await server.listen();
    void server.serveForever();
    expect((await exchange(server, 'still')).toString()).toBe('still');
    expect(records.some((r) => r.level === 50 && String(r.msg).includes("'request' event listener threw"))).toBe(true);
  });

  test('listen(), serveForever() and handleRequest() after serverClose() reject with ServerClosedError', async () => {
    const server = new MemoryServer(Echo, { logger: false });
    await server.listen();
    await server.serverClose();
    await expect(server.listen()).rejects.toBeInstanceOf(ServerClosedError);
    await expect(server.serveForever()).rejects.toBeInstanceOf(ServerClosedError);
    await expect(server.handleRequest()).rejects.toMatchObject({ code: 'ERR_SOCKSERVE_SERVER_CLOSED' });
    expect(await server.serverClose()).toEqual({ completed: 0, aborted: 0 });
  });
});

describe('handleRequest()', () => {
  test('calls handleTimeout() when no request arrives within timeout', async () => {
    let timeouts = 0;
    class Timing extends MemoryServer {
      override handleTimeout() {
        timeouts++;
      }
    }
    await using server = new Timing(Echo, { logger: false, timeout: 30 });
    const started = Date.now();
    await server.handleRequest();
    expect(timeouts).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    // A request within the timeout is handled instead.
    const reply = exchange(await (server.listen().then(() => server)), 'in time');
    server.timeout = 5_000;
    await server.handleRequest();
    expect((await reply).toString()).toBe('in time');
    expect(timeouts).toBe(1);
  });

  test('runs serviceActions() after each request', async () => {
    let actions = 0;
    class Counting extends MemoryServer {
      override serviceActions() {
        actions++;
      }
    }
    await using server = new Counting(Echo, { logger: false });
    await server.listen();
    const reply = exchange(server, 'a');
    await server.handleRequest();
    await reply;
    expect(actions).toBe(1);
  });

  test('hook overrides that return nothing (plain JavaScript) still run the request through', async () => {
    const calls: string[] = [];
    class Plain extends MemoryServer {
      // As a JavaScript subclass might write them: no promise returned.
      override finishRequest(socket: net.Socket): Promise<void> {
        calls.push('finish');
        socket.write('plain\n');
        return undefined as never;
      }
      override shutdownRequest(socket: net.Socket) {
        calls.push('shutdown');
        return super.shutdownRequest(socket);
      }
    }
    await using server = new Plain(Echo, { logger: false });
    await server.listen();
    void server.serveForever();
    expect((await exchange(server, '')).toString()).toBe('plain\n');
    await until(() => calls.length === 2);
    expect(calls).toEqual(['finish', 'shutdown']);

    class Skipping extends MemoryServer {
      override processRequest(): Promise<void> {
        calls.push('process');
        return undefined as never; // handled nothing: the server closes the request
      }
    }
    await using skipping = new Skipping(Echo, { logger: false });
    await skipping.listen();
    void skipping.serveForever();
    expect((await exchange(skipping, 'ignored')).length).toBe(0);
    expect(calls).toContain('process');
  });
});

describe('errors in handlers', () => {
  test('a socket error reported after the handler failed with it as the cause is not reported again', async () => {
    const errors: string[] = [];
    class DestroysThenWrites extends StreamRequestHandler {
      override async handle() {
        await Promise.resolve();
        // The socket's 'error' event comes on the next tick, after the write has already failed.
        this.request.destroy(new Error('boom'));
        await this.wfile.write('x');
      }
    }
    class Slow extends TCPServer {
      override handleError(_socket: net.Socket, _client: InetAddress, error: unknown) {
        errors.push((error as Error).message);
      }
      override async shutdownRequest(socket: net.Socket) {
        await new Promise((resolve) => setTimeout(resolve, 20)); // keeps the request in flight
        await super.shutdownRequest(socket);
      }
    }
    await using server = new Slow(local, DestroysThenWrites, { logger: false });
    await server.listen();
    void server.serveForever();
    const socket = await connect(server);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('close', resolve));
    await until(() => errors.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toEqual(['The connection is closed (boom); nothing more can be written to it']);
  });

  test('the default handleError logs the error with its stack and the client address', async () => {
    const { logger, records } = memoryLogger();
    class Failing extends StreamRequestHandler {
      override handle(): void {
        throw new TypeError('bad input');
      }
    }
    await using server = new TCPServer(local, Failing, { logger });
    await server.listen();
    void server.serveForever();
    await exchange(server, 'x');
    await until(() => records.some((r) => r.level === 50));
    const record = records.find((r) => r.level === 50)!;
    expect(record.msg).toBe('Request failed: bad input');
    expect((record.err as { stack: string }).stack).toContain('TypeError: bad input');
    expect(record.client).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test("the default handleError logs the peer's hang-ups at info and its misbehaviour at warn, with the code and no stack", async () => {
    const { logger, records } = memoryLogger();
    class Framed extends StreamRequestHandler {
      static override maxLineLength = 16;
      static override timeout = 100;
      override async handle(): Promise<void> {
        const command = (await this.rfile.readline()).toString();
        if (command === 'exact\n') await this.rfile.readExactly(10); // the peer ends after 3 bytes
        else if (command === 'wait\n') await this.rfile.readline(); // the peer goes silent
        else await this.rfile.readline(); // the next line is over the limit
      }
    }
    await using server = new TCPServer(local, Framed, { logger });
    await server.listen();
    void server.serveForever();
    await exchange(server, 'exact\nabc'); // ends mid-frame
    await using clients = new Clients();
    const silent = await clients.connect(server);
    silent.write('wait\n');
    await exchange(server, `long\n${'x'.repeat(40)}\n`);
    const failures = (): Array<Record<string, unknown>> => records.filter((r) => String(r.msg).startsWith('Request'));
    await until(() => failures().length === 3, 5_000);
    const byCode = Object.fromEntries(failures().map((r) => [r.code, r]));
    expect(byCode.ERR_SOCKSERVE_INCOMPLETE_READ).toMatchObject({ level: 30, msg: expect.stringContaining('ended by the peer') });
    expect(byCode.ERR_SOCKSERVE_TIMEOUT).toMatchObject({ level: 40 });
    expect(byCode.ERR_SOCKSERVE_LIMIT_EXCEEDED).toMatchObject({ level: 40 });
    for (const record of failures()) {
      expect(record.err).toBeUndefined(); // no stack for what the peer did
      expect(record.client).toMatch(/^127\.0\.0\.1:\d+$/);
    }
  });

  test('a peer that resets mid-request is logged at info with its code, without a stack', async () => {
    const { logger, records } = memoryLogger();
    const reading = gate();
    class Slow extends StreamRequestHandler {
      override async handle(): Promise<void> {
        reading.open();
        await this.rfile.readExactly(1_000);
      }
    }
    await using server = new TCPServer(local, Slow, { logger });
    await server.listen();
    void server.serveForever();
    const socket = await connect(server);
    socket.write('partial');
    await reading.promise;
    socket.resetAndDestroy();
    await until(() => records.some((r) => String(r.msg).startsWith('Request')), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The reader sees the stream end mid-frame, or the reset itself, depending on timing.
    for (const record of records.filter((r) => String(r.msg).startsWith('Request'))) {
      expect(record.level).toBe(30);
      expect(['ECONNRESET', 'ERR_SOCKSERVE_INCOMPLETE_READ']).toContain(record.code);
      expect(record.err).toBeUndefined();
    }
    expect(records.some((r) => (r.level as number) >= 50)).toBe(false);
  });

  test('a handleError that throws is logged, and serving goes on', async () => {
    const { logger, records } = memoryLogger();
    class Failing extends StreamRequestHandler {
      override async handle() {
        if ((await this.rfile.readline()).toString() === 'fail\n') throw new Error('first');
        await this.wfile.write('ok\n');
      }
    }
    class BadHook extends TCPServer {
      override handleError(): void {
        throw new Error('hook bug');
      }
    }
    await using server = new BadHook(local, Failing, { logger });
    await server.listen();
    void server.serveForever();
    await exchange(server, 'fail\n');
    expect((await exchange(server, 'good\n')).toString()).toBe('ok\n');
    expect(records.some((r) => r.msg === 'handleError() threw')).toBe(true);
  });

  test('a read timeout (static timeout) fails the request with TimeoutError', async () => {
    const failed = gate<unknown>();
    class Impatient extends StreamRequestHandler {
      static override timeout = 50;
      override async handle() {
        await this.rfile.readline();
      }
    }
    await using clients = new Clients();
    await using server = new TCPServer(local, Impatient, { logger: false });
    server.on('requestError', (error) => failed.open(error));
    await server.listen();
    void server.serveForever();
    const socket = await clients.connect(server);
    const closed = readAll(socket);
    expect(await failed.promise).toBeInstanceOf(TimeoutError);
    await closed;
  });

  test('writing after the peer has gone rejects with ConnectionClosedError', async () => {
    const result = gate<unknown>();
    const go = gate();
    class Late extends StreamRequestHandler {
      override async handle() {
        await this.rfile.read(); // the client's close
        await go.promise;
        await this.wfile.write('x'.repeat(100_000)).then(
          () => this.wfile.write('again'),
        ).then(() => this.wfile.write('and again')).catch((e: unknown) => result.open(e));
        result.open('no error');
      }
    }
    await using server = new TCPServer(local, Late, { logger: false });
    await server.listen();
    void server.serveForever();
    const socket = await connect(server);
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    go.open();
    const error = await result.promise;
    expect(error === 'no error' || error instanceof ConnectionClosedError).toBe(true);
  });
});

describe('handlers', () => {
  test('a 16 MiB wfile.write() arrives whole', async () => {
    const payload = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32BE(i, i);
    class Big extends StreamRequestHandler {
      override async handle() {
        const written = await this.wfile.write(payload);
        if (written !== payload.length) throw new Error(`wrote ${written}`);
      }
    }
    await using server = new TCPServer(local, Big, { logger: false });
    await server.listen();
    void server.serveForever();
    const reply = await exchange(server, '');
    expect(reply.length).toBe(payload.length);
    expect(reply.equals(payload)).toBe(true);
  });

  test('each request gets a child logger bound to its client address, and a signal', async () => {
    const { logger, records } = memoryLogger('info');
    const signals: AbortSignal[] = [];
    class Logging extends BaseRequestHandler<net.Socket, InetAddress> {
      override handle() {
        signals.push(this.signal);
        this.log.info({ event: 'hello' }, 'handling');
      }
    }
    await using server = new TCPServer(local, Logging, { logger });
    await server.listen();
    void server.serveForever();
    const socket = await connect(server);
    const { port } = socket.address() as net.AddressInfo;
    await readAll(socket);
    const record = records.find((r) => r.event === 'hello')!;
    expect(record.client).toBe(`127.0.0.1:${port}`);
    expect(signals[0]!.aborted).toBe(false);
  });

  test('logger: false logs nothing, even for failures', async () => {
    class Failing extends StreamRequestHandler {
      override handle(): void {
        throw new Error('quiet');
      }
    }
    await using server = new TCPServer(local, Failing, { logger: false });
    expect(server.log.isLevelEnabled('error')).toBe(false);
    await server.listen();
    void server.serveForever();
    await exchange(server, '');
  });

  test('disableNagleAlgorithm and noDelay are accepted and the handler still works', async () => {
    class Quick extends Echo {
      static override disableNagleAlgorithm = true;
    }
    await using server = new TCPServer(local, Quick, { logger: false, noDelay: true, keepAlive: 1_000 });
    await server.listen();
    void server.serveForever();
    expect((await exchange(server, 'fast')).toString()).toBe('fast');
  });
});

describe('serverClose()', () => {
  test('without timeout waits for every in-flight request, as block_on_close', async () => {
    const started = gate();
    class Slow extends StreamRequestHandler {
      override async handle() {
        started.open();
        await new Promise((resolve) => setTimeout(resolve, 150));
        await this.wfile.write('late but whole\n');
      }
    }
    await using server = new MemoryServer(Slow, { logger: false });
    await server.listen();
    void server.serveForever();
    const reply = exchange(server, '');
    await started.promise;
    const began = Date.now();
    expect(await server.serverClose()).toEqual({ completed: 1, aborted: 0 });
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    expect((await reply).toString()).toBe('late but whole\n');
  });

  test('aborts requests waiting at the concurrency cap too, and counts them', async () => {
    const { EventLoopStrategy } = await import('sockserve');
    const started = gate();
    class Hanging extends StreamRequestHandler {
      override async handle() {
        started.open();
        await new Promise((resolve) => this.signal.addEventListener('abort', resolve));
      }
    }
    await using clients = new Clients();
    await using server = new MemoryServer(Hanging, {
      logger: false,
      concurrency: new EventLoopStrategy({ maxConcurrency: 1 }),
    });
    await server.listen();
    void server.serveForever();
    await clients.connect(server);
    await started.promise;
    await clients.connect(server);
    await until(() => (server.concurrency as InstanceType<typeof EventLoopStrategy>).waiting === 1);
    expect(await server.serverClose({ timeout: 20 })).toEqual({ completed: 0, aborted: 2 });
  });

  test('rejects a bad timeout', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    await expect(server.serverClose({ timeout: -5 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
