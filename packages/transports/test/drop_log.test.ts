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

/** A UDP echo that drops datagrams over `maxDatagramSize`, its log records, and a client. */
async function dropping(maxDatagramSize: number) {
  const { logger, records } = memoryLogger('warn');
  const server = new UDPServer({ host: '127.0.0.1', port: 0 }, Echo, { logger, maxDatagramSize });
  const counter = { events: 0 };
  server.on('dropped', () => counter.events++);
  await server.listen();
  void server.serveForever();
  const client = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const send = (size: number) => client.send(Buffer.alloc(size, 0x61), server.serverAddress.port, '127.0.0.1');
  const close = async () => {
    client.close();
    await server.serverClose();
  };
  return { server, records, counter, send, close };
}

test('a flood of oversize datagrams: each counted and each a dropped event, two log lines (the first, then a count)', async () => {
  const { server, records, counter, send, close } = await dropping(100);
  try {
    for (let i = 0; i < 300; i++) {
      send(200);
      if (i % 20 === 19) await sleep(2);
    }
    // Loopback may drop a few when the receive buffer fills: count what arrived.
    let seen = -1;
    while (seen !== counter.events) {
      seen = counter.events;
      await sleep(50);
    }
    const { events } = counter;
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
    await close();
  }
});

test('the count of drops not yet logged is logged when the server closes', async () => {
  const { records, counter, send, close } = await dropping(10);
  try {
    for (let i = 0; i < 3; i++) send(20);
    await until(() => counter.events === 3, 5000);
  } finally {
    await close();
  }
  expect(records.map((r) => r.suppressed)).toEqual([undefined, 2]);
});
