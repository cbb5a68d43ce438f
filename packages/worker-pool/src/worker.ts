/**
 * The worker process of a `WorkerPoolStrategy`: loads the handler class, then serves what the
 * parent hands over (connections, or datagrams) with a server of its own (`_worker_servers.ts`),
 * so that a request runs through the same code as in the parent.
 *
 * @module
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { ClientAddress } from '@sockserve/core';
import { markPoolWorker } from '@sockserve/core/internal';
import { pino, type Logger } from 'pino';
import { ABORT_GRACE_MS, CONFIG_ENV, toWire, type FromWorker, type ToWorker, type WorkerConfig } from './_protocol.js';
import { WorkerDatagramServer, WorkerStreamServer, type WorkerServerOptions } from './_worker_servers.js';

const config = JSON.parse(process.env[CONFIG_ENV] ?? 'null') as WorkerConfig | null;
if (config === null || typeof process.send !== 'function') {
  console.error('This is a sockserve worker; it is started by WorkerPoolStrategy, not run directly');
  process.exit(2);
}

const send = (message: FromWorker, callback?: () => void): void => {
  if (process.connected) process.send!(message, undefined, {}, callback);
};

// The parent decides when workers stop. A Ctrl-C in a terminal signals the whole process group,
// and a service manager may signal every process of the service: the parent drains and then
// stops its workers, so workers must not die first and take their requests with them.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
// No orphans: when the parent goes away (even by SIGKILL), the IPC channel closes.
process.on('disconnect', () => process.exit(0));
// A handler stuck in a busy loop never gets to see that event, so a thread of our own watches
// the parent too, and ends this process when it is gone.
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => { if (process.ppid !== workerData.parent) process.kill(process.pid, 'SIGKILL'); }, 100);`,
  { eval: true, workerData: { parent: process.ppid } },
);
watchdog.unref();
// Ready only once the watchdog runs, so no request can start before it.
const watching = new Promise((resolve) => watchdog.once('online', resolve));

const log: Logger = pino({ level: config.level, base: { worker: config.id } }, { write: (line: string) => send({ type: 'log', line }) });

/** Reports a failure to start, then exits. */
async function failToStart(error: unknown): Promise<never> {
  send({ type: 'load-failed', error: toWire(error) }, () => process.exit(1));
  return new Promise(() => {}); // the exit comes from the callback
}

type HandlerClass = new (request: never, clientAddress: never, server: never) => { handle(): unknown };

// While the module loads, servers and pools it creates at its top level are refused (a server
// started there would run in every worker, each with its own pool).
const mark = markPoolWorker({ id: config.id, module: config.module, loading: true });
let Handler: HandlerClass;
try {
  const loaded = (await import(config.module)) as Record<string, unknown>;
  mark.loading = false;
  const candidate = loaded[config.exportName];
  if (typeof candidate !== 'function') {
    const classes = Object.keys(loaded).filter((name) => typeof loaded[name] === 'function');
    throw new Error(
      `The module ${config.module} has no export named \`${config.exportName}\` that is a class (exports: ${Object.keys(loaded).join(', ') || 'none'}); ` +
        'export the handler class under its own name, or pass WorkerPoolStrategy the name it is exported under as `exportName`' +
        (classes.length > 0 ? ` (for example \`exportName: '${classes[0]}'\`)` : ''),
    );
  }
  Handler = candidate as HandlerClass;
} catch (error) {
  await failToStart(error);
}

const options: WorkerServerOptions = { config, log, send };
const server = config.kind === 'stream' ? new WorkerStreamServer(Handler! as never, options) : new WorkerDatagramServer(Handler! as never, options);
const datagrams = server instanceof WorkerDatagramServer ? server : undefined;
const connections = server instanceof WorkerStreamServer ? server : undefined;

/** Stops serving and exits once the stop report is out. */
async function stop(timeout: number | undefined): Promise<void> {
  const report = await (datagrams ?? connections!).stop(timeout, ABORT_GRACE_MS);
  // The parent counted the requests it handed over; only those read or accepted here are ours to report.
  const shared = config!.datagrams !== undefined || config!.connections !== undefined;
  send({ type: 'stopped', completed: shared ? report.completed : 0, aborted: shared ? report.aborted : 0 }, () => process.exit(0));
}

process.on('message', (message: ToWorker, handle?: unknown) => {
  switch (message.type) {
    case 'handle-connection':
      (server as WorkerStreamServer).take(message.id, handle, message.clientAddress as ClientAddress, message.head, message.proxy);
      break;
    case 'handle-datagram': {
      const { packet } = message;
      datagrams?.take(message.id, Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), message.clientAddress as ClientAddress, message.replyHere === true);
      break;
    }
    case 'forward-datagram': {
      const { packet } = message;
      datagrams?.forwarded(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), message.clientAddress as ClientAddress);
      break;
    }
    case 'error-reported':
      server.link.reported(message.id);
      break;
    case 'abort':
      server.link.abort(message.id);
      break;
    case 'share-socket':
      if (datagrams !== undefined) datagrams.shareUdp(handle as dgram.Socket);
      else connections?.shareListener(handle, config.connections!);
      break;
    case 'forward-connection':
      connections?.forwarded(handle, message.clientAddress as ClientAddress);
      break;
    case 'lend-socket': {
      // A listener goes as its raw handle (see _shared_sockets.ts), and stays open here.
      const socket = datagrams?.sharedUdpSocket ?? (connections?.sharedListener as unknown as { _handle?: net.Server } | undefined)?._handle;
      if (socket != null && process.connected) process.send!({ type: 'lent-socket', loan: message.loan } satisfies FromWorker, socket, { keepOpen: true }, () => {});
      break;
    }
    case 'tls-setup':
      connections?.tlsSetup(message.setup);
      break;
    case 'request-events':
      (datagrams ?? connections!).requestEvents = message.wanted;
      break;
    case 'stop':
      void stop(message.timeout);
      break;
  }
});

await watching;
try {
  await server.listen();
  if (datagrams !== undefined && config.datagrams?.kind === 'unix' && config.datagrams.fd !== undefined) {
    await datagrams.shareUnix(config.datagrams.fd, config.datagrams);
  }
} catch (error) {
  await failToStart(error);
}
void server.serveForever();
send({ type: 'ready' });
