/**
 * The interface every concurrency strategy implements.
 *
 * @module
 */
import type { Awaitable, HandlerServer } from './types.js';

/**
 * One request handed to a strategy. The server builds it; the strategy decides where and when it
 * runs.
 *
 * @example
 * ```ts
 * class InlineStrategy implements ConcurrencyStrategy {
 *   readonly name = 'inline';
 *   schedule(job: RequestJob) { return job.run(); }
 * }
 * ```
 */
export interface RequestJob<Request = unknown, Address = unknown> {
  /** The accepted request: a `net.Socket` for stream servers. */
  readonly request: Request;
  /** The peer's address. */
  readonly clientAddress: Address;
  /** Aborted when the server gives up on the request (`serverClose({ timeout })` ran out). */
  readonly signal: AbortSignal;
  /**
   * Handles the request in this process: `finishRequest()` (setup, handle, finish), then
   * `handleError()` on failure, then `shutdownRequest()`. Never rejects.
   */
  run(): Promise<void>;
  /**
   * Reports a failure that happened outside `run()` (in a worker, say) to the server's
   * `handleError()` and closes the request. Never rejects.
   */
  fail(error: unknown): Promise<void>;
}

/**
 * The server a strategy is attached to, as the strategy sees it.
 *
 * @example
 * ```ts
 * open(server: StrategyHost) { server.log.debug({ handler: server.RequestHandlerClass.name }, 'strategy ready'); }
 * ```
 */
export interface StrategyHost extends HandlerServer {
  /** The handler class the server was created with. */
  readonly RequestHandlerClass: abstract new (...args: never[]) => unknown;
}

/**
 * Decides where and when requests run. The server calls `open()` once from `listen()`,
 * `schedule()` once per request, and `close()` from `serverClose()` after in-flight requests have
 * completed or been aborted. A strategy object belongs to one server.
 *
 * Contract for `schedule(job)`: resolve once the request is done (after `job.run()` or
 * `job.fail()` resolved), never reject, and when `job.signal` aborts before the job started,
 * resolve without starting it (the server closes the request itself).
 *
 * @example
 * ```ts
 * const server = new TCPServer(address, Handler, { concurrency: new SequentialStrategy() });
 * ```
 */
export interface ConcurrencyStrategy {
  /** A short name for logs, such as `'event-loop'`. */
  readonly name: string;
  /** Prepares the strategy (starts workers, say). Called once, from the first `listen()`. */
  open?(server: StrategyHost): Awaitable<void>;
  /** Runs one request; see the contract above. */
  schedule(job: RequestJob): Promise<void>;
  /** Releases what `open()` acquired. */
  close?(): Awaitable<void>;
}
