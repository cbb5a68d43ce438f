/** A flood of dropped datagrams is counted one by one but logged at most once a second per reason. */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { DatagramRequestHandler, UDPServer } from 'sockserve';
import { memoryLogger } from '../../../test/helpers/log.js';
import { until } from '../../../test/helpers/net.js';

class Echo extends DatagramRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.write(this.packet);
  }
}

test('a flood of oversize datagrams: each counted and each a dropped event, two log lines (the first, then a count)', async () => {
  const { logger, records } = memoryLogger('warn');
  const server = new UDPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger, maxDatagramSize: 100 });
  let events = 0;
  server.on('dropped', () => events++);
  await server.listen();
  void server.serveForever();
  const client = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const big = Buffer.alloc(200, 0x61);
    for (let i = 0; i < 300; i++) {
      client.send(big, server.serverAddress.port, '127.0.0.1');
      if (i % 20 === 19) await sleep(2);
    }
    // Loopback may drop a few when the receive buffer fills: count what arrived.
    let seen = -1;
    while (seen !== events) {
      seen = events;
      await sleep(50);
    }
    expect(events).toBeGreaterThan(100);
    expect(server.stats().dropped['too-large']).toBe(events);
    // Within the first second: only the first drop is logged.
    expect(records.filter((r) => r.reason === 'too-large')).toHaveLength(1);
    expect(records[0]).toMatchObject({ reason: 'too-large', size: 200 });
    // When the second is over, one line counts the rest.
    await until(() => records.length === 2, 3000);
    expect(records[1]).toMatchObject({ reason: 'too-large', suppressed: events - 1 });
    expect(String(records[1]!.msg)).toContain(`${events - 1} more`);
  } finally {
    client.close();
    await server.serverClose();
  }
});

test('the count of drops not yet logged is logged when the server closes', async () => {
  const { logger, records } = memoryLogger('warn');
  const server = new UDPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger, maxDatagramSize: 10 });
  let events = 0;
  server.on('dropped', () => events++);
  await server.listen();
  void server.serveForever();
  const client = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 3; i++) client.send(Buffer.alloc(20), server.serverAddress.port, '127.0.0.1');
    await until(() => events === 3, 5000);
  } finally {
    client.close();
    await server.serverClose();
  }
  expect(records.map((r) => r.suppressed)).toEqual([undefined, 2]);
});
