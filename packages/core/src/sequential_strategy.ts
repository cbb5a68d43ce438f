/**
 * One request at a time, in arrival order.
 *
 * @module
 */
import { EventLoopStrategy } from './event_loop_strategy.js';

/**
 * Runs one request at a time, in the order they arrive, like Python's plain `TCPServer`. Useful
 * for handlers that share state without locking, and for debugging. Waiting connections are
 * paused, not dropped.
 *
 * @example
 * ```ts
 * import { SequentialStrategy } from '@sockserve/core';
 *
 * const server = new TCPServer({ host: '127.0.0.1', port: 0 }, Handler, {
 *   concurrency: new SequentialStrategy(),
 * });
 * ```
 */
export class SequentialStrategy extends EventLoopStrategy {
  override readonly name: string = 'sequential';

  constructor() {
    super({ maxConcurrency: 1 });
  }
}
