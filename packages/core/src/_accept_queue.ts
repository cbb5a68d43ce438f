/**
 * `AcceptQueue`: accepted requests that nobody is taking yet, and the `handleRequest()` calls
 * waiting for one.
 *
 * @module
 */

/** An accepted request and its client. */
export type Accepted<Request, Address> = [request: Request, clientAddress: Address];

/**
 * Between the transport and the server's loop: while `serveForever()` runs, requests go straight
 * to dispatch; otherwise they wait here (up to `max`, the user-space counterpart of the listen
 * backlog) for `handleRequest()` or the next `serveForever()`.
 *
 * @example
 * ```ts
 * const queue = new AcceptQueue<net.Socket, InetAddress>(511);
 * if (!queue.handOff(socket, client) && !queue.push(socket, client)) socket.destroy(); // full
 * ```
 */
export class AcceptQueue<Request, Address> {
  /** Accepted requests nobody has taken yet. */
  readonly #pending: Array<Accepted<Request, Address>> = [];
  /** handleRequest() calls waiting for the next request (undefined: the server closed). */
  readonly #waiters: Array<(next: Accepted<Request, Address> | undefined) => void> = [];

  constructor(readonly max: number) {}

  /** Accepted requests waiting to be taken. */
  get length(): number {
    return this.#pending.length;
  }

  /** Hands a request to a waiting handleRequest(); false when none waits. */
  handOff(request: Request, clientAddress: Address): boolean {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return false;
    waiter([request, clientAddress]);
    return true;
  }

  /** Queues a request; false when the queue is full. */
  push(request: Request, clientAddress: Address): boolean {
    if (this.#pending.length >= this.max) return false;
    this.#pending.push([request, clientAddress]);
    return true;
  }

  /** The oldest waiting request, if any. */
  take(): Accepted<Request, Address> | undefined {
    return this.#pending.shift();
  }

  /**
   * The next request: one waiting, or the next to arrive; `'timeout'` after `timeout` ms (null:
   * wait as long as it takes); `undefined` if the server closes first.
   */
  next(timeout: number | null): Promise<Accepted<Request, Address> | 'timeout' | undefined> {
    const waiting = this.#pending.shift();
    if (waiting !== undefined) return Promise.resolve(waiting);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (next: Accepted<Request, Address> | undefined): void => {
        clearTimeout(timer);
        resolve(next);
      };
      this.#waiters.push(waiter);
      if (timeout !== null) {
        timer = setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          resolve('timeout');
        }, timeout);
      }
    });
  }

  /** The server is closing: waiting calls get `undefined`, and waiting requests are returned to be closed. */
  close(): Array<Accepted<Request, Address>> {
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    return this.#pending.splice(0);
  }
}
