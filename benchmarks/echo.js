// Echo benchmark: sockserve's idiomatic handlers against raw Node net, in the same run.
// Server and load generator run in their own processes; rounds are interleaved (A B C A B C ...)
// and medians reported, with ratios to the raw 'data'-listener server.
//
//   node echo.js [--quick] [--seconds N] [--rounds N]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
  },
});
const seconds = Number(values.seconds ?? (values.quick ? 1 : 3));
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const kinds = ['raw-data', 'raw-for-await', 'sockserve-iter', 'sockserve-pipe'];
const scenarios = [
  { name: 'TCP 50 x 1 KiB', connections: 50, bytes: 1024 },
  { name: 'TCP 50 x 16 KiB', connections: 50, bytes: 16 * 1024 },
];
// Pinning server and load to one core makes ratios far steadier on a small, noisy machine.
const pin = spawnSync('taskset', ['--version']).status === 0 ? ['taskset', '-c', '0'] : [];

function run(command, args) {
  const [file, ...rest] = [...pin, command, ...args];
  return spawn(file, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
}

function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
  } catch {
    return Number.NaN;
  }
}

async function measure(kind, scenario) {
  const server = run(process.execPath, [here('servers.js'), kind]);
  const port = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/PORT (\d+)/);
      if (match) resolve(Number(match[1]));
    });
    server.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const cpuBefore = cpuSeconds(server.pid);
  const load = run(process.execPath, [here('load.js'), port, scenario.connections, scenario.bytes, seconds]);
  let out = '';
  load.stdout.on('data', (chunk) => (out += chunk));
  await new Promise((resolve) => load.once('exit', resolve));
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  server.kill();
  await new Promise((resolve) => server.once('exit', resolve));
  const result = JSON.parse(out);
  return { ...result, cpuPerRequestUs: (cpu / result.requests) * 1e6 };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

console.log(`node ${process.version}, ${rounds} round(s) of ${seconds}s per server${pin.length ? ', pinned to core 0' : ''}`);
for (const scenario of scenarios) {
  const results = Object.fromEntries(kinds.map((kind) => [kind, []]));
  for (let round = 0; round < rounds; round++) {
    for (const kind of kinds) {
      process.stderr.write(`  ${scenario.name}: round ${round + 1}/${rounds} ${kind}...\r`);
      results[kind].push(await measure(kind, scenario));
    }
  }
  process.stderr.write(' '.repeat(70) + '\r');
  const base = median(results['raw-data'].map((r) => r.rps));
  const baseCpu = median(results['raw-data'].map((r) => r.cpuPerRequestUs));
  console.log(`\n${scenario.name}`);
  console.log('server            req/s    ratio   p50 ms   p99 ms   cpu us/req  cpu ratio  errors');
  for (const kind of kinds) {
    const rs = results[kind];
    const rps = median(rs.map((r) => r.rps));
    const cpu = median(rs.map((r) => r.cpuPerRequestUs));
    const errors = rs.reduce((n, r) => n + r.errors, 0);
    console.log(
      `${kind.padEnd(16)} ${rps.toFixed(0).padStart(7)}  ${(rps / base).toFixed(2).padStart(6)}x ${median(rs.map((r) => r.p50)).toFixed(2).padStart(8)} ${median(rs.map((r) => r.p99)).toFixed(2).padStart(8)} ${cpu.toFixed(1).padStart(12)} ${(cpu / baseCpu).toFixed(2).padStart(9)}x ${String(errors).padStart(7)}`,
    );
  }
}
