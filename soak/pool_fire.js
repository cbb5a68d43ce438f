// Pool under fire: WorkerPoolStrategy echo while a random worker is SIGKILLed at a fixed period.
import { backToBaseline, connected, formatLogs, line, logLevels, random, session, sleep, startServer, until } from './lib.js';

/** @param {{ clients: number, seconds: number, every: number }} options */
export async function poolUnderFire({ clients, seconds, every }) {
  const server = await startServer('pool');
  const failures = [];
  let stopping = false;
  const kills = [];
  const clientFailures = [];
  let verified = 0;
  let corrupted = 0;
  let requests = 0;
  let lastOk = performance.now();
  let maxGap = 0;
  const ended = [];
  try {
    const start = await server.probe();
    const workers = start.stats.strategy.workers;
    const allPids = new Set(start.pids);

    async function client(index) {
      await sleep(index * 5);
      while (!stopping) {
        const socket = server.connect();
        const ask = session(socket);
        try {
          await connected(socket);
        } catch (error) {
          clientFailures.push({ at: Date.now(), what: `connect: ${error.message}` });
          await sleep(50);
          continue;
        }
        const port = socket.localPort;
        for (let n = random(20, 200); n > 0 && !stopping; n--) {
          const expected = line(random(1, 2048));
          try {
            const reply = await ask(expected);
            const now = performance.now();
            maxGap = Math.max(maxGap, now - lastOk);
            lastOk = now;
            requests++;
            if (reply.equals(expected)) verified += expected.length;
            else corrupted += expected.length;
          } catch (error) {
            clientFailures.push({ at: Date.now(), port, what: error.message });
            break;
          }
          await sleep(random(0, 10));
        }
        // A worker killed within moments of this (before or after) takes the connection with it
        // and the server reports it, but the client, done with it, sees an ordinary close.
        ended.push({ port, at: Date.now() });
        socket.end();
        await new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', resolve)));
      }
    }

    const started = performance.now();
    const running = Array.from({ length: clients }, (_, index) => client(index));
    await sleep(2000);
    const warm = await server.probe();
    maxGap = 0;
    while (performance.now() - started < seconds * 1000) {
      await sleep(Math.min(every, seconds * 1000 - (performance.now() - started)));
      if (performance.now() - started >= seconds * 1000 - 1000) break;
      const { pids } = await server.probe();
      for (const pid of pids) allPids.add(pid);
      const victim = pids[random(0, pids.length - 1)];
      kills.push({ at: Date.now(), pid: victim });
      process.kill(victim, 'SIGKILL');
    }
    // Every killed worker replaced before the clients stop.
    const replaced = await until(async () => {
      const probe = await server.probe();
      for (const pid of probe.pids) allPids.add(pid);
      return { ...probe, ok: probe.stats.strategy.workers === workers && probe.stats.strategy.restarts === kills.length };
    }, 10_000);
    stopping = true;
    await Promise.all(running);
    const after = await backToBaseline(server, warm.fds);

    const crashes = after.errors.codes.ERR_SOCKSERVE_WORKER_CRASHED ?? 0;
    const otherErrors = Object.entries(after.errors.codes).filter(([code]) => code !== 'ERR_SOCKSERVE_WORKER_CRASHED');
    // Match reports and client failures to the kill they follow (within 3 s), by client port.
    const killOf = (at) => kills.findLast((kill) => kill.at <= at && at - kill.at < 3000);
    const unexplained = clientFailures.filter((f) => killOf(f.at) === undefined);
    let twice = 0;
    let unreported = 0;
    let extra = 0;
    let closing = 0;
    for (const kill of kills) {
      const reported = after.errors.crashes.filter((c) => killOf(c.at) === kill).map((c) => c.port);
      const failed = clientFailures.filter((f) => f.port !== undefined && killOf(f.at) === kill).map((f) => f.port);
      twice += reported.length - new Set(reported).size;
      unreported += failed.filter((port) => !reported.includes(port)).length;
      for (const port of reported.filter((port) => !failed.includes(port))) {
        if (ended.some((e) => e.port === port && Math.abs(e.at - kill.at) < 500)) closing++;
        else extra++;
      }
    }
    const stray = after.errors.crashes.filter((c) => killOf(c.at) === undefined).length;
    if (kills.length === 0) failures.push('no worker was killed: run longer');
    if (corrupted > 0) failures.push(`${corrupted} bytes corrupted`);
    if (maxGap > 2000) failures.push(`serving stopped for ${maxGap.toFixed(0)} ms`);
    if (unexplained.length > 0) failures.push(`${unexplained.length} client failures not after a kill: ${unexplained.slice(0, 3).map((f) => f.what).join('; ')}`);
    if (unreported > 0) failures.push(`${unreported} failed connections not reported as WorkerCrashedError`);
    if (twice > 0) failures.push(`${twice} connections reported twice`);
    if (extra > 0 || stray > 0) failures.push(`${extra + stray} WorkerCrashedError reports for connections no client lost`);
    if (otherErrors.length > 0) failures.push(`other handleError calls: ${after.errors.samples.join('; ')}`);
    if (!replaced.ok) failures.push(`workers ${replaced.stats.strategy.workers}/${workers}, restarts ${replaced.stats.strategy.restarts} for ${kills.length} kills`);
    if (!after.ok) failures.push(`parent descriptors ${after.fds} after (${warm.fds} after warm-up), ${after.stats.connections} connections open`);

    await server.close(5000);
    await sleep(200);
    const orphans = [...allPids].filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (orphans.length > 0) failures.push(`worker processes left running: ${orphans.join(', ')}`);
    const logs = logLevels(server.logFile);
    return {
      id: 'pool-fire',
      title: 'Pool under fire',
      pass: failures.length === 0,
      failures,
      line:
        `${workers} workers, ${clients} clients, ${seconds} s, a worker SIGKILLed every ${every / 1000} s: ${kills.length} kills, ${replaced.stats.strategy.restarts} restarts; ` +
        `${requests} requests verified, ${corrupted} bytes corrupted; longest pause in service ${maxGap.toFixed(0)} ms; ` +
        `${clientFailures.length} connections failed, all within 3 s of a kill: ${unexplained.length === 0 ? 'yes' : 'no'}; ${crashes} WorkerCrashedError reports: ` +
        `each failed connection reported ${twice === 0 && unreported === 0 ? 'exactly once' : 'NOT exactly once'}, plus ${closing} connections their clients closed within 0.5 s of the kill, ${extra + stray} unexplained; ` +
        `parent descriptors ${warm.fds} after warm-up, ${after.fds} at the end; ${allPids.size} worker processes in all, ${orphans.length} left after close; ` +
        `logs ${formatLogs(logs)}`,
      figures: { kills: kills.length, requests, maxGap, clientFailures: clientFailures.length, closing, crashes, orphans: orphans.length },
    };
  } finally {
    stopping = true;
    server.kill();
  }
}
