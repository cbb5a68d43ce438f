// Concurrency benchmark: the same handler under the event loop and the worker pool.
//   node pool.js [--quick]
// Scenarios: a CPU-bound handler (sha256 over 1 MiB per request) on 8 persistent connections;
// a line echo on 50 persistent connections (pool overhead per request); a line echo with a new
// connection per request (handoff cost); the same CPU-bound work and an echo over UDP. The pool
// runs both ways: handing connections (relaying datagrams) from the parent ('pool'), and with
// workers accepting connections (reading datagrams) themselves ('pool-shared').
// Rounds are interleaved; medians are reported.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const seconds = values.quick ? 1 : 3;
const rounds = values.quick ? 1 : 3;
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const streamStrategies = ['event-loop', 'pool', 'pool-shared'];
const datagramStrategies = ['event-loop', 'pool', 'pool-shared'];
const scenarios = [
  { name: 'CPU-bound (sha256 of 1 MiB), 8 connections', handler: 'HashHandler', connections: 8, mode: 'persistent' },
  { name: 'line echo, 50 persistent connections', handler: 'EchoLinesHandler', connections: 50, mode: 'persistent' },
  { name: 'line echo, a new connection per request', handler: 'EchoLinesHandler', connections: 8, mode: 'connect' },
  { name: 'UDP CPU-bound (sha256 of 1 MiB), 8 clients x 64 B', handler: 'HashDatagramHandler', connections: 8, mode: 'udp' },
  { name: 'UDP echo, 50 clients x 64 B', handler: 'EchoDatagramHandler', connections: 50, mode: 'udp' },
];

async function measure(strategy, scenario) {
  const transport = scenario.mode === 'udp' ? 'udp' : 'tcp';
  const server = spawn(process.execPath, [here('pool_server.js'), strategy, scenario.handler, transport], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/PORT (\d+)/);
      if (match) resolve(Number(match[1]));
    });
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const load =
    scenario.mode === 'udp'
      ? spawn(process.execPath, [here('load.js'), 'udp', port, scenario.connections, 64, seconds], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [here('lines_load.js'), port, scenario.connections, seconds, scenario.mode], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  let out = '';
  load.stdout.on('data', (chunk) => (out += chunk));
  await new Promise((resolve) => load.once('close', resolve));
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  return JSON.parse(out.replace(/^START\n/, '')); // load.js says START when its clock starts
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`node ${process.version}, ${availableParallelism()} cores, ${rounds} round(s) of ${seconds}s`);
for (const scenario of scenarios) {
  const strategies = scenario.mode === 'udp' ? datagramStrategies : streamStrategies;
  const results = Object.fromEntries(strategies.map((strategy) => [strategy, []]));
  for (let round = 0; round < rounds; round++) {
    for (const strategy of strategies) {
      process.stderr.write(`  ${scenario.name}: round ${round + 1}/${rounds} ${strategy}...\r`);
      results[strategy].push(await measure(strategy, scenario));
    }
  }
  process.stderr.write(' '.repeat(80) + '\r');
  const base = median(results['event-loop'].map((r) => r.rps));
  console.log(`\n${scenario.name}`);
  console.log('strategy        req/s    ratio   p50 ms   p99 ms  errors');
  for (const strategy of strategies) {
    const rs = results[strategy];
    const rps = median(rs.map((r) => r.rps));
    console.log(
      `${strategy.padEnd(12)} ${rps.toFixed(0).padStart(8)} ${(rps / base).toFixed(2).padStart(7)}x ${median(rs.map((r) => r.p50)).toFixed(2).padStart(8)} ${median(rs.map((r) => r.p99)).toFixed(2).padStart(8)} ${String(rs.reduce((n, r) => n + r.errors, 0)).padStart(7)}`,
    );
  }
}
