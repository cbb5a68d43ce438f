// Idle horde: many connections that send nothing, held until the handler's idle timeout closes them.
import { backToBaseline, connected, drain, formatLogs, inBatches, logLevels, mib, startServer, until } from './lib.js';

/** @param {{ connections: number, timeout: number }} options */
export async function idleHorde({ connections, timeout }) {
  const server = await startServer('tcp', { env: { SOAK_HANDLER: 'Idle', SOAK_TIMEOUT: String(timeout) } });
  const failures = [];
  const sockets = [];
  try {
    const base = await server.probe(true);
    const outcomes = [];
    const started = performance.now();
    let connectErrors = 0;
    await inBatches(connections, 200, async () => {
      const socket = server.connect();
      sockets.push(socket);
      outcomes.push(drain(socket));
      await connected(socket).catch(() => connectErrors++);
    });
    const connectMs = performance.now() - started;
    const held = await until(async () => {
      const probe = await server.probe();
      return { ...probe, ok: probe.stats.connections === connections };
    }, 5000);
    const peak = await server.probe(true);
    if (!held.ok) failures.push(`${held.stats.connections} of ${connections} connections held at once`);
    if (connectErrors > 0) failures.push(`${connectErrors} connects failed`);
    if (performance.now() - started > timeout) failures.push(`the horde took longer to connect than the idle timeout (${timeout} ms): raise it`);

    const results = await Promise.all(outcomes);
    const closedAfter = results.map((r) => r.ms).sort((a, b) => a - b);
    const byServer = results.filter((r) => r.error === undefined && r.data.length === 0).length;
    const early = results.filter((r) => r.ms < timeout - 100).length;
    if (byServer !== connections) failures.push(`${connections - byServer} connections ended with an error or data`);
    if (early > 0) failures.push(`${early} connections closed before the idle timeout`);
    const after = await backToBaseline(server, base.fds);
    if (!after.ok) failures.push(`descriptors ${after.fds} after (baseline ${base.fds}), ${after.stats.connections} connections open`);
    const timeouts = after.errors.codes.ERR_SOCKSERVE_TIMEOUT ?? 0;
    const other = Object.values(after.errors.codes).reduce((a, b) => a + b, 0) - timeouts;
    if (after.stats.requests !== connections) failures.push(`${after.stats.requests} requests accepted for ${connections} connections`);
    if (timeouts !== connections || other > 0) failures.push(`handleError saw ${timeouts} timeouts and ${other} other errors: ${after.errors.samples.join('; ')}`);
    await server.close(5000);
    const logs = logLevels(server.logFile);
    const perConnection = (peak.memory.rss - base.memory.rss) / connections;
    const heapPerConnection = (peak.memory.heapUsed - base.memory.heapUsed) / connections;
    return {
      id: 'idle-horde',
      title: 'Idle horde',
      pass: failures.length === 0,
      failures,
      line:
        `${connections} idle connections opened in ${(connectMs / 1000).toFixed(1)} s, all accepted and held (RSS ${mib(base.memory.rss)} -> ${mib(peak.memory.rss)} MiB: ` +
        `${(perConnection / 1024).toFixed(1)} KiB per connection, ${(heapPerConnection / 1024).toFixed(1)} KiB of it JS heap); ` +
        `closed by the ${timeout} ms idle timeout: ${byServer} cleanly, the last ${(closedAfter.at(-1) / 1000).toFixed(1)} s after it opened; ` +
        `handleError: ${timeouts} timeouts, ${other} other; descriptors ${base.fds} before, ${peak.fds} held, ${after.fds} after; ` +
        `logs ${formatLogs(logs)}`,
      figures: { connections, connectMs, perConnection, heapPerConnection, fds: { base: base.fds, peak: peak.fds, after: after.fds } },
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    server.kill();
  }
}
