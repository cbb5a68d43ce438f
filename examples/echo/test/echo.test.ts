import { describe, expect, test } from 'vitest';
import { exchange, tempDir } from '../../../test/helpers/net.js';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on (\S+) \(([\w-]+)\)/;

describe('echo example', () => {
  test.each([
    ['event-loop', []],
    ['sequential', ['--strategy', 'sequential']],
    ['event-loop', ['--max-concurrency', '2']],
  ])('echoes over TCP (%s %j)', async (name, flags) => {
    await using echo = await runExample('echo', ['--port', '0', ...flags], READY);
    expect(echo.banner[2]).toBe(name);
    const [host, port] = [echo.banner[1]!.slice(0, echo.banner[1]!.lastIndexOf(':')), Number(echo.banner[1]!.split(':').pop())];
    const replies = await Promise.all(
      [1, 2, 3].map((i) => exchange({ serverAddress: { host, port, family: 'IPv4' } }, `hello ${i}\n`.repeat(1000))),
    );
    replies.forEach((reply, i) => expect(reply.toString()).toBe(`hello ${i + 1}\n`.repeat(1000)));
  });

  test('echoes lines over a Unix socket, and stops cleanly on SIGTERM', async () => {
    using dir = tempDir();
    const path = dir.file('echo.sock');
    const echo = await runExample('echo', ['--unix', path, '--lines'], READY);
    expect(echo.banner[1]).toBe(path);
    expect((await exchange({ serverAddress: path }, 'a\nb\n')).toString()).toBe('a\nb\n');
    expect(await echo.stop()).toBe(0);
    expect(echo.stdout()).toContain('stopped: 0 requests completed, 0 aborted');
  });

  test('says what is wrong with a taken port', async () => {
    await using first = await runExample('echo', ['--port', '0'], READY);
    const port = first.banner[1]!.split(':').pop()!;
    await expect(runExample('echo', ['--port', port], READY)).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('echo example over datagrams', () => {
  test('echoes over UDP', async () => {
    const dgram = await import('node:dgram');
    await using echo = await runExample('echo', ['--udp', '--port', '0'], READY);
    const port = Number(echo.banner[1]!.split(':').pop());
    const socket = dgram.createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    socket.send('ping over udp', port, '127.0.0.1');
    expect((await reply).toString()).toBe('ping over udp');
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });

  test('echoes over a Unix datagram socket', async () => {
    const { UnixDatagramSocket } = await import('@sockserve/unix-dgram');
    using dir = tempDir();
    const path = dir.file('echo-dgram.sock');
    await using echo = await runExample('echo', ['--unix-dgram', path], READY);
    expect(echo.banner[1]).toBe(path);
    using client = new UnixDatagramSocket().bind(dir.file('client.sock'));
    await client.sendTo('ping over unix dgram', path);
    expect((await client.receive()).data.toString()).toBe('ping over unix dgram');
  });
});
