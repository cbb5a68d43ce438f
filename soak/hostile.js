// Slow and hostile peers: slowloris, peers that never read a large reply, and a storm of
// connections that never send. A verifying client measures the service everyone else gets.
import { backToBaseline, connected, drain, formatLogs, inBatches, line, logLevels, mib, random, sleep, startServer, until } from './lib.js';


/** A well-behaved client asking for an echo every 20 ms until stopped: its latencies and failures. */
function bystander(server) {
  const latencies = [];
  let failures = 0;
  let stop = false;
  const done = (async () => {
    const socket = server.connect();
    await connected(socket);
    let pending;
    let got = [];
    socket.on('data', (chunk) => {
      got.push(chunk);
      if (pending && Buffer.concat(got).length >= pending.expected.length) pending.resolve();
    });
    socket.on('error', () => {});
    while (!stop) {
      const expected = line(random(1, 1024));
      got = [];
      const started = performance.now();
      const answered = await Promise.race([
        new Promise((resolve) => {
          pending = { expected, resolve: () => resolve(true) };
          socket.write(expected);
        }),
        sleep(2000, false),
      ]);
      if (!answered || !Buffer.concat(got).equals(expected)) {
        failures++;
        break;
      }
      latencies.push(performance.now() - started);
      await sleep(20);
    }
    socket.end();
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
      latencies.sort((a, b) => a - b);
      return { requests: latencies.length, failures, p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN };
    },
  };
}

/** @param {{ slowloris: number, nonReaders: number, neverSend: number, timeout?: number }} options */
export async function hostilePeers({ slowloris, nonReaders, neverSend, timeout = 2000 }) {
  const server = await startServer('tcp', { env: { SOAK_TIMEOUT: String(timeout) } });
  const failures = [];
  const sockets = [];
  try {
    const base = await server.probe(true);
    const watch = bystander(server);

    // 1. Slowloris: a byte every 1.5 timeouts: each is closed by the idle timeout at its first gap.
    const slow = await Promise.all(
      Array.from({ length: slowloris }, async () => {
        const socket = server.connect();
        sockets.push(socket);
        const outcome = drain(socket);
        await connected(socket);
        const timer = setInterval(() => socket.writable && socket.write('x'), timeout * 1.5);
        socket.write('x');
        const result = await outcome;
        clearInterval(timer);
        return result;
      }),
    );
    const slowClosed = slow.filter((r) => r.error === undefined && r.ms >= timeout - 100 && r.ms < timeout + 3000).length;
    if (slowClosed !== slowloris) failures.push(`${slowloris - slowClosed} slowloris peers not closed by the idle timeout`);

    // 2. Peers that ask for 64 MiB each and never read: backpressure holds the server's memory.
    const readers = [];
    for (let i = 0; i < nonReaders; i++) {
      const socket = server.connect();
      sockets.push(socket);
      socket.on('error', () => {});
      socket.pause();
      await connected(socket);
      socket.write('!BIG 64\n');
      readers.push(socket);
    }
    await sleep(2000);
    const stuck = await server.probe(true);
    const held = stuck.memory.rss - base.memory.rss;
    const asked = nonReaders * 64 * 1048576;
    if (held > 64 * 1048576) failures.push(`${mib(held)} MiB held for ${nonReaders} peers that never read`);
    for (const socket of readers) socket.destroy();
    const writeErrors = await until(async () => {
      const probe = await server.probe();
      const count = (probe.errors.codes.ECONNRESET ?? 0) + (probe.errors.codes.EPIPE ?? 0);
      return { count, ok: count === nonReaders };
    }, 5000);
    if (!writeErrors.ok) failures.push(`${writeErrors.count} of ${nonReaders} failed writes to vanished peers reported`);

    // 3. Connections that never send: open, wait up to 50 ms, close.
    const before = await server.probe();
    let connectErrors = 0;
    const stormStarted = performance.now();
    await inBatches(neverSend, 100, async () => {
      const socket = server.connect();
      const outcome = drain(socket);
      try {
        await connected(socket);
      } catch {
        connectErrors++;
        return;
      }
      await sleep(random(0, 50));
      socket.end();
      await outcome;
    });
    const stormMs = performance.now() - stormStarted;
    if (connectErrors > 0) failures.push(`${connectErrors} of ${neverSend} connects failed`);

    const service = await watch.stop();
    if (service.failures > 0) failures.push('a well-behaved client was not served within 2 s');
    const after = await backToBaseline(server, base.fds);
    if (!after.ok) failures.push(`descriptors ${after.fds} after (baseline ${base.fds}), ${after.stats.connections} connections open`);
    const accepted = after.stats.requests - before.stats.requests;
    if (accepted !== neverSend) failures.push(`${accepted} requests accepted for ${neverSend} silent connections`);
    const { codes } = after.errors;
    const expected = { ERR_SOCKSERVE_TIMEOUT: slowloris, ECONNRESET: undefined, EPIPE: undefined };
    const other = Object.entries(codes).filter(([code]) => !(code in expected));
    if ((codes.ERR_SOCKSERVE_TIMEOUT ?? 0) !== slowloris) failures.push(`${codes.ERR_SOCKSERVE_TIMEOUT ?? 0} timeouts reported for ${slowloris} slowloris peers`);
    if (other.length > 0) failures.push(`unexpected handleError calls: ${after.errors.samples.join('; ')}`);
    await server.close(5000);
    const logs = logLevels(server.logFile);
    return {
      id: 'hostile-peers',
      title: 'Slow and hostile peers',
      pass: failures.length === 0,
      failures,
      line:
        `${slowloris} slowloris peers (a byte every ${(timeout * 1.5) / 1000} s): ${slowClosed} closed by the ${timeout} ms idle timeout; ` +
        `${nonReaders} peers asking for ${mib(asked)} MiB and never reading: server RSS +${mib(held)} MiB while stuck, ` +
        `${writeErrors.count} failed writes reported once they vanished; ${neverSend} connections that never send in ${(stormMs / 1000).toFixed(1)} s: ` +
        `${accepted} accepted and closed, no error; a bystander meanwhile: ${service.requests} echoes, p99 ${service.p99.toFixed(1)} ms, ${service.failures} failed; ` +
        `descriptors ${base.fds} before, ${after.fds} after; logs ${formatLogs(logs)}`,
      figures: { slowClosed, held, writeErrors: writeErrors.count, accepted, bystander: service, fds: { base: base.fds, after: after.fds } },
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    server.kill();
  }
}
