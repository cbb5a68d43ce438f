import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { describe, expect, test } from 'vitest';
import { exchange } from '../../../test/helpers/net.js';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on 127\.0\.0\.1:(\d+) \(([\w-]+)\)/;

/** What the handlers answer for 'abc\n': sha256 iterated 2,000 times. */
let expected = Buffer.from('abc\n');
for (let i = 0; i < 2_000; i++) expected = createHash('sha256').update(expected).digest();
const EXPECTED = expected.toString('hex');

describe('hash example', () => {
  test.each(['event-loop', 'sequential', 'pool'])('serves the same answers under --strategy %s', async (strategy) => {
    await using hash = await runExample('hash', ['--port', '0', '--strategy', strategy, '--workers', '2'], READY);
    expect(hash.banner[2]).toBe(strategy === 'pool' ? 'worker-pool' : strategy);
    const server = { serverAddress: { host: '127.0.0.1', port: Number(hash.banner[1]), family: 'IPv4' as const } };
    // Each client sends a line and half-closes, so even one-at-a-time serving gets to all of them.
    const replies = (await Promise.all([1, 2, 3, 4].map(() => exchange(server, 'abc\n')))).map(String);
    const digests = new Set(replies.map((reply) => reply.split(' ')[0]));
    expect([...digests]).toEqual([EXPECTED]);
    const pids = new Set(replies.map((reply) => reply.trim().split(' ')[1]));
    if (strategy === 'pool') {
      expect(pids.size).toBe(2);
      expect(pids.has(String(hash.child.pid))).toBe(false);
    } else {
      expect([...pids]).toEqual([String(hash.child.pid)]);
    }
  });

  test.each([
    ['event-loop', 'shared'],
    ['pool', 'shared'],
    ['pool', 'relay'],
  ])('serves datagrams with --udp under --strategy %s (--datagrams %s)', async (strategy, datagrams) => {
    const args = ['--port', '0', '--udp', '--strategy', strategy, '--datagrams', datagrams, '--workers', '2'];
    await using hash = await runExample('hash', args, /listening on udp 127\.0\.0\.1:(\d+) \(([\w-]+)\)/);
    const client = dgram.createSocket('udp4');
    try {
      const replies: string[] = [];
      client.on('message', (data) => replies.push(data.toString()));
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      for (let i = 0; i < 6; i++) client.send('abc\n', Number(hash.banner[1]), '127.0.0.1');
      const deadline = Date.now() + 10_000;
      while (replies.length < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(replies).toHaveLength(6);
      expect([...new Set(replies.map((reply) => reply.split(' ')[0]))]).toEqual([EXPECTED]);
      const pids = new Set(replies.map((reply) => reply.trim().split(' ')[1]));
      expect(pids.has(String(hash.child.pid))).toBe(strategy !== 'pool');
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });
});
