/**
 * One request from acceptance until it is closed (`RequestRecord`), and the path it travels
 * (`RequestPath`): verify, process through the strategy, run the handler, report errors, shut
 * down, forget. `BaseServer` owns one path; the path calls the server's hooks as methods, so
 * overrides run.
 *
 *   dispatch ─► verifyRequest ─► processRequest ─► strategy ─► run: finishRequest (the handler)
 *                   │ false / throws                               │ throws ─► report
 *                   ▼                                              ▼
 *                 settle ◄──────────────────────────────────── shut down ─► forget ─► serviceActions
 *
 * A record's `state` says where it is: `queued` (tracked, the strategy has not run it), `running`
 * (its handler runs), `closing` (`shutdownRequest()` was called, or the request was destroyed),
 * `done` (forgotten). An abort (`serverClose()` past its deadline) can come in any state but
 * `done`; it is kept apart, as `aborted`.
 *
 * @module
 */
import type { Logger } from 'pino';
import { requestEnd, requestError, requestStart, requestTrace, requestTraced } from './_channels.js';
import type { RequestTraceContext } from './diagnostics.js';
import { continueWith, deferred, isPromise, type Deferred } from './_promises.js';
import { formatAddress } from './address.js';
import { RequestAbortedError, TLSHandshakeError } from './errors.js';
import { runLifecycle, type LifecycleEnd } from './run_handler.js';
import type { RequestJob } from './strategy.js';
import type { RequestContext } from './request_context.js';
import type { Awaitable, HandlerServer, RequestHandlerClass, ServerEvents } from './types.js';

/** The server's hooks, as the path calls them (methods of the server, so overrides run). */
export interface PathHooks<Request, Address> extends HandlerServer {
  readonly RequestHandlerClass: RequestHandlerClass<Request, Address>;
  verifyRequest(request: Request, clientAddress: Address): Awaitable<boolean>;
  processRequest(request: Request, clientAddress: Address): Promise<void>;
  finishRequest(request: Request, clientAddress: Address): Promise<void>;
  handleError(request: Request, clientAddress: Address, error: unknown): Awaitable<void>;
  shutdownRequest(request: Request): Awaitable<void>;
  serviceActions(): Awaitable<void>;
}

/** What else the path needs of its server: transport calls and events, bound once per server. */
export interface PathServer<Request, Address> {
  /** `_destroyRequest()`: close a request at once. */
  destroy(request: Request): void;
  /** `_requestClosed()`: a request is over. */
  closed(request: Request): void;
  /** Emits an event (nothing when nobody listens; a throwing listener is logged). */
  emit<E extends keyof ServerEvents<Address>>(event: E, ...args: Parameters<ServerEvents<Address>[E]>): void;
  /** Whether the server runs handlers itself (`finishRequest()` not overridden): then no frame waits on it. */
  inline(): boolean;
  /** `_tlsClientError()`: a handshake failed (here: a handler's `startTls()`). */
  tlsClientError(error: TLSHandshakeError, clientAddress: Address): void;
  /** The server object, as diagnostics channel messages carry it. */
  readonly self: object;
}

/** What the path counts, for `stats()`. */
export interface PathCounters {
  requests: number;
  failed: number;
  aborted: number;
}

/**
 * One request from acceptance until it is closed. It is also the job handed to the strategy and
 * the handler's context: methods on the prototype, so a request costs one object.
 */
export class RequestRecord<Request, Address> implements RequestContext, RequestJob<Request, Address>, LifecycleEnd {
  /** Where the request is on its path. */
  state: 'queued' | 'running' | 'closing' | 'done' = 'queued';
  /** Who settles the request after its job: the path (default), or the job itself (see RequestPath.process). */
  settler: 'path' | 'job' = 'path';
  /** The server gave up on this request (serverClose() past its deadline). */
  aborted = false;
  /** The job's promise, once the strategy ran it. */
  job: Promise<void> | undefined = undefined;
  /** The last error reported to handleError(), to report each failure once. */
  reported: unknown = undefined;
  /** The tracing channel's context, when someone traced this request. */
  trace: RequestTraceContext | undefined = undefined;
  /** Created on first use of `signal`: most requests never look at it. */
  #controller: AbortController | undefined;
  #abortReason: unknown;
  /** Created when someone waits for the request (serverClose()). */
  #done: Deferred<void> | undefined;
  #log: Logger | undefined;

