/**
 * Promise helpers for the request path: hooks may be sync or async, and a request in flight
 * should hold promise reactions rather than suspended async frames.
 *
 * @module
 */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * Runs `next` once `result` (what a hook returned) has settled, or `failed` with its error. A
 * hook that returned no promise (an override in plain JavaScript may) goes straight to `next`.
 */
export function continueWith(
  result: unknown,
  next: () => PromiseLike<void> | undefined,
  failed: (error: unknown) => Promise<void>,
): Promise<void> {
  if (!isPromise(result)) return Promise.resolve(next());
  return Promise.resolve(result).then(next, failed);
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
