// Echo under faults: verifying clients on a line echo, with resets mid-write, over-long lines,
// handlers that throw, handlers that hang past their read timeout, and random garbage mixed in.
import { backToBaseline, connected, drain, formatLogs, line, logLevels, mib, pct, random, session, sleep, startServer } from './lib.js';

const FAULTS = ['reset', 'overlong', 'throw', 'hang', 'garbage'];

/** One fault; resolves with { kind, ok, detail }. */
async function fault(server, kind, id, timeout) {
  const socket = server.connect();
  const outcome = drain(socket);
  try {
    await connected(socket);
  } catch (error) {
    return { kind, ok: false, detail: `connect: ${error.message}` };
  }
  if (kind === 'reset') {
    // Ask for a 4 MiB reply and vanish while the server writes it: a TCP reset (RST), or on a Unix
    // socket a close with the reply unread (the server's write fails the same way).
    socket.write('!BIG 4\n');
    await new Promise((resolve) => socket.once('data', resolve));
    if (socket.remoteAddress !== undefined) socket.resetAndDestroy();
    else socket.destroy();
    await outcome;
    return { kind, ok: true };
  }
  if (kind === 'overlong') {
    socket.write(line(20 * 1024).subarray(0, -1)); // no '\n' within maxLineLength (16 KiB)
    const { data, ms } = await outcome;
    return { kind, ok: data.length === 0 && ms < 5000, detail: `${data.length} bytes back, closed after ${ms.toFixed(0)} ms` };
  }
  if (kind === 'throw') {
    socket.write(`!THROW ${id}\n`);
    const { data, ms } = await outcome;
    return { kind, ok: data.length === 0 && ms < 5000, detail: `${data.length} bytes back, closed after ${ms.toFixed(0)} ms` };
  }
  if (kind === 'hang') {
    socket.write('!HANG\n');
    const { data, ms } = await outcome;
    return { kind, ok: data.length === 0 && ms >= timeout - 50 && ms < timeout + 5000, detail: `closed after ${ms.toFixed(0)} ms` };
  }
  // Garbage: random bytes with random line breaks, no command byte at a line start. The echo must
  // send back exactly what was sent, the last unterminated piece included.
  const bytes = Buffer.from(Array.from({ length: random(1, 8192) }, () => (Math.random() < 0.02 ? 0x0a : random(0, 255))).map((b) => (b === 0x21 ? 0x3f : b)));
  socket.end(bytes);
  const { data } = await outcome;
  return { kind, ok: data.equals(bytes), detail: `${bytes.length} sent, ${data.length} echoed` };
}

/**
 * @param {{ transport: 'tcp' | 'unix', clients: number, seconds: number, warmUp: number, faultsPerType: number, timeout?: number }} options
 */
