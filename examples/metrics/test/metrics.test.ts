/** The metrics example, run as a process and scraped over HTTP as Prometheus would. */
import net from 'node:net';
import { expect, test } from 'vitest';
import { readAll } from '../../../test/helpers/net.js';
import { runExample } from '../../../test/helpers/spawn.js';

const READY = /listening on 127\.0\.0\.1:(\d+), metrics on (http:\S+)/;

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, value] = line.split(' ');
    samples.set(name!, Number(value));
  }
  return samples;
}

test('scraping /metrics shows requests, bytes and drops as Prometheus text', async () => {
  await using example = await runExample('metrics', ['--port', '0', '--metrics-port', '0'], READY);
  const port = Number(example.banner[1]);
  const url = example.banner[2]!;
  const before = await scrape(url);
  expect(before.get('sockserve_requests_total{server="echo"}')).toBe(0);
  for (const text of ['one\n', 'two\n', `${'x'.repeat(2000)}\n`]) {
    const socket = net.connect(port, '127.0.0.1');
    const reply = readAll(socket);
    socket.end(text);
    await reply;
  }
  // The counters move once the requests have closed.
  let after = await scrape(url);
  for (let i = 0; i < 50 && after.get('sockserve_requests_total{server="echo"}') !== 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    after = await scrape(url);
  }
  expect(after.get('sockserve_requests_total{server="echo"}')).toBe(3);
  expect(after.get('sockserve_requests_failed_total{server="echo"}')).toBe(1); // the over-long line
  expect(after.get('sockserve_bytes_in_total{server="echo"}')).toBeGreaterThan(8);
  expect(after.get('sockserve_requests_in_flight{server="echo"}')).toBe(0);
  expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
});
