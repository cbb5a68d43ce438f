/** Nagle's algorithm is off by default on TCP connections, and a handler can bring it back. */
import type net from 'node:net';
import { expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer } from 'sockserve';
import { exchange } from '../../../test/helpers/net.js';

/** Whether Node has set TCP_NODELAY on the socket (it records what it set, under a symbol). */
function noDelay(socket: net.Socket): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'kSetNoDelay');
  return key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key];
}

class Report extends StreamRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.write(String(noDelay(this.request)));
  }
}

class WithNagle extends Report {
  static override disableNagleAlgorithm = false;
}

test('TCP connections have TCP_NODELAY by default; disableNagleAlgorithm = false or noDelay: false turn it off', async () => {
  expect(StreamRequestHandler.disableNagleAlgorithm).toBe(true);
  await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Report, { logger: false });
  await server.listen();
  void server.serveForever();
  expect((await exchange(server, '')).toString()).toBe('true');

  await using nagle = new TCPServer({ host: '127.0.0.1', port: 0 }, WithNagle, { logger: false });
  await nagle.listen();
  void nagle.serveForever();
  expect((await exchange(nagle, '')).toString()).toBe('false');

  // A server without noDelay still gets it from the handler's default.
  await using plain = new TCPServer({ host: '127.0.0.1', port: 0 }, Report, { logger: false, noDelay: false });
  await plain.listen();
  void plain.serveForever();
  expect((await exchange(plain, '')).toString()).toBe('true');
});
