/**
 * The worker process of a `WorkerPoolStrategy`: loads the handler class, then runs each request
 * it is handed (a connection, or a datagram) through `setup`, `handle` and `finish`.
 *
 * @module
 */
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import { RequestAbortedError, formatAddress, runHandler, kDatagramReply, kRequestContext, type DatagramReply, type RequestHandler } from '@sockserve/core';
import { discardUntilClosed, endSocket } from '@sockserve/transports';
import { pino, type Logger } from 'pino';
import { CONFIG_ENV, toWire, type FromWorker, type ToWorker, type WorkerConfig } from './_protocol.js';

const config = JSON.parse(process.env[CONFIG_ENV] ?? 'null') as WorkerConfig | null;
if (config === null || typeof process.send !== 'function') {
  console.error('This is a sockserve worker; it is started by WorkerPoolStrategy, not run directly');
  process.exit(2);
}

const send = (message: FromWorker, callback?: () => void): void => {
  if (process.connected) process.send!(message, undefined, {}, callback);
};

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

const log: Logger = pino(
  { level: config.level, base: { worker: config.id } },
  { write: (line: string) => send({ t: 'log', line }) },
);

type HandlerClass = new (request: unknown, clientAddress: unknown, server: unknown) => RequestHandler;

let Handler: HandlerClass;
try {
  const loaded = (await import(config.module)) as Record<string, unknown>;
  const candidate = loaded[config.exportName];
  if (typeof candidate !== 'function') {
    throw new Error(
      `The module ${config.module} has no export named \`${config.exportName}\` that is a class (exports: ${Object.keys(loaded).join(', ') || 'none'})`,
    );
  }
  Handler = candidate as HandlerClass;
} catch (error) {
  send({ t: 'fail', error: toWire(error) }, () => process.exit(1));
  await new Promise(() => {}); // exit comes from the callback
}

interface Running {
  controller: AbortController;
  socket: net.Socket | undefined;
}

const running = new Map<number, Running>();
const contexts = new WeakMap<object, { signal: AbortSignal; readonly log: Logger }>();
let stopping = false;

/** What handlers see as `this.server`. */
const standIn = {
  serverAddress: config.serverAddress,
  log,
  async shutdown(): Promise<void> {
    send({ t: 'shutdown' });
  },
  [kRequestContext]: (request: unknown) => contexts.get(request as object),
};

async function run(rid: number, request: object, clientAddress: unknown, socket: net.Socket | undefined): Promise<unknown> {
  const controller = new AbortController();
  let child: Logger | undefined;
  contexts.set(request, {
    signal: controller.signal,
    get log() {
      return (child ??= log.child({ client: formatAddress(clientAddress) }));
    },
  });
  running.set(rid, { controller, socket });
  try {
    await runHandler(new Handler(request, clientAddress, standIn));
    return undefined;
  } catch (error) {
    return controller.signal.aborted ? undefined : (error ?? new Error('undefined was thrown'));
  }
}

function finish(rid: number, error: unknown, reply?: Uint8Array): void {
  running.delete(rid);
  send({ t: 'done', rid, ...(error === undefined ? {} : { error: toWire(error) }), ...(reply === undefined ? {} : { reply }) });
  if (stopping && running.size === 0) process.exit(0);
}

async function handleStream(rid: number, socket: net.Socket, clientAddress: unknown): Promise<void> {
  // A socket rebuilt from a passed handle forgets the server's allowHalfOpen: without it, a peer
  // that half-closes after its request would have its reply refused.
  socket.allowHalfOpen = true;
  let socketError: unknown;
  socket.on('error', (error) => {
    if (!socket.writableFinished) socketError ??= error;
  });
  const error = await run(rid, socket, clientAddress, socket);
  if (!socket.destroyed && (await endSocket(socket, config!.lingerTimeout))) {
    void discardUntilClosed(socket, config!.lingerTimeout);
  } else {
    socket.destroy();
  }
  finish(rid, error ?? (running.get(rid)?.controller.signal.aborted ? undefined : socketError));
}

async function handleDatagram(rid: number, packet: Buffer, clientAddress: unknown): Promise<void> {
  const request: [Buffer, null] = [packet, null];
  const error = await run(rid, request, clientAddress, undefined);
  const reply = (request as unknown as Partial<Record<typeof kDatagramReply, DatagramReply>>)[kDatagramReply]?.contents();
  finish(rid, error, reply);
}

process.on('message', (message: ToWorker, handle?: unknown) => {
  switch (message.t) {
    case 'stream':
      void handleStream(message.rid, handle as net.Socket, message.clientAddress);
      break;
    case 'datagram': {
      const { packet } = message;
      void handleDatagram(message.rid, Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), message.clientAddress);
      break;
    }
    case 'abort': {
      const request = running.get(message.rid);
      request?.controller.abort(new RequestAbortedError());
      request?.socket?.destroy();
      break;
    }
    case 'stop':
      stopping = true;
      if (running.size === 0) process.exit(0);
      break;
  }
});

await watching;
send({ t: 'ready' });