export async function echoUnderFaults({ transport, clients, seconds, warmUp, faultsPerType, timeout = 2000 }) {
  // Memory is judged only after a warm-up long enough for the heap and allocator to settle.
  const judgeMemory = warmUp >= 10;
  const server = await startServer(transport, { env: { SOAK_TIMEOUT: String(timeout) } });
  const figures = { verified: 0, requests: 0, connections: 0, corrupted: 0, lost: 0, clientErrors: [] };
  const failures = [];
  let stopping = false;
  try {
    const base = await server.probe(true);

    async function client(index) {
      await sleep(index * 2); // a ramp, not a SYN flood
      while (!stopping) {
        const socket = server.connect();
        const ask = session(socket);
        try {
          await connected(socket);
        } catch (error) {
          figures.clientErrors.push(`connect: ${error.message}`);
          return;
        }
        figures.connections++;
        for (let n = random(20, 400); n > 0 && !stopping; n--) {
          const expected = line(random(1, 4096));
          try {
            const reply = await ask(expected);
            figures.requests++;
            if (reply.equals(expected)) figures.verified += expected.length;
            else figures.corrupted += expected.length;
          } catch (error) {
            figures.lost += expected.length;
            figures.clientErrors.push(error.message);
            break;
          }
          if (Math.random() < 0.5) await sleep(random(0, 10));
        }
        socket.end();
        await new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', resolve)));
      }
    }

    const started = performance.now();
    const running = Array.from({ length: clients }, (_, index) => client(index));

    // Faults, each kind spread evenly over the run after the warm-up, the kinds interleaved.
    const faults = [];
    const span = (seconds - warmUp - timeout / 1000 - 2) * 1000;
    if (span <= 0) throw new Error(`echo under faults needs more than ${warmUp + timeout / 1000 + 2} s`);
    const schedule = [];
    for (let n = 0; n < faultsPerType; n++) {
      FAULTS.forEach((kind, k) => schedule.push({ kind, at: warmUp * 1000 + ((n + k / FAULTS.length) * span) / faultsPerType, id: `${kind}-${n}` }));
    }
    schedule.sort((a, b) => a.at - b.at);
    const injecting = (async () => {
      for (const { kind, at, id } of schedule) {
        await sleep(Math.max(0, at - (performance.now() - started)));
        faults.push(fault(server, kind, id, timeout));
      }
    })();

    await sleep(warmUp * 1000);
    const warm = await server.probe(true);
    server.resetDelay();
    let peakFds = warm.fds;
    while (performance.now() - started < seconds * 1000 - 1000) {
      await sleep(Math.min(5000, Math.max(0, seconds * 1000 - 1000 - (performance.now() - started))));
      peakFds = Math.max(peakFds, (await server.probe()).fds);
    }
    await injecting;
    const outcomes = await Promise.all(faults);
    const end = await server.probe(true);
    stopping = true;
    await Promise.all(running);
    const after = await backToBaseline(server, base.fds);

    // What the server saw against what was injected.
    const injected = Object.fromEntries(FAULTS.map((kind) => [kind, outcomes.filter((o) => o.kind === kind).length]));
    const { errors } = after;
    const thrownIds = Object.entries(errors.injected);
    const twice = thrownIds.filter(([, count]) => count !== 1).map(([id]) => id);
    const codes = { ...errors.codes };
    const seen = {
      throw: thrownIds.length,
      hang: codes.ERR_SOCKSERVE_TIMEOUT ?? 0,
      overlong: codes.ERR_SOCKSERVE_LIMIT_EXCEEDED ?? 0,
      reset: (codes.ECONNRESET ?? 0) + (codes.EPIPE ?? 0),
    };
    delete codes.ERR_SOCKSERVE_TIMEOUT;
    delete codes.ERR_SOCKSERVE_LIMIT_EXCEEDED;
    delete codes.ECONNRESET;
    delete codes.EPIPE;

    const badFaults = outcomes.filter((o) => !o.ok);
    if (figures.corrupted > 0 || figures.lost > 0) failures.push(`${figures.corrupted} bytes corrupted, ${figures.lost} lost for well-behaved clients`);
    if (figures.clientErrors.length > 0) failures.push(`well-behaved clients failed: ${[...new Set(figures.clientErrors)].slice(0, 3).join('; ')}`);
    if (badFaults.length > 0) failures.push(`faults not handled as expected: ${badFaults.slice(0, 3).map((o) => `${o.kind} (${o.detail})`).join('; ')}`);
    for (const kind of ['throw', 'hang', 'overlong', 'reset']) {
      if (seen[kind] !== injected[kind]) failures.push(`${injected[kind]} ${kind} faults injected, handleError saw ${seen[kind]}`);
    }
    if (twice.length > 0) failures.push(`thrown errors not reported exactly once: ${twice.join(', ')}`);
    if (Object.keys(codes).length > 0) failures.push(`unexpected handleError calls: ${errors.samples.join('; ')}`);
    const rssGrowth = end.memory.rss / warm.memory.rss - 1;
    const heapGrowth = end.memory.heapUsed / warm.memory.heapUsed - 1;
    if (judgeMemory && (rssGrowth >= 0.1 || heapGrowth >= 0.1)) failures.push(`memory grew: RSS ${pct(rssGrowth)}, heap ${pct(heapGrowth)}`);
    if (!after.ok) failures.push(`descriptors ${after.fds} after (baseline ${base.fds}), ${after.stats.connections} connections open`);

    const closed = await server.close(5000);
    const logs = logLevels(server.logFile);
    return {
      id: `echo-faults-${transport}`,
      title: `Echo under faults (${transport === 'tcp' ? 'TCP' : 'Unix stream'})`,
      pass: failures.length === 0,
      failures,
      line:
        `${clients} clients, ${seconds} s: ${mib(figures.verified)} MiB in ${figures.requests} requests verified over ${figures.connections} connections, ` +
        `${figures.lost + figures.corrupted} bytes lost or corrupted; faults injected ${FAULTS.map((k) => `${injected[k]} ${k}`).join(', ')}; ` +
        `handleError: ${seen.throw} thrown (each once: ${twice.length === 0 ? 'yes' : 'no'}), ${seen.hang} timeouts, ${seen.overlong} over-long, ${seen.reset} resets, ` +
        `${Object.values(codes).reduce((a, b) => a + b, 0)} other; RSS ${mib(warm.memory.rss)} -> ${mib(end.memory.rss)} MiB (${pct(rssGrowth)}), ` +
        `heap ${mib(warm.memory.heapUsed)} -> ${mib(end.memory.heapUsed)} MiB (${pct(heapGrowth)})${judgeMemory ? '' : ' (too short a warm-up to judge)'}; descriptors ${base.fds} before, ${peakFds} peak, ${after.fds} after; ` +
        `event-loop delay p99 ${end.delay.p99.toFixed(1)} ms; logs ${formatLogs(logs)}; ` +
        `closed in ${closed.exitMs.toFixed(0)} ms`,
      figures: { ...figures, clientErrors: figures.clientErrors.length, injected, seen, rssGrowth, heapGrowth, fds: { base: base.fds, peak: peakFds, after: after.fds }, delayP99: end.delay.p99, logs },
    };
  } finally {
    stopping = true;
    server.kill();
  }
}
