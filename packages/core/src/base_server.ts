/**
 * `BaseServer`: the server lifecycle, written once for every transport.
 *
 * In the spirit of `socketserver.py`'s docstring, the class at a glance:
 *
 * For callers (the public lifecycle):
 *   listen()            bind; idempotent
 *   serveForever()      dispatch requests as they arrive, until shutdown()
 *   serveUntilSignal()  serveForever(), then serverClose() on SIGINT/SIGTERM
 *   handleRequest()     take exactly one request
 *   shutdown()          stop serveForever()
 *   serverClose()       stop accepting, drain within a deadline, abort the rest, report
 *
 * To override (hooks, each sync or async):
 *   verifyRequest(request, client)      -> boolean: false refuses the request
 *   processRequest(request, client)     hands the request to the strategy
 *   finishRequest(request, client)      creates the handler and runs setup/handle/finish
 *   handleError(request, client, error) every failure, before the request is closed
 *   shutdownRequest(request)            the graceful end of a request; calls closeRequest()
 *   closeRequest(request)               releases the request
 *   serviceActions()                    after each request
 *   handleTimeout()                     handleRequest() waited `timeout` ms in vain
 *
 * For transport authors (see docs/transports.md): implement `serverAddress`, `_bind()`,
 * `_unbind()`, `_destroyRequest()` (and optionally `_stopAccepting()`, `_closeLingering()`,
 * `_requestClosed()`); call `_accept()` for each request, and `_dropped()`, `_requestError()`,
 * `_lateRequestError()`, `_serverError()` as things happen.
 *
 * A request's path (verify, process, run, report, shut down, forget) is in `_request_path.ts`;
 * requests waiting for a loop are in `_accept_queue.ts`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import { deferred, settleWithin, type Deferred } from './_promises.js';
import { AcceptQueue } from './_accept_queue.js';
import { peerErrorLevel } from './_peer_errors.js';
import { formatAddress } from './address.js';
import { InvalidArgumentError, ServerClosedError, type TLSHandshakeError } from './errors.js';
import { EventLoopStrategy } from './event_loop_strategy.js';
import { connectionDropped, tlsClientError as tlsClientErrorChannel } from './_channels.js';
import { createLogger, type LoggerOption } from './logger.js';
import { refuseWhileLoadingHandlerModule } from './pool_worker.js';
import { RequestPath, RequestRecord } from './_request_path.js';
import { kRequestContext, type RequestContext, type RequestContextProvider } from './request_context.js';
import { runHandler } from './run_handler.js';
import type { EventMap, TypedEmitter } from './typed_emitter.js';
import type { ConcurrencyStrategy, RemoteRequests, ServerHook, SharedDatagramSocket, SharedListener, StrategyHost, TlsSetupSource } from './strategy.js';
import type {
  Awaitable,
  ClientAddress,
  CloseReport,
  DropInfo,
  InetAddress,
  RequestHandlerClass,
  ServeUntilSignalOptions,
  ServerCloseOptions,
  ServerEvents,
  ServerStats,
  SignalCloseReport,
} from './types.js';

/**
 * Options every server takes.
 *
 * @example
 * ```ts
 * const options: BaseServerOptions = { concurrency: new SequentialStrategy(), logger: false, timeout: 5_000 };
 * ```
 */
export interface BaseServerOptions {
  /** Where and when requests run. Default: `new EventLoopStrategy()` (unbounded). */
  concurrency?: ConcurrencyStrategy;
  /** A pino logger, or `false` for none. Default: warnings and errors to stderr. */
  logger?: LoggerOption;
  /** For `handleRequest()`: ms to wait for a request before calling `handleTimeout()`. Default: `null` (wait forever). */
  timeout?: number | null;
  /**
   * How many accepted requests may wait while neither `serveForever()` nor `handleRequest()` is
   * taking them (the user-space counterpart of the listen backlog). Beyond it, new connections are
   * closed and a warning is logged. Default: 511.
   */
  maxPendingRequests?: number;
}

function validateTimeout(name: string, value: unknown, nullable: boolean): void {
  if (nullable && value === null) return;
  if (typeof value !== 'number' || !(value >= 0) || Number.isNaN(value)) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a number of milliseconds from 0 and up${nullable ? ' or null' : ''}, got \`${String(value)}\``,
    );
  }
}

const GRACE_AFTER_ABORT_MS = 1_000;
/** At most one log line per drop reason in this many ms; the rest are counted in the next line. */
const DROP_LOG_INTERVAL_MS = 1_000;

