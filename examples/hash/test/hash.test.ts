import { describe, expect, test } from 'vitest';
import { exchange } from '../../../test/helpers/net.js';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on 127\.0\.0\.1:(\d+) \(([\w-]+)\)/;

describe('hash example', () => {
  test.each(['event-loop', 'sequential', 'pool'])('serves the same answers under --strategy %s', async (strategy) => {
    await using hash = await runExample('hash', ['--port', '0', '--strategy', strategy, '--workers', '2'], READY);
    expect(hash.banner[2]).toBe(strategy === 'pool' ? 'worker-pool' : strategy);
    const server = { serverAddress: { host: '127.0.0.1', port: Number(hash.banner[1]), family: 'IPv4' as const } };
    // Each client sends a line and half-closes, so even one-at-a-time serving gets to all of them.
    const replies = (await Promise.all([1, 2, 3, 4].map(() => exchange(server, 'abc\n')))).map(String);
    const digests = new Set(replies.map((reply) => reply.split(' ')[0]));
    expect(digests.size).toBe(1);
    expect([...digests][0]).toMatch(/^[0-9a-f]{64}$/);
    const pids = new Set(replies.map((reply) => reply.trim().split(' ')[1]));
    if (strategy === 'pool') {
      expect(pids.size).toBe(2);
      expect(pids.has(String(hash.child.pid))).toBe(false);
    } else {
      expect([...pids]).toEqual([String(hash.child.pid)]);
    }
  });
});
