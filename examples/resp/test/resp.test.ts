/**
 * The Redis-compatible example, driven by the real `redis-cli` (Debian's redis-tools) and by a
 * raw client, as a separate process as users run it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on 127\.0\.0\.1:(\d+)/;
const hasRedisCli = spawnSync('redis-cli', ['--version']).status === 0;
if (!hasRedisCli) console.warn('redis-cli is not installed (apt-get install redis-tools): the redis-cli tests are skipped');

async function start() {
  const example = await runExample('resp', ['--port', '0'], READY);
  return { example, port: example.banner[1]! };
}

function cli(port: string, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', port, ...args], { encoding: 'utf8' }).trimEnd();
}

/** Sends `data` all at once or a byte at a time, half-closes, and returns every byte of the replies. */
async function converse(port: string, data: Buffer, byteAtATime: boolean): Promise<Buffer> {
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  if (byteAtATime) {
    for (const byte of data) {
      socket.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    socket.write(data);
  }
  socket.end();
  await closed;
  return Buffer.concat(chunks);
}

/** A RESP2 command. */
function command(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe.skipIf(!hasRedisCli)('resp example with redis-cli', () => {
  test('answers PING, ECHO, SET, GET, DEL, INCR, MSET and errors as Redis does', async () => {
    const { example, port } = await start();
    await using _example = example;
    expect(cli(port, 'PING')).toBe('PONG');
    expect(cli(port, 'ECHO', 'hello world')).toBe('hello world');
    expect(cli(port, 'SET', 'greeting', 'hi')).toBe('OK');
    expect(cli(port, 'GET', 'greeting')).toBe('hi');
    expect(cli(port, 'GET', 'missing')).toBe('');
    expect(cli(port, 'INCR', 'counter')).toBe('1');
    expect(cli(port, 'INCR', 'counter')).toBe('2');
    expect(cli(port, 'INCR', 'greeting')).toBe('ERR value is not an integer or out of range');
    expect(cli(port, 'MSET', 'a', '1', 'b', '2')).toBe('OK');
    expect(cli(port, 'DEL', 'a', 'b', 'nope')).toBe('2');
    expect(cli(port, 'GET')).toBe("ERR wrong number of arguments for 'get' command");
    expect(cli(port, 'NOSUCH', 'x')).toBe("ERR unknown command 'NOSUCH', with args beginning with: 'x'");
    expect(cli(port, 'CONFIG', 'GET', 'save')).toBe('save'); // and an empty value, trimmed
  });

  test('stores and returns binary values byte for byte', async () => {
    const { example, port } = await start();
    await using _example = example;
    const value = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
    execFileSync('redis-cli', ['-p', port, '-x', 'SET', 'binary'], { input: value });
    const got = execFileSync('redis-cli', ['-p', port, '--raw', 'GET', 'binary']);
    // --raw prints the value and a newline.
    expect(got.subarray(0, got.length - 1).equals(value)).toBe(true);
  });

  test('takes a mass insert of 100,000 commands through redis-cli --pipe with no error', async () => {
    const { example, port } = await start();
    await using _example = example;
    const commands = Buffer.concat(Array.from({ length: 100_000 }, (_, i) => command('SET', `key:${i}`, `value:${i}`)));
    const result = spawnSync('redis-cli', ['-p', port, '--pipe'], { input: commands, encoding: 'utf8' });
    expect(result.stdout).toMatch(/errors: 0, replies: 100000/);
    expect(cli(port, 'GET', 'key:99999')).toBe('value:99999');
  }, 30_000);
});

describe('resp example with a raw client', () => {
  const session = Buffer.concat([
    command('PING'),
    command('SET', 'k', Buffer.from([0, 13, 10, 255])),
    command('GET', 'k'),
    Buffer.from('PING\r\n'), // an inline command
    Buffer.from('ECHO inline\n'),
    command('INCR', 'n'),
    command('MSET', 'a', 'x', 'b', 'y'),
    command('DEL', 'a', 'b', 'c'),
    command('GET', 'k', 'extra'),
    command('NOSUCH'),
  ]);

  test('replies identically, byte for byte, to the whole session at once and a byte at a time', async () => {
    const whole = await start();
    await using _whole = whole.example;
    const bytewise = await start();
    await using _bytewise = bytewise.example;
    const atOnce = await converse(whole.port, session, false);
    const slowly = await converse(bytewise.port, session, true);
    expect(slowly.equals(atOnce)).toBe(true);
    expect(atOnce.toString('latin1')).toBe(
      '+PONG\r\n+OK\r\n$4\r\n\x00\r\n\xff\r\n+PONG\r\n$6\r\ninline\r\n:1\r\n+OK\r\n:2\r\n' +
        "-ERR wrong number of arguments for 'get' command\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    );
  });

  test('answers a protocol error as Redis does, and closes that connection only', async () => {
    const { example, port } = await start();
    await using _example = example;
    expect((await converse(port, Buffer.from('*abc\r\n'), false)).toString()).toBe('-ERR Protocol error: invalid multibulk length\r\n');
    expect((await converse(port, Buffer.from('*1\r\n+PING\r\n'), false)).toString()).toBe("-ERR Protocol error: expected '$', got '+'\r\n");
    expect((await converse(port, command('PING'), false)).toString()).toBe('+PONG\r\n');
  });
});
