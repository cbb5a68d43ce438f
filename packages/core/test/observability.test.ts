/** server.stats() and the diagnostics channels, on real sockets. */
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import { expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer, TLSServer, channels, type RequestMessage } from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { exchange, until } from '../../../test/helpers/net.js';

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const line = await this.rfile.readline();
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
