/**
 * `BaseRequestHandler`: one instance per request, with `setup`, `handle` and `finish`.
 *
 * @module
 */
import {
  kRequestContext,
  type Awaitable,
  type ClientAddress,
  type HandlerServer,
  type RequestContext,
  type RequestContextProvider,
  type RequestHandler,
} from '@sockserve/core';
import type { Logger } from 'pino';

/**
 * The base of every request handler, as in Python's `socketserver`. The server creates one per
 * request and runs `await setup()`, then `await handle()` in `try`, and `await finish()` in
 * `finally`. Override `handle()`; override `setup()` and `finish()` to acquire and release
 * per-request resources.
 *
 * @example
 * ```ts
 * class Hello extends BaseRequestHandler<net.Socket> {
 *   override handle() {
 *     this.log.info('saying hello');
 *     this.request.end('hello\n');
 *   }
 * }
 * ```
 */
export class BaseRequestHandler<Request = unknown, Address = ClientAddress> implements RequestHandler {
  /** The request: a `net.Socket` for stream servers, `[packet, socket]` for datagram servers. */
  readonly request: Request;
  /** The peer's address. */
  readonly clientAddress: Address;
  /** The server (inside a worker of a worker pool: a stand-in with the same members). */
  readonly server: HandlerServer;
  /** Per-request values from the server, when it provides them. */
  readonly #context: RequestContext | undefined;
  #signal: AbortSignal | undefined;

  constructor(request: Request, clientAddress: Address, server: HandlerServer) {
    this.request = request;
    this.clientAddress = clientAddress;
    this.server = server;
    this.#context = (server as Partial<RequestContextProvider>)[kRequestContext]?.(request);
  }

  /** Aborted when the server forces this request to end (`serverClose({ timeout })` ran out). */
  get signal(): AbortSignal {
    return (this.#signal ??= this.#context?.signal ?? new AbortController().signal);
  }

  /** A pino child logger bound to this request's client address (created on first use). */
  get log(): Logger {
    return this.#context?.log ?? this.server.log;
  }

  /** Runs before `handle()`. Default: nothing. */
  setup(): Awaitable<void> {}

  /** Handles the request. Default: nothing. */
  handle(): Awaitable<void> {}

  /** Runs after `handle()`, even when it threw. Default: nothing. */
  finish(): Awaitable<void> {}
}
