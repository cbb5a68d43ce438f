// Load of new TLS connections, made by `openssl s_time` (C: a client that costs less per handshake
// than the server, so the server is what is measured). Usage:
//   node handshake_load.js <port> <processes> <seconds>
// Each process opens a new connection (a full handshake, no resumption), fetches nothing, closes,
// and repeats. Prints one JSON line: requests (handshakes), errors, requests/s.
import { spawn } from 'node:child_process';

const [port, processes, requested] = process.argv.slice(2).map(Number);
// s_time counts whole seconds.
const seconds = Math.max(1, Math.round(requested));

console.log('START'); // the harness reads the server's CPU time from here
const started = performance.now();
const counts = await Promise.all(
  Array.from(
    { length: processes },
    () =>
      new Promise((resolve) => {
        const child = spawn('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds)], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.once('exit', () => {
          // "1234 connections in 3.01s; 410.00 connections/user sec, bytes read 0" (that time is the
          // client's CPU time, not the wall clock: the rate is computed here).
          const match = /(\d+) connections in/.exec(out);
          resolve({ connections: match === null ? 0 : Number(match[1]) });
        });
      }),
  ),
);
const requests = counts.reduce((n, c) => n + c.connections, 0);
const elapsed = (performance.now() - started) / 1000;
console.log(JSON.stringify({ requests, errors: counts.filter((c) => c.connections === 0).length, rps: requests / elapsed, p50: null, p99: null }));
