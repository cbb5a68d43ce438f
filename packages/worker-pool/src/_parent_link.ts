/**
 * A worker's side of its requests: which ones the parent handed over (by id), and what goes back
 * for them. Both worker servers (connections and datagrams) use it.
 *
 * @module
 */
import { toWire, type FromWorker, type WireError } from './_protocol.js';

export class ParentLink<Request extends object> {
  /** The parent's id of each request it handed over. */
  readonly #ids = new WeakMap<Request, number>();
  /** The parent's requests in flight here, by id. */
  readonly #requests = new Map<number, Request>();
  /** Replies of datagram requests, for the parent to send. */
  readonly #replies = new WeakMap<Request, Uint8Array>();
  /** Failures of datagram requests, sent with `request-done`. */
  readonly #errors = new WeakMap<Request, WireError>();
  /** Failures waiting for the parent's handleError() to have run. */
  readonly #reporting = new Map<number, () => void>();
  /** Woken when the last of the parent's requests is done. */
  #idle: (() => void) | undefined;

  constructor(
    readonly send: (message: FromWorker, callback?: () => void) => void,
    /** Aborts a request in flight (the server's `_abortRequest()`). */
    readonly abortRequest: (request: Request) => void,
  ) {}

  /** The parent gave up on request `id`: stop waiting for its report, and abort it. */
  abort(id: number): void {
    this.reported(id);
    const request = this.#requests.get(id);
    if (request !== undefined) this.abortRequest(request);
  }

  /** Request `id` arrived from the parent. */
  taken(id: number, request: Request): void {
    this.#ids.set(request, id);
    this.#requests.set(id, request);
  }

  /** The parent's request `id`, while it is in flight here. */
  get(id: number): Request | undefined {
    return this.#requests.get(id);
  }

  /** Whether the parent handed this request over (else the worker read it itself). */
  handedOver(request: Request): boolean {
    return this.#ids.has(request);
  }

  /** Keeps a datagram request's reply for `request-done`. */
  reply(request: Request, data: Uint8Array): void {
    this.#replies.set(request, data);
  }

  /** Sends the failure of a handed-over request; resolves once the parent's handleError() has run. */
  failed(request: Request, error: unknown): Promise<void> {
    const id = this.#ids.get(request)!;
    return new Promise((resolve) => {
      this.#reporting.set(id, resolve);
      this.send({ type: 'request-failed', id, error: toWire(error) });
    });
  }

  /** Keeps a datagram request's failure for `request-done`, where the parent reports it before sending the reply. */
  failedWithReply(request: Request, error: unknown): void {
    this.#errors.set(request, toWire(error));
  }

  /** The parent's handleError() ran for request `id` (or the request was aborted: stop waiting). */
  reported(id: number): void {
    const resolve = this.#reporting.get(id);
    this.#reporting.delete(id);
    resolve?.();
  }

  /** A handed-over request is over: tells the parent, with the datagram reply if there is one. */
  done(request: Request): void {
    const id = this.#ids.get(request);
    if (id === undefined) return;
    this.#requests.delete(id);
    const reply = this.#replies.get(request);
    const error = this.#errors.get(request);
    this.send({ type: 'request-done', id, ...(reply === undefined ? {} : { reply }), ...(error === undefined ? {} : { error }) });
    if (this.#requests.size === 0) this.#idle?.();
  }

  /** Resolves once no handed-over request is in flight here, or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.#requests.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#idle = finish;
    });
  }
}
