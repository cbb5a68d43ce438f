// sockserve soak: servers under sustained load with faults mixed in, every figure checked.
//
//   node run.js                  the full run (--minutes 10), writes docs/reliability.md
//   node run.js --minutes N      the same scaled to about N minutes (N >= 5), writes docs/reliability.md
//   node run.js --quick          about a minute, prints the figures only
//   node run.js --smoke          under 30 s, to check the harness and the promises in the test suite
//   --only id,id                 some scenarios only (never writes the report)
//
// Each scenario's server runs in its own process (server.js); the harness is the load and the
// judge. Each scenario prints one line of figures and PASS or FAIL; any FAIL exits with status 1.
import { cpus, platform, release, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { echoUnderFaults } from './echo_faults.js';
import { gracefulClose } from './graceful.js';
import { hostilePeers } from './hostile.js';
import { idleHorde } from './idle_horde.js';
import { poolUnderFire } from './pool_fire.js';
import { udpFlood } from './udp_flood.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
const minutes = Number(values.minutes ?? 10);
if (mode === 'full' && !(minutes >= 5)) {
  console.error('--minutes takes a number of minutes, 5 or more (use --quick for a short run)');
  process.exit(2);
}

/** Seconds of each time-based scenario, per mode: the two echo runs take most of a full run. */
const plans = {
  full: {
    'echo-faults-tcp': () => echoUnderFaults({ transport: 'tcp', clients: 1000, seconds: Math.round(minutes * 33), warmUp: 30, faultsPerType: Math.round(minutes * 0.55 * 10) }),
    'echo-faults-unix': () => echoUnderFaults({ transport: 'unix', clients: 1000, seconds: Math.round(minutes * 12), warmUp: 20, faultsPerType: Math.round(minutes * 0.2 * 10) }),
    'idle-horde': () => idleHorde({ connections: 10_000, timeout: 15_000 }),
    'pool-fire': () => poolUnderFire({ clients: 100, seconds: 120, every: 10_000 }),
    'graceful-close': () => gracefulClose({ quick: 150, slow: 50, deadline: 2000 }),
    'udp-flood': () => udpFlood({ total: 100_000, rate: 20_000, senders: 8 }),
    'hostile-peers': () => hostilePeers({ slowloris: 500, nonReaders: 20, neverSend: 10_000 }),
  },
  quick: {
    'echo-faults-tcp': () => echoUnderFaults({ transport: 'tcp', clients: 1000, seconds: 15, warmUp: 5, faultsPerType: 3 }),
    'echo-faults-unix': () => echoUnderFaults({ transport: 'unix', clients: 500, seconds: 10, warmUp: 3, faultsPerType: 2 }),
    'idle-horde': () => idleHorde({ connections: 5000, timeout: 5000 }),
    'pool-fire': () => poolUnderFire({ clients: 50, seconds: 12, every: 4000 }),
    'graceful-close': () => gracefulClose({ quick: 150, slow: 50, deadline: 2000 }),
    'udp-flood': () => udpFlood({ total: 50_000, rate: 20_000, senders: 8 }),
    'hostile-peers': () => hostilePeers({ slowloris: 200, nonReaders: 10, neverSend: 5000 }),
  },
  smoke: {
    'echo-faults-tcp': () => echoUnderFaults({ transport: 'tcp', clients: 100, seconds: 5, warmUp: 1, faultsPerType: 1, timeout: 1000 }),
    'echo-faults-unix': () => echoUnderFaults({ transport: 'unix', clients: 50, seconds: 5, warmUp: 1, faultsPerType: 1, timeout: 1000 }),
    'idle-horde': () => idleHorde({ connections: 500, timeout: 1500 }),
    'pool-fire': () => poolUnderFire({ clients: 20, seconds: 6, every: 2000 }),
    'graceful-close': () => gracefulClose({ quick: 30, slow: 10, deadline: 500 }),
    'udp-flood': () => udpFlood({ total: 5000, rate: 10_000, senders: 8 }),
    'hostile-peers': () => hostilePeers({ slowloris: 20, nonReaders: 4, neverSend: 500, timeout: 1000 }),
  },
};

/** What each scenario does and checks, for docs/reliability.md. */
const CHECKS = {
  'echo-faults-tcp':
    'A line echo (`for await (const line of this.rfile.lines())`, `maxLineLength` 16 KiB, `timeout` 2 s) under 1,000 concurrent clients that each send random lines of 1 B to 4 KiB, verify every reply byte for byte, and reconnect after 20 to 400 requests. Mixed in, every minute, as many extra connections as 1% of the clients for each fault: a reset while the server writes a 4 MiB reply, a line over the limit, a request that makes the handler throw (a unique id each), a request that makes the handler wait for a body that never comes (its read times out), and random bytes with random line breaks (which must come back exactly). Checks: no byte lost or corrupted for well-behaved clients; each fault handled as its client expects; `handleError()` called once per injected fault of each kind and for nothing else, each thrown id exactly once; RSS and JS heap (after a full GC) grow less than 10% from the end of the warm-up to the end; descriptors back to their baseline once the clients are gone.',
  'echo-faults-unix': 'The same over a Unix stream socket (a close with the reply unread stands in for the reset).',
  'idle-horde':
    'A handler that waits for one byte with an idle `timeout`; 10,000 connections opened and held silent. Checks: every one accepted and held at once, every one closed by the server after the timeout (a clean FIN, not a reset, not early), one `TimeoutError` per connection in `handleError()` and nothing else, descriptors back to their baseline. Memory per connection is the RSS with the horde held, minus the baseline, over the count.',
  'pool-fire':
    '`WorkerPoolStrategy` (a worker per core, connections handed to workers) serving a verifying echo to 100 clients that reconnect often, while the harness SIGKILLs a random worker every 10 s for 2 minutes. Checks: no pause in service longer than 2 s; every client failure happens within 3 s of a kill, and every failed connection is reported as a `WorkerCrashedError` (matched by client port: each failed connection reported exactly once, and any other report is for a connection its client closed within half a second of the kill, which the server still had open); every killed worker replaced; no other error; the parent\'s descriptors back to where they were; no worker process left after `serverClose()`.',
  'graceful-close':
    '200 requests in flight, 150 on a 200 ms handler and 50 on one that outlasts the deadline, when `serverClose({ timeout: 2000 })` is called. Checks: the report\'s `completed` and `aborted` equal the replies and cut-off connections the clients saw; a new connection is refused once closing starts; the process exits within the deadline plus 1 s.',
  'udp-flood':
    'Eight senders send 100,000 datagrams at 20,000/s: 90% valid (echoed), 5% over `maxDatagramSize` (dropped and counted as `\'too-large\'`), 5% garbage (read, not answered). The same load runs against a raw `dgram` echo first. Checks: the loss of valid datagrams is within one point of raw `dgram`\'s at the same rate (and under 1% when raw loses nothing), no echo is wrong, the oversize ones are counted, no `handleError()` call, the server answers afterwards.',
  'hostile-peers':
    'Slowloris peers that send a byte every 1.5 idle timeouts; 20 peers that each ask for a 64 MiB reply and never read; 10,000 connections that open and close without sending a byte; meanwhile a bystander asks for an echo every 20 ms. Checks: every slowloris peer closed by the idle timeout; the server\'s RSS grows by less than 64 MiB while 1.25 GiB of replies wait on peers that do not read, and each failed write is reported once when they vanish; every silent connection accepted and closed without an error; the bystander always answered within 2 s; descriptors back to their baseline.',
};

const ids = Object.keys(plans[mode]).filter((id) => values.only === undefined || values.only.split(',').includes(id));
const started = new Date();
const results = [];
for (const id of ids) {
  const began = performance.now();
  let result;
  try {
    result = await plans[mode][id]();
  } catch (error) {
    result = { id, title: id, pass: false, failures: [`the scenario failed: ${error.stack ?? error}`], line: '' };
  }
  result.seconds = (performance.now() - began) / 1000;
  results.push(result);
  console.log(`${result.pass ? 'PASS' : 'FAIL'} ${id} (${result.seconds.toFixed(0)} s): ${result.line}`);
  for (const failure of result.failures) console.log(`  - ${failure}`);
}
const failed = results.filter((r) => !r.pass).length;
const totalSeconds = results.reduce((sum, r) => sum + r.seconds, 0);
console.log(`${results.length - failed} scenarios passed, ${failed} failed, in ${(totalSeconds / 60).toFixed(1)} min`);

if (mode === 'full' && values.only === undefined) {
  writeFileSync(fileURLToPath(new URL('../docs/reliability.md', import.meta.url)), report(results));
  console.log('wrote docs/reliability.md');
}
process.exit(failed === 0 ? 0 : 1);

function report(results) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, Node ${process.version}`;
  const rows = results.map((r) => `| ${r.title} | ${r.pass ? 'PASS' : 'FAIL'} | ${(r.seconds / 60).toFixed(1)} min |`).join('\n');
  const sections = results
    .map((r) => `### ${r.title}: ${r.pass ? 'PASS' : 'FAIL'}\n\n${CHECKS[r.id] ?? ''}\n\n**Figures.** ${r.line}${r.failures.length > 0 ? `\n\nFailures:\n${r.failures.map((f) => `- ${f}`).join('\n')}` : ''}`)
    .join('\n\n');
  return `# Reliability

What sockserve promises when peers misbehave, handlers fail and workers die, how that is tested,
and the figures of the last full soak run. The figures are written by \`pnpm soak\`; the text
around them lives in \`soak/run.js\`.

## What is promised

- **Bad input never hurts the server.** Over-long lines, garbage, resets mid-write, half-open and
  silent peers, handlers that throw or wait for input that never comes: the request that met the
  fault is closed, its error reaches \`handleError()\` exactly once (logged at a level that says whose
  fault it was), and every other request goes on as if nothing happened.
- **Nothing is lost.** What a handler wrote reaches its peer; a well-behaved client never sees a
  byte lost, duplicated or corrupted while others misbehave around it.
- **Nothing leaks.** Memory stays flat under sustained load; descriptors return to their baseline
  when the connections are gone; a worker pool leaves no process behind.
- **Shutdown keeps its word.** \`serverClose({ timeout })\` lets in-flight requests finish within the
  deadline, aborts the rest, and reports both counts as the clients saw them.
- **A crashed worker costs only its own connections**, each reported once as \`WorkerCrashedError\`;
  the pool replaces the worker and serving does not pause.

## How it is tested

Every case above has regular tests in \`pnpm test\`, one fault at a time. \`pnpm soak\` runs them
together, under load, for minutes: each scenario starts a sockserve server in its own process
(\`soak/server.js\`, with \`--expose-gc\` so that memory is compared after a full collection), drives
it from the harness with real sockets on loopback, injects the faults, and checks the server's own
account (\`server.stats()\`, a tally of every \`handleError()\` call, its log, its descriptors, its
event-loop delay) against what the clients saw. A scenario passes only if every check holds.

\`\`\`sh
pnpm soak                 # the full run, about ${Math.round(minutes)} minutes; rewrites this file
pnpm soak --minutes 30    # longer
pnpm soak --quick         # about a minute, prints the figures
\`\`\`

A run of \`--smoke\` scale (under 30 s) is part of \`pnpm test\`.

## Last full run

${started.toISOString().slice(0, 10)}, ${(totalSeconds / 60).toFixed(1)} minutes, on ${machine}.

| Scenario | Result | Time |
| --- | --- | --- |
${rows}

${sections}

## Known limits

- The read \`timeout\` is an idle timeout, as in Python's \`socketserver\` and Netty's
  \`ReadTimeoutHandler\`: a peer that sends a byte more often than \`timeout\` keeps its connection.
  Bound such peers with \`maxLineLength\` (a line has to end somewhere) and
  \`EventLoopStrategy({ maxConcurrency })\`, or end the request yourself after a total deadline.
- A peer that never reads its reply holds its request in \`wfile.write()\` (memory stays bounded by
  backpressure) until it goes away or the server closes, unless the handler sets \`writeTimeout\`
  (then the write rejects with \`WriteTimeoutError\` once the peer has taken nothing for that long,
  and the connection is closed). It is off by default, as \`timeout\` is.
- Drops before any handler (datagrams over \`maxDatagramSize\`, a full backlog, failed PROXY headers,
  too many handshakes) are logged at most once a second per reason, then as a count; each still
  counts in \`stats()\` and fires \`'dropped'\`. Errors that reach \`handleError()\` are logged one by
  one (at info and warn for the peer's faults): raise the logger's level, or filter in
  \`handleError()\`, if a flood of faulty peers must not be a flood of lines.
`;
}
