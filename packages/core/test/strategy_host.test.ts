/** What a strategy sees of its server: one typed object, and no internals in the public exports. */
import { describe, expect, test } from 'vitest';
import * as sockserve from 'sockserve';
import {
  DatagramRequestHandler,
  StreamRequestHandler,
  TCPServer,
  UDPServer,
  type ConcurrencyStrategy,
  type RequestJob,
  type StrategyHost,
} from 'sockserve';

/** A strategy that runs jobs inline and keeps the host it was opened with. */
class Recording implements ConcurrencyStrategy {
  readonly name = 'recording';
  host: StrategyHost | undefined;
  open(host: StrategyHost): void {
    this.host = host;
  }
  schedule(job: RequestJob): Promise<void> {
    return job.run();
  }
}

class Echo extends StreamRequestHandler {}
class DatagramEcho extends DatagramRequestHandler {}

describe('StrategyHost', () => {
  test('a stream server tells its linger time, its address once bound, and which hooks it overrides', async () => {
    class Guarded extends TCPServer {
      override verifyRequest(): boolean {
        return true;
      }
    }
    const strategy = new Recording();
    await using server = new Guarded({ host: '127.0.0.1', port: 0 }, Echo, { logger: false, concurrency: strategy, lingerTimeout: 750 });
    await server.listen();
    const host = strategy.host!;
    expect(host.RequestHandlerClass).toBe(Echo);
    expect(host.serverAddress).toEqual(server.serverAddress);
    expect(host.serverAddress).not.toMatchObject({ port: 0 });
    expect(host.lingerTimeout).toBe(750);
    expect(host.requests).toBe('stream');
    expect(host.overrides('verifyRequest')).toBe(true);
    expect(host.overrides('handleError')).toBe(false);
    expect(host.shareSocket()).toBeUndefined();
    expect(host.log).toBe(server.log);
  });

  test('a datagram server lends its socket, and has no linger time', async () => {
    const strategy = new Recording();
    await using server = new UDPServer({ host: '127.0.0.1', port: 0 }, DatagramEcho, { logger: false, concurrency: strategy });
    await server.listen();
    const host = strategy.host!;
    expect(host.lingerTimeout).toBeUndefined();
    expect(host.requests).toBe('datagram');
    expect(host.shareSocket()).toMatchObject({ kind: 'udp', maxDatagramSize: server.maxDatagramSize });
  });

  test('remote requests reach the events and handleError()', async () => {
    const strategy = new Recording();
    await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false, concurrency: strategy });
    const seen: unknown[] = [];
    const failed: unknown[] = [];
    server.on('request', (client) => seen.push(client));
    server.on('requestError', (error) => failed.push(error));
    await server.listen();
    const client = { host: '192.0.2.1', port: 9, family: 'IPv4' as const };
    strategy.host!.remote.seen([client]);
    await strategy.host!.remote.failed(undefined, client, new Error('elsewhere'));
    expect(seen).toEqual([client]);
    expect(failed).toEqual([new Error('elsewhere')]);
  });
});

test('internals are not among the public exports (they live in @sockserve/core/internal)', () => {
  for (const name of ['kRequestContext', 'kDatagramReply', 'kShareSocket', 'kRemoteRequests', 'markPoolWorker', 'poolWorker', 'runHandler', 'settleWithin']) {
    expect(Object.keys(sockserve)).not.toContain(name);
  }
});
