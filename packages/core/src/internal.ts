/**
 * `@sockserve/core/internal`: what sockserve's own packages share, and what authors of handler
 * base classes, transports and strategies may need. Not for applications; it may change in any
 * release.
 *
 * @example
 * ```ts
 * import { kRequestContext, runHandler } from '@sockserve/core/internal';
 * ```
 *
 * @module
 */
export { settleWithin } from './_promises.js';
export { kDatagramReply, type DatagramReply } from './datagram_reply.js';
export { markPoolWorker, poolWorker, refuseWhileLoadingHandlerModule, type PoolWorkerMark } from './pool_worker.js';
export { kRequestContext, type RequestContextProvider } from './request_context.js';
export { runHandler } from './run_handler.js';
export { currentSocket, kProxy, kUpgraded, stopReading } from './_upgrade.js';
