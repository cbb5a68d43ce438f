/**
 * `BaseServer`: the server lifecycle, written once for every transport.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import type * as TypedEmitterModule from 'typed-emitter';
import { InvalidArgumentError, RequestAbortedError, ServerClosedError } from './errors.js';
import { EventLoopStrategy } from './event_loop_strategy.js';
import { createLogger, type LoggerOption } from './logger.js';
import { refuseWhileLoadingHandlerModule } from './pool_worker.js';
import { kRemoteRequests, type ConcurrencyStrategy, type RemoteRequests, type RequestJob } from './strategy.js';
import type { Awaitable, ClientAddress, InetAddress, RequestHandler, RequestHandlerClass } from './types.js';

/**
 * The key under which a server hands a handler its per-request context (`signal`, `log`).
 * Handler base classes use it; applications do not need it.
 *
 * @example
 * ```ts
 * const context = (server as RequestContextProvider)[kRequestContext]?.(request);
 * ```
 */
export const kRequestContext: unique symbol = Symbol.for('sockserve.requestContext') as never;

/**
 * Per-request values a server provides to the handler of that request.
 *
 * @example
 * ```ts
 * const { signal, log } = server[kRequestContext](request) ?? fallback;
 * ```
 */
export interface RequestContext {
  /** Aborted when the server forces the request to end. */
  readonly signal: AbortSignal;
  /** A child logger bound to the client address. */
  readonly log: Logger;
}

/**
 * An object that can hand out {@link RequestContext}s; every `BaseServer` is one.
 *
 * @example
 * ```ts
 * function contextOf(server: object, request: unknown): RequestContext | undefined {
 *   return (server as Partial<RequestContextProvider>)[kRequestContext]?.(request);
 * }
 * ```
 */
export interface RequestContextProvider {
  [kRequestContext](request: unknown): RequestContext | undefined;
}

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

/**
 * What `serverClose()` reports about the requests that were in flight when it was called.
 *
 * @example
 * ```ts
 * const { completed, aborted } = await server.serverClose({ timeout: 5_000 });
 * if (aborted > 0) console.warn(`${aborted} requests were cut off`);
 * ```
 */
export interface CloseReport {
  /** Requests that finished on their own before the deadline. */
  readonly completed: number;
  /** Requests that were still running at the deadline and were aborted. */
  readonly aborted: number;
}

/**
 * Options of `serverClose()`.
 *
 * @example
 * ```ts
 * await server.serverClose({ timeout: 10_000 });
 * ```
 */
export interface ServerCloseOptions {
  /** ms to wait for in-flight requests before aborting them. Default: wait for all of them. */
  timeout?: number;
}

/**
 * Options of `serveUntilSignal()`.
 *
 * @example
 * ```ts
 * await server.serveUntilSignal({ signals: ['SIGTERM'], timeout: 20_000 });
 * ```
 */
export interface ServeUntilSignalOptions {
  /** The signals that stop the server. Default: `['SIGINT', 'SIGTERM']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * ms that requests in flight get to finish after the signal; the rest are then aborted.
   * Default: 5000 (well inside the 10 s that `docker stop` waits before it kills).
   */
  timeout?: number;
}

/**
 * What `serveUntilSignal()` resolves with: the close report, and the signal that stopped the
 * server (`null` when `shutdown()` or `serverClose()` stopped it).
 *
 * @example
 * ```ts
 * const { signal, completed, aborted } = await server.serveUntilSignal();
 * console.log(`stopped by ${signal}: ${completed} completed, ${aborted} aborted`);
 * ```
 */
export interface SignalCloseReport extends CloseReport {
  /** The signal that stopped the server, or `null`. */
  readonly signal: NodeJS.Signals | null;
}

/**
 * Events every server emits.
 *
 * @example
 * ```ts
 * server.on('request', (client) => console.log('request from', client));
 * server.on('close', ({ completed, aborted }) => console.log({ completed, aborted }));
 * ```
 */
export type ServerEvents<Address> = {
  /** The server is bound and listening. */
  listening: () => void;
  /** A request was accepted and is about to be verified and dispatched. */
  request: (clientAddress: Address) => void;
  /** A request failed; the error is also passed to `handleError()`. */
  requestError: (error: unknown, clientAddress: Address) => void;
  /** `shutdown()` stopped `serveForever()`. */
  shutdown: () => void;
  /** `serverClose()` finished. */
  close: (report: CloseReport) => void;
  /** The listener failed after it was listening (accept errors). Logged when nobody listens. */
  error: (error: Error) => void;
  /** A request was dropped before any handler saw it (also logged as a warning). */
  dropped: (info: DropInfo<Address>) => void;
};

