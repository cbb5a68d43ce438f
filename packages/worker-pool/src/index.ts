/**
 * `@sockserve/worker-pool`: `WorkerPoolStrategy`, the same handler class on all cores.
 *
 * @example
 * ```ts
 * import { WorkerPoolStrategy } from '@sockserve/worker-pool';
 *
 * const server = new TCPServer({ host: '::', port: 8000 }, HashHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: import.meta.url }),
 * });
 * ```
 *
 * @module
 */
export { isWorker } from './is_worker.js';
export { WorkerPoolStrategy, type WorkerPoolStrategyOptions } from './worker_pool_strategy.js';
