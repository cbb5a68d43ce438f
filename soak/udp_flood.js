// UDP flood: valid datagrams from several senders at a bounded rate, with oversize datagrams and
// garbage mixed in, against sockserve's UDPServer and a raw dgram echo at the same rate.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { formatLogs, logLevels, pct, random, sleep, startServer } from './lib.js';

const MAGIC = 0x534f414b; // 'SOAK'

/** Sends `total` datagrams at `rate`/s from `senders` sockets; counts the echoes of valid ones. */
async function flood(server, { total, rate, senders }) {
  const { host, port } = server.address;
  const sockets = await Promise.all(
    Array.from({ length: senders }, (_, index) => {
      const socket = dgram.createSocket('udp4');
      socket.index = index;
      return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket)));
    }),
  );
  const seen = new Set();
  let bad = 0;
  for (const socket of sockets) {
    socket.on('message', (packet) => {
      if (packet.length < 12 || packet.readUInt32BE(0) !== MAGIC || packet.readUInt32BE(4) !== socket.index) bad++;
      else seen.add(socket.index * 1e9 + packet.readUInt32BE(8));
    });
  }
  const sent = { valid: 0, oversize: 0, garbage: 0 };
  const padding = randomBytes(4096);
  const tickMs = 5;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const started = performance.now();
  for (let n = 0; n < total; ) {
    for (let k = 0; k < perTick && n < total; k++, n++) {
      const socket = sockets[n % senders];
      const roll = Math.random();
      let packet;
      if (roll < 0.05) {
        packet = padding.subarray(0, 3000); // over maxDatagramSize (2048)
        sent.oversize++;
      } else if (roll < 0.1) {
        packet = Buffer.from(randomBytes(random(1, 1500)));
        if (packet.length >= 4 && packet.readUInt32BE(0) === MAGIC) packet[0] = 0;
        sent.garbage++;
      } else {
        packet = Buffer.allocUnsafe(12 + random(0, 500));
        padding.copy(packet, 12, 0, packet.length - 12);
        packet.writeUInt32BE(MAGIC, 0);
        packet.writeUInt32BE(socket.index, 4);
        packet.writeUInt32BE(n, 8);
        sent.valid++;
      }
      socket.send(packet, port, host);
    }
    const due = ((n / perTick) * tickMs) - (performance.now() - started);
    if (due > 0) await sleep(due);
  }
  const seconds = (performance.now() - started) / 1000;
  await sleep(500); // the last echoes
  for (const socket of sockets) socket.close();
  return { sent, echoed: seen.size, bad, seconds };
}

/** One probe datagram: answered within a second? */
async function alive({ host, port }) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const probe = Buffer.alloc(12);
  probe.writeUInt32BE(MAGIC, 0);
  const answered = new Promise((resolve) => socket.once('message', () => resolve(true)));
  socket.send(probe, port, host);
  const ok = await Promise.race([answered, sleep(1000, false)]);
  socket.close();
  return ok;
}

/** @param {{ total: number, rate: number, senders: number }} options */
export async function udpFlood(options) {
  const failures = [];
  const results = {};
  for (const kind of ['raw-udp', 'udp']) {
    const server = await startServer(kind);
    try {
      const outcome = await flood(server, options);
      const up = await alive(server.address);
      const probe = await server.probe();
      await server.close(2000);
      results[kind] = { ...outcome, up, stats: probe.stats, errors: probe.errors, logs: logLevels(server.logFile) };
    } finally {
      server.kill();
    }
  }
  const loss = (r) => 1 - r.echoed / r.sent.valid;
  const ours = results.udp;
  const raw = results['raw-udp'];
  if (!ours.up) failures.push('the server did not answer after the flood');
  if (ours.bad > 0) failures.push(`${ours.bad} echoes not matching what their sender sent`);
  if (loss(ours) > Math.max(0.01, loss(raw) + 0.01)) failures.push(`lost ${pct(loss(ours))} of valid datagrams, raw dgram ${pct(loss(raw))}`);
  const tooLarge = ours.stats.dropped['too-large'] ?? 0;
  if (tooLarge > ours.sent.oversize) failures.push(`${tooLarge} dropped as too large, ${ours.sent.oversize} sent`);
  if (Object.keys(ours.errors.codes).length > 0 || Object.keys(ours.errors.injected).length > 0) failures.push(`handleError calls: ${ours.errors.samples.join('; ')}`);
  return {
    id: 'udp-flood',
    title: 'UDP flood',
    pass: failures.length === 0,
    failures,
    line:
      `${options.total} datagrams from ${options.senders} senders at ${options.rate}/s (${ours.sent.valid} valid, ${ours.sent.oversize} over maxDatagramSize, ${ours.sent.garbage} garbage) in ${ours.seconds.toFixed(1)} s: ` +
      `sockserve lost ${pct(loss(ours))} of the valid ones, raw dgram ${pct(loss(raw))} at the same rate; ` +
      `${tooLarge} oversize dropped and counted ('too-large'), ${ours.stats.requests} requests handled, ${ours.bad} wrong echoes; ` +
      `answering after the flood: ${ours.up ? 'yes' : 'no'}; logs ${formatLogs(ours.logs)}`,
    figures: { loss: loss(ours), rawLoss: loss(raw), sent: ours.sent, tooLarge, requests: ours.stats.requests },
  };
}
