/**
 * What every copy of sockserve in a process can tell about it being a pool worker. The mark lives
 * on `globalThis` under a `Symbol.for` key, so that a second copy of the packages (a handler
 * module that resolves its own install) sees it too.
 *
 * @module
 */
import { ServerInWorkerError } from './errors.js';

const kPoolWorker = Symbol.for('sockserve.poolWorker');

/**
 * The mark a pool worker sets on its process.
 *
 * @example
 * ```ts
 * const mark: PoolWorkerMark = { id: 1, module: 'file:///app/handlers.js', loading: true };
 * ```
 */
export interface PoolWorkerMark {
  /** The worker's number in its pool. */
  readonly id: number;
  /** The URL of the handler module the worker loads. */
  readonly module: string;
  /** True while the worker imports the handler module (its top-level code runs). */
  loading: boolean;
}

/**
 * The pool worker mark of this process, or `undefined` outside pool workers. Worker pools set it;
 * servers read it to refuse starting from a handler module's top level.
 *
 * @example
 * ```ts
 * if (poolWorker() !== undefined) console.log('running in a pool worker');
 * ```
 */
export function poolWorker(): PoolWorkerMark | undefined {
  return (globalThis as Record<symbol, PoolWorkerMark | undefined>)[kPoolWorker];
}

/**
 * Marks this process as a pool worker (worker pools call it once, before loading the handler).
 *
 * @example
 * ```ts
 * const mark = markPoolWorker({ id: 1, module: config.module, loading: true });
 * await import(config.module);
 * mark.loading = false;
 * ```
 */
export function markPoolWorker(mark: PoolWorkerMark): PoolWorkerMark {
  (globalThis as Record<symbol, PoolWorkerMark>)[kPoolWorker] = mark;
  return mark;
}

/**
 * Throws {@link ServerInWorkerError} when called while a pool worker loads its handler module:
 * the module's top-level code is starting `what`, which must run in the parent only.
 *
 * @example
 * ```ts
 * refuseWhileLoadingHandlerModule('a TCPServer');
 * ```
 */
export function refuseWhileLoadingHandlerModule(what: string): void {
  const mark = poolWorker();
  if (mark?.loading !== true) return;
  throw new ServerInWorkerError(
    `Pool worker ${mark.id} is loading the handler module ${mark.module}, and its top-level code creates ${what}: every worker would start its own server. ` +
      'Move the handler class into a module of its own and pass its URL as `module`, or wrap the code that starts the server in `if (!isWorker) { ... }` (import { isWorker } from "sockserve")',
  );
}
