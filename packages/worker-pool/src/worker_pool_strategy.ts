/**
 * `WorkerPoolStrategy`: requests run in a pool of preforked worker processes, on all cores.
 *
 * @module
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  ErrorCodes,
  InvalidArgumentError,
  ServerInWorkerError,
  TLSHandshakeError,
  WorkerCrashedError,
  WorkerStartError,
  type CloseReport,
  type ConcurrencyStrategy,
  type RequestJob,
  type ServerCloseOptions,
  type StrategyHost,
} from '@sockserve/core';
import { kDatagramReply, kProxy, poolWorker, refuseWhileLoadingHandlerModule, stopReading, type DatagramReply } from '@sockserve/core/internal';
import type { Logger } from 'pino';
import { ABORT_GRACE_MS, CONFIG_ENV, encodeTlsSetup, fromWire, type FromWorker, type ToWorker, type WorkerConfig } from './_protocol.js';
import { SharedMode, type SharingWorker } from './_shared_sockets.js';

/**
 * Options of {@link WorkerPoolStrategy}.
 *
 * @example
 * ```ts
 * const options: WorkerPoolStrategyOptions = { module: import.meta.url, workers: 4 };
 * ```
 */
export interface WorkerPoolStrategyOptions {
  /**
   * The URL (or path) of the module that exports the handler class, usually `import.meta.url`
   * of the module that defines it. Workers import it; it must be plain JavaScript (compiled).
   */
  module: string | URL;
  /** How many workers. Default: `os.availableParallelism()`. */
  workers?: number;
  /** The name the module exports the handler class under. Default: the class's own name. */
  exportName?: string;
  /** ms a worker may take to load the module and report ready. Default: 10000. */
  startTimeout?: number;
  /** ms `serverClose()` waits for workers to exit before killing them. Default: 2000. */
  stopTimeout?: number;
  /**
   * How datagram servers (UDP, Unix datagram) feed workers. Stream servers ignore it.
   *
   * - `'relay'` (default): the server receives each datagram, runs `verifyRequest()`, fires
   *   `'request'`, and sends the bytes to a worker; the reply comes back and the server sends it.
   *   Every server hook and event works as under the other strategies; the parent process does
   *   the socket work for all workers.
   * - `'shared'`: every worker reads the server's socket itself and replies through it (UDP
   *   workers receive the bound socket as a handle, Unix datagram workers inherit its
   *   descriptor), so the parent is off the datagram path. The server never sees the datagrams:
   *   overriding `verifyRequest()` is refused at `listen()`; `'request'` events arrive batched
   *   (only while someone listens); failures still reach `handleError()` and `'requestError'`,
   *   drops reach `'dropped'`, and `serverClose()` counts and aborts the workers' requests. Workers
   *   read from `listen()` until `serverClose()`, whether or not `serveForever()` runs, so
   *   `handleRequest()` does not apply. When a worker crashes, the datagrams it was handling are
   *   lost without a report (it is logged); its replacement reads the same socket.
   */
  datagrams?: 'relay' | 'shared';
  /**
   * How stream servers (TCP, Unix stream) feed workers. Datagram servers ignore it.
   *
   * - `'handoff'` (default): the server accepts each connection, runs `verifyRequest()`, fires
   *   `'request'`, and hands the connection to the least busy worker (no byte is read in the
   *   parent). Every server hook and event works as under the other strategies, and the load is
   *   balanced by requests in flight; each connection costs a handoff between processes.
   * - `'shared'`: every worker accepts on the server's listener itself (it receives the listening
   *   socket as a handle), so a connection costs no handoff and the parent is off the connection
   *   path. The kernel decides which worker accepts a connection, not the number of requests in
   *   flight: on Linux a busy worker can take more than its share. The server never sees the
   *   connections: overriding `verifyRequest()` is refused at `listen()`; `'request'` events arrive
   *   batched (only while someone listens); failures still reach `handleError()` and
   *   `'requestError'` (with a socket that is not connected: the connection lives in the worker),
   *   and `serverClose()` counts and aborts the workers' requests. Workers accept from `listen()`
   *   until `serverClose()`, whether or not `serveForever()` runs, so `handleRequest()` does not
   *   apply. When a worker crashes, its connections are lost without a report (it is logged); its
   *   replacement accepts on the same listener.
   */
  connections?: 'handoff' | 'shared';
}

