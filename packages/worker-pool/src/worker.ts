/**
 * The worker process of a `WorkerPoolStrategy`: loads the handler class, then runs each request
 * it is handed (a connection, or a datagram) through `setup`, `handle` and `finish`.
 *
 * @module
 */
import type dgram from 'node:dgram';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { RequestAbortedError, SocketError, formatAddress, inetAddress, type InetAddress, type RequestHandler, type UnixAddress } from '@sockserve/core';
import { kDatagramReply, kRequestContext, markPoolWorker, runHandler, settleWithin, type DatagramReply } from '@sockserve/core/internal';
import { discardUntilClosed, endSocket } from '@sockserve/transports';
import { pino, type Logger } from 'pino';
import { ABORT_GRACE_MS, CONFIG_ENV, toWire, type FromWorker, type ToWorker, type WorkerConfig } from './_protocol.js';

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

const log: Logger = pino(
  { level: config.level, base: { worker: config.id } },
  { write: (line: string) => send({ t: 'log', line }) },
);

type HandlerClass = new (request: unknown, clientAddress: unknown, server: unknown) => RequestHandler;

let Handler: HandlerClass;
// While the module loads, servers and pools it creates at its top level are refused (a server
// started there would run in every worker, each with its own pool).
const mark = markPoolWorker({ id: config.id, module: config.module, loading: true });
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
  send({ t: 'fail', error: toWire(error) }, () => process.exit(1));
  await new Promise(() => {}); // exit comes from the callback
}

interface Running {
  controller: AbortController;
  socket: net.Socket | undefined;
  /** Settles when the handler is done. */
  done: Promise<void>;
  finished: boolean;
}

/** Requests in flight: ids from the parent are positive, those of datagrams read here negative. */
const running = new Map<number, Running>();
const contexts = new WeakMap<object, { signal: AbortSignal; readonly log: Logger }>();
let stopping = false;
/** The stop report went out: the worker may exit once nothing runs. */
let stopReported = false;
let nextLocal = -1;

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
  let settle!: () => void;
  const entry: Running = { controller, socket, done: new Promise((resolve) => (settle = resolve)), finished: false };
  running.set(rid, entry);
  try {
    await runHandler(new Handler(request, clientAddress, standIn));
    return undefined;
  } catch (error) {
    return controller.signal.aborted ? undefined : (error ?? new Error('undefined was thrown'));
  } finally {
    entry.finished = true;
    settle();
  }
}

function maybeExit(): void {
  if (stopping && stopReported && running.size === 0) process.exit(0);
}

function finish(rid: number, error: unknown, reply?: Uint8Array): void {
  running.delete(rid);
  send({ t: 'done', rid, ...(error === undefined ? {} : { error: toWire(error) }), ...(reply === undefined ? {} : { reply }) });
  maybeExit();
}

/** Parents' answers to `error` messages, by request id. */
const reported = new Map<number, () => void>();

/** Sends a request's error to the parent and resolves once its handleError() has run. */
function reportFirst(rid: number, error: unknown): Promise<void> {
  return new Promise((resolve) => {
    reported.set(rid, resolve);
    send({ t: 'error', rid, error: toWire(error) });
  });
}

async function handleStream(rid: number, socket: net.Socket, clientAddress: unknown): Promise<void> {
  let socketError: unknown;
  socket.on('error', (error) => {
    if (!socket.writableFinished) socketError ??= error;
  });
  const error = await run(rid, socket, clientAddress, socket);
  const aborted = (): boolean => running.get(rid)?.controller.signal.aborted === true;
  // As in the parent, handleError() runs before the connection is closed.
  const failure = error ?? (aborted() ? undefined : socketError);
  if (failure !== undefined) await reportFirst(rid, failure);
  if (!socket.destroyed && (await endSocket(socket, config!.lingerTimeout))) {
    void discardUntilClosed(socket, config!.lingerTimeout);
  } else {
    socket.destroy();
  }
  // A socket error that came while closing is reported late (the parent counts each error once).
  const late = failure === undefined && !aborted() ? socketError : undefined;
  finish(rid, late);
}

async function handleDatagram(rid: number, packet: Buffer, clientAddress: unknown): Promise<void> {
  const request: [Buffer, null] = [packet, null];
  const error = await run(rid, request, clientAddress, undefined);
  const reply = (request as unknown as Partial<Record<typeof kDatagramReply, DatagramReply>>)[kDatagramReply]?.contents();
  finish(rid, error, reply);
}

// -----------------------------------------------------------------------------------------------
// Shared datagram sockets: the worker reads the server's socket itself and replies through it.

interface Shared {
  socket: dgram.Socket | import('@sockserve/unix-dgram').UnixDatagramSocket;
  reply(data: Buffer, clientAddress: unknown): Promise<void>;
  pause(): void;
  close(): void;
}

const sharing = config.datagrams;
let shared: Shared | undefined;
let requestEvents = sharing?.requestEvents ?? false;
let seen: unknown[] = [];

function reportSeen(): void {
  const clients = seen;
  seen = [];
  send({ t: 'seen', clients });
}

/** A datagram read from the shared socket (or forwarded by the parent): checked, then handled. */
function receive(packet: Buffer, clientAddress: unknown): void {
  if (stopping || shared === undefined) return;
  if (packet.length > sharing!.maxDatagramSize) {
    send({
      t: 'dropped',
      reason: 'too-large',
      clientAddress,
      size: packet.length,
      message: `Dropped a datagram of ${packet.length} bytes: larger than maxDatagramSize (${sharing!.maxDatagramSize})`,
    });
    return;
  }
  if (requestEvents) {
    if (seen.length === 0) setImmediate(reportSeen);
    seen.push(clientAddress);
  }
  const rid = nextLocal--;
  void handleShared(rid, packet, clientAddress).then((error) => {
    running.delete(rid);
    if (error !== undefined) send({ t: 'failed', clientAddress, packet, error: toWire(error) });
    maybeExit();
  });
}