  constructor(
    readonly request: Request,
    readonly clientAddress: Address,
    readonly path: RequestPath<Request, Address>,
  ) {}

  // The job, as the strategy sees it.

  run(): Promise<void> {
    return this.path.run(this);
  }

  fail(error: unknown): Promise<void> {
    return this.path.fail(this, error);
  }

  // The end of the handler's lifecycle (runLifecycle ends straight here: no reaction of its own).

  complete(): Promise<void> | undefined {
    return this.path.ran(this);
  }

  // The handler's context.

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get log(): Logger {
    return (this.#log ??= this.path.log.child({ client: formatAddress(this.clientAddress) }));
  }

  tlsClientError(error: TLSHandshakeError): void {
    this.path.server.tlsClientError(error, this.clientAddress);
  }

  /** Settles when the request is done. */
  get done(): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    return (this.#done ??= deferred<void>()).promise;
  }

  /** Marks the request done. */
  end(): void {
    this.state = 'done';
    this.#done?.resolve();
  }

  /** Gives up on the request: its signal fires with `reason`. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}

/** The error's cause, if it has one. */
function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

/**
 * The path every request of one server travels, written with promise callbacks rather than async
 * functions: a request in flight holds a reaction, not suspended frames. Hooks may be sync: only
 * what returns a promise is waited for.
 */
export class RequestPath<Request, Address> {
  /** Requests from dispatch until done. */
  readonly inFlight = new Map<Request, RequestRecord<Request, Address>>();

  /** Counters for `stats()`. */
  readonly counters: PathCounters = { requests: 0, failed: 0, aborted: 0 };

  constructor(
    readonly hooks: PathHooks<Request, Address>,
    readonly server: PathServer<Request, Address>,
  ) {}

  get log(): Logger {
    return this.hooks.log;
  }

  /** The record of a request in flight, created if processRequest() is called for a new one. */
  track(request: Request, clientAddress: Address): RequestRecord<Request, Address> {
    const record = new RequestRecord(request, clientAddress, this);
    this.inFlight.set(request, record);
    return record;
  }

  /** Verifies and processes one request, then closes it if the strategy did not. */
  dispatch(request: Request, clientAddress: Address): Promise<void> | undefined {
    const record = this.track(request, clientAddress);
    this.counters.requests++;
    this.server.emit('request', clientAddress);
    if (requestStart.hasSubscribers) requestStart.publish({ server: this.server.self, request, clientAddress });
    let answer: Awaitable<boolean>;
    try {
      answer = this.hooks.verifyRequest(request, clientAddress);
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

  #process(record: RequestRecord<Request, Address>): Promise<void> {
    let processing: unknown;
    try {
      processing = this.hooks.processRequest(record.request, record.clientAddress);
    } catch (error) {
      return this.#failDispatch(record, error);
    }
    // The default processRequest() returns the job's own promise (when the strategy runs it at
    // once): then the job settles the request when it ends, and no reaction waits here. (Unless
    // the job already ended, in which case it shut the request down without settling it.)
    if (processing !== undefined && processing === record.job && record.state === 'running') {
      record.settler = 'job';
      return processing as Promise<void>;
    }
    return continueWith(
      processing,
      () => this.#settle(record),
      (error) => this.#failDispatch(record, error),
    );
  }

  #failDispatch(record: RequestRecord<Request, Address>, error: unknown): Promise<void> {
    return this.report(record, error).then(() => this.#settle(record));
  }

  /** The strategy runs the job: finishRequest(), handleError() on failure, then shutdownRequest(). Never rejects. */
  run(record: RequestRecord<Request, Address>): Promise<void> {
    if (record.aborted) return Promise.resolve();
    if (requestTraced()) {
      const trace: RequestTraceContext = { server: this.server.self, request: record.request, clientAddress: record.clientAddress };
      record.trace = trace;
      return requestTrace.tracePromise(() => this.#run(record), trace);
    }
    return this.#run(record);
  }

  #run(record: RequestRecord<Request, Address>): Promise<void> {
    record.state = 'running';
    let finished: unknown;
    try {
      if (this.server.inline()) {
        // The lifecycle ends straight in the record (complete/fail): one reaction per request.
        const { RequestHandlerClass } = this.hooks;
        return (record.job = runLifecycle(new RequestHandlerClass(record.request, record.clientAddress, this.hooks), record));
      }
      finished = this.hooks.finishRequest(record.request, record.clientAddress);
    } catch (error) {
      return (record.job = this.fail(record, error));
    }
    return (record.job = continueWith(
      finished,
      () => this.ran(record),
      (error) => this.fail(record, error),
    ));
  }

  /** The job failed (or a strategy reports a failure elsewhere): report it, then end the job. */
  fail(record: RequestRecord<Request, Address>, error: unknown): Promise<void> {
    return this.report(record, error).then(() => this.ran(record));
  }

  /** The job is over: shut the request down, and settle it if the job is its settler. */
  ran(record: RequestRecord<Request, Address>): Promise<void> | undefined {
    const shut = this.#shutDown(record);
    if (record.settler !== 'job') return shut;
    return shut === undefined ? this.#settle(record) : shut.then(() => this.#settle(record));
  }

  /**
   * Closes a request the job did not close (refused, failed, or skipped because aborted),
   * forgets it, then runs serviceActions().
   */
  #settle(record: RequestRecord<Request, Address>): Promise<void> | undefined {
    const shut = this.#shutDown(record);
    return shut === undefined ? this.#forget(record) : shut.then(() => this.#forget(record));
  }

  /**
   * Calls shutdownRequest() once (an aborted request is destroyed instead); a promise only when
   * the hook returned one (no frame per request).
   */
  #shutDown(record: RequestRecord<Request, Address>): Promise<void> | undefined {
    if (record.state === 'closing' || record.state === 'done') return undefined;
    record.state = 'closing';
    if (record.aborted) {
      this.server.destroy(record.request);
      return undefined;
    }
    let shut: Awaitable<void>;
    try {
      shut = this.hooks.shutdownRequest(record.request);
    } catch (error) {
      this.#shutdownFailed(record, error);
      return undefined;
    }
    return isPromise(shut) ? shut.then(undefined, (error: unknown) => this.#shutdownFailed(record, error)) : undefined;
  }

  #shutdownFailed(record: RequestRecord<Request, Address>, error: unknown): void {
    this.log.error({ err: error, client: formatAddress(record.clientAddress) }, 'shutdownRequest() failed');
    this.server.destroy(record.request);
  }

  #forget(record: RequestRecord<Request, Address>): Promise<void> | undefined {
    this.inFlight.delete(record.request);
    record.end();
    if (record.aborted) this.counters.aborted++;
    if (requestEnd.hasSubscribers) {
      const { request, clientAddress, aborted } = record;
      requestEnd.publish({ server: this.server.self, request, clientAddress, failed: record.reported !== undefined, aborted });
    }
    this.server.closed(record.request);
    let actions: Awaitable<void>;
    try {
      actions = this.hooks.serviceActions();
    } catch (error) {
      this.log.error({ err: error }, 'serviceActions() failed');
      return undefined;
    }
    return isPromise(actions) ? actions.then(undefined, (error: unknown) => this.log.error({ err: error }, 'serviceActions() failed')) : undefined;
  }