type State = 'new' | 'open' | 'closing' | 'closed';

/** `EventEmitter`, typed per event map. */
const TypedEventEmitter = EventEmitter as unknown as new <Events extends EventMap>() => TypedEmitter<Events>;

/**
 * The server lifecycle, written once for every transport: listen, the accept/dispatch path
 * (`verifyRequest` → `processRequest` → strategy → `finishRequest` → `shutdownRequest`),
 * `serveForever`, `handleRequest`, `shutdown` and `serverClose`. Transports subclass it and
 * only bind, accept and close; applications subclass a transport to override hooks.
 *
 * Every hook is awaited and may be sync or async. A handler error never escapes: it goes to
 * `handleError()`, the request is closed, and serving goes on.
 *
 * @example
 * ```ts
 * class LocalOnlyServer extends TCPServer {
 *   override verifyRequest(socket: net.Socket, client: InetAddress) {
 *     return client.host === '127.0.0.1';
 *   }
 * }
 * await using server = new LocalOnlyServer({ host: '127.0.0.1', port: 0 }, EchoHandler);
 * void server.serveForever();
 * ```
 */
export abstract class BaseServer<
  Request,
  Address = ClientAddress,
  ServerAddress extends InetAddress | string = InetAddress | string,
>
  extends TypedEventEmitter<ServerEvents<Address>>
  implements RequestContextProvider, AsyncDisposable
{
  /** The handler class; one instance handles each request. */
  readonly RequestHandlerClass: RequestHandlerClass<Request, Address>;
  /** The concurrency strategy. */
  readonly concurrency: ConcurrencyStrategy;
  /** The server's logger. Each request's handler gets a child of it. */
  readonly log: Logger;
  /** For `handleRequest()`: ms to wait for a request before `handleTimeout()`; `null` waits forever. */
  timeout: number | null;

  /** Lifecycle state: never listened, listening, closing, closed. */
  #state: State = 'new';
  /** The listen() in progress or done, so listen() is idempotent. */
  #listening: Promise<void> | undefined;
  /** Settled by shutdown(); set while serveForever() runs. */
  #serve: Deferred<void> | undefined;
  /** serveForever() is dispatching requests as they are accepted. */
  #serving = false;
  /** shutdown() was called while serveForever() was not running: the next one stops at once. */
  #shutdownRequested = false;
  /** Accepted requests nobody is taking yet, and handleRequest() calls waiting for one. */
  readonly #queue: AcceptQueue<Request, Address>;
  /** The path of every request, and the requests in flight. */
  readonly #path: RequestPath<Request, Address>;
  /** serverClose() in progress or done. */
  #closing: Promise<CloseReport> | undefined;

  constructor(RequestHandlerClass: RequestHandlerClass<Request, Address>, options: BaseServerOptions = {}) {
    super();
    refuseWhileLoadingHandlerModule(`a ${new.target.name}`);
    if (typeof RequestHandlerClass !== 'function') {
      throw new InvalidArgumentError(
        `Expected \`RequestHandlerClass\` to be a class, got \`${String(RequestHandlerClass)}\``,
      );
    }
    const { concurrency = new EventLoopStrategy(), logger, timeout = null, maxPendingRequests = 511 } = options;
    validateTimeout('timeout', timeout, true);
    if (!Number.isInteger(maxPendingRequests) || maxPendingRequests < 0) {
      throw new InvalidArgumentError(
        `Expected \`maxPendingRequests\` to be an integer from 0 and up, got \`${String(maxPendingRequests)}\``,
      );
    }
    if (typeof concurrency?.schedule !== 'function') {
      throw new InvalidArgumentError(
        `Expected \`concurrency\` to be a ConcurrencyStrategy (an object with schedule()), got \`${String(concurrency)}\``,
      );
    }
    this.RequestHandlerClass = RequestHandlerClass;
    this.concurrency = concurrency;
    this.log = createLogger(logger);
    this.#path = new RequestPath<Request, Address>(this, {
      destroy: (request) => this._destroyRequest(request),
      closed: (request) => this._requestClosed(request),
      emit: (event, ...args) => this.#emit(event, ...args),
      inline: () => this.finishRequest === defaultFinishRequest,
      tlsClientError: (error, clientAddress) => this._tlsClientError(error, clientAddress),
      self: this,
    });
    this.timeout = timeout;
    this.#queue = new AcceptQueue(maxPendingRequests);
  }

  // ---------------------------------------------------------------------------------------------
  // Transport interface

  /** The address the server is bound to (the requested one before `listen()`). */
  abstract get serverAddress(): ServerAddress;

  /** Binds and listens. Calls {@link BaseServer._accept} for each request from then on. */
  protected abstract _bind(): Promise<void>;

  /**
   * Called first by `serverClose()`: stop taking new requests (a stream listener closes here).
   * Requests that still arrive are refused by the server. Default: nothing.
   */
  protected _stopAccepting(): void {}

  /**
   * Called by `serverClose()` once in-flight requests are done or aborted (and after a failed
   * listen): releases the listener. A datagram socket, which replies go out through, closes here.
   */
  protected abstract _unbind(): Promise<void>;

  /** Closes a request at once, without grace: used to abort and to refuse. */
  protected abstract _destroyRequest(request: Request): void;

  /**
   * Waits, within `deadline` ms, for connections that are lingering after their request
   * completed, then closes them. Transports without lingering have nothing to do.
   */
  protected _closeLingering(_deadline: number | undefined): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Called once a request is over: shut down (or destroyed, when aborted) and forgotten, whether
   * it was handled, refused or failed; not for requests destroyed before dispatch (those get
   * `_destroyRequest()` only). Transports that must know when a request ends override it.
   * Default: nothing.
   */
  protected _requestClosed(_request: Request): void {}

  /** What the requests of this transport are, for strategies. Default: `undefined` (neither). */
  protected get _requestKind(): 'stream' | 'datagram' | undefined {
    return undefined;
  }

  /** Stream transports: ms a connection may linger after its request, for strategies. Default: `undefined`. */
  protected get _lingerTimeout(): number | undefined {
    return undefined;
  }

  /**
   * Datagram transports: lends the bound socket to a strategy that reads it in other processes.
   * Default: `undefined` (nothing to share).
   */
  protected _shareSocket(): SharedDatagramSocket | undefined {
    return undefined;
  }

  /**
   * Stream transports: lends the listening socket to a strategy whose workers accept connections
   * themselves. Default: `undefined` (nothing to share).
   */
  protected _shareListener(): SharedListener | undefined {
    return undefined;
  }

  /** Transports count the bytes of each request as it closes (read from the peer, written to it). */
  protected _countBytes(bytesIn: number, bytesOut: number): void {
    this.#counts.bytesIn += bytesIn;
    this.#counts.bytesOut += bytesOut;
  }

  /** Transports: connections open that are not requests in flight (queued, lingering, in a handshake). Default: 0. */
  protected get _idleConnections(): number {
    return 0;
  }

  /**
   * Counters of the server since it was created: cheap enough to poll every second (a few numbers
   * copied), for a metrics endpoint. Requests that workers accept or read themselves (a pool's
   * `'shared'` modes) are counted by the workers, not here; the pool's own counters are under
   * `strategy`.
   *
   * @example
   * ```ts
   * setInterval(() => {
   *   const { inFlight, requests, failed, dropped } = server.stats();
   *   metrics.gauge('in_flight', inFlight);
   * }, 1_000);
   * ```
   */
  stats(): ServerStats {
    const { requests, failed, aborted } = this.#path.counters;
    const inFlight = this.#path.inFlight.size;
    return {
      inFlight,
      queued: this.#queue.length,
      connections: inFlight + this.#queue.length + this._idleConnections,
      requests,
      failed,
      aborted,
      dropped: { ...this.#counts.dropped },
      tlsClientErrors: this.#counts.tlsClientErrors,
      bytesIn: this.#counts.bytesIn,
      bytesOut: this.#counts.bytesOut,
      ...(typeof this.concurrency.stats === 'function' ? { strategy: this.concurrency.stats() } : {}),
    };
  }

  /** Per drop reason: when a drop was last logged, how many since were not, the summary's timer. */
  readonly #dropLog = new Map<DropInfo<unknown>['reason'], { at: number; suppressed: number; timer: NodeJS.Timeout | undefined }>();
  readonly #counts: { dropped: Partial<Record<DropInfo<unknown>['reason'], number>>; tlsClientErrors: number; bytesIn: number; bytesOut: number } = {
    dropped: {},
    tlsClientErrors: 0,
    bytesIn: 0,
    bytesOut: 0,
  };

  /** Transports call this for every accepted request. */
  protected _accept(request: Request, clientAddress: Address): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      this._destroyRequest(request);
      return;
    }
    if (this.#queue.handOff(request, clientAddress)) return;
    if (this.#serving) {
      void this.#path.dispatch(request, clientAddress);
    } else if (!this.#queue.push(request, clientAddress)) {
      this._dropped(
        { reason: 'backlog', clientAddress, size: 0 },
        `Dropped a request: more than ${this.#queue.max} are waiting for serveForever() or handleRequest()`,
      );
      this._destroyRequest(request);
    }
  }

  /**
   * Aborts one request in flight, as `serverClose()` does past its deadline: its `signal` fires,
   * it is destroyed, and what it raises is not reported. For transports whose requests another
   * process may give up on (a pool worker's server).
   */
  protected _abortRequest(request: Request): void {
    const record = this.#path.inFlight.get(request);
    if (record !== undefined) this.#path.abort(record);
  }

  /**
   * TLS transports call this for a handshake that failed or timed out: logs a warning with the
   * error's code and emits `'tlsClientError'`. Never reaches `handleError()`: no request began.
   */
  protected _tlsClientError(error: TLSHandshakeError, clientAddress: Address): void {
    this.#counts.tlsClientErrors++;
    if (tlsClientErrorChannel.hasSubscribers) tlsClientErrorChannel.publish({ server: this, error, clientAddress });
    const cause = error.cause as { code?: unknown } | undefined;
    this.log.warn(
      { code: typeof cause?.code === 'string' ? cause.code : error.code, reason: error.reason, client: formatAddress(clientAddress) },
      error.message,
    );
    this.#emit('tlsClientError', error, clientAddress);
  }

  /** TLS transports: what handshakes need, for strategies that run them in other processes. Default: `undefined`. */
  protected _tlsSetup(): TlsSetupSource | undefined {
    return undefined;
  }

  /** Transports call this for a request they drop unhandled: logs a warning and emits 'dropped'. */
  protected _dropped(info: DropInfo<Address>, message: string): void {
    this.#counts.dropped[info.reason] = (this.#counts.dropped[info.reason] ?? 0) + 1;
    if (connectionDropped.hasSubscribers) connectionDropped.publish({ server: this, ...info });
    this.#logDrop(info, message);
    this.#emit('dropped', info);
  }

  /**
   * Logs a drop, at most one line per reason per second: a flood of bad datagrams or connections
   * must not become a flood of log lines. Drops not logged are counted, and a line says how many
   * once the second is over. Every drop still counts in `stats()` and fires `'dropped'`.
   */
  #logDrop(info: DropInfo<Address>, message: string): void {
    const now = performance.now();
    const entry = this.#dropLog.get(info.reason);
    if (entry !== undefined && now - entry.at < DROP_LOG_INTERVAL_MS) {
      entry.suppressed++;
      entry.timer ??= setTimeout(() => this.#flushDropLog(info.reason), DROP_LOG_INTERVAL_MS - (now - entry.at)).unref();
      return;
    }
    this.#dropLog.set(info.reason, { at: now, suppressed: 0, timer: undefined });
    this.log.warn({ reason: info.reason, size: info.size, client: info.clientAddress === null ? null : formatAddress(info.clientAddress) }, message);
  }

  /** Logs how many drops of `reason` were not logged, and starts a new second. */
  #flushDropLog(reason: DropInfo<Address>['reason']): void {
    const entry = this.#dropLog.get(reason);
    if (entry === undefined) return;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.suppressed === 0) return;
    this.log.warn({ reason, suppressed: entry.suppressed }, `Dropped ${entry.suppressed} more (${reason}) in the last second; not logged one by one`);
    entry.suppressed = 0;
    entry.at = performance.now();
  }

  /**
   * Transports call this when a request's connection fails outside the handler's own calls (a
   * reset while a reply is in flight, a datagram that cannot be sent). The error goes to
   * `handleError()` once.
   */
  protected _requestError(request: Request, error: unknown): void {
    const record = this.#path.inFlight.get(request);
    if (record === undefined) {
      this.log.debug({ err: error }, 'Connection error outside a request');
      return;
    }
    void this.#path.report(record, error);
  }

  /**
   * Transports call this for a failure that comes after its request closed (a reply sent without
   * waiting for the kernel's answer): `'requestError'` and `handleError()` still get it.
   */
  protected _lateRequestError(request: Request, clientAddress: Address, error: unknown): Promise<void> {
    return this.#path.report(new RequestRecord(request, clientAddress, this.#path), error);
  }

  /** The client address of a request in flight, for transports that reply to it. */
  protected _clientAddressOf(request: Request): Address | undefined {
    return this.#path.inFlight.get(request)?.clientAddress;
  }

  /** Transports call this for errors of the listener itself. */
  protected _serverError(error: Error): void {
    if (this.listenerCount('error') > 0) this.#emit('error', error);
    else this.log.error({ err: error }, `Listener error on ${formatAddress(this.serverAddress)}`);
  }

  /** True once `serverClose()` has been called. */
  protected get _closing(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  // ---------------------------------------------------------------------------------------------
  // Public lifecycle

  /** True while the server is bound and listening. */
  get listening(): boolean {
    return this.#state === 'open';
  }

  /**
   * Binds and listens. Idempotent: later calls return the same promise. Rejects with a
   * `ListenError` whose `code` is the system's (`EADDRINUSE`, `EACCES`, ...), or an
   * `InvalidArgumentError` for a malformed address; a failed listen leaves nothing open and may
   * be retried.
   *
   * @example
   * ```ts
   * await server.listen();
   * console.log(server.serverAddress.port);
   * ```
   */
  listen(): Promise<void> {
    if (this._closing) return Promise.reject(new ServerClosedError());
    this.#listening ??= this.#listen();
    return this.#listening;
  }

  async #listen(): Promise<void> {
    try {
      await this._bind();
      await this.concurrency.open?.(this.#strategyHost());
    } catch (error) {
      this.#listening = undefined;
      await this._unbind().catch(() => {});
      throw error;
    }
    if (this._closing) return;
    this.#state = 'open';
    this.log.debug({ address: formatAddress(this.serverAddress), strategy: this.concurrency.name }, 'Listening');
    this.#emit('listening');
  }

  /**
   * Serves requests until `shutdown()`. Listens first if needed. Resolves when the loop has
   * stopped (in-flight requests may still be running; `serverClose()` waits for them). Calling it
   * while it already runs returns the same promise.
   *
   * @example
   * ```ts
   * const done = server.serveForever();
   * process.once('SIGTERM', () => server.shutdown());
   * await done;
   * await server.serverClose({ timeout: 10_000 });
   * ```
   */
  serveForever(): Promise<void> {
    if (this._closing) return Promise.reject(new ServerClosedError());
    if (this.#serve !== undefined) return this.#serve.promise;
    if (this.#shutdownRequested) {
      // shutdown() came first (as in Python, where the request waits for the loop to start).
      this.#shutdownRequested = false;
      this.#emit('shutdown');
      return Promise.resolve();
    }
    const serve = deferred<void>();
    this.#serve = serve;
    this.listen().then(
      () => {
        if (this.#serve !== serve) return; // shutdown() came first
        this.#serving = true;
        let next;
        while (this.#serving && (next = this.#queue.take()) !== undefined) void this.#path.dispatch(next[0], next[1]);
      },
      (error: unknown) => {
        if (this.#serve === serve) this.#serve = undefined;
        serve.reject(error);
      },
    );
    return serve.promise;
  }

  /**
   * Stops `serveForever()` and resolves once it has stopped. New connections are no longer
   * dispatched (they wait until `handleRequest()`, a new `serveForever()`, or `serverClose()`).
   * Never polls, and is safe to call from inside a handler.
   *
   * Called while `serveForever()` is not running (say, a signal that arrives during `listen()`),
   * it is not forgotten: it resolves at once, and the next `serveForever()` returns at once
   * without serving. (Python's `shutdown()` would block until that next loop ran.)
   *
   * @example
   * ```ts
   * class StopHandler extends StreamRequestHandler {
   *   async handle() { await this.server.shutdown(); }
   * }
   * ```
   */
  async shutdown(): Promise<void> {
    const serve = this.#serve;
    if (serve === undefined) {
      this.#shutdownRequested = !this._closing;
      return;
    }
    this.#serve = undefined;
    this.#serving = false;
    this.#emit('shutdown');
    serve.resolve();
  }

  /**
   * Accepts and handles exactly one request, resolving once its `finish()` has run. Listens first
   * if needed. When `timeout` is set and no request arrives in time, calls `handleTimeout()`
   * instead.
   *
   * @example
   * ```ts
   * server.timeout = 1_000;
   * while (!done) await server.handleRequest();
   * ```
   */
  async handleRequest(): Promise<void> {
    if (this._closing) throw new ServerClosedError();
    await this.listen();
    const next = await this.#queue.next(this.timeout);
    if (next === 'timeout') {
      await this.handleTimeout();
    } else if (next !== undefined) {
      await this.#path.dispatch(next[0], next[1]);
    }
  }

  /**
   * Closes the listener (a Unix server removes its socket path), waits up to `timeout` ms for
   * in-flight requests (no `timeout`: for all of them), then aborts the rest: their `signal`
   * fires and their connections are destroyed. Resolves with a report counting the requests that
   * were in flight when it was called. Also stops `serveForever()`. Idempotent.
   *
   * @example
   * ```ts
   * const report = await server.serverClose({ timeout: 5_000 });
   * console.log(`${report.completed} completed, ${report.aborted} aborted`);
   * ```
   */
  serverClose(options: ServerCloseOptions = {}): Promise<CloseReport> {
    if (options.timeout !== undefined) {
      try {
        validateTimeout('timeout', options.timeout, false);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.#closing ??= this.#close(options.timeout);
    return this.#closing;
  }

  async #close(timeout: number | undefined): Promise<CloseReport> {
    const started = Date.now();
    await this.shutdown();
    this.#state = 'closing';
    for (const [request] of this.#queue.close()) this._destroyRequest(request);
    await this.#listening?.catch(() => {});
    this._stopAccepting();

    const inFlight = this.#path.inFlight;
    const records = [...inFlight.values()];
    await settleWithin(
      records.map((record) => record.done),
      timeout,
    );
    const late = records.filter((record) => inFlight.get(record.request) === record);
    for (const record of late) this.#path.abort(record);
    if (late.length > 0) {
      this.log.warn({ aborted: late.length }, `Aborted ${late.length} request(s) still running at the close deadline`);
      await settleWithin(
        late.map((record) => record.done),
        GRACE_AFTER_ABORT_MS,
      );
    }
    const remaining = (): number | undefined => (timeout === undefined ? undefined : Math.max(0, timeout - (Date.now() - started)));
    await this._closeLingering(remaining());
    await this._unbind().catch((error: unknown) => this.log.warn({ err: error }, 'Closing the listener failed'));
    let elsewhere: CloseReport | void = undefined;
    try {
      const left = remaining();
      elsewhere = await this.concurrency.close?.(left === undefined ? {} : { timeout: left });
    } catch (error) {
      this.log.warn({ err: error }, 'Closing the concurrency strategy failed');
    }
    this.#state = 'closed';
    const report: CloseReport = {
      completed: records.length - late.length + (elsewhere?.completed ?? 0),
      aborted: late.length + (elsewhere?.aborted ?? 0),
    };
    for (const reason of this.#dropLog.keys()) this.#flushDropLog(reason);
    this.#emit('close', report);
    return report;
  }

  /**
   * Serves until SIGINT or SIGTERM (or `shutdown()`), then closes gracefully: stops accepting at
   * once, lets requests in flight finish within `timeout` ms (default 5000), aborts the rest, and
   * resolves with the close report and the signal. The process then exits on its own with code 0,
   * unless something else of the program's keeps it open. A second signal while requests drain
   * exits at once (code 128 + the signal's number), as a second Ctrl-C does in most servers.
   *
   * With `drainDelay`, it goes on serving for that many ms after the signal first, with
   * `draining` true, so that a load balancer takes the server out of rotation before the listener
   * closes (see docs/proxy-protocol.md, "Rolling restarts").
   *
   * Signal listeners are installed only while it runs; other listeners of the program still run.
   *
   * @example
   * ```ts
   * await using server = new TCPServer({ host: '127.0.0.1', port: 9000 }, EchoHandler);
   * const { signal, completed, aborted } = await server.serveUntilSignal({ timeout: 10_000 });
   * console.log(`${signal}: ${completed} requests completed, ${aborted} aborted`);
   * ```
   */
  async serveUntilSignal(options: ServeUntilSignalOptions = {}): Promise<SignalCloseReport> {
    const { signals = ['SIGINT', 'SIGTERM'], timeout = 5_000, drainDelay = 0 } = options;
    validateTimeout('timeout', timeout, false);
    if (!(typeof drainDelay === 'number' && drainDelay >= 0 && Number.isFinite(drainDelay))) {
      throw new InvalidArgumentError(`Expected \`drainDelay\` to be a number of milliseconds from 0 and up, got \`${String(drainDelay)}\``);
    }
    if (!Array.isArray(signals) || signals.some((signal) => typeof signal !== 'string' || !(signal in osConstants.signals))) {
      throw new InvalidArgumentError(`Expected \`signals\` to be an array of signal names such as 'SIGTERM', got \`${String(signals)}\``);
    }
    let received: NodeJS.Signals | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received !== null) {
        this.log.warn({ signal }, `Received ${signal} again while closing: exiting now`);
        process.exit(128 + (osConstants.signals[signal] ?? 0));
      }
      received = signal;
      this.#draining = true;
      this.#emit('draining');
      if (drainDelay === 0) {
        this.log.info({ signal, timeout }, `Received ${signal}: closing; requests in flight get ${timeout} ms to finish`);
        void this.shutdown();
        return;
      }
      // Still serving while load balancers see the drain and stop sending; then close.
      this.log.info({ signal, drainDelay, timeout }, `Received ${signal}: draining for ${drainDelay} ms, then closing; requests in flight then get ${timeout} ms`);
      drainTimer = setTimeout(() => void this.shutdown(), drainDelay);
    };
    let drainTimer: NodeJS.Timeout | undefined;
    for (const signal of signals) process.on(signal, onSignal);
    try {
      await this.serveForever();
      const report = await this.serverClose({ timeout });
      this.log.info(report, `Closed: ${report.completed} request(s) completed, ${report.aborted} aborted`);
      return { ...report, signal: received };
    } finally {
      clearTimeout(drainTimer);
      for (const signal of signals) process.off(signal, onSignal);
    }
  }

  /**
   * True once `serveUntilSignal()` got its signal (the server is about to close): report it to
   * load balancers, in a health or agent check, so that they stop sending new connections.
   *
   * @example
   * ```ts
   * // An HAProxy agent check: "drain" while the server drains, "up" otherwise.
   * class Agent extends StreamRequestHandler {
   *   override async handle() {
   *     await this.wfile.write(app.draining ? 'drain\n' : 'up ready\n');
   *   }
   * }
   * ```
   */
  get draining(): boolean {
    return this.#draining;
  }

  #draining = false;

  /** `shutdown()` and `serverClose()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
    await this.serverClose();
  }

  // ---------------------------------------------------------------------------------------------
  // Overridable hooks, as in socketserver

  /**
   * Decides whether to handle a request. Return `false` to close it without running a handler
   * (`shutdownRequest()` still runs). Default: `true`.
   *
   * @example
   * ```ts
   * override verifyRequest(_socket: net.Socket, client: InetAddress) {
   *   return !blocklist.has(client.host);
   * }
   * ```
   */
  verifyRequest(_request: Request, _clientAddress: Address): Awaitable<boolean> {
    return true;
  }

  /**
   * Hands a verified request to the concurrency strategy and resolves when it is done. Override
   * to wrap every request (timing, tracing); call `super.processRequest()` to keep the strategy.
   *
   * @example
   * ```ts
   * override async processRequest(socket: net.Socket, client: InetAddress) {
   *   const started = performance.now();
   *   await super.processRequest(socket, client);
   *   metrics.observe(performance.now() - started);
   * }
   * ```
   */
  processRequest(request: Request, clientAddress: Address): Promise<void> {
    const record = this.#path.inFlight.get(request) ?? this.#path.track(request, clientAddress);
    return this.concurrency.schedule(record);
  }

  /**
   * Creates the handler and runs `setup()`, then `handle()`, then `finish()` (in `finally`).
   *
   * @example
   * ```ts
   * override async finishRequest(socket: net.Socket, client: InetAddress) {
   *   await using span = tracer.startSpan('request');
   *   await super.finishRequest(socket, client);
   * }
   * ```
   */
  finishRequest(request: Request, clientAddress: Address): Promise<void> {
    // Not async: one suspended frame less per request in flight.
    return runHandler(new this.RequestHandlerClass(request, clientAddress, this));
  }

  /**
   * Called with every error a request raises, before the request is closed. Errors it throws are
   * logged, never propagated. Default: log it, at a level that says whose fault it is:
   *
   * - `info`, with its `code` and no stack: the peer hung up (a reset, a broken pipe, the stream
   *   ended mid-frame: `ECONNRESET`, `EPIPE`, `ECONNABORTED`, `ERR_SOCKSERVE_INCOMPLETE_READ`,
   *   `ERR_SOCKSERVE_CONNECTION_CLOSED`, a datagram peer that is gone). Routine on any network.
   * - `warn`, with its `code` and no stack: the peer misbehaved or stalled (a line over the
   *   limit, a read timeout, `ETIMEDOUT`, a reply to an unbound or stalled datagram peer).
   * - `error`, with its stack: anything else, which is a bug in the handler or the server.
   *
   * @example
   * ```ts
   * override handleError(_socket: net.Socket, client: InetAddress, error: unknown) {
   *   errorTracker.capture(error, { client });
   * }
   * ```
   */
  handleError(_request: Request, clientAddress: Address, error: unknown): Awaitable<void> {
    const message = error instanceof Error ? error.message : String(error);
    const level = peerErrorLevel(error);
    if (level === undefined) {
      this.log.error({ err: error, client: formatAddress(clientAddress) }, `Request failed: ${message}`);
      return;
    }
    const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
    this.log[level](
      { code: (error as { code: string }).code, ...(typeof cause === 'string' ? { cause } : {}), client: formatAddress(clientAddress) },
      `Request ended by the peer: ${message}`,
    );
  }

  /**
   * Called by `handleRequest()` when no request arrived within `timeout`. Default: nothing.
   *
   * @example
   * ```ts
   * override handleTimeout() { this.idleTicks += 1; }
   * ```
   */
  handleTimeout(): Awaitable<void> {}

  /**
   * Called after each dispatched request is done. Default: nothing.
   *
   * @example
   * ```ts
   * override serviceActions() { this.served += 1; }
   * ```
   */
  serviceActions(): Awaitable<void> {}

  /**
   * Ends a request after its handler: transports half-close, let the peer's unread input drain
   * briefly, then call `closeRequest()`. Runs exactly once per request, including refused ones.
   *
   * @example
   * ```ts
   * override async shutdownRequest(socket: net.Socket) {
   *   this.open -= 1;
   *   await super.shutdownRequest(socket);
   * }
   * ```
   */
  shutdownRequest(request: Request): Awaitable<void> {
    return this.closeRequest(request);
  }

  /**
   * Releases a request's resources. Default: nothing; stream transports destroy the socket.
   *
   * @example
   * ```ts
   * override closeRequest(socket: net.Socket) {
   *   connections.delete(socket);
   *   return super.closeRequest(socket);
   * }
   * ```
   */
  closeRequest(_request: Request): Awaitable<void> {}

  // ---------------------------------------------------------------------------------------------
  // What strategies and handlers get

  /** What the strategy sees of this server (see StrategyHost): one object, made at listen(). */
  #strategyHost(): StrategyHost {
    const server = this;
    const base = BaseServer.prototype as unknown as Record<ServerHook, unknown>;
    return {
      get serverAddress() {
        return server.serverAddress;
      },
      log: this.log,
      shutdown: () => this.shutdown(),
      RequestHandlerClass: this.RequestHandlerClass,
      requests: this._requestKind,
      overrides: (hook) => (this as unknown as Record<ServerHook, unknown>)[hook] !== base[hook],
      lingerTimeout: this._lingerTimeout,
      shareSocket: () => this._shareSocket(),
      shareListener: () => this._shareListener(),
      tls: this._tlsSetup(),
      remote: this.#remoteRequests(),
    };
  }

  /** How requests handled in other processes reach this server's events and handleError(). */
  #remoteRequests(): RemoteRequests {
    return {
      watchRequestListeners: (callback) => {
        const check = (event: string | symbol): void => {
          if (event === 'request') queueMicrotask(() => callback(this.listenerCount('request') > 0));
        };
        this.on('newListener' as never, check as never);
        this.on('removeListener' as never, check as never);
        callback(this.listenerCount('request') > 0);
      },
      seen: (clientAddresses) => {
        for (const clientAddress of clientAddresses) this.#emit('request', clientAddress as Address);
      },
      failed: (request, clientAddress, error) => this._lateRequestError(request as Request, clientAddress as Address, error),
      dropped: (info, message) => this._dropped(info as DropInfo<Address>, message),
      tlsClientError: (error, clientAddress) => this._tlsClientError(error, clientAddress as Address),
    };
  }

  /** @internal */
  [kRequestContext](request: unknown): RequestContext | undefined {
    return this.#path.inFlight.get(request as Request);
  }

  /** Emits without letting a throwing listener break the server; nothing when nobody listens. */
  #emit<E extends keyof ServerEvents<Address>>(event: E, ...args: Parameters<ServerEvents<Address>[E]>): void {
    if (this.listenerCount(event) === 0) return;
    try {
      (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      this.log.error({ err: error, event }, `A '${String(event)}' event listener threw`);
    }
  }
}

/** Compared with `this.finishRequest`: when it is not overridden, the server runs handlers inline. */
const defaultFinishRequest = BaseServer.prototype.finishRequest;
