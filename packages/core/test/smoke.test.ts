import net from 'node:net';
import { test, expect } from 'vitest';
import { TCPServer, StreamRequestHandler } from 'sockserve';

class Echo extends StreamRequestHandler {
  override async handle() {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

test('smoke', async () => {
  await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger: false });
  await server.listen();
  void server.serveForever();
  const client = net.connect(server.serverAddress.port, '127.0.0.1');
  client.end('hello\nworld\n');
  let got = '';
  for await (const chunk of client) got += chunk;
  expect(got).toBe('hello\nworld\n');
});