  /** Sends an error to handleError() once; errors caused by an abort are not reported. */
  async report(record: RequestRecord<Request, Address>, error: unknown): Promise<void> {
    if (record.aborted) return;
    // A failed startTls() handshake was reported as 'tlsClientError' when it happened.
    if (error instanceof TLSHandshakeError) return;
    // The same failure may surface twice: as the socket's error, and as an error of the handler's
    // read or write that has it as its cause, in either order.
    const reported = record.reported;
    if (reported !== undefined && (error === reported || causeOf(error) === reported || causeOf(reported) === error)) return;
    record.reported = error;
    this.counters.failed++;
    this.server.emit('requestError', error, record.clientAddress);
    if (requestError.hasSubscribers) requestError.publish({ server: this.server.self, request: record.request, clientAddress: record.clientAddress, error });
    const trace = record.trace;
    if (trace !== undefined && record.state === 'running' && requestTrace.error.hasSubscribers) {
      trace.error = error;
      requestTrace.error.publish(trace);
    }
    try {
      await this.hooks.handleError(record.request, record.clientAddress, error);
    } catch (hookError) {
      this.log.error({ err: hookError, original: error }, 'handleError() threw');
    }
  }

  /** Gives up on a request: its signal fires, and its connection is destroyed. */
  abort(record: RequestRecord<Request, Address>): void {
    record.abort(new RequestAbortedError());
    this.server.destroy(record.request);
  }
}
