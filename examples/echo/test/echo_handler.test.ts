/**
 * Unit tests of the echo handlers, in memory: how a user tests a handler with
 * `@sockserve/testing` (here through `sockserve`). No port, no socket file.
 */
import { describe, expect, test } from 'vitest';
import { LimitExceededError, MemoryDatagramServer, MemoryServer, type MemorySocket } from 'sockserve';
import { DatagramEchoHandler, EchoHandler, LineEchoHandler } from '../src/echo_handler.js';

async function received(client: MemorySocket): Promise<string> {
  return Buffer.concat((await client.toArray()) as Buffer[]).toString();
}

describe('echo handlers, in memory', () => {
  test('EchoHandler sends back every byte, and ends when the client ends', async () => {
    await using server = new MemoryServer(EchoHandler, { logger: false });
    void server.serveForever();
    const client = await server.connect();
    client.write('first ');
    client.end('second');
    expect(await received(client)).toBe('first second');
  });

  test('LineEchoHandler echoes whole lines, and an over-long line fails that connection only', async () => {
    const errors: unknown[] = [];
    await using server = new MemoryServer(LineEchoHandler, { logger: false });
    server.on('requestError', (error) => errors.push(error));
    void server.serveForever();
    const long = await server.connect();
    long.end(`${'x'.repeat(70_000)}\n`);
    expect(await received(long)).toBe('');
    expect(errors[0]).toBeInstanceOf(LimitExceededError);
    const fine = await server.connect();
    fine.end('a\nb\n');
    expect(await received(fine)).toBe('a\nb\n');
  });

  test('DatagramEchoHandler replies with the datagram it got', async () => {
    await using server = new MemoryDatagramServer(DatagramEchoHandler, { logger: false });
    void server.serveForever();
    expect((await server.send('ping'))?.toString()).toBe('ping');
  });
});
