// sockserve benchmarks: idiomatic sockserve handlers against raw Node and Python, in one run.
//
//   node run.js            full run (7 rounds of 1.5 s), writes docs/benchmarks.md and docs/benchmarks.svg
//   node run.js --quick    about a minute (1 round of 1 s), prints the tables only
//   node run.js --smoke    a fraction of a second per server, to check the harness works
// The RESP scenario (resp.js) runs with redis-benchmark when it is installed (not in --smoke).
//
// Each server runs in its own process, and so does the load generator, which verifies every
// byte echoed. Rounds are interleaved (A B C A B C ...) and medians reported, with ratios to the
// raw Node server of the same scenario. Server and load share core 0 (taskset) so that ratios are
// steady on a small, noisy machine.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chart } from './chart.js';
import { hasRedisBenchmark, respBenchmark, respTable } from './resp.js';
import { benchCerts, hasOpenssl } from './tls_certs.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
// Many short rounds rather than a few long ones: this kind of machine drifts in speed over tens of
// seconds, and a ratio taken within one round (servers measured seconds apart) cancels the drift.
const seconds = { smoke: 0.3, quick: 1, full: 1.5 }[mode];
const rounds = { smoke: 1, quick: 1, full: 7 }[mode];
// Full load before the clock starts, so that every server's code is compiled when it is measured.
const warmUpMs = { smoke: 50, quick: 250, full: 250 }[mode];
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;
const pin = spawnSync('taskset', ['--version']).status === 0 ? ['taskset', '-c', '0'] : [];
const python = hasPython ? ['python-threading', 'python-asyncio'] : [];

// The TLS servers read the benchmark's certificate from the environment (see tls_certs.js).
if (hasOpenssl) benchCerts();

const scenarios = [
  { id: 'tcp-1k', name: 'TCP echo, 50 connections x 1 KiB', transport: 'tcp', connections: 50, bytes: 1024, base: 'raw-data',
    servers: ['raw-data', 'raw-for-await', 'sockserve-iter', 'sockserve-iter-traced', 'sockserve-pipe', ...python] },
  { id: 'tcp-16k', name: 'TCP echo, 50 connections x 16 KiB', transport: 'tcp', connections: 50, bytes: 16 * 1024, base: 'raw-data',
    servers: ['raw-data', 'raw-for-await', 'sockserve-iter', 'sockserve-pipe'] },
  { id: 'tcp-64b', name: 'TCP echo, 1000 connections x 64 B', transport: 'tcp', connections: 1000, bytes: 64, base: 'raw-data',
    servers: ['raw-data', 'sockserve-iter', 'sockserve-pipe'] },
  { id: 'unix-1k', name: 'Unix stream echo, 50 connections x 1 KiB', transport: 'unix', connections: 50, bytes: 1024, base: 'raw-data',
    servers: ['raw-data', 'raw-for-await', 'sockserve-iter', 'sockserve-pipe', ...python] },
  { id: 'lines-1k', name: 'TCP line echo, 50 connections x 16 lines of 64 B', transport: 'tcp', connections: 50, bytes: 1024, shape: 'lines',
    base: 'raw-lines', servers: ['raw-lines', 'sockserve-lines'] },
  ...(hasOpenssl
    ? [
        { id: 'tls-1k', name: 'TLS echo, 50 connections x 1 KiB', transport: 'tls', connections: 50, bytes: 1024, base: 'raw-tls',
          servers: ['raw-tls', 'sockserve-tls-iter', 'sockserve-tls-pipe'] },
      ]
    : []),
  { id: 'udp-64', name: 'UDP echo, 50 clients x 64 B', transport: 'udp', connections: 50, bytes: 64, base: 'raw-dgram',
    servers: ['raw-dgram', 'sockserve-udp'] },
  { id: 'cpu', name: 'CPU-bound handler (sha256 of 1 MiB per request), 8 connections', cpu: true, base: 'event-loop',
    servers: ['event-loop', 'sequential', 'pool'] },
  { id: 'cpu-connect', name: 'CPU-bound handler (sha256 of 1 MiB), a new connection per request, 8 clients', cpu: true,
    loadMode: 'connect', base: 'event-loop', servers: ['event-loop', 'pool', 'pool-shared'] },
  { id: 'echo-connect', name: 'Line echo, a new connection per request, 8 clients', cpu: true, handler: 'EchoLinesHandler',
    loadMode: 'connect', base: 'event-loop', servers: ['event-loop', 'event-loop-traced', 'pool', 'pool-shared'] },
  ...(hasOpenssl
    ? [
        { id: 'tls-handshakes', name: 'TLS handshakes: new connections from 4 openssl s_time clients (full handshake, ECDSA P-256)', cpu: true,
          handshakes: true, handler: 'EchoLinesHandler', tls: true, base: 'event-loop', servers: ['event-loop', 'pool', 'pool-shared'] },
      ]
    : []),
].filter((scenario) => values.only === undefined || values.only.split(',').includes(scenario.id));

