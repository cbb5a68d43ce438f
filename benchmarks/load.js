// Load generator. Usage:
//   node load.js <tcp|tls|unix|udp> <port-or-path> <connections> <bytes> <seconds> [bytes|lines] [warm-up ms]
// Each connection (or UDP client) sends a message, waits until all of it has come back, checks
// every byte, and repeats. With 'lines' the message is made of 64-byte lines. Nothing is measured
// until every connection is open and has made one exchange (so a burst of connects, and the
// listen backlog, is not part of the measure), then until the warm-up (default 250 ms) of full
// load has passed (so the server's code is compiled): then it prints START and the clock starts.
// At the end, one JSON line: requests, verification errors, requests/s, latency percentiles.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

const [transport, target, connectionsArg, sizeArg, secondsArg, shape, warmUpArg = '250'] = process.argv.slice(2);
const warmUpMs = Number(warmUpArg);
const connections = Number(connectionsArg);
const size = Number(sizeArg);
const seconds = Number(secondsArg);
const message = Buffer.alloc(size);
for (let i = 0; i < size; i++) message[i] = shape === 'lines' ? (i % 64 === 63 ? 10 : 97 + (i % 26)) : (i * 31 + 7) & 0xff;
if (shape === 'lines') message[size - 1] = 10;

const latencies = [];
let requests = 0;
let errors = 0;
let stopping = false;
let measuring = false;
let warmed = 0;
let go;
const begin = new Promise((resolve) => (go = resolve));

/** Counts a finished exchange (once measuring) and goes on; a first exchange waits for the others. */
function exchanged(client, started, next) {
  if (measuring) {
    requests++;
    latencies.push(performance.now() - started);
  } else if (!client.warm) {
    warm(client);
    void begin.then(next);
    return;
  }
  next();
}

/** One more client is ready (or gone before it was): the clock starts when all are. */
function warm(client) {
  if (client.warm) return;
  client.warm = true;
  if (++warmed === connections) go();
}

function streamClient() {
  return new Promise((resolve) => {
    // TLS: the benchmark's certificate is self-signed; what is measured is the server, not trust.
    const socket =
      transport === 'unix'
        ? net.connect(target)
        : transport === 'tls'
          ? tls.connect({ port: Number(target), host: '127.0.0.1', rejectUnauthorized: false })
          : net.connect(Number(target), '127.0.0.1');
    socket.setNoDelay?.(true);
    const client = { warm: false };
    let received = 0;
    let started = 0;
    const send = () => {
      received = 0;
      started = performance.now();
      socket.write(message);
    };
    socket.on(transport === 'tls' ? 'secureConnect' : 'connect', send);
    socket.on('data', (chunk) => {
      if (!message.subarray(received, received + chunk.length).equals(chunk)) errors++;
      received += chunk.length;
      if (received > size) errors++;
      if (received >= size) exchanged(client, started, () => (stopping ? socket.end() : send()));
    });
    socket.on('error', () => errors++);
    socket.on('close', () => {
      warm(client); // closed before the start: do not wait for it
      resolve();
    });
  });
}

function udpClient() {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const client = { warm: false };
    let started = 0;
    let timer;
    const send = () => {
      started = performance.now();
      socket.send(message, Number(target), '127.0.0.1');
      clearTimeout(timer);
      // A lost datagram is retried, and counted as an error.
      timer = setTimeout(() => {
        errors++;
        send();
      }, 200);
    };
    socket.on('message', (data) => {
      if (!data.equals(message)) errors++;
      clearTimeout(timer);
      exchanged(client, started, () => {
        if (stopping) socket.close(resolve);
        else send();
      });
    });
    socket.bind(0, '127.0.0.1', send);
  });
}

const done = Promise.all(Array.from({ length: connections }, transport === 'udp' ? udpClient : streamClient));
await begin;
await new Promise((resolve) => setTimeout(resolve, warmUpMs));
measuring = true;
console.log('START'); // the harness reads the server's CPU time from here
const started = performance.now();
setTimeout(() => (stopping = true), seconds * 1000);
await done;
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
console.log(JSON.stringify({ requests, errors, rps: requests / elapsed, p50: pct(0.5), p99: pct(0.99) }));