/**
 * Why and what a server dropped without handling it.
 *
 * @example
 * ```ts
 * server.on('dropped', ({ reason, size, clientAddress }) => metrics.increment(`dropped.${reason}`));
 * ```
 */
export interface DropInfo<Address> {
  /**
   * `'too-large'`: a datagram above the server's maximum size; `'truncated'`: a datagram that did
   * not fit the receive buffer; `'backlog'`: more requests waiting than `maxPendingRequests`.
   */
  readonly reason: 'too-large' | 'truncated' | 'backlog';
  /** The sender, when known. */
  readonly clientAddress: Address | null;
  /** The size in bytes of what was dropped (0 for connections). */
  readonly size: number;
}

/** What a request record needs from its server: one object per server, not per request. */
interface RecordHost<Request, Address> {
  readonly log: Logger;
  run(record: InFlight<Request, Address>): Promise<void>;
  fail(record: InFlight<Request, Address>, error: unknown): Promise<void>;
  ran(record: InFlight<Request, Address>): Promise<void> | undefined;
}

/**
 * One request from acceptance until it is closed. It is also the job handed to the strategy:
 * methods on the prototype, so a request costs one object, not a handful of closures.
 */
class InFlight<Request, Address> implements RequestContext, RequestJob<Request, Address> {
  /** Created on first use of `signal`: most requests never look at it. */
  #controller: AbortController | undefined;
  /** The server gave up on this request; `reason` says why. */
  aborted = false;
  #reason: unknown;
  /** The request is done (closed, or handed to the transport to linger). */
  finished = false;
  #done: Deferred<void> | undefined;
  /** shutdownRequest() has been called. */
  shut = false;
  /** What run() returned: when processRequest() returns this very promise, the job settles. */
  running: Promise<void> | undefined = undefined;
  /** The job settles the request itself when it finishes (see #process). */
  settleOnRun = false;
  /** The last error reported to handleError, to report each error once. */
  reported: unknown = undefined;
  #log: Logger | undefined;

  constructor(
    readonly request: Request,
    readonly clientAddress: Address,
    readonly host: RecordHost<Request, Address>,
  ) {}

  run(): Promise<void> {
    return this.host.run(this);
  }

  fail(error: unknown): Promise<void> {
    return this.host.fail(this, error);
  }

