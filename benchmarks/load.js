// Load generator. Usage: node load.js <port> <connections> <bytes> <seconds>
// Each connection sends a message, waits for all of it to come back, checks every byte, and
// repeats. Prints one JSON line: requests, errors, latency percentiles.
import net from 'node:net';

const [port, connections, size, seconds] = process.argv.slice(2).map(Number);
const message = Buffer.alloc(size);
for (let i = 0; i < size; i++) message[i] = (i * 31 + 7) & 0xff;

const latencies = [];
let requests = 0;
let errors = 0;
let stopping = false;

function client() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let received = 0;
    let started = 0;
    const send = () => {
      received = 0;
      started = performance.now();
      socket.write(message);
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      if (!message.subarray(received, received + chunk.length).equals(chunk)) errors++;
      received += chunk.length;
      if (received > size) errors++;
      if (received >= size) {
        requests++;
        latencies.push(performance.now() - started);
        if (stopping) socket.end();
        else send();
      }
    });
    socket.on('error', () => {
      errors++;
      resolve();
    });
    socket.on('close', resolve);
  });
}

const started = performance.now();
const done = Promise.all(Array.from({ length: connections }, client));
setTimeout(() => {
  stopping = true;
}, seconds * 1000);
await done;
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
console.log(JSON.stringify({ requests, errors, seconds: elapsed, rps: requests / elapsed, p50: pct(0.5), p99: pct(0.99) }));
