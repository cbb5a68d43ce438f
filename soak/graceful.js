// Graceful close under load: requests mid-flight when serverClose({ timeout }) is called.
import { connected, drain, formatLogs, logLevels, sleep, startServer } from './lib.js';

/** @param {{ quick: number, slow: number, deadline: number }} options */
export async function gracefulClose({ quick, slow, deadline }) {
  const server = await startServer('tcp');
  const failures = [];
  const sockets = [];
  try {
    // Connect everyone first, then send every request at once, so that all are mid-request.
    const clients = await Promise.all(
      Array.from({ length: quick + slow }, async (_, index) => {
        const socket = server.connect();
        sockets.push(socket);
        const outcome = drain(socket);
        await connected(socket);
        return { socket, outcome, ms: index < quick ? 200 : deadline + 3000 };
      }),
    );
    for (const { socket, ms } of clients) socket.end(`!SLOW ${ms}\n`);
    await sleep(50);
    const before = await server.probe();
    const closing = server.close(deadline);
    await sleep(20);
    // Refused once the listener is closed.
    const late = server.connect();
    const refused = await connected(late).then(
      () => false,
      (error) => error.code === 'ECONNREFUSED',
    );
    late.destroy();
    const { report, exitMs } = await closing;
    const seen = await Promise.all(clients.map(({ outcome }) => outcome));
    const answered = seen.filter((r) => r.data.toString() === 'done\n').length;
    const cut = seen.filter((r) => r.data.length === 0).length;
    if (before.stats.inFlight !== quick + slow) failures.push(`${before.stats.inFlight} requests in flight, expected ${quick + slow}`);
    if (report.completed !== answered || report.aborted !== cut) failures.push(`report ${JSON.stringify(report)}, clients saw ${answered} answered and ${cut} cut off`);
    if (answered !== quick || cut !== slow) failures.push(`${answered} answered (expected ${quick}), ${cut} cut off (expected ${slow})`);
    if (exitMs > deadline + 1000) failures.push(`the server process exited ${exitMs.toFixed(0)} ms after serverClose()`);
    if (!refused) failures.push('a connection after serverClose() was not refused');
    const logs = logLevels(server.logFile);
    return {
      id: 'graceful-close',
      title: 'Graceful close under load',
      pass: failures.length === 0,
      failures,
      line:
        `${quick + slow} requests in flight (${quick} on a 200 ms handler, ${slow} on a ${(deadline + 3000) / 1000} s one), serverClose({ timeout: ${deadline} }): ` +
        `report { completed: ${report.completed}, aborted: ${report.aborted} }; clients saw ${answered} replies and ${cut} cut off; ` +
        `new connections refused: ${refused ? 'yes' : 'no'}; process exited ${exitMs.toFixed(0)} ms after the call; ` +
        `logs ${formatLogs(logs)}`,
      figures: { report, answered, cut, exitMs },
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    server.kill();
  }
}