/** A request handed to a worker, until the worker says it is done. */
interface Pending {
  job: RequestJob;
  resolve(): void;
}

/** One worker process, as the parent sees it. */
interface PoolWorker extends SharingWorker {
  ready: boolean;
  /** Requests handed to it, by id. */
  pending: Map<number, Pending>;
  exited: Promise<void>;
  /** Takes the worker's stop report (shared mode). */
  stopped?: (report: CloseReport) => void;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * Runs requests in a pool of preforked worker processes, so CPU-heavy handlers use every core.
 * The same handler class works here as under the other strategies: workers import it from
 * `module` by name.
 *
 * How requests reach workers: a stream connection (TCP, Unix stream) is accepted paused by the
 * server, verified with the server's `verifyRequest()`, then handed to the least busy worker with
 * its socket (no byte is read in the parent), and the worker runs the handler and ends the
 * connection gracefully; with `connections: 'shared'`, workers accept on the server's listener
 * themselves, which saves the handoff per connection (see the option for what that gives up). A datagram (UDP, Unix datagram) is, by default, received and verified
 * by the server and sent to a worker with its bytes; the reply the handler wrote comes back and
 * the server sends it. With `datagrams: 'shared'`, workers read the server's socket themselves
 * and reply through it, which takes the parent off the datagram path (see the option for what
 * that gives up).
 *
 * In workers, `this.server` is the worker's own server (fed by the parent), not the server
 * subclass: rely on `serverAddress` (the parent's), `log` and `shutdown()` (which stops the
 * parent's `serveForever()`). The server subclass's `verifyRequest()` and
 * `handleError()` run in the parent (`handleError()` receives an error rebuilt with the worker's
 * name, message, stack and `code`), and events fire in the parent. Overrides of
 * `processRequest()`, `finishRequest()`, `shutdownRequest()` and `closeRequest()` do not run in
 * workers. Workers log through pino to the parent's logger, with a `worker` binding.
 *
 * A worker that crashes is replaced (with backoff when it keeps crashing); its in-flight requests
 * reach `handleError()` with `WorkerCrashedError`, and serving goes on. Workers exit when the
 * parent does, even when the parent is killed with SIGKILL while a handler is stuck in a loop.
 *
 * @example
 * ```ts
 * // handlers.js
 * export class HashHandler extends StreamRequestHandler {
 *   async handle() {
 *     const data = await this.rfile.readExactly(1024 * 1024);
 *     await this.wfile.write(createHash('sha256').update(data).digest('hex'));
 *   }
 * }
 *
 * // main.js
 * const server = new TCPServer({ host: '::', port: 8000 }, HashHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: new URL('./handlers.js', import.meta.url) }),
 * });
 *
 * // Many short connections: every worker accepts on the listener itself.
 * const shortLived = new TCPServer({ host: '::', port: 8001 }, HashHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: new URL('./handlers.js', import.meta.url), connections: 'shared' }),
 * });
 *
 * // Datagrams: every worker reads the UDP socket itself.
 * const udp = new UDPServer({ host: '::', port: 8000 }, HashDatagramHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: new URL('./handlers.js', import.meta.url), datagrams: 'shared' }),
 * });
 * ```
 */
export class WorkerPoolStrategy implements ConcurrencyStrategy {
  readonly name: string = 'worker-pool';
  /** Requests run in the workers, which get each connection as accepted (TLS handshakes run there). */
  readonly separateProcesses = true;
  /** How many workers the pool keeps running. */
  readonly workers: number;
  readonly #module: string;
  readonly #exportName: string | undefined;
  readonly #startTimeout: number;
  readonly #stopTimeout: number;
  readonly #datagrams: 'relay' | 'shared';
  readonly #connections: 'handoff' | 'shared';
  /** The server, from open() on. */
  #server: StrategyHost | undefined;
  #log: Logger | undefined;
  /** Set when workers read the server's datagram socket, or accept on its listener, themselves. */
  #shared: SharedMode | undefined;
  #pool: PoolWorker[] = [];
  /** Jobs waiting for a ready worker (all are restarting). */
  readonly #waiting: Array<() => void> = [];
  #nextWorker = 1;
  #nextRequest = 1;
  #cursor = 0;
  #closing = false;
  #backoff = 100;
  #lastCrash = 0;

  constructor(options: WorkerPoolStrategyOptions) {
    refuseWhileLoadingHandlerModule('a WorkerPoolStrategy');
    const inWorker = poolWorker();
    if (inWorker !== undefined) {
      throw new ServerInWorkerError(
        `A WorkerPoolStrategy cannot be created inside pool worker ${inWorker.id}: pools do not nest. Handlers run in the workers of the parent's pool already`,
      );
    }
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`Expected options with a \`module\`, got \`${String(options)}\``);
    }
    const {
      module,
      workers = availableParallelism(),
      exportName,
      startTimeout = 10_000,
      stopTimeout = 2_000,
      datagrams = 'relay',
      connections = 'handoff',
    } = options;
    if (datagrams !== 'relay' && datagrams !== 'shared') {
      throw new InvalidArgumentError(`Expected \`datagrams\` to be 'relay' or 'shared', got \`${String(datagrams)}\``);
    }
    if (connections !== 'handoff' && connections !== 'shared') {
      throw new InvalidArgumentError(`Expected \`connections\` to be 'handoff' or 'shared', got \`${String(connections)}\``);
    }
    if (!(typeof module === 'string' || module instanceof URL) || String(module).length === 0) {
      throw new InvalidArgumentError(
        `Expected \`module\` to be the URL of the module that exports the handler class (usually import.meta.url), got \`${String(module)}\``,
      );
    }
    if (!(Number.isInteger(workers) && workers >= 1)) {
      throw new InvalidArgumentError(`Expected \`workers\` to be an integer from 1 and up, got \`${String(workers)}\``);
    }
    const url = String(module);
    this.#module = url.startsWith('file:') || url.includes('://') ? url : new URL(`file://${url}`).href;
    this.workers = workers;
    this.#exportName = exportName;
    this.#startTimeout = startTimeout;
    this.#stopTimeout = stopTimeout;
    this.#datagrams = datagrams;
    this.#connections = connections;
  }

