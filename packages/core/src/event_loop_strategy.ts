/**
 * The default strategy: requests run as concurrent async tasks on the event loop.
 *
 * @module
 */
import PQueue from 'p-queue';
import { InvalidArgumentError } from './errors.js';
import type { ConcurrencyStrategy, RequestJob } from './strategy.js';

/**
 * Options of {@link EventLoopStrategy}.
 *
 * @example
 * ```ts
 * const options: EventLoopStrategyOptions = { maxConcurrency: 1_000 };
 * ```
 */
export interface EventLoopStrategyOptions {
  /**
   * How many requests may run at once. At the cap, further requests wait in order, their
   * connections paused (nothing is read from them) but never dropped. Default: `Infinity`.
   */
  maxConcurrency?: number;
}

/**
 * Runs each request as an async task on the event loop, the right choice for I/O-bound handlers.
 * With `maxConcurrency`, requests beyond the cap wait their turn (backed by `p-queue`).
 *
 * @example
 * ```ts
 * import { EventLoopStrategy } from '@sockserve/core';
 *
 * const server = new TCPServer({ host: '127.0.0.1', port: 0 }, EchoHandler, {
 *   concurrency: new EventLoopStrategy({ maxConcurrency: 10_000 }),
 * });
 * ```
 */
export class EventLoopStrategy implements ConcurrencyStrategy {
  readonly name: string = 'event-loop';
  /** The cap on concurrently running requests. */
  readonly maxConcurrency: number;
  /** Waiting requests, when capped; `undefined` when unbounded (requests start at once). */
  readonly #queue: PQueue | undefined;

  constructor(options: EventLoopStrategyOptions = {}) {
    const { maxConcurrency = Number.POSITIVE_INFINITY } = options;
    if (!(maxConcurrency === Number.POSITIVE_INFINITY || (Number.isInteger(maxConcurrency) && maxConcurrency >= 1))) {
      throw new InvalidArgumentError(
        `Expected \`maxConcurrency\` to be an integer from 1 and up, or Infinity, got \`${String(maxConcurrency)}\``,
      );
    }
    this.maxConcurrency = maxConcurrency;
    this.#queue = maxConcurrency === Number.POSITIVE_INFINITY ? undefined : new PQueue({ concurrency: maxConcurrency });
  }

  /** Requests currently running. */
  get running(): number {
    return this.#queue?.pending ?? 0;
  }

  /** Requests waiting for a free slot. */
  get waiting(): number {
    return this.#queue?.size ?? 0;
  }

  schedule(job: RequestJob): Promise<void> {
    const queue = this.#queue;
    if (queue === undefined) return job.run();
    // An aborted job leaves the queue without running; the server closes its request.
    return queue.add(() => job.run(), { signal: job.signal }).then(noop, noop);
  }
}

function noop(): void {}
