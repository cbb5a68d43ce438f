import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { Clients, readLine, until } from '../../../test/helpers/net.js';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on (\S+):(\d+)/;

async function startChat(args: string[] = []) {
  const chat = await runExample('chat', ['--port', '0', ...args], READY);
  const address = { host: '127.0.0.1', port: Number(chat.banner[2]), family: 'IPv4' as const };
  return { chat, server: { serverAddress: address } };
}

/** Collects the lines a client receives. */
function collect(socket: net.Socket): string[] {
  const lines: string[] = [];
  let partial = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  socket.resume(); // readLine() left it paused
  return lines;
}

describe('chat example', () => {
  test('prints how to connect, and honours HOST and PORT', async () => {
    await using chat = await runExample('chat', [], /connect with: nc (\S+) (\d+)/, { HOST: '127.0.0.1', PORT: '0' });
    expect(chat.banner[1]).toBe('127.0.0.1');
    expect(Number(chat.banner[2])).toBeGreaterThan(0);
  });

  test('broadcasts every line to all clients with sender and time; quit leaves', async () => {
    const { chat, server } = await startChat();
    await using _chat = chat;
    await using clients = new Clients();
    const alice = await clients.connect(server);
    expect(await readLine(alice)).toMatch(/^Welcome, 127\.0\.0\.1:\d+\. No one else is here\./);
    const bob = await clients.connect(server);
    expect(await readLine(bob)).toMatch(/\. 1 other is here\./);
    const aliceLines = collect(alice);
    const bobLines = collect(bob);
    const aliceName = `127.0.0.1:${alice.localPort}`;
    alice.write('hello everyone\n');
    await until(() => bobLines.some((line) => line.includes('hello everyone')));
    const said = bobLines.find((line) => line.includes('hello everyone'))!;
    expect(said).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${aliceName.replaceAll('.', '\\.')}: hello everyone$`));
    await until(() => aliceLines.some((line) => line.includes('hello everyone')));
    const closed = new Promise((resolve) => alice.once('close', resolve));
    alice.end('quit\n');
    await closed;
    expect(aliceLines).toContain('Bye.');
    await until(() => bobLines.includes(`* ${aliceName} left`));
  });

  test('a client vanishing mid-broadcast breaks nothing', async () => {
    const { chat, server } = await startChat();
    await using _chat = chat;
    await using clients = new Clients();
    const speaker = await clients.connect(server);
    const listener = await clients.connect(server);
    await readLine(speaker);
    await readLine(listener);
    collect(speaker);
    const heard = collect(listener);
    const vanishing = await Promise.all([1, 2, 3].map(() => clients.connect(server)));
    for (let i = 0; i < 200; i++) {
      speaker.write(`message ${i}\n`);
      if (i === 50) for (const socket of vanishing) socket.resetAndDestroy();
    }
    await until(() => heard.some((line) => line.endsWith('message 199')));
    expect(heard.filter((line) => / message \d+$/.test(line))).toHaveLength(200);
  });

  test('a slow reader cannot stall the others: it is dropped and the drop is logged', async () => {
    const { chat, server } = await startChat(['--max-queue', String(1024 * 1024)]);
    await using _chat = chat;
    await using clients = new Clients();
    const speaker = await clients.connect(server);
    const reader = await clients.connect(server);
    const slow = await clients.connect(server);
    await readLine(speaker);
    await readLine(reader);
    slow.pause(); // never reads again
    const slowPort = slow.localPort;
    const spoke = collect(speaker);
    const heard = collect(reader);
    const line = 'x'.repeat(1000);
    // Rounds of 500 lines (~0.5 MB): the reader keeps up with each round, the slow client falls
    // further behind each time until the server drops it.
    const messages = () => heard.filter((l) => l.endsWith(line)).length;
    let sent = 0;
    for (let round = 0; round < 80 && !chat.stderr().includes('not reading its messages'); round++) {
      for (let i = 0; i < 500; i++) speaker.write(`${sent++} ${line}\n`);
      await until(() => messages() === sent && spoke.filter((l) => l.endsWith(line)).length === sent, 20_000);
    }
    expect(sent).toBeGreaterThan(1000);
    expect(messages()).toBe(sent);
    await until(() => chat.stderr().includes('not reading its messages'));
    // Reading again, the slow client finds its connection closed by the server.
    const slowClosed = new Promise((resolve) => slow.once('close', resolve));
    slow.on('data', () => {}).resume();
    await slowClosed;
    await until(() => heard.some((l) => l.includes(`127.0.0.1:${slowPort} was dropped`)));
    expect(chat.stderr()).toContain(`"client":"127.0.0.1:${slowPort}"`);
    expect(chat.stderr()).not.toContain(`"client":"127.0.0.1:${reader.localPort}"`);
  }, 60_000);
});