  /** The handler's lifecycle completed (see runLifecycle). */
  complete(): Promise<void> | undefined {
    return this.host.ran(this);
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Settles when the request is done; created only when someone waits (serverClose). */
  get done(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return (this.#done ??= deferred<void>()).promise;
  }

  finish(): void {
    this.finished = true;
    this.#done?.resolve();
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  get log(): Logger {
    return (this.#log ??= this.host.log.child({ client: formatAddress(this.clientAddress) }));
  }
}

/**
 * Runs a handler's lifecycle: `setup()`, then `handle()`, then `finish()` in `finally` (skipped
 * when `setup()` throws), awaiting only what returns a promise. Servers and pool workers use it.
 *
 * @example
 * ```ts
 * await runHandler(new EchoHandler(socket, clientAddress, server));
 * ```
 */
export function runHandler(handler: RequestHandler): Promise<void> {
  return runLifecycle(handler, undefined);
}

/** Where a handler's lifecycle ends: the server's job goes on from here without another reaction. */
interface LifecycleEnd {
  /** The lifecycle completed; the lifecycle's promise settles with the result. */
  complete(): unknown;
  /** A hook threw or rejected with `error`. */
  fail(error: unknown): unknown;
}

/**
 * `setup()`, then `handle()`, then `finish()` whether it failed or not (skipped when `setup()`
 * fails), like `try { handle } finally { finish }`: written with promise callbacks rather than as
 * an async function, so a handler waiting in `handle()` holds one reaction here and no suspended
 * frame. Without `end`, the promise rejects with the error; with it, `end` takes the outcome.
 */
function runLifecycle(handler: RequestHandler, end: LifecycleEnd | undefined): Promise<void> {
  let setup: unknown;
  try {
    setup = handler.setup?.();
  } catch (error) {
    return conclude(end, true, error);
  }
  if (isPromise(setup)) {
    return Promise.resolve(setup).then(
      () => handleThenFinish(handler, end),
      (error: unknown) => conclude(end, true, error),
    );
  }
  return handleThenFinish(handler, end);
}

function handleThenFinish(handler: RequestHandler, end: LifecycleEnd | undefined): Promise<void> {
  let handled: unknown;
  try {
    handled = handler.handle();
  } catch (error) {
    return finishAfter(handler, end, true, error);
  }
  if (!isPromise(handled)) return finishAfter(handler, end, false, undefined);
  return Promise.resolve(handled).then(
    () => finishAfter(handler, end, false, undefined),
    (error: unknown) => finishAfter(handler, end, true, error),
  );
}

/** Runs `finish()`, then concludes with the error of `handle()`, if any; an error of `finish()` wins. */
function finishAfter(handler: RequestHandler, end: LifecycleEnd | undefined, failed: boolean, error: unknown): Promise<void> {
  let finished: unknown;
  try {
    finished = handler.finish?.();
  } catch (finishError) {
    return conclude(end, true, finishError);
  }
  if (!isPromise(finished)) return conclude(end, failed, error);
  return Promise.resolve(finished).then(
    () => conclude(end, failed, error),
    (finishError: unknown) => conclude(end, true, finishError),
  );
}

function conclude(end: LifecycleEnd | undefined, failed: boolean, error: unknown): Promise<void> {
  if (end === undefined) return failed ? Promise.reject(error) : Promise.resolve();
  return Promise.resolve((failed ? end.fail(error) : end.complete()) as Promise<void> | undefined);
}

/**
 * Builds an {@link InetAddress} from what Node reports (`address()`, a `dgram` sender's
 * `RemoteInfo`, a socket's `remoteAddress`/`remotePort`/`remoteFamily`).
 *
 * @example
 * ```ts
 * socket.on('message', (packet, remote) => seen(inetAddress(remote.address, remote.port, remote.family)));
 * ```
 */
export function inetAddress(host: string, port: number, family: string | number | undefined): InetAddress {
  return { host, port, family: family === 'IPv6' || family === 6 ? 'IPv6' : 'IPv4' };
}

/**
 * Formats a client or server address for logs: `host:port`, `[v6]:port`, or a Unix path.
 *
 * @example
 * ```ts
 * formatAddress({ host: '::1', port: 80, family: 'IPv6' }); // '[::1]:80'
 * ```
 */
export function formatAddress(address: unknown): string {
  if (typeof address === 'string') return address.startsWith('\0') ? `@${address.slice(1)}` : address;
  if (typeof address === 'object' && address !== null) {
    if ('path' in address) {
      const path = (address as { path: string | null }).path;
      return path === null ? 'unix:(unbound)' : formatAddress(path);
    }
    const { host, port } = address as InetAddress;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }
  return String(address);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * Runs `next` once `result` (what a hook returned) has settled, or `failed` with its error. A
 * hook that returned no promise (an override in plain JavaScript may) goes straight to `next`.
 */
function continueWith(result: unknown, next: () => PromiseLike<void> | undefined, failed: (error: unknown) => Promise<void>): Promise<void> {
  if (!isPromise(result)) return Promise.resolve(next());
  return Promise.resolve(result).then(next, failed);
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A timer as a promise, with a way to cancel it so it does not hold the event loop open. */
function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Waits until every promise has settled, or `ms` have passed (no `ms`: as long as it takes).
 * Resolves with whether all settled in time; never rejects. Servers and pool workers use it to
 * drain requests within a close deadline.
 *
 * @example
 * ```ts
 * const drained = await settleWithin(requests.map((r) => r.done), 5_000);
 * if (!drained) abortTheRest();
 * ```
 */
export async function settleWithin(promises: Promise<unknown>[], ms: number | undefined): Promise<boolean> {
  const all = Promise.allSettled(promises).then(() => true);
  if (ms === undefined) return all;
  const timer = delay(ms);
  try {
    return await Promise.race([all, timer.promise.then(() => false)]);
  } finally {
    timer.cancel();
  }
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

/**
 * Error codes that are the peer's doing, and the level the default handleError() logs them at
 * (without a stack): hang-ups are routine (info); misbehaviour and stalls are worth a look (warn).
 */
const PEER_ERROR_LEVELS: Readonly<Record<string, 'info' | 'warn'>> = {
  ECONNRESET: 'info',
  EPIPE: 'info',
  ECONNABORTED: 'info',
  ERR_SOCKSERVE_INCOMPLETE_READ: 'info',
  ERR_SOCKSERVE_CONNECTION_CLOSED: 'info',
  ERR_STREAM_PREMATURE_CLOSE: 'info',
  ERR_SOCKSERVE_LIMIT_EXCEEDED: 'warn',
  ERR_SOCKSERVE_TIMEOUT: 'warn',
  ETIMEDOUT: 'warn',
  EHOSTUNREACH: 'warn',
  ENETUNREACH: 'warn',
};

/** The same for a datagram reply that could not be sent (`syscall: 'sendto'`). */
const REPLY_ERROR_LEVELS: Readonly<Record<string, 'info' | 'warn'>> = {
  ...PEER_ERROR_LEVELS,
  // The peer is gone.
  ENOENT: 'info',
  ECONNREFUSED: 'info',
  // The peer is unbound, or its queue stayed full.
  EDESTADDRREQ: 'warn',
  EAGAIN: 'warn',
};

type State = 'new' | 'open' | 'closing' | 'closed';

/** `EventEmitter`, typed per event map by typed-emitter. */
const TypedEventEmitter = EventEmitter as unknown as new <
  Events extends TypedEmitterModule.EventMap,
>() => TypedEmitterModule.default<Events>;

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
  /** Accepted requests that nobody has taken yet. */
  readonly #pending: Array<[Request, Address]> = [];
  readonly #maxPending: number;
  /** handleRequest() calls waiting for the next request (undefined: the server closed). */
  readonly #waiters: Array<(next: [Request, Address] | undefined) => void> = [];
  /** Requests from dispatch until closed. */
  readonly #inFlight = new Map<Request, InFlight<Request, Address>>();
  /** serverClose() in progress or done. */
  #closing: Promise<CloseReport> | undefined;
  /** Runs and fails the jobs of this server's requests. */
  readonly #host: RecordHost<Request, Address>;

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
    this.#host = {
      log: this.log,
      run: (record) => this.#runJob(record),
      fail: (record, error) => this.#failJob(record, error),
      ran: (record) => this.#ran(record),
    };
    this.timeout = timeout;
    this.#maxPending = maxPendingRequests;
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

  /** Transports call this for every accepted request. */
  protected _accept(request: Request, clientAddress: Address): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      this._destroyRequest(request);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter([request, clientAddress]);
    } else if (this.#serving) {
      void this.#dispatch(request, clientAddress);
    } else if (this.#pending.length < this.#maxPending) {
      this.#pending.push([request, clientAddress]);
    } else {
      this._dropped(
        { reason: 'backlog', clientAddress, size: 0 },
        `Dropped a request: more than ${this.#maxPending} are waiting for serveForever() or handleRequest()`,
      );
      this._destroyRequest(request);
    }
  }

  /** Transports call this for a request they drop unhandled: logs a warning and emits 'dropped'. */
  protected _dropped(info: DropInfo<Address>, message: string): void {
    this.log.warn(
      { reason: info.reason, size: info.size, client: info.clientAddress === null ? null : formatAddress(info.clientAddress) },
      message,
    );
    this.#emit('dropped', info);
  }

  /**
   * Transports call this when a request's connection fails outside the handler's own calls (a
   * reset while a reply is in flight, a datagram that cannot be sent). The error goes to
   * `handleError()` once.
   */
  protected _requestError(request: Request, error: unknown): void {
    const record = this.#inFlight.get(request);
    if (record === undefined) {
      this.log.debug({ err: error }, 'Connection error outside a request');
      return;
    }
    void this.#report(record, error);
  }

  /**
   * Transports call this for a failure that comes after its request closed (a reply sent without
   * waiting for the kernel's answer): `'requestError'` and `handleError()` still get it.
   */
  protected _lateRequestError(request: Request, clientAddress: Address, error: unknown): Promise<void> {
    return this.#report(new InFlight(request, clientAddress, this.#host), error);
  }

  /** The client address of a request in flight, for transports that reply to it. */
  protected _clientAddressOf(request: Request): Address | undefined {
    return this.#inFlight.get(request)?.clientAddress;
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
      await this.concurrency.open?.(this);
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
        while (this.#serving && this.#pending.length > 0) {
          const [request, clientAddress] = this.#pending.shift()!;
          void this.#dispatch(request, clientAddress);
        }
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
    const next = this.#pending.shift() ?? (await this.#nextRequest());
    if (next === 'timeout') {
      await this.handleTimeout();
    } else if (next !== undefined) {
      await this.#dispatch(next[0], next[1]);
    }
  }

  #nextRequest(): Promise<[Request, Address] | 'timeout' | undefined> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (next: [Request, Address] | undefined): void => {
        clearTimeout(timer);
        resolve(next);
      };
      this.#waiters.push(waiter);
      if (this.timeout !== null) {
        timer = setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          resolve('timeout');
        }, this.timeout);
      }
    });
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
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    for (const [request] of this.#pending.splice(0)) this._destroyRequest(request);
    await this.#listening?.catch(() => {});
    this._stopAccepting();

    const records = [...this.#inFlight.values()];
    await settleWithin(
      records.map((record) => record.done),
      timeout,
    );
    const late = records.filter((record) => this.#inFlight.get(record.request) === record);
    for (const record of late) this.#abort(record);
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
    const { signals = ['SIGINT', 'SIGTERM'], timeout = 5_000 } = options;
    validateTimeout('timeout', timeout, false);
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
      this.log.info({ signal, timeout }, `Received ${signal}: closing; requests in flight get ${timeout} ms to finish`);
      void this.shutdown();
    };
    for (const signal of signals) process.on(signal, onSignal);
    try {
      await this.serveForever();
      const report = await this.serverClose({ timeout });
      this.log.info(report, `Closed: ${report.completed} request(s) completed, ${report.aborted} aborted`);
      return { ...report, signal: received };
    } finally {
      for (const signal of signals) process.off(signal, onSignal);
    }
  }

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
    const record = this.#inFlight.get(request) ?? this.#track(request, clientAddress);
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
    const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
    const level =
      typeof code !== 'string' ? undefined : syscall === 'sendto' ? REPLY_ERROR_LEVELS[code] : PEER_ERROR_LEVELS[code];
    if (level === undefined) {
      this.log.error({ err: error, client: formatAddress(clientAddress) }, `Request failed: ${message}`);
      return;
    }
    const cause = (causeOf(error) as { code?: unknown } | undefined)?.code;
    this.log[level](
      { code, ...(typeof cause === 'string' ? { cause } : {}), client: formatAddress(clientAddress) },
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
  // Request path

  /** @internal For strategies that receive and handle requests in other processes. */
  get [kRemoteRequests](): RemoteRequests {
    return (this.#remote ??= {
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
    });
  }

  #remote: RemoteRequests | undefined;

  /** @internal */
  [kRequestContext](request: unknown): RequestContext | undefined {
    return this.#inFlight.get(request as Request);
  }

  /** Tracks a request from dispatch until it is done. */
  #track(request: Request, clientAddress: Address): InFlight<Request, Address> {
    const record = new InFlight(request, clientAddress, this.#host);
    this.#inFlight.set(request, record);
    return record;
  }

  /**
   * Verifies and processes one request, then closes it if the strategy did not. Written with
   * promise callbacks, not as an async function: a request in flight holds a reaction here rather
   * than a suspended frame. Hooks may be sync: only what returns a promise is waited for.
   */
  #dispatch(request: Request, clientAddress: Address): Promise<void> | undefined {
    const record = this.#track(request, clientAddress);
    this.#emit('request', clientAddress);
    let answer: Awaitable<boolean>;
    try {
      answer = this.verifyRequest(request, clientAddress);
    } catch (error) {
      return this.#failDispatch(record, error);
    }
    if (isPromise(answer)) {
      return answer.then(
        (verified) => (verified === true ? this.#process(record) : this.#settle(record)),
        (error: unknown) => this.#failDispatch(record, error),
      );
    }
    return answer === true ? this.#process(record) : this.#settle(record);
  }

  #process(record: InFlight<Request, Address>): Promise<void> {
    let processing: unknown;
    try {
      processing = this.processRequest(record.request, record.clientAddress);
    } catch (error) {
      return this.#failDispatch(record, error);
    }
    // The default processRequest() returns the job's own promise (when the strategy runs it at
    // once): then the job settles the request when it ends, and no reaction waits here.
    // (Unless the job already ended, in which case it shut the request down without settling it.)
    if (processing !== undefined && processing === record.running && !record.shut) {
      record.settleOnRun = true;
      return processing as Promise<void>;
    }
    return continueWith(
      processing,
      () => this.#settle(record),
      (error) => this.#failDispatch(record, error),
    );
  }

  #failDispatch(record: InFlight<Request, Address>, error: unknown): Promise<void> {
    return this.#report(record, error).then(() => this.#settle(record));
  }

  /**
   * Closes a request the strategy did not close (refused, failed, or skipped because aborted),
   * forgets it, then runs serviceActions().
   */
  #settle(record: InFlight<Request, Address>): Promise<void> | undefined {
    if (!record.shut) {
      if (record.aborted) {
        record.shut = true;
        this._destroyRequest(record.request);
      } else {
        const shut = this.#shutdownRequest(record);
        if (shut !== undefined) return shut.then(() => this.#forget(record));
      }
    }
    return this.#forget(record);
  }

  #forget(record: InFlight<Request, Address>): Promise<void> | undefined {
    this.#inFlight.delete(record.request);
    record.finish();
    this._requestClosed(record.request);
    let actions: Awaitable<void>;
    try {
      actions = this.serviceActions();
    } catch (error) {
      this.log.error({ err: error }, 'serviceActions() failed');
      return undefined;
    }
    return isPromise(actions) ? actions.then(undefined, (error: unknown) => this.log.error({ err: error }, 'serviceActions() failed')) : undefined;
  }

  /** finishRequest(), handleError() on failure, then shutdownRequest(); never rejects. No frame of its own. */
  #runJob(record: InFlight<Request, Address>): Promise<void> {
    if (record.aborted) return Promise.resolve();
    let finished: unknown;
    try {
      if (this.finishRequest === defaultFinishRequest) {
        // The lifecycle ends straight in this job (record.complete/fail): one reaction per request.
        const handler = new this.RequestHandlerClass(record.request, record.clientAddress, this);
        return (record.running = runLifecycle(handler, record));
      }
      finished = this.finishRequest(record.request, record.clientAddress);
    } catch (error) {
      return (record.running = this.#failJob(record, error));
    }
    return (record.running = continueWith(
      finished,
      () => this.#ran(record),
      (error) => this.#failJob(record, error),
    ));
  }

  #failJob(record: InFlight<Request, Address>, error: unknown): Promise<void> {
    return this.#report(record, error).then(() => this.#ran(record));
  }

  /** The job is over: shut the request down, and settle it if #process left that to the job. */
  #ran(record: InFlight<Request, Address>): Promise<void> | undefined {
    const shut = this.#shutdownRequest(record);
    if (!record.settleOnRun) return shut;
    return shut === undefined ? this.#settle(record) : shut.then(() => this.#settle(record));
  }

  /** Calls shutdownRequest() once; a promise only when the hook returned one (no frame per request). */
  #shutdownRequest(record: InFlight<Request, Address>): Promise<void> | undefined {
    if (record.shut) return undefined;
    record.shut = true;
    if (record.aborted) {
      this._destroyRequest(record.request);
      return undefined;
    }
    let shut: Awaitable<void>;
    try {
      shut = this.shutdownRequest(record.request);
    } catch (error) {
      this.#shutdownFailed(record, error);
      return undefined;
    }
    return isPromise(shut) ? shut.then(undefined, (error: unknown) => this.#shutdownFailed(record, error)) : undefined;
  }

  #shutdownFailed(record: InFlight<Request, Address>, error: unknown): void {
    this.log.error({ err: error, client: formatAddress(record.clientAddress) }, 'shutdownRequest() failed');
    this._destroyRequest(record.request);
  }

  /** Sends an error to handleError() once; errors caused by an abort are not reported. */
  async #report(record: InFlight<Request, Address>, error: unknown): Promise<void> {
    if (record.aborted) return;
    // The same failure may surface twice: as the socket's error, and as an error of the handler's
    // read or write that has it as its cause, in either order.
    const reported = record.reported;
    if (reported !== undefined && (error === reported || causeOf(error) === reported || causeOf(reported) === error)) return;
    record.reported = error;
    this.#emit('requestError', error, record.clientAddress);
    try {
      await this.handleError(record.request, record.clientAddress, error);
    } catch (hookError) {
      this.log.error({ err: hookError, original: error }, 'handleError() threw');
    }
  }

  #abort(record: InFlight<Request, Address>): void {
    record.abort(new RequestAbortedError());
    this._destroyRequest(record.request);
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
