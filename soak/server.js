// A server under soak, forked by run.js with an IPC channel.
//
//   node --expose-gc server.js <tcp|unix|pool|udp|raw-udp> [unix path] [log file]
//
// Sends { type: 'ready', address } once listening, then answers:
//   { type: 'probe', gc }    -> { type: 'probe', memory, fds, delay, stats, errors, pids }
//   { type: 'reset-delay' }  -> starts the event-loop delay histogram afresh
//   { type: 'close', timeout } -> { type: 'closed', report, errors }, then the process exits
// `errors` tallies every handleError() call: injected throws by id, the rest by error code, and
// the client port and time of each WorkerCrashedError.
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { TCPServer, UDPServer, UnixStreamServer, WorkerPoolStrategy } from 'sockserve';
import { DatagramEcho, FaultyEcho, Idle } from './handlers.js';

const [kind, path, logFile] = process.argv.slice(2);
const handler = process.env.SOAK_HANDLER === 'Idle' ? Idle : FaultyEcho;

const errors = { injected: {}, codes: {}, samples: [], crashes: [] };

function tally(error, clientAddress) {
  const message = String(error?.message ?? error);
  const injected = /^injected (\S+)/.exec(message);
  if (injected) {
    errors.injected[injected[1]] = (errors.injected[injected[1]] ?? 0) + 1;
    return;
  }
  const code = error?.code ?? error?.name ?? 'unknown';
  errors.codes[code] = (errors.codes[code] ?? 0) + 1;
  // Which connection a crashed worker took down, and when: the harness matches them to its clients.
  if (code === 'ERR_SOCKSERVE_WORKER_CRASHED') errors.crashes.push({ port: clientAddress?.port, at: Date.now() });
  if (errors.samples.length < 10) errors.samples.push(`${code}: ${message}`);
}

/** The server class with every handleError() call counted, then handled as usual (logged). */
function counted(Base) {
  return class extends Base {
    handleError(request, clientAddress, error) {
      tally(error, clientAddress);
      return super.handleError(request, clientAddress, error);
    }
  };
}

const logger = logFile ? pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false })) : false;
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

let server;
let rawSocket;
if (kind === 'raw-udp') {
  // The baseline for the UDP flood: what a hand-written dgram echo loses at the same rate.
  rawSocket = dgram.createSocket('udp4');
  rawSocket.on('message', (packet, rinfo) => {
    if (packet.length >= 4 && packet.readUInt32BE(0) === 0x534f414b) rawSocket.send(packet, rinfo.port, rinfo.address);
  });
  await new Promise((resolve) => rawSocket.bind(0, '127.0.0.1', resolve));
} else {
  const options = { logger };
  if (kind === 'pool') options.concurrency = new WorkerPoolStrategy({ module: new URL('./handlers.js', import.meta.url) });
  server =
    kind === 'unix'
      ? new (counted(UnixStreamServer))(path, handler, options)
      : kind === 'udp'
        ? new (counted(UDPServer))({ host: '127.0.0.1', port: 0 }, DatagramEcho, { ...options, maxDatagramSize: 2048 })
        : new (counted(TCPServer))({ host: '127.0.0.1', port: 0 }, handler, options);
  await server.listen();
  void server.serveForever();
}

function descriptors() {
  try {
    return readdirSync(process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd').length;
  } catch {
    return Number.NaN;
  }
}

process.on('message', async (message) => {
  if (message.type === 'probe') {
    if (message.gc && globalThis.gc) {
      globalThis.gc();
      globalThis.gc();
    }
    const { rss, heapUsed } = process.memoryUsage();
    process.send({
      type: 'probe',
      memory: { rss, heapUsed },
      fds: descriptors(),
      delay: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      stats: server?.stats(),
      errors,
      pids: server?.concurrency?.pids ?? [],
    });
  } else if (message.type === 'reset-delay') {
    delay.reset();
  } else if (message.type === 'close') {
    const report = server ? await server.serverClose(message.timeout === undefined ? {} : { timeout: message.timeout }) : undefined;
    rawSocket?.close();
    if (logger) logger.flush();
    process.send({ type: 'closed', report, errors, stats: server?.stats() }, () => process.exit(0));
  }
});

const address = rawSocket ? rawSocket.address() : server.serverAddress;
process.send({ type: 'ready', address: typeof address === 'string' ? address : { host: address.host ?? address.address, port: address.port } });

// The harness is gone (it crashed or was killed): end with it, never outlive it.
process.on('disconnect', () => process.exit(0));
