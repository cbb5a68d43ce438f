/**
 * The conformance suite: the same behaviour, checked with real sockets, for every stream
 * transport under every concurrency strategy, the worker pool included. The handlers are the same
 * classes under each strategy (from a fixture module that pool workers import too).
 */
import type net from 'node:net';
import { beforeEach, describe, expect, test } from 'vitest';
import { RequestAbortedError, StreamRequestHandler, type StreamServerOptions } from 'sockserve';
import * as handlers from '../../../test/fixtures/conformance_handlers.js';
import { Clients, connect, exchange, gate, readAll, readLine, until } from '../../../test/helpers/net.js';
import { strategies, transports, type Extend, type StreamServerClass } from '../../../test/helpers/matrix.js';

const { stats } = handlers;

describe.each(transports)('$name', (transport) => {
  describe.each(strategies)('$name', (strategy) => {
    beforeEach(() => handlers.resetStats());

    function make(Handler: new (...args: never[]) => unknown, options: StreamServerOptions = {}, extend?: Extend<StreamServerClass>) {
      return transport.create(Handler as never, { logger: false, concurrency: strategy.create(), ...options }, extend);
    }

    async function serving(Handler: new (...args: never[]) => unknown, options: StreamServerOptions = {}, extend?: Extend<StreamServerClass>) {
      const fixture = make(Handler, options, extend);
      await fixture.server.listen();
      void fixture.server.serveForever();
      return fixture;
    }

    test('echoes lines to a real client', async () => {
      await using fixture = await serving(handlers.EchoLines);
      const reply = await exchange(fixture.server, 'one\ntwo\r\nthree');
      expect(reply.toString()).toBe('one\ntwo\r\nthree');
    });

    test('serves many clients, concurrently when the strategy allows', async () => {
      await using fixture = await serving(handlers.Counting);
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => exchange(fixture.server, `client ${i}\n`.repeat(100))),
      );
      replies.forEach((reply, i) => expect(reply.toString()).toBe(`client ${i}\n`.repeat(100)));
      if (!strategy.concurrent) expect(stats.peak).toBe(1);
    });

    test('runs setup, handle and finish in order, finish even when handle throws', async () => {
      const failed = gate<unknown>();
      await using fixture = await serving(handlers.Ordered);
      fixture.server.on('requestError', (error) => failed.open(error));
      // Each step writes to the peer: what finish() wrote arrives after handle() threw.
      expect((await exchange(fixture.server, 'x')).toString()).toBe('setup\nhandle\nfinish\n');
      expect(((await failed.promise) as Error).message).toBe('boom');
    });

    test('a throwing handler reaches handleError once, and serving goes on', async () => {
      const errors: unknown[] = [];
      await using fixture = await serving(handlers.Throwing, {}, (Base) =>
        class extends Base {
          override handleError(_request: unknown, _client: unknown, error: unknown): void {
            errors.push(error);
          }
        },
      );
      expect((await exchange(fixture.server, 'fail\n')).toString()).toBe('');
      expect((await exchange(fixture.server, 'fine\n')).toString()).toBe('ok fine\n');
      await until(() => errors.length > 0);
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('handler failed');
    });

    test('verifyRequest false closes the request without a handler; shutdownRequest runs once', async () => {
      const shutdowns: unknown[] = [];
      await using fixture = make(handlers.Hello, {}, (Base) =>
        class extends Base {
          override verifyRequest(): boolean {
            return false;
          }
          override async shutdownRequest(request: net.Socket): Promise<void> {
            shutdowns.push(request);
            await super.shutdownRequest(request);
          }
        },
      );
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      expect((await exchange(server, 'hi\n')).length).toBe(0);
      expect(stats.handled).toBe(0);
      expect(shutdowns).toHaveLength(1);
    });

    test('a reply written before finish reaches the peer whole, even when the peer never reads input', async () => {
      await using fixture = await serving(handlers.Big);
      const socket = await connect(fixture.server);
      const reply = readAll(socket);
      // Unread input on the server side must not turn the close into a reset that cuts the reply.
      socket.write(Buffer.alloc(256 * 1024, 'y'));
      expect((await reply).equals(Buffer.alloc(1024 * 1024, 'x'))).toBe(true);
    });

    test('a peer that half-closes still gets its reply', async () => {
      await using fixture = await serving(handlers.Summing);
      expect((await exchange(fixture.server, Buffer.alloc(100_000))).toString()).toBe('100000\n');
    });

    test('reports the client address', async () => {
      await using fixture = await serving(handlers.Address);
      const { server } = fixture;
      const address = JSON.parse((await exchange(server, '')).toString()) as Record<string, unknown>;
      if (typeof server.serverAddress === 'string') {
        expect(address).toEqual({ path: null });
      } else {
        expect(address.family).toBe(server.serverAddress.family);
        expect(typeof address.port).toBe('number');
        expect(address.host).toBe(server.serverAddress.host);
      }
    });

    test('handleRequest() handles exactly one request and resolves after finish()', async () => {
      await using fixture = make(handlers.Once);
      const { server } = fixture;
      await server.listen();
      const handled = server.handleRequest();
      const reply = await exchange(server, 'once\n');
      await handled;
      expect(reply.toString()).toBe('once\n');
      if (strategy.inProcess) expect(stats.finished).toBe(1);
      // Nobody serves now: the next connection waits.
      await using clients = new Clients();
      if (transport.name === 'TLS' && !strategy.inProcess) {
        // Workers run the handshakes: the next one waits for a worker to be given the connection.
        let connected = false;
        const pending = clients.connect(server).then((socket) => ((connected = true), socket));
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(connected).toBe(false);
        void server.handleRequest();
        const next = await pending;
        next.write('waiting\n');
        expect(await readLine(next)).toBe('waiting\n');
        return;
      }
      const next = await clients.connect(server);
      next.write('waiting\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(next.readableLength).toBe(0);
      void server.handleRequest();
      expect(await readLine(next)).toBe('waiting\n');
    });

    test('shutdown() from inside a handler stops serveForever()', async () => {
      await using fixture = make(handlers.Stopper);
      const { server } = fixture;
      await server.listen();
      const served = server.serveForever();
      expect((await exchange(server, '')).toString()).toBe('stopping\n');
      await expect(served).resolves.toBeUndefined();
    });

    test('serverClose() lets in-flight requests complete and reports them', async () => {
      await using fixture = await serving(handlers.Slow);
      const socket = await connect(fixture.server);
      const reply = readAll(socket);
      await until(() => socket.readableLength > 0 || socket.bytesRead > 0);
      const closed = fixture.server.serverClose();
      setTimeout(() => socket.end('go\n'), 50);
      expect(await closed).toEqual({ completed: 1, aborted: 0 });
      expect((await reply).toString()).toBe('started\ndone\n');
    });

    test('serverClose({ timeout }) aborts requests past the deadline: signal fires, socket destroyed', async () => {
      await using clients = new Clients();
      await using fixture = await serving(handlers.Hanging);
      const socket = await clients.connect(fixture.server);
      const reply = readAll(socket);
      await until(() => socket.bytesRead > 0);
      const report = await fixture.server.serverClose({ timeout: 50 });
      expect(report).toEqual({ completed: 0, aborted: 1 });
      if (strategy.inProcess) expect(stats.abortReason).toBeInstanceOf(RequestAbortedError);
      expect((await reply).toString()).toBe('started\n'); // the server destroyed its end
    });

    test('a client resetting mid-write reaches handleError and serving goes on', async () => {
      const failures = gate<unknown>();
      await using fixture = await serving(handlers.Flood);
      await using clients = new Clients(); // disposed first: the flood ends when its client goes
      const { server } = fixture;
      server.on('requestError', (error) => failures.open(error));
      const socket = await clients.connect(server);
      await new Promise((resolve) => socket.once('data', resolve));
      // TCP: a real RST. Unix: closing with unread data makes the server's writes fail (EPIPE).
      // TLS: the TLS socket has no reset of its own; closing with unread data makes the kernel send one.
      if (typeof server.serverAddress === 'string' || (socket as { encrypted?: boolean }).encrypted === true) socket.destroy();
      else socket.resetAndDestroy();
      const error = (await failures.promise) as NodeJS.ErrnoException;
      expect(['ECONNRESET', 'EPIPE', 'ERR_SOCKSERVE_CONNECTION_CLOSED'], `unexpected error ${String(error)}`).toContain(error.code);
      // Still serving.
      const next = await clients.connect(server);
      await new Promise((resolve) => next.once('data', resolve));
    });

    test('an over-long line fails that request only', async () => {
      const errors: unknown[] = [];
      await using fixture = await serving(handlers.ShortLines);
      fixture.server.on('requestError', (error) => errors.push(error));
      const reply = await exchange(fixture.server, 'short\n' + 'x'.repeat(5000) + '\n');
      expect(reply.toString()).toBe('short\n');
      await until(() => errors.length > 0);
      expect(errors).toHaveLength(1);
      expect((errors[0] as { code: string }).code).toBe('ERR_SOCKSERVE_LIMIT_EXCEEDED');
      expect((await exchange(fixture.server, 'next\n')).toString()).toBe('next\n');
    });

    test('await using closes the server', async () => {
      let address: unknown;
      {
        await using fixture = make(handlers.EchoLines);
        await fixture.server.listen();
        address = fixture.server.serverAddress;
        expect(fixture.server.listening).toBe(true);
      }
      await expect(connect({ serverAddress: address as string })).rejects.toThrow();
    });
  });
});

describe('waiting at the concurrency cap', () => {
  test.each(transports)('$name: connections beyond maxConcurrency wait paused, then run', async (transport) => {
    const { EventLoopStrategy } = await import('sockserve');
    const release = gate();
    let started = 0;
    class Holding extends StreamRequestHandler {
      override async handle() {
        started++;
        const line = await this.rfile.readline();
        if (started === 1) await release.promise;
        await this.wfile.write(line);
      }
    }
    await using clients = new Clients();
    await using fixture = transport.create(Holding as never, {
      logger: false,
      concurrency: new EventLoopStrategy({ maxConcurrency: 1 }),
    });
    const { server } = fixture;
    await server.listen();
    void server.serveForever();
    const first = await clients.connect(server);
    first.write('first\n');
    await until(() => started === 1);
    const second = await clients.connect(server);
    second.write('second\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toBe(1); // waiting, not dropped
    release.open();
    expect(await readLine(first)).toBe('first\n');
    expect(await readLine(second)).toBe('second\n');
    expect(started).toBe(2);
  });
});
