/**
 * The conformance suite: the same behaviour, checked with real sockets, for every stream
 * transport under every concurrency strategy.
 */
import type net from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  BaseRequestHandler,
  ConnectionClosedError,
  RequestAbortedError,
  StreamRequestHandler,
  type StreamServerOptions,
} from 'sockserve';
import { Clients, connect, exchange, gate, readAll, readLine, until } from '../../../test/helpers/net.js';
import { strategies, transports } from '../../../test/helpers/matrix.js';

class EchoLines extends StreamRequestHandler {
  override async handle() {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

describe.each(transports)('$name', (transport) => {
  describe.each(strategies)('$name', (strategy) => {
    function make(Handler: new (...args: never[]) => unknown, options: StreamServerOptions = {}) {
      return transport.create(Handler as never, { logger: false, concurrency: strategy.create(), ...options });
    }

    test('echoes lines to a real client', async () => {
      await using fixture = make(EchoLines);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      const reply = await exchange(server, 'one\ntwo\r\nthree');
      expect(reply.toString()).toBe('one\ntwo\r\nthree');
    });

    test('serves many clients, concurrently when the strategy allows', async () => {
      let running = 0;
      let peak = 0;
      class Counting extends StreamRequestHandler {
        override async handle() {
          running++;
          peak = Math.max(peak, running);
          try {
            for await (const chunk of this.rfile) await this.wfile.write(chunk);
          } finally {
            running--;
          }
        }
      }
      await using fixture = make(Counting);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => exchange(server, `client ${i}\n`.repeat(100))),
      );
      replies.forEach((reply, i) => expect(reply.toString()).toBe(`client ${i}\n`.repeat(100)));
      if (!strategy.concurrent) expect(peak).toBe(1);
    });

    test('runs setup, handle and finish in order, finish even when handle throws', async () => {
      const calls: string[] = [];
      const failed = gate<unknown>();
      class Ordered extends BaseRequestHandler<net.Socket> {
        override setup() {
          calls.push('setup');
        }
        override async handle() {
          calls.push('handle');
          throw new Error('boom');
        }
        override finish() {
          calls.push('finish');
        }
      }
      await using fixture = make(Ordered);
      const { server } = fixture;
      server.on('requestError', (error) => failed.open(error));
      await server.listen();
      void server.serveForever();
      const reply = await exchange(server, 'x');
      expect(reply.length).toBe(0);
      expect(((await failed.promise) as Error).message).toBe('boom');
      expect(calls).toEqual(['setup', 'handle', 'finish']);
    });

    test('a throwing handler reaches handleError once, and serving goes on', async () => {
      const errors: unknown[] = [];
      class Throwing extends StreamRequestHandler {
        override async handle() {
          const line = (await this.rfile.readline()).toString();
          if (line === 'fail\n') throw new Error('handler failed');
          await this.wfile.write(`ok ${line}`);
        }
      }
      await using fixture = make(Throwing);
      const { server } = fixture;
      server.handleError = (_request, _client, error) => {
        errors.push(error);
      };
      await server.listen();
      void server.serveForever();
      expect((await exchange(server, 'fail\n')).toString()).toBe('');
      expect((await exchange(server, 'fine\n')).toString()).toBe('ok fine\n');
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('handler failed');
    });

    test('verifyRequest false closes the request without a handler; shutdownRequest runs once', async () => {
      let handled = 0;
      class Handler extends StreamRequestHandler {
        override async handle() {
          handled++;
          await this.wfile.write('hello\n');
        }
      }
      const shutdowns: unknown[] = [];
      await using fixture = make(Handler);
      const { server } = fixture;
      server.verifyRequest = () => false;
      const shutdownRequest = server.shutdownRequest.bind(server);
      server.shutdownRequest = async (request) => {
        shutdowns.push(request);
        await shutdownRequest(request);
      };
      await server.listen();
      void server.serveForever();
      expect((await exchange(server, 'hi\n')).length).toBe(0);
      expect(handled).toBe(0);
      expect(shutdowns).toHaveLength(1);
    });

    test('a reply written before finish reaches the peer whole, even when the peer never reads input', async () => {
      const payload = Buffer.alloc(1024 * 1024, 'x');
      class Big extends StreamRequestHandler {
        override async handle() {
          await this.wfile.write(payload);
        }
      }
      await using fixture = make(Big);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      const socket = await connect(server);
      const reply = readAll(socket);
      // Unread input on the server side must not turn the close into a reset that cuts the reply.
      socket.write(Buffer.alloc(256 * 1024, 'y'));
      expect((await reply).equals(payload)).toBe(true);
    });

    test('a peer that half-closes still gets its reply', async () => {
      class Summing extends StreamRequestHandler {
        override async handle() {
          let total = 0;
          for await (const chunk of this.rfile) total += chunk.length;
          await this.wfile.write(`${total}\n`);
        }
      }
      await using fixture = make(Summing);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      expect((await exchange(server, Buffer.alloc(100_000))).toString()).toBe('100000\n');
    });

    test('reports the client address', async () => {
      const seen = gate<unknown>();
      class Address extends StreamRequestHandler {
        override handle() {
          seen.open(this.clientAddress);
        }
      }
      await using fixture = make(Address);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      await exchange(server, '');
      const address = (await seen.promise) as Record<string, unknown>;
      if (typeof server.serverAddress === 'string') {
        expect(address).toEqual({ path: null });
      } else {
        expect(address.family).toBe(server.serverAddress.family);
        expect(typeof address.port).toBe('number');
        expect(address.host).toBe(server.serverAddress.host);
      }
    });

    test('handleRequest() handles exactly one request and resolves after finish()', async () => {
      let finished = 0;
      class Once extends EchoLines {
        override finish() {
          finished++;
        }
      }
      await using fixture = make(Once);
      const { server } = fixture;
      await server.listen();
      const handled = server.handleRequest();
      const reply = await exchange(server, 'once\n');
      await handled;
      expect(reply.toString()).toBe('once\n');
      expect(finished).toBe(1);
    });

    test('shutdown() from inside a handler stops serveForever()', async () => {
      class Stopper extends StreamRequestHandler {
        override async handle() {
          await this.server.shutdown();
          await this.wfile.write('stopping\n');
        }
      }
      await using fixture = make(Stopper);
      const { server } = fixture;
      await server.listen();
      const served = server.serveForever();
      expect((await exchange(server, '')).toString()).toBe('stopping\n');
      await expect(served).resolves.toBeUndefined();
    });

    test('serverClose() lets in-flight requests complete and reports them', async () => {
      const release = gate();
      const started = gate();
      class Slow extends StreamRequestHandler {
        override async handle() {
          started.open();
          await release.promise;
          await this.wfile.write('done\n');
        }
      }
      await using fixture = make(Slow);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      const socket = await connect(server);
      const reply = readAll(socket);
      await started.promise;
      const closed = server.serverClose();
      setTimeout(() => release.open(), 50);
      expect(await closed).toEqual({ completed: 1, aborted: 0 });
      expect((await reply).toString()).toBe('done\n');
    });

    test('serverClose({ timeout }) aborts requests past the deadline: signal fires, socket destroyed', async () => {
      const started = gate();
      let reason: unknown;
      class Hanging extends StreamRequestHandler {
        override async handle() {
          started.open();
          this.signal.addEventListener('abort', () => {
            reason = this.signal.reason;
          });
          await this.rfile.read(); // never gets data: the client sends nothing
        }
      }
      await using clients = new Clients();
      await using fixture = make(Hanging);
      const { server } = fixture;
      await server.listen();
      void server.serveForever();
      const socket = await clients.connect(server);
      const reply = readAll(socket);
      await started.promise;
      const report = await server.serverClose({ timeout: 50 });
      expect(report).toEqual({ completed: 0, aborted: 1 });
      expect(reason).toBeInstanceOf(RequestAbortedError);
      await reply; // the server destroyed its end
    });

    test('a client resetting mid-write reaches handleError and serving goes on', async () => {
      const failures = gate<unknown>();
      class Flood extends StreamRequestHandler {
        override async handle() {
          const chunk = Buffer.alloc(64 * 1024);
          for (;;) await this.wfile.write(chunk);
        }
      }
      await using fixture = make(Flood);
      await using clients = new Clients(); // disposed first: the flood ends when its client goes
      const { server } = fixture;
      server.on('requestError', (error) => failures.open(error));
      await server.listen();
      void server.serveForever();
      const socket = await clients.connect(server);
      await new Promise((resolve) => socket.once('data', resolve));
      // TCP: a real RST. Unix: closing with unread data makes the server's writes fail (EPIPE).
      if (typeof server.serverAddress === 'string') socket.destroy();
      else socket.resetAndDestroy();
      const error = (await failures.promise) as NodeJS.ErrnoException;
      expect(
        error instanceof ConnectionClosedError || ['ECONNRESET', 'EPIPE'].includes(error.code ?? ''),
        `unexpected error ${String(error)}`,
      ).toBe(true);
      // Still serving.
      const next = await clients.connect(server);
      await new Promise((resolve) => next.once('data', resolve));
    });

    test('an over-long line fails that request only', async () => {
      const errors: unknown[] = [];
      class Lines extends EchoLines {
        static override maxLineLength = 1024;
      }
      await using fixture = make(Lines);
      const { server } = fixture;
      server.on('requestError', (error) => errors.push(error));
      await server.listen();
      void server.serveForever();
      const reply = await exchange(server, 'short\n' + 'x'.repeat(5000) + '\n');
      expect(reply.toString()).toBe('short\n');
      expect(errors).toHaveLength(1);
      expect((errors[0] as { code: string }).code).toBe('ERR_SOCKSERVE_LIMIT_EXCEEDED');
      expect((await exchange(server, 'next\n')).toString()).toBe('next\n');
    });

    test('await using closes the server', async () => {
      let address: unknown;
      {
        await using fixture = make(EchoLines);
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
