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
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.stderr.on('data', (chunk) => (err += chunk));
        child.once('close', (code) => {
          // s_time prints one character per connection ('*' for a full handshake) and, at the end,
          // "1234 connections in 3.01s; ..." (client CPU time, not the wall clock: the rate is
          // computed here). It stops at its first failed connection without that line, so the
          // characters are what is counted; the failure is one error, and its reason is shown.
          const body = out.slice(out.indexOf('\n') + 1);
          const marks = /^[*rt3]*/.exec(body)[0].length;
          const match = /(\d+) connections in/.exec(out);
          const connections = match === null ? marks : Number(match[1]);
          const failed = code !== 0 || match === null;
          if (failed) {
            const reason = err.split('\n').filter((line) => line.trim() !== '' && line !== 'ERROR').slice(0, 2).join(' / ');
            console.error(`openssl s_time stopped after ${connections} connections (exit ${code}): ${reason || 'no reason given'}`);
          }
          resolve({ connections, failed });
        });
      }),
  ),
);
const requests = counts.reduce((n, c) => n + c.connections, 0);
const elapsed = (performance.now() - started) / 1000;
console.log(JSON.stringify({ requests, errors: counts.filter((c) => c.failed).length, rps: requests / elapsed, p50: null, p99: null }));
