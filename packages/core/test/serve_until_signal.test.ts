/** serveUntilSignal(): the clean stop of a service, and the drain that a rolling restart needs. */
import net from 'node:net';
import { expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer, type InetAddress } from 'sockserve';
import { exchange } from '../../../test/helpers/net.js';

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

function refused(address: InetAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address.port, address.host);
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

test('with drainDelay, the server drains (draining, an event) and keeps serving, then closes and reports the signal', async () => {
  await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
  await server.listen();
  let drained = 0;
  server.on('draining', () => drained++);
  const started = Date.now();
  const serving = server.serveUntilSignal({ drainDelay: 300, timeout: 1_000 });
  await new Promise((resolve) => setImmediate(resolve));
  expect(server.draining).toBe(false);
  process.emit('SIGTERM', 'SIGTERM');
  expect(server.draining).toBe(true);
  expect(drained).toBe(1);
  // Still serving during the drain: a load balancer that has not seen it yet loses nothing.
  expect((await exchange(server, 'during drain\n')).toString()).toBe('during drain\n');
  const report = await serving;
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  expect(report).toMatchObject({ signal: 'SIGTERM', aborted: 0 });
  expect(await refused(server.serverAddress)).toBe(true);
});

test('without drainDelay the listener closes at once', async () => {
  await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
  await server.listen();
  const serving = server.serveUntilSignal({ timeout: 1_000 });
  await new Promise((resolve) => setImmediate(resolve));
  process.emit('SIGINT', 'SIGINT');
  expect((await serving).signal).toBe('SIGINT');
  expect(await refused(server.serverAddress)).toBe(true);
});

test('a bad drainDelay is refused, quoting it', async () => {
  await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
  await expect(server.serveUntilSignal({ drainDelay: -1 })).rejects.toThrow(/drainDelay.*-1/);
});
