/** server.stats() and the diagnostics channels, on real sockets. */
import { AsyncLocalStorage } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import { expect, test } from 'vitest';
import { EventLoopStrategy, SequentialStrategy, StreamRequestHandler, TCPServer, TLSServer, channels, tracingChannels, type RequestMessage, type RequestTraceContext } from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { exchange, until } from '../../../test/helpers/net.js';

/** The tracing test's store: each request's handler sees its own. */
const store = new AsyncLocalStorage<{ id: number }>();
const storesSeen: Array<number | undefined> = [];

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const line = await this.rfile.readline();
    storesSeen.push(store.getStore()?.id);
    if (line.toString() === 'fail\n') throw new Error('fails on purpose');
    await this.wfile.write(line);
  }
}

async function serving(options: ConstructorParameters<typeof TCPServer>[2] = {}) {
  const server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false, ...options });
  await server.listen();
  void server.serveForever();
  return server;
}

test('stats() counts requests, failures, bytes and drops, and shows what is in flight', async () => {
  await using server = await serving({ proxyProtocol: { trusted: ['127.0.0.1'], timeout: 200 } });
  const header = 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\n';
  expect((await exchange(server, `${header}one\n`)).toString()).toBe('one\n');
  expect((await exchange(server, `${header}two\n`)).toString()).toBe('two\n');
  await exchange(server, `${header}fail\n`);
  await exchange(server, 'no header\n');
  await until(() => server.stats().inFlight === 0 && server.stats().dropped['proxy-protocol'] === 1);
  const stats = server.stats();
  expect(stats).toMatchObject({ requests: 3, failed: 1, aborted: 0, inFlight: 0, queued: 0, dropped: { 'proxy-protocol': 1 }, tlsClientErrors: 0 });
  expect(stats.bytesIn).toBeGreaterThanOrEqual('one\ntwo\nfail\n'.length);
  expect(stats.bytesOut).toBeGreaterThanOrEqual('one\ntwo\n'.length);
});

test('stats() of a TLS server counts failed handshakes; connections counts those open', async () => {
  const { server: pair } = testCerts();
  await using server = new TLSServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false, tls: { key: pair.key, cert: pair.cert } });
  await server.listen();
  void server.serveForever();
  const idle = net.connect(server.serverAddress.port, '127.0.0.1');
  idle.on('error', () => {});
  await until(() => server.stats().connections === 1);
  idle.end('not tls\n');
  await until(() => server.stats().tlsClientErrors === 1);
  expect(server.stats().connections).toBe(0);
});

test('diagnostics channels: request start, end and error, and drops, with nothing published when nobody listens', async () => {
  const seen: Array<[string, RequestMessage | Record<string, unknown>]> = [];
  const listeners = Object.fromEntries(
    Object.values(channels).map((name) => [name, (message: unknown) => seen.push([name, message as RequestMessage])]),
  );
  for (const [name, listener] of Object.entries(listeners)) dc.subscribe(name, listener);
  try {
    await using server = await serving({ maxPendingRequests: 1 });
    await exchange(server, 'hello\n');
    await exchange(server, 'fail\n');
    await until(() => seen.filter(([name]) => name === channels.requestEnd).length === 2);
    const names = seen.map(([name]) => name);
    expect(names.filter((name) => name === channels.requestStart)).toHaveLength(2);
    expect(names.filter((name) => name === channels.requestError)).toHaveLength(1);
    const ends = seen.filter(([name]) => name === channels.requestEnd).map(([, message]) => message as RequestMessage);
    expect(ends.map((message) => message.failed)).toEqual([false, true]);
    expect(ends[0]).toMatchObject({ server, aborted: false, clientAddress: { host: '127.0.0.1' } });
    const error = seen.find(([name]) => name === channels.requestError)![1] as RequestMessage;
    expect((error.error as Error).message).toBe('fails on purpose');
  } finally {
    for (const [name, listener] of Object.entries(listeners)) dc.unsubscribe(name, listener);
  }
  expect(dc.channel(channels.requestStart).hasSubscribers).toBe(false);
});

for (const [name, strategy] of [
  ['event loop', () => new EventLoopStrategy({ maxConcurrency: 1 })],
  ['sequential', () => new SequentialStrategy()],
] as const) {
  test(`tracing channel sockserve:request (${name}): one context per request, its store active in the handler, errors on it`, async () => {
    const trace = dc.tracingChannel(tracingChannels.request);
    const events: Array<[string, RequestTraceContext]> = [];
    const subscribers = Object.fromEntries(
      (['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const).map((event) => [event, (context: unknown) => events.push([event, context as RequestTraceContext])]),
    ) as unknown as Parameters<typeof trace.subscribe>[0];
    let next = 0;
    trace.subscribe(subscribers);
    trace.start.bindStore(store, () => ({ id: ++next }));
    storesSeen.length = 0;
    try {
      await using server = await serving({ concurrency: strategy() });
      // Two at once: with a concurrency of one, the second waits in the strategy's queue.
      const replies = await Promise.all([exchange(server, 'one\n'), exchange(server, 'two\n')]);
      expect(replies.map(String)).toEqual(['one\n', 'two\n']);
      await exchange(server, 'fail\n');
      await until(() => events.filter(([event]) => event === 'asyncEnd').length === 3);
      const contexts = [...new Set(events.map(([, context]) => context))];
      expect(contexts).toHaveLength(3);
      for (const context of contexts) {
        expect(events.filter(([, c]) => c === context).map(([event]) => event)).toEqual(
          context.error === undefined ? ['start', 'end', 'asyncStart', 'asyncEnd'] : ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
        );
        expect(context).toMatchObject({ server, clientAddress: { host: '127.0.0.1' } });
      }
      expect(contexts.filter((context) => context.error !== undefined).map((context) => (context.error as Error).message)).toEqual(['fails on purpose']);
      // Each handler ran inside the store its request's start made.
      expect(storesSeen.sort()).toEqual([1, 2, 3]);
    } finally {
      trace.unsubscribe(subscribers);
      trace.start.unbindStore(store);
    }
    expect(trace.start.hasSubscribers).toBe(false);
  });
}
