// Load for line-protocol servers. Usage: node lines_load.js <port> <connections> <seconds> <mode> [tcp|tls]
// mode 'persistent': each connection sends a line, waits for the reply line, repeats.
// mode 'connect': each request is a new connection (connect, one line, reply, close): handoff cost.
import net from 'node:net';
import tls from 'node:tls';

const [port, connections, seconds] = process.argv.slice(2, 5).map(Number);
const mode = process.argv[5] ?? 'persistent';
// TLS: a new handshake per connection; the certificate is the benchmark's self-signed one.
const secure = process.argv[6] === 'tls';
const open = () => (secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1'));
const latencies = [];
let requests = 0;
let errors = 0;
let stopping = false;
setTimeout(() => (stopping = true), seconds * 1000);

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = open();
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (reply += chunk));
    socket.on('error', () => errors++);
    socket.on('close', () => {
      if (reply.endsWith('\n')) {
        requests++;
        latencies.push(performance.now() - started);
      } else errors++;
      resolve();
    });
    socket.end('request\n');
  });
}

async function connectLoop() {
  while (!stopping) await once();
}

function persistent() {
  return new Promise((resolve) => {
    const socket = open();
    let pending = '';
    let started = 0;
    const send = () => {
      started = performance.now();
      socket.write('request\n');
    };
    socket.setEncoding('utf8');
    socket.on(secure ? 'secureConnect' : 'connect', send);
    socket.on('data', (chunk) => {
      pending += chunk;
      while (pending.includes('\n')) {
        pending = pending.slice(pending.indexOf('\n') + 1);
        requests++;
        latencies.push(performance.now() - started);
        if (stopping) socket.end();
        else send();
      }
    });
    socket.on('error', () => errors++);
    socket.on('close', resolve);
  });
}

const begun = performance.now();
await Promise.all(Array.from({ length: connections }, () => (mode === 'connect' ? connectLoop() : persistent())));
const elapsed = (performance.now() - begun) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
console.log(JSON.stringify({ requests, errors, rps: requests / elapsed, p50: pct(0.5), p99: pct(0.99) }));