/** Runs a datagram's handler and sends its reply through the shared socket; resolves with the error, if any. */
async function handleShared(rid: number, packet: Buffer, clientAddress: unknown): Promise<unknown> {
  const own = shared!;
  const request: [Buffer, unknown] = [packet, own.socket];
  let error = await run(rid, request, clientAddress, undefined);
  const reply = (request as unknown as Partial<Record<typeof kDatagramReply, DatagramReply>>)[kDatagramReply]?.contents();
  if (reply !== undefined && running.get(rid)?.controller.signal.aborted !== true) {
    try {
      await own.reply(reply, clientAddress);
    } catch (sendError) {
      error ??= sendError;
    }
  }
  return error;
}

function shareUdp(socket: dgram.Socket): void {
  socket.on('message', (packet, remote) =>
    receive(packet, inetAddress(remote.address, remote.port, remote.family)),
  );
  socket.on('error', (error) => log.error({ err: error }, 'Shared datagram socket error'));
  shared = {
    socket,
    reply: (data, clientAddress) =>
      new Promise((resolve, reject) => {
        const { host, port } = clientAddress as InetAddress;
        socket.send(data, port, host, (error) => (error ? reject(error) : resolve()));
      }),
    pause: () => {}, // dgram cannot stop reading; datagrams read while stopping are dropped
    close: () => socket.close(),
  };
}

async function shareUnix(fd: number): Promise<void> {
  const { UnixDatagramSocket } = await import('@sockserve/unix-dgram');
  const socket = UnixDatagramSocket.adopt(fd, {
    ...(sharing!.bufferSize === undefined ? {} : { bufferSize: sharing!.bufferSize }),
    ...(sharing!.sendTimeout === undefined ? {} : { sendTimeout: sharing!.sendTimeout }),
  });
  socket.on('message', (packet, sender) => receive(packet, { path: sender }));
  socket.on('truncated', (size, sender) =>
    send({
      t: 'dropped',
      reason: 'truncated',
      clientAddress: { path: sender },
      size,
      message: `Dropped a datagram of ${size} bytes: larger than the receive buffer (bufferSize ${sharing!.bufferSize ?? 262_144})`,
    }),
  );
  socket.on('error', (error) => log.error({ err: error }, 'Shared datagram socket error'));
  shared = {
    socket,
    reply: (data, clientAddress) => {
      const { path } = clientAddress as UnixAddress;
      return path === null ? Promise.reject(new SocketError('EDESTADDRREQ', 'sendto', undefined)) : socket.sendTo(data, path);
    },
    pause: () => socket.pause(),
    close: () => socket.close(),
  };
}

/** Ends serving: requests read here get until `timeout` ms, then are aborted; the counts go to the parent. */
async function stop(timeout: number | undefined): Promise<void> {
  stopping = true;
  shared?.pause();
  const local = [...running].filter(([rid]) => rid < 0).map(([, request]) => request);
  await settleWithin(
    local.map((request) => request.done),
    timeout,
  );
  const late = local.filter((request) => !request.finished);
  for (const request of late) request.controller.abort(new RequestAbortedError());
  if (late.length > 0) {
    await settleWithin(
      late.map((request) => request.done),
      ABORT_GRACE_MS,
    );
  }
  send({ t: 'stopped', completed: local.length - late.length, aborted: late.length }, () => {
    stopReported = true;
    maybeExit();
  });
}

process.on('message', (message: ToWorker, handle?: unknown) => {
  switch (message.t) {
    case 'stream':
      send({ t: 'took', rid: message.rid });
      // allowHalfOpen: a peer that half-closes after its request still gets its reply.
      void handleStream(message.rid, new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts), message.clientAddress);
      break;
    case 'datagram': {
      const { packet, rid, clientAddress } = message;
      const bytes = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
      if (message.own === true && shared !== undefined) {
        void handleShared(rid, bytes, clientAddress).then((error) => finish(rid, error));
      } else {
        void handleDatagram(rid, bytes, clientAddress);
      }
      break;
    }
    case 'packet': {
      const { packet } = message;
      receive(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), message.clientAddress);
      break;
    }
    case 'share':
      shareUdp(handle as dgram.Socket);
      break;
    case 'lend':
      if (shared !== undefined && process.connected) {
        process.send!({ t: 'lent', id: message.id } satisfies FromWorker, shared.socket as dgram.Socket, {}, () => {});
      }
      break;
    case 'events':
      requestEvents = message.wanted;
      break;
    case 'reported': {
      const resolve = reported.get(message.rid);
      reported.delete(message.rid);
      resolve?.();
      break;
    }
    case 'abort': {
      // An abort also ends a wait for the parent's report.
      reported.get(message.rid)?.();
      reported.delete(message.rid);
      const request = running.get(message.rid);
      request?.controller.abort(new RequestAbortedError());
      request?.socket?.destroy();
      break;
    }
    case 'stop':
      void stop(message.timeout);
      break;
  }
});

await watching;
if (sharing?.kind === 'unix' && sharing.fd !== undefined) {
  try {
    await shareUnix(sharing.fd);
  } catch (error) {
    send({ t: 'fail', error: toWire(error) }, () => process.exit(1));
    await new Promise(() => {});
  }
}
send({ t: 'ready' });
