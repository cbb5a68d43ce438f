/**
 * `runHandler()`: a handler's lifecycle, `setup()`, then `handle()`, then `finish()` in `finally`.
 *
 * @module
 */
import { isPromise } from './_promises.js';
import type { RequestHandler } from './types.js';

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

/**
 * Where a handler's lifecycle ends, so that the server's request goes on from there without a
 * reaction of its own.
 *
 * @example
 * ```ts
 * const end: LifecycleEnd = { complete: () => shutDown(), fail: (error) => report(error) };
 * ```
 */
export interface LifecycleEnd {
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
 *
 * @example
 * ```ts
 * return runLifecycle(new Handler(request, clientAddress, server), record);
 * ```
 */
export function runLifecycle(handler: RequestHandler, end: LifecycleEnd | undefined): Promise<void> {
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