  /** Requests in flight in workers. */
  get running(): number {
    return this.#pool.reduce((n, worker) => n + worker.pending.size, 0);
  }

  /**
   * The pool's counters, for `server.stats()`: workers running, workers restarted after a crash,
   * requests running in workers now.
   *
   * @example
   * ```ts
   * const { workers, restarts } = server.stats().strategy!;
   * ```
   */
  stats(): { workers: number; restarts: number; running: number } {
    return { workers: this.#pool.length, restarts: this.#restarts, running: this.running };
  }

  #restarts = 0;

  /** Process ids of the workers (for monitoring). */
  get pids(): number[] {
    return this.#pool.map((worker) => worker.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  async open(server: StrategyHost): Promise<void> {
    if (this.#exportName === undefined && server.RequestHandlerClass.name === '') {
      throw new InvalidArgumentError(
        "The handler class has no name, so workers cannot find it in `module`: export it from the module and pass WorkerPoolStrategy the name it is exported under as `exportName` (for example `exportName: 'default'` for an anonymous default export)",
      );
    }
    this.#server = server;
    this.#log = server.log;
    const datagramShare = server.requests === 'datagram' && this.#datagrams === 'shared' ? server.shareSocket() : undefined;
    const listenerShare = server.requests === 'stream' && this.#connections === 'shared' ? server.shareListener() : undefined;
    const shared = datagramShare !== undefined ? { requests: 'datagram' as const, share: datagramShare } : listenerShare !== undefined ? { requests: 'stream' as const, share: listenerShare } : undefined;
    if (shared !== undefined) {
      if (server.overrides('verifyRequest')) {
        const [what, option] = shared.requests === 'datagram' ? ['read datagrams', "datagrams: 'relay'"] : ['accept connections', "connections: 'handoff'"];
        throw new InvalidArgumentError(
          `The server overrides verifyRequest(), which cannot run when workers ${what} themselves: use WorkerPoolStrategy({ ${option} }), or check requests in the handler`,
        );
      }
      this.#shared = new SharedMode(shared, server, server.log, (message) => {
        for (const worker of this.#pool) this.#send(worker, message);
      });
    }
    if (server.tls !== undefined) {
      if (typeof server.tls.current().tls.SNICallback === 'function') {
        throw new InvalidArgumentError(
          'The TLS server has an SNICallback, which cannot run in workers (handshakes run there): give the certificates per name as `sni` instead',
        );
      }
      server.tls.watch((setup) => {
        for (const worker of this.#pool) this.#send(worker, { type: 'tls-setup', setup: encodeTlsSetup(setup) });
      });
    }
    const started = Array.from({ length: this.workers }, () => this.#spawn());
    try {
      await Promise.all(started.map((worker) => this.#whenReady(worker)));
      await this.#shared?.start(started);
    } catch (error) {
      this.#closing = true;
      await Promise.all(this.#pool.map((worker) => this.#kill(worker)));
      throw error;
    }
  }

  async schedule(job: RequestJob): Promise<void> {
    if (job.signal.aborted) return;
    const worker = await this.#pick();
    if (worker === undefined || job.signal.aborted) return;
    const id = this.#nextRequest++;
    await new Promise<void>((resolve) => {
      worker.pending.set(id, { job, resolve });
      const onAbort = (): void => this.#send(worker, { type: 'abort', id });
      job.signal.addEventListener('abort', onAbort, { once: true });
      const { request, clientAddress } = job;
      const handed = (error: Error | null): void => {
        if (error !== null && worker.pending.delete(id)) {
          job.signal.removeEventListener('abort', onAbort);
          void job.fail(new WorkerCrashedError(`Could not hand the request to worker ${worker.id}: ${error.message}`)).then(resolve);
        }
      };
      if (request instanceof net.Socket) {
        // The connection's raw handle travels, not the socket: Node then neither tracks it for the
        // listener (whose close() would wait on dead workers) nor holds it until an acknowledgement
        // that a worker dying mid-handoff never sends. The parent owns its descriptor until the
        // worker says it took the connection, and closes it if the worker dies first.
        const handle = (request as unknown as { _handle?: net.Socket | null })._handle;
        if (handle == null) {
          worker.pending.delete(id);
          job.signal.removeEventListener('abort', onAbort);
          resolve(); // closed before the handoff: the server settles it
          return;
        }
        // Bytes read past a PROXY protocol header travel with the handoff, and so does the header.
        const head = takeBuffered(request);
        const proxy = (request as unknown as Record<symbol, unknown>)[kProxy];
        worker.child.send(
          { type: 'handle-connection', id, clientAddress, ...(head === undefined ? {} : { head }), ...(proxy === undefined ? {} : { proxy }) } satisfies ToWorker,
          handle,
          undefined,
          handed,
        );
      } else if (Array.isArray(request) && Buffer.isBuffer(request[0])) {
        // Shared mode: the server's socket may be closed by now, so the worker replies itself.
        const replyHere = this.#shared !== undefined;
        worker.child.send({ type: 'handle-datagram', id, clientAddress, packet: request[0], replyHere } satisfies ToWorker, undefined, {}, handed);
      } else {
        worker.pending.delete(id);
        void job
          .fail(new InvalidArgumentError('WorkerPoolStrategy runs requests of stream and datagram servers only'))
          .then(resolve);
      }
    });
  }

  async close(options: ServerCloseOptions = {}): Promise<CloseReport> {
    this.#closing = true;
    for (const wake of this.#waiting.splice(0)) wake();
    this.#shared?.close();
    const { timeout } = options;
    // Relayed and stream requests are done by now (the server waited for them); requests that
    // workers read themselves get the rest of the deadline, then a second to take their abort.
    const grace = this.#shared !== undefined ? (timeout === undefined ? undefined : timeout + ABORT_GRACE_MS + this.#stopTimeout) : this.#stopTimeout;
    const report = { completed: 0, aborted: 0 };
    await Promise.all(
      this.#pool.map(async (worker) => {
        worker.stopped = ({ completed, aborted }) => {
          report.completed += completed;
          report.aborted += aborted;
        };
        this.#send(worker, { type: 'stop', ...(timeout === undefined ? {} : { timeout }) });
        const timer = grace === undefined ? undefined : setTimeout(() => worker.child.kill('SIGKILL'), grace);
        await worker.exited;
        clearTimeout(timer);
      }),
    );
    this.#pool = [];
    if (report.aborted > 0) this.#log?.warn({ aborted: report.aborted }, `Aborted ${report.aborted} request(s) in workers at the close deadline`);
    return report;
  }

  // ---------------------------------------------------------------------------------------------

  #spawn(): PoolWorker {
    const server = this.#server!;
    const id = this.#nextWorker++;
    const config: WorkerConfig = {
      id,
      module: this.#module,
      exportName: this.#exportName ?? server.RequestHandlerClass.name,
      kind: server.requests === 'datagram' ? 'datagram' : 'stream',
      serverAddress: server.serverAddress,
      level: server.log.level,
      lingerTimeout: server.lingerTimeout ?? 0,
      ...this.#shared?.config(),
      ...(server.tls === undefined
        ? {}
        : { tls: { setup: encodeTlsSetup(server.tls.current()), maxHandshakes: server.tls.maxHandshakes } }),
    };
    const entry = fileURLToPath(new URL('../dist/worker.js', import.meta.url));
    const child = fork(entry, [], {
      serialization: 'advanced',
      execArgv: [],
      env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config) },
      stdio: this.#shared?.stdio() ?? ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: PoolWorker = {
      id,
      child,
      ready: false,
      sharing: false,
      pending: new Map(),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    child.on('message', (message: FromWorker, handle?: unknown) => this.#onMessage(worker, message, handle));
    child.on('error', (error) => this.#log?.warn({ err: error, worker: id }, 'Worker process error'));
    child.once('exit', (code, signal) => this.#onExit(worker, code, signal));
    this.#pool.push(worker);
    return worker;
  }

  #whenReady(worker: PoolWorker): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new WorkerStartError(`Worker ${worker.id} did not report ready within ${this.#startTimeout} ms`)),
        this.#startTimeout,
      );
      const onMessage = (message: FromWorker): void => {
        if (message.type === 'ready') {
          cleanup();
          resolve();
        } else if (message.type === 'load-failed') {
          cleanup();
          const { error } = message;
          reject(
            // The handler module starts a server at its top level: the error itself says what to do.
            error.code === ErrorCodes.SERVER_IN_WORKER
              ? new ServerInWorkerError(error.message)
              : new WorkerStartError(`Worker ${worker.id} could not load the handler: ${error.message}`, {
                  cause: fromWire(error, worker.id),
                }),
          );
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new WorkerStartError(`Worker ${worker.id} exited with code ${code} before it was ready`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.child.off('message', onMessage);
        worker.child.off('exit', onExit);
      };
      worker.child.on('message', onMessage);
      worker.child.once('exit', onExit);
    });
  }

  /** The ready worker with the fewest requests in flight (round-robin among equals). */
  async #pick(): Promise<PoolWorker | undefined> {
    for (;;) {
      if (this.#closing && this.#pool.every((worker) => !worker.ready)) return undefined;
      let best: PoolWorker | undefined;
      const count = this.#pool.length;
      for (let i = 0; i < count; i++) {
        const worker = this.#pool[(this.#cursor + i) % count]!;
        if (
          worker.ready &&
          (this.#shared === undefined || worker.sharing) &&
          worker.child.connected &&
          (best === undefined || worker.pending.size < best.pending.size)
        ) {
          best = worker;
        }
      }
      if (best !== undefined) {
        this.#cursor = (this.#pool.indexOf(best) + 1) % count;
        return best;
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  #send(worker: PoolWorker, message: ToWorker): void {
    if (worker.child.connected) worker.child.send(message, undefined, {}, () => {});
  }

  #onMessage(worker: PoolWorker, message: FromWorker, handle?: unknown): void {
    if (this.#shared?.onMessage(worker, message, handle) === true) return;
    switch (message.type) {
      case 'ready':
        worker.ready = true;
        this.#shared?.readyToRead(worker);
        for (const wake of this.#waiting.splice(0)) wake();
        break;
      case 'took-connection': {
        // The worker has its own descriptor now; release the parent's (no reset: it never read).
        const request = worker.pending.get(message.id)?.job.request;
        if (request instanceof net.Socket) request.destroy();
        break;
      }
      case 'request-failed': {
        // The request's handler failed; the worker holds a connection open until we answer.
        const { id } = message;
        const pending = worker.pending.get(id);
        const reported = (): void => this.#send(worker, { type: 'error-reported', id });
        if (pending === undefined) reported();
        else void pending.job.fail(fromWire(message.error, worker.id)).then(reported);
        break;
      }
      case 'request-done': {
        const pending = worker.pending.get(message.id);
        if (pending === undefined) return;
        worker.pending.delete(message.id);
        const { job, resolve } = pending;
        if (message.reply !== undefined && Array.isArray(job.request)) {
          const reply = Buffer.from(message.reply.buffer, message.reply.byteOffset, message.reply.byteLength);
          (job.request as unknown as Record<typeof kDatagramReply, DatagramReply>)[kDatagramReply] = { contents: () => reply };
        }
        if (message.error === undefined) resolve();
        else void job.fail(fromWire(message.error, worker.id)).then(resolve);
        break;
      }
      case 'stopped':
        worker.stopped?.({ completed: message.completed, aborted: message.aborted });
        break;
      case 'log':
        this.#relayLog(message.line);
        break;
      case 'shutdown':
        void this.#server?.shutdown();
        break;
      case 'dropped': {
        const { reason, clientAddress, size } = message;
        this.#server?.remote.dropped({ reason, clientAddress, size }, message.message);
        break;
      }
      case 'tls-client-error': {
        const cause = message.cause === undefined ? undefined : fromWire(message.cause, worker.id);
        const error = new TLSHandshakeError(message.error.message, message.reason, cause === undefined ? undefined : { cause });
        this.#server?.remote.tlsClientError(error, message.clientAddress);
        break;
      }
      default:
        break; // 'load-failed' is handled by #whenReady
    }
  }

  /** Writes a worker's log record through the parent's logger, at its level. */
  #relayLog(line: string): void {
    const log = this.#log;
    if (log === undefined) return;
    try {
      const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const label = log.levels.labels[level as number] ?? 'info';
      (log as unknown as Record<string, (object: object, message?: unknown) => void>)[label]?.(fields, msg);
    } catch {
      log.warn({ line }, 'Unreadable log line from a worker');
    }
  }

  #onExit(worker: PoolWorker, code: number | null, signal: NodeJS.Signals | null): void {
    this.#pool = this.#pool.filter((other) => other !== worker);
    const lost = [...worker.pending.values()];
    worker.pending.clear();
    for (const { job, resolve } of lost) {
      void job
        .fail(new WorkerCrashedError(`Worker ${worker.id} exited (${signal ?? `code ${code}`}) while handling this request`))
        .then(resolve);
    }
    if (this.#closing || !worker.ready) return;
    this.#log?.error(
      { worker: worker.id, code, signal, lost: lost.length },
      worker.sharing
        ? `Worker ${worker.id} exited unexpectedly; the ${this.#shared?.shared.requests === 'stream' ? 'connections it had accepted' : 'datagrams it had read'} itself are lost; replacing it`
        : `Worker ${worker.id} exited unexpectedly; replacing it`,
    );
    const now = Date.now();
    this.#backoff = now - this.#lastCrash > 10_000 ? 100 : Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    this.#lastCrash = now;
    if (this.#backoff >= MAX_BACKOFF_MS) this.#log?.error({ backoff: this.#backoff }, 'Workers keep crashing; restarting them slowly');
    const timer = setTimeout(() => {
      if (this.#closing) return;
      this.#restarts++;
      const replacement = this.#spawn();
      this.#whenReady(replacement)
        .then(() => this.#shared?.replaced(replacement, this.#pool, () => this.#closing))
        .catch((error: unknown) => {
          this.#log?.error({ err: error }, 'A replacement worker failed to start');
          void this.#kill(replacement);
        });
    }, this.#backoff);
    timer.unref();
  }

  async #kill(worker: PoolWorker): Promise<void> {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
}

/**
 * What the socket has read and not delivered (bytes past a PROXY protocol header), taken out of
 * it; `undefined` when nothing. The socket stops reading again at once: nothing more may be read
 * in this process before the worker has the connection.
 */
function takeBuffered(socket: net.Socket): Buffer | undefined {
  if (socket.readableLength === 0) return undefined;
  const chunks: Buffer[] = [];
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) chunks.push(chunk);
  stopReading(socket);
  return chunks.length === 0 ? undefined : Buffer.concat(chunks);
}
