// The Redis protocol (RESP) scenario: redis-benchmark against the resp example (sockserve, written
// the idiomatic way), a raw Node RESP server with a hand-written parser, and redis-server itself
// when it is installed. Pipelined (-P 16) and not (-P 1), 50 connections.
//   node resp.js [--quick]     prints the table; run.js includes it in docs/benchmarks.md
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const TESTS = ['ping_mbulk', 'set', 'get', 'incr', 'mset'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const hasRedisBenchmark = spawnSync('redis-benchmark', ['--version']).status === 0;
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A port nobody listens on right now. */
function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function start(server, pin) {
  const [file, ...args] =
    server === 'redis-server'
      ? [...pin, 'redis-server', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--port', String(await freePort())]
      : [...pin, process.execPath, here('resp_servers.js'), { 'raw-resp': 'raw', 'sockserve-resp': 'sockserve', 'sockserve-resp-await': 'await' }[server]];
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (server === 'redis-server') {
    const port = args[args.length - 1];
    await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.split('\n').slice(-3).join(' ')}`)));
    });
    return { child, port, pid: child.pid };
  }
  const [, port, pid] = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /READY (\d+) (\d+)/.exec(out);
      if (match) resolve(match);
    });
    child.once('exit', (code) => reject(new Error(`${server} exited with ${code}`)));
  });
  return { child, port, pid: Number(pid) };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

/** One redis-benchmark run of one test: req/s from its CSV, server CPU µs per request. */
function bench(port, pid, test, pipeline, requests, pin) {
  return new Promise((resolve) => {
    const before = cpuSeconds(pid);
    const [file, ...args] = [...pin, 'redis-benchmark', '-p', port, '-t', test, '-c', '50', '-P', String(pipeline), '-n', String(requests), '--csv', '-r', '100000'];
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('close', () => {
      const cpu = cpuSeconds(pid) - before;
      const line = out.split('\n').find((l) => l.startsWith('"') && !l.startsWith('"test"'));
      const rps = line === undefined ? Number.NaN : Number(line.split(',')[1].replaceAll('"', ''));
      resolve({ rps, cpuPerRequestUs: (cpu / requests) * 1e6 });
    });
  });
}

/** Sets (nearly) every key GET will ask for: 500,000 SETs of random keys among the 100,000. */
function preload(port, pin) {
  return new Promise((resolve, reject) => {
    const [file, ...args] = [...pin, 'redis-benchmark', '-p', port, '-t', 'set', '-c', '50', '-P', '16', '-n', '500000', '-r', '100000', '-q'];
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`redis-benchmark (preload) exited with ${code}`))));
  });
}

/**
 * Runs the scenario: for each pipeline depth and test, every server in interleaved rounds.
 * Resolves with rows `{ pipeline, test, server, rps, ratio, cpuPerRequestUs, cpuRatio }`.
 */
export async function respBenchmark({ rounds = 3, quick = false, pin = [] } = {}) {
  const servers = ['raw-resp', 'sockserve-resp', 'sockserve-resp-await', ...(hasRedisServer ? ['redis-server'] : [])];
  const rows = [];
  for (const pipeline of [16, 1]) {
    for (const test of TESTS) {
      const requests = Math.round((pipeline === 16 ? 300_000 : 60_000) * (test === 'mset' ? 0.25 : 1) * (quick ? 0.25 : 1));
      const samples = Object.fromEntries(servers.map((server) => [server, []]));
      for (let round = 0; round < rounds; round++) {
        for (const server of servers.map((_, i) => servers[(i + round) % servers.length])) {
          process.stderr.write(`  resp -P ${pipeline} ${test}: round ${round + 1}/${rounds}, ${server}...`.padEnd(100) + '\r');
          const { child, port, pid } = await start(server, pin);
          try {
            // GET reads what SET stored, as in redis-benchmark's own sequence (SET, then GET): the
            // replies are values, not nil. Not measured.
            if (test === 'get') await preload(port, pin);
            samples[server][round] = await bench(port, pid, test, pipeline, requests, pin);
          } finally {
            await stop(child);
          }
        }
      }
      for (const server of servers) {
        const rs = samples[server];
        const base = samples['raw-resp'];
        rows.push({
          pipeline,
          test,
          server,
          rps: median(rs.map((r) => r.rps)),
          ratio: median(rs.map((r, i) => r.rps / base[i].rps)),
          cpuPerRequestUs: median(rs.map((r) => r.cpuPerRequestUs)),
          cpuRatio: median(rs.map((r, i) => r.cpuPerRequestUs / base[i].cpuPerRequestUs)),
        });
      }
    }
  }
  process.stderr.write(' '.repeat(100) + '\r');
  return rows;
}

/** The rows as a markdown table. */
export function respTable(rows) {
  return [
    '| -P | test | server | req/s | ratio | server CPU µs/req | CPU ratio |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) => `| ${r.pipeline} | ${r.test} | ${r.server} | ${Math.round(r.rps)} | ${r.ratio.toFixed(2)}x | ${r.cpuPerRequestUs.toFixed(1)} | ${r.cpuRatio.toFixed(2)}x |`,
    ),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!hasRedisBenchmark) {
    console.error('redis-benchmark is not installed (apt-get install redis-tools)');
    process.exit(1);
  }
  const quick = process.argv.includes('--quick');
  const pin = spawnSync('taskset', ['--version']).status === 0 ? ['taskset', '-c', '0'] : [];
  console.log(respTable(await respBenchmark({ rounds: quick ? 1 : 3, quick, pin })).join('\n'));
}