function run(command, args, { pinned = true } = {}) {
  const [file, ...rest] = [...(pinned ? pin : []), command, ...args];
  return spawn(file, rest, { stdio: ['pipe', 'pipe', 'inherit'] });
}

function cpuSeconds(pid) {
  if (Array.isArray(pid)) return pid.reduce((total, one) => total + cpuSeconds(one), 0);
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function rssBytes(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

function ready(child, pattern = /READY (\S+) (\d+)/) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(pattern);
      if (match) resolve(match);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before it was ready`)));
  });
}

async function startServer(scenario, server) {
  if (scenario.cpu) {
    const child = run(process.execPath, [here('pool_server.js'), server, scenario.handler ?? 'HashHandler', scenario.tls ? 'tls' : 'tcp'], { pinned: false });
    const [, port, pids] = await ready(child, /PORT (\d+) PIDS ([\d,]+)/);
    // CPU time counts every process that serves: the parent and a pool's workers.
    return { child, target: port, pid: pids.split(',').map(Number) };
  }
  const path = join(tmpdir(), `sockserve-bench-${process.pid}-${server}-${serial++}.sock`);
  const unix = scenario.transport === 'unix' ? ['--unix', path] : [];
  const child = server.startsWith('python')
    ? run('python3', [here('servers.py'), server.slice('python-'.length), ...unix])
    : run(process.execPath, [here('servers.js'), server, ...unix]);
  const [, target, pid] = await ready(child);
  return { child, target, pid: Number(pid), path: unix.length > 0 ? path : undefined };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

async function measure(scenario, server) {
  const { child, target, pid, path } = await startServer(scenario, server);
  try {
    let cpuBefore = cpuSeconds(pid);
    // Handshakes: at least 2 s even in a smoke run, or an s_time client may not finish one
    // handshake while a busy machine still starts the pool's workers (it counts as an error).
    const load = scenario.handshakes
      ? run(process.execPath, [here('handshake_load.js'), target, 4, mode === 'full' ? Math.max(seconds, 3) : Math.max(seconds, 2)], { pinned: false })
      : scenario.cpu
      ? // The pool's workers need a moment to warm up: CPU-bound rounds run at least 3 s in a full run.
        run(process.execPath, [here('lines_load.js'), target, 8, mode === 'full' ? Math.max(seconds, 3) : seconds, scenario.loadMode ?? 'persistent', scenario.tls ? 'tls' : 'tcp'], { pinned: false })
      : run(process.execPath, [here('load.js'), scenario.transport, target, scenario.connections, scenario.bytes, seconds, scenario.shape ?? 'bytes', warmUpMs]);
    let out = '';
    let warmedUp = false;
    load.stdout.on('data', (chunk) => {
      out += chunk;
      // The echo load warms every connection up first: CPU time counts from its START line.
      if (!warmedUp && out.startsWith('START\n')) {
        warmedUp = true;
        cpuBefore = cpuSeconds(pid);
      }
    });
    await new Promise((resolve) => load.once('close', resolve));
    if (warmedUp) out = out.slice('START\n'.length);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const result = JSON.parse(out);
    result.p50 ??= Number.NaN;
    result.p99 ??= Number.NaN;
    return { ...result, cpuPerRequestUs: (cpu / result.requests) * 1e6 };
  } finally {
    await stop(child);
    if (path !== undefined) rmSync(path, { force: true });
  }
}

async function idleMemory(server, count) {
  const { child, target, pid } = await startServer({ transport: 'tcp' }, server);
  try {
    const before = rssBytes(pid);
    const clients = spawn(process.execPath, [here('idle.js'), target, count], { stdio: ['pipe', 'pipe', 'inherit'] });
    await ready(clients, /OPEN/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = rssBytes(pid);
    clients.stdin.end();
    await new Promise((resolve) => clients.once('exit', resolve));
    return { before, after, perConnection: (after - before) / count };
  } finally {
    await stop(child);
  }
}

let serial = 0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
console.log(`sockserve benchmarks (${mode}): node ${process.version}, ${rounds} round(s) of ${seconds}s per server${pin.length ? ', server and load pinned to core 0' : ''}`);
for (const scenario of scenarios) {
  const samples = Object.fromEntries(scenario.servers.map((server) => [server, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round, so that no server always runs right after the baseline.
    const order = scenario.servers.map((_, i) => scenario.servers[(i + round) % scenario.servers.length]);
    for (const server of order) {
      process.stderr.write(`  ${scenario.name}: round ${round + 1}/${rounds}, ${server}...`.padEnd(100) + '\r');
      samples[server][round] = await measure(scenario, server);
    }
  }
  process.stderr.write(' '.repeat(100) + '\r');
  const rows = scenario.servers.map((server) => {
    const rs = samples[server];
    return {
      server,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpuPerRequestUs: median(rs.map((r) => r.cpuPerRequestUs)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    };
  });
  // Ratios are medians of the ratios within each round.
  const base = samples[scenario.base];
  for (const row of rows) {
    const rs = samples[row.server];
    const ratios = rs.map((r, round) => r.rps / base[round].rps);
    const cpuRatios = rs.map((r, round) => r.cpuPerRequestUs / base[round].cpuPerRequestUs);
    row.ratio = median(ratios);
    row.cpuRatio = median(cpuRatios);
    // The spread over rounds shows how far one round's ratio can stray on this machine.
    row.ratioRange = [Math.min(...ratios), Math.max(...ratios)];
    row.cpuRatioRange = [Math.min(...cpuRatios), Math.max(...cpuRatios)];
  }
  results.push({ id: scenario.id, name: scenario.name, base: scenario.base, rows });
  console.log(`\n${scenario.name}`);
  console.log(table(rows).join('\n'));
}

let memory;
if (values.only === undefined || values.only.split(',').includes('memory')) {
  const count = mode === 'smoke' ? 200 : 10_000;
  process.stderr.write(`  memory: ${count} idle connections...\r`);
  const raw = await idleMemory('raw-data', count);
  // For reference: raw Node with the same style of handler (an async function waiting in `for await`).
  const rawForAwait = await idleMemory('raw-for-await', count);
  const ours = await idleMemory('sockserve-iter', count);
  memory = { count, raw, rawForAwait, sockserve: ours, ratio: ours.perConnection / raw.perConnection };
  console.log(
    `\nIdle connections (${count}): raw Node ${kb(raw.perConnection)} per connection, raw Node for-await ` +
      `${kb(rawForAwait.perConnection)}, sockserve ${kb(ours.perConnection)} (${memory.ratio.toFixed(2)}x)`,
  );
}

let resp;
if (mode !== 'smoke' && (values.only === undefined || values.only.split(',').includes('resp'))) {
  if (hasRedisBenchmark) {
    resp = await respBenchmark({ rounds: mode === 'full' ? 3 : 1, quick: mode !== 'full', pin });
    console.log('\nRedis protocol (RESP), redis-benchmark, 50 connections');
    console.log(respTable(resp).join('\n'));
  } else {
    console.log('\nredis-benchmark is not installed (apt-get install redis-tools): the RESP scenario is skipped');
  }
}

const checks = targets(results, memory, resp);
console.log('\nTargets');
for (const check of checks) console.log(`  ${check.held ? 'held  ' : 'MISSED'} ${check.what}: ${check.value}`);

// Bytes echoed wrong or lost, or a failed TLS handshake, fail the run.
const errors = results.flatMap((scenario) => scenario.rows).reduce((n, row) => n + row.errors, 0);
mkdirSync(here('results'), { recursive: true });
writeFileSync(here('results/latest.json'), JSON.stringify({ mode, results, memory, checks }, null, 2));
if (mode === 'full' && values.only === undefined) {
  writeFileSync(here('../docs/benchmarks.svg'), chart(results));
  writeFileSync(here('../docs/benchmarks.md'), markdown(results, memory, checks, resp));
  console.log('\nWrote docs/benchmarks.md and docs/benchmarks.svg');
}
if (errors > 0) {
  console.error(`${errors} verification errors`);
  process.exitCode = 1;
}

// -----------------------------------------------------------------------------------------------

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function fixed(value) {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(2);
}

function table(rows) {
  const lines = [
    '| server | req/s | ratio | rounds | p50 ms | p99 ms | server CPU µs/req | CPU ratio | rounds | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const range = ([low, high]) => (Number.isNaN(low) || Number.isNaN(high) ? 'n/a' : `${low.toFixed(2)}–${high.toFixed(2)}`);
  for (const row of rows) {
    lines.push(
      `| ${row.server} | ${row.rps.toFixed(0)} | ${row.ratio.toFixed(2)}x | ${range(row.ratioRange)} | ${fixed(row.p50)} | ` +
        `${fixed(row.p99)} | ${Number.isNaN(row.cpuPerRequestUs) ? 'n/a' : row.cpuPerRequestUs.toFixed(1)} | ` +
        `${Number.isNaN(row.cpuRatio) ? 'n/a' : `${row.cpuRatio.toFixed(2)}x`} | ${range(row.cpuRatioRange)} | ${row.errors} |`,
    );
  }
  return lines;
}

function targets(results, memory, resp) {
  const checks = [];
  for (const [test, floor] of [['get', 0.85], ['set', 0.85], ['mset', 0.75]]) {
    const r = resp?.find((row) => row.pipeline === 16 && row.test === test && row.server === 'sockserve-resp');
    if (r === undefined) continue;
    checks.push({ what: `resp -P 16 ${test} requests/s >= ${floor.toFixed(2)}x raw Node RESP`, value: `${r.ratio.toFixed(2)}x`, held: r.ratio >= floor });
    checks.push({ what: `resp -P 16 ${test} CPU/request <= 1.2x raw Node RESP`, value: `${r.cpuRatio.toFixed(2)}x`, held: r.cpuRatio <= 1.2 });
  }
  for (const test of ['ping_mbulk', 'set', 'get', 'incr', 'mset']) {
    const at = (pipeline) => resp?.find((row) => row.pipeline === pipeline && row.test === test && row.server === 'sockserve-resp');
    const [p16, p1] = [at(16), at(1)];
    if (p16 && p1) checks.push({ what: `resp ${test}: -P 16 not slower than -P 1`, value: `${Math.round(p16.rps)} vs ${Math.round(p1.rps)}`, held: p16.rps >= p1.rps });
  }
  const row = (id, server) => results.find((scenario) => scenario.id === id)?.rows.find((r) => r.server === server);
  for (const id of ['tcp-1k', 'tcp-16k', 'tcp-64b', 'unix-1k']) {
    for (const server of ['sockserve-iter', 'sockserve-pipe']) {
      const r = row(id, server);
      if (r === undefined) continue;
      checks.push({ what: `${id} ${server} requests/s >= 0.95x raw`, value: `${r.ratio.toFixed(2)}x`, held: r.ratio >= 0.95 });
      checks.push({ what: `${id} ${server} CPU/request <= 1.1x raw`, value: `${r.cpuRatio.toFixed(2)}x`, held: r.cpuRatio <= 1.1 });
    }
  }
  const udp = row('udp-64', 'sockserve-udp');
  if (udp) checks.push({ what: 'udp-64 sockserve-udp requests/s >= 0.90x raw dgram', value: `${udp.ratio.toFixed(2)}x`, held: udp.ratio >= 0.9 });
  const lines = row('lines-1k', 'sockserve-lines');
  if (lines) checks.push({ what: 'lines-1k sockserve-lines requests/s >= 0.85x raw line splitter', value: `${lines.ratio.toFixed(2)}x`, held: lines.ratio >= 0.85 });
  const pool = row('cpu', 'pool');
  if (pool) checks.push({ what: 'cpu worker pool >= 1.8x event loop (2 cores)', value: `${pool.ratio.toFixed(2)}x`, held: pool.ratio >= 1.8 });
  for (const server of ['pool', 'pool-shared']) {
    const cpuConnect = row('cpu-connect', server);
    if (cpuConnect) checks.push({ what: `cpu-connect ${server} >= 1.6x event loop (2 cores)`, value: `${cpuConnect.ratio.toFixed(2)}x`, held: cpuConnect.ratio >= 1.6 });
  }
  for (const server of ['sockserve-tls-iter', 'sockserve-tls-pipe']) {
    const r = row('tls-1k', server);
    if (r) checks.push({ what: `tls-1k ${server} requests/s >= 0.95x raw tls.createServer`, value: `${r.ratio.toFixed(2)}x`, held: r.ratio >= 0.95 });
  }
  for (const server of ['pool', 'pool-shared']) {
    const r = row('tls-handshakes', server);
    if (r) checks.push({ what: `tls-handshakes ${server} >= 1.6x event loop (2 cores)`, value: `${r.ratio.toFixed(2)}x`, held: r.ratio >= 1.6 });
  }
  const echoConnect = row('echo-connect', 'pool-shared');
  if (echoConnect) checks.push({ what: 'echo-connect pool-shared >= 0.9x event loop', value: `${echoConnect.ratio.toFixed(2)}x`, held: echoConnect.ratio >= 0.9 });
  if (memory) checks.push({ what: 'memory per idle connection <= 1.5x raw', value: `${memory.ratio.toFixed(2)}x`, held: memory.ratio <= 1.5 });
  const errors = results.flatMap((scenario) => scenario.rows).reduce((n, r) => n + r.errors, 0);
  checks.push({ what: 'zero verification errors', value: String(errors), held: errors === 0 });
  return checks;
}

function markdown(results, memory, checks, resp) {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out = [
    '# Benchmarks',
    '',
    'Written by `pnpm bench` (`benchmarks/run.js`) from its last full run; do not edit by hand.',
    '',
    `- Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}`,
    `- Node ${process.version}${hasPython ? `, ${spawnSync('python3', ['--version']).stdout.toString().trim()}` : ''}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Method: each server and the load generator run in their own processes${pin.length ? ', both pinned to core 0 (taskset)' : ''}; ` +
      `${rounds} interleaved rounds of ${seconds} s per server (the order rotating each round); medians, and ratios are the medians ` +
      'of the ratios within each round, which cancels the drift in speed of a shared machine. The load generator sends a message, waits until all of it ' +
      'has come back, verifies every byte, and repeats, on every connection at once; the clock (and the server\'s CPU time) ' +
      `starts once every connection is open and has made one exchange, and after ${warmUpMs} ms of full load: the ` +
      'burst of connects and the compilation of the server\'s code are not measured. ' +
      'Server CPU time per request comes from `/proc/<pid>/stat`. Ratios compare with the raw Node server of the same ' +
      'scenario (higher is better for req/s, lower for CPU); the "rounds" columns give the lowest and highest ' +
      'ratio among the rounds. Idle memory is the growth of the server\'s RSS with 10,000 ' +
      'open connections, without a forced garbage collection.',
    '- sockserve servers use the idiomatic handlers: `for await (const chunk of this.rfile) await this.wfile.write(chunk)` (iter), ' +
      '`await this.wfile.pipeFrom(this.rfile)` (pipe), `for await (const line of this.rfile.lines())` (lines), and a ' +
      '`DatagramRequestHandler` that writes the packet back (udp). Raw Node servers: a `\'data\'` listener that writes back ' +
      '(raw-data), `for await` over the socket (raw-for-await), a `\'data\'` listener that splits lines itself (raw-lines), ' +
      'and a `dgram` socket (raw-dgram). Python: `socketserver.ThreadingTCPServer` and asyncio streams.',
    '',
    '![Requests per second, as a ratio to raw Node](benchmarks.svg)',
    '',
  ];
  for (const scenario of results) out.push(`## ${scenario.name}`, '', ...table(scenario.rows), '');
  if (memory) {
    out.push(
      `## Memory: ${memory.count} idle connections`,
      '',
      '| server | RSS before | RSS with connections | per connection |',
      '| --- | ---: | ---: | ---: |',
      ...[
        ['raw-data', memory.raw],
        ['raw-for-await', memory.rawForAwait],
        ['sockserve-iter', memory.sockserve],
      ].map(
        ([name, m]) =>
          `| ${name} | ${(m.before / 2 ** 20).toFixed(1)} MiB | ${(m.after / 2 ** 20).toFixed(1)} MiB | ` +
          `${kb(m.perConnection)} (${(m.perConnection / memory.raw.perConnection).toFixed(2)}x) |`,
      ),
      '',
    );
  }
  if (resp) {
    out.push(
      '## Redis protocol (RESP), redis-benchmark, 50 connections',
      '',
      '`redis-benchmark -t ping_mbulk,set,get,incr,mset -c 50 -P 16` (and `-P 1`, no pipelining), pinned like the rest, ' +
        'against: `examples/resp` (sockserve-resp: a frame decoder that parses `peek()` by offsets, every buffered command ' +
        'taken by `tryReadFrame()` without an await, its reply `queue()`d while more commands are buffered and the last one of a chunk awaited with `write()`, with the defaults a user gets), the same server ' +
        'with an awaited `readline()`/`readExactly()` per frame (sockserve-resp-await, see docs/framing.md), a raw Node RESP server with a hand-written parser and one write per input chunk ' +
        '(raw-resp, the base of the ratios), and redis-server when it is installed. Medians of 3 interleaved rounds; a new ' +
        'server process per run. GET runs after an unmeasured 500,000 SETs of the same 100,000 random keys (`-r 100000`), ' +
        'so that its replies are values (3 bytes, redis-benchmark\'s default), not nil.',
      '',
      ...respTable(resp),
      '',
    );
  }
  out.push('## Targets', '', 'Why the missed ones miss, with profiles: [performance.md](performance.md).', '', '| target | measured | held |', '| --- | ---: | --- |');
  for (const check of checks) out.push(`| ${check.what} | ${check.value} | ${check.held ? 'yes' : 'no'} |`);
  out.push('');
  return out.join('\n');
}
