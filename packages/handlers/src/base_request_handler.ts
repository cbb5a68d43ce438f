/**
 * `BaseRequestHandler`: one instance per request, with `setup`, `handle` and `finish`.
 *
 * @module
 */
import type { Awaitable, ClientAddress, HandlerServer, RequestContext, RequestHandler } from '@sockserve/core';
import { kRequestContext, type RequestContextProvider } from '@sockserve/core/internal';
import { kContext } from './_symbols.js';
import type { Logger } from 'pino';

/**
 * The base of every request handler, as in Python's `socketserver`. The server creates one per
 * request and runs `await setup()`, then `await handle()` in `try`, and `await finish()` in
 * `finally`. Override `handle()`; override `setup()` and `finish()` to acquire and release
 * per-request resources.
 *
 * The type parameters name the request, the client address and the server: a handler that is
 * only used with `CounterServer` declares it as its third, and `this.server` is a
 * `CounterServer` without a cast. (Under a worker pool `this.server` is the worker's own server, with
 * `serverAddress`, `log` and `shutdown()` only: keep to those in handlers that run there.)
 *
 * @example
 * ```ts
 * class Hello extends BaseRequestHandler<net.Socket, InetAddress, CounterServer> {
 *   override handle() {
 *     this.server.greeted += 1;
 *     this.log.info('saying hello');
 *     this.request.end('hello\n');
 *   }
 * }
 * ```
 */
export class BaseRequestHandler<Request = unknown, Address = ClientAddress, Server extends HandlerServer = HandlerServer>
  implements RequestHandler
{
  /** The request: a `net.Socket` for stream servers, `[packet, socket]` for datagram servers. */
  readonly request: Request;
  /** The peer's address. */
  readonly clientAddress: Address;
  /**
   * The server, typed as the handler's `Server` parameter (inside a worker of a worker pool: the
   * worker's own server; rely on `serverAddress`, `log` and `shutdown()` there).
   */
  readonly server: Server;
  /** Per-request values from the server, when it provides them. */
  readonly #context: RequestContext | undefined;
  #signal: AbortSignal | undefined;

  constructor(request: Request, clientAddress: Address, server: HandlerServer) {
    this.request = request;
    this.clientAddress = clientAddress;
    this.server = server as Server;
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

  /** The server's per-request values (for the handler classes of this package). */
  get [kContext](): RequestContext | undefined {
    return this.#context;
  }

  /** Runs before `handle()`. Default: nothing. */
  setup(): Awaitable<void> {}

  /** Handles the request. Default: nothing. */
  handle(): Awaitable<void> {}

  /** Runs after `handle()`, even when it threw. Default: nothing. */
  finish(): Awaitable<void> {}
}
