/**
 * The datagram conformance suite: the same behaviour, checked with real sockets, for UDP and Unix
 * datagram servers under every concurrency strategy, the worker pool (relaying datagrams, its
 * default) included. The handlers come from a fixture module that pool workers import too.
 */
import type dgram from 'node:dgram';
import { beforeEach, describe, expect, test } from 'vitest';
import type { DatagramServerOptions } from 'sockserve';
import * as handlers from '../../../test/fixtures/conformance_handlers.js';
import { datagramTransports, type DatagramServerClass } from '../../../test/helpers/datagram.js';
import { gate } from '../../../test/helpers/net.js';
import { strategies, type Extend } from '../../../test/helpers/matrix.js';

const { Echo, stats } = handlers;

describe.each(datagramTransports)('$name', (transport) => {
  describe.each(strategies)('$name', (strategy) => {
    beforeEach(() => handlers.resetStats());

    function make(Handler: new (...args: never[]) => unknown, options: DatagramServerOptions = {}, extend?: Extend<DatagramServerClass>) {
      return transport.create(Handler as never, { logger: false, concurrency: strategy.create(), ...options }, extend);
    }

    async function serving(Handler: new (...args: never[]) => unknown, options: DatagramServerOptions = {}, extend?: Extend<DatagramServerClass>) {
      const fixture = make(Handler, options, extend);
      await fixture.server.listen();
      void fixture.server.serveForever();
      return fixture;
    }

    test('sends what the handler wrote back as one datagram', async () => {
      await using fixture = await serving(handlers.Upper);
      await using client = await transport.client(fixture.server);
      await client.send('hello\nrest');
      expect((await client.receive())?.toString()).toBe('HELLO\n|rest');
    });

    test('nothing written means nothing sent', async () => {
      await using fixture = await serving(handlers.Quiet);
      await using client = await transport.client(fixture.server);
      await client.send('quiet');
      await client.send('loud');
      expect((await client.receive())?.toString()).toBe('reply to loud');
      expect(await client.receive(100)).toBeUndefined();
    });

    test('a throwing handler reaches handleError once, and serving goes on', async () => {
      const errors: unknown[] = [];
      await using fixture = await serving(handlers.ThrowingDatagram, {}, (Base) =>
        class extends Base {
          override handleError(_request: unknown, _client: unknown, error: unknown): void {
            errors.push(error);
          }
        },
      );
      await using client = await transport.client(fixture.server);
      await client.send('fail');
      await client.send('fine');
      // The failed request's reply still goes out: it was written before finish.
      expect((await client.receive())?.toString()).toBe('partial');
      expect((await client.receive())?.toString()).toBe('partial');
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('datagram handler failed');
    });

    test('verifyRequest false: no handler, no reply, shutdownRequest once', async () => {
      const shutdowns: unknown[] = [];
      await using fixture = await serving(handlers.CountingEcho, {}, (Base) =>
        class extends Base {
          override verifyRequest(request: [Buffer, dgram.Socket]): boolean {
            return request[0].toString() !== 'refuse';
          }
          override async shutdownRequest(request: [Buffer, dgram.Socket]): Promise<void> {
            shutdowns.push(request);
            await super.shutdownRequest(request);
          }
        },
      );
      const { server } = fixture;
      await using client = await transport.client(server);
      await client.send('refuse');
      await client.send('accept');
      expect((await client.receive())?.toString()).toBe('accept');
      if (strategy.inProcess) expect(stats.handled).toBe(1);
      expect(shutdowns).toHaveLength(2);
    });

    test('handleRequest() handles exactly one datagram', async () => {
      await using fixture = make(Echo);
      const { server } = fixture;
      await server.listen();
      await using client = await transport.client(server);
      const handled = server.handleRequest();
      await client.send('one');
      await handled;
      expect((await client.receive())?.toString()).toBe('one');
      await client.send('two'); // waits: nobody is serving
      expect(await client.receive(100)).toBeUndefined();
      await server.handleRequest();
      expect((await client.receive())?.toString()).toBe('two');
    });

    test('a burst of 64 datagrams in flight is answered in full', async () => {
      await using fixture = await serving(Echo);
      await using client = await transport.client(fixture.server);
      const sent = Array.from({ length: 64 }, (_, i) => `datagram ${i}`);
      await Promise.all(sent.map((data) => client.send(data)));
      const received: string[] = [];
      for (let i = 0; i < 64; i++) {
        const reply = await client.receive();
        if (reply === undefined) break;
        received.push(reply.toString());
      }
      expect(received.sort()).toEqual([...sent].sort());
    });

    test('large datagrams arrive intact', async () => {
      const size = Math.min(transport.maxSize, 100 * 1024);
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = i % 251;
      await using fixture = await serving(Echo);
      await using client = await transport.client(fixture.server);
      await client.send(payload);
      const reply = await client.receive();
      expect(reply?.length).toBe(size);
      expect(reply?.equals(payload)).toBe(true);
    });

    test('a datagram over maxDatagramSize is dropped whole and reported, never cut', async () => {
      await using fixture = await serving(Echo, { maxDatagramSize: 1000 });
      const dropped = gate<unknown>();
      fixture.server.on('dropped', (info) => dropped.open(info));
      await using client = await transport.client(fixture.server);
      await client.send(Buffer.alloc(1001));
      expect(await dropped.promise).toMatchObject({ reason: 'too-large', size: 1001 });
      await client.send(Buffer.alloc(1000, 7));
      expect((await client.receive())?.length).toBe(1000);
    });

    test('serverClose({ timeout }) drains, then aborts and reports', async () => {
      const fixture = await serving(handlers.SlowDatagram);
      const started = gate();
      fixture.server.on('request', () => started.open());
      await using client = await transport.client(fixture.server);
      await client.send('slow');
      await started.promise;
      expect(await fixture.server.serverClose()).toEqual({ completed: 1, aborted: 0 });
      expect((await client.receive())?.toString()).toBe('done');
      await fixture[Symbol.asyncDispose]();

      const second = await serving(handlers.SlowDatagram);
      await using client2 = await transport.client(second.server);
      const hanging = gate();
      second.server.on('request', () => hanging.open());
      await client2.send('hang');
      await hanging.promise;
      expect(await second.server.serverClose({ timeout: 30 })).toEqual({ completed: 0, aborted: 1 });
      // An aborted request's reply is not sent.
      expect(await client2.receive(100)).toBeUndefined();
      await second[Symbol.asyncDispose]();
    });
  });
});
