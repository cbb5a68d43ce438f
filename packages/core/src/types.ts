/**
 * Shared types: addresses, the handler contract and the server view a handler sees.
 *
 * @module
 */
import type { TLSHandshakeError } from './errors.js';
import type { Logger } from 'pino';

/**
 * An Internet socket address, as a TCP or UDP server reports its own address and its clients'.
 *
 * @example
 * ```ts
 * const { host, port, family } = server.serverAddress; // { host: '127.0.0.1', port: 41234, family: 'IPv4' }
 * ```
 */
export interface InetAddress {
  /** The numeric host address (`'127.0.0.1'`, `'::1'`), or the name given before listening. */
  readonly host: string;
  /** The port number. */
  readonly port: number;
  /** `'IPv4'` or `'IPv6'`. */
  readonly family: 'IPv4' | 'IPv6';
}

/**
 * The address of a Unix socket peer. `path` is `null` when the peer's socket is unbound, which is
 * the usual case for stream clients.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler<UnixAddress> {
 *   async handle() { this.log.info({ peer: this.clientAddress.path ?? 'unbound' }, 'hello'); }
 * }
 * ```
 */
export interface UnixAddress {
  readonly path: string | null;
}

/**
 * A client address of any transport.
 *
 * @example
 * ```ts
 * function describe(address: ClientAddress): string {
 *   return 'path' in address ? (address.path ?? 'unbound unix peer') : `${address.host}:${address.port}`;
 * }
 * ```
 */
export type ClientAddress = InetAddress | UnixAddress;

/**
 * What a request handler sees of its server. A `BaseServer` is one; inside a worker of a worker
 * pool it is the worker's own server, which has these same members.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   async handle() {
 *     if ((await this.rfile.readline()).toString() === 'stop\n') await this.server.shutdown();
 *   }
 * }
 * ```
 */
export interface HandlerServer {
  /** The address the server listens on. */
  readonly serverAddress: InetAddress | string;
  /** The server's logger. */
  readonly log: Logger;
  /** Stops `serveForever()`; safe to call from inside a handler. */
  shutdown(): Promise<void>;
}

/**
 * The object a server creates for each request. `setup()` runs first; if it succeeds, `handle()`
 * runs and `finish()` runs after it, whether it threw or not. Each may be sync or async.
 *
 * @example
 * ```ts
 * class Minimal implements RequestHandler {
 *   constructor(readonly request: net.Socket) {}
 *   handle() { this.request.write('hi\n'); }
 * }
 * ```
 */
export interface RequestHandler {
  setup?(): unknown;
  handle(): unknown;
  finish?(): unknown;
}

/**
 * A class whose instances handle one request each, as `socketserver`'s `RequestHandlerClass`.
 *
 * @example
 * ```ts
 * const Handler: RequestHandlerClass<net.Socket, InetAddress> = EchoHandler;
 * ```
 */
export type RequestHandlerClass<Request, Address> = new (
  request: Request,
  clientAddress: Address,
  server: HandlerServer,
) => RequestHandler;

/**
 * A value that may be returned directly or through a promise; the server awaits every hook.
 *
 * @example
 * ```ts
 * override verifyRequest(socket: net.Socket, address: InetAddress): Awaitable<boolean> {
 *   return address.host === '127.0.0.1';
 * }
 * ```
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * What `serverClose()` reports about the requests that were in flight when it was called.
 *
 * @example
 * ```ts
 * const { completed, aborted } = await server.serverClose({ timeout: 5_000 });
 * if (aborted > 0) console.warn(`${aborted} requests were cut off`);
 * ```
 */
export interface CloseReport {
  /** Requests that finished on their own before the deadline. */
  readonly completed: number;
  /** Requests that were still running at the deadline and were aborted. */
  readonly aborted: number;
}

/**
 * Options of `serverClose()`.
 *
 * @example
 * ```ts
 * await server.serverClose({ timeout: 10_000 });
 * ```
 */
export interface ServerCloseOptions {
  /** ms to wait for in-flight requests before aborting them. Default: wait for all of them. */
  timeout?: number;
}

/**
 * Options of `serveUntilSignal()`.
 *
 * @example
 * ```ts
 * await server.serveUntilSignal({ signals: ['SIGTERM'], timeout: 20_000 });
 * ```
 */
export interface ServeUntilSignalOptions {
  /** The signals that stop the server. Default: `['SIGINT', 'SIGTERM']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * ms that requests in flight get to finish after the signal; the rest are then aborted.
   * Default: 5000 (well inside the 10 s that `docker stop` waits before it kills).
   */
  timeout?: number;
  /**
   * ms to go on serving after the signal, with `server.draining` true, before the listener
   * closes: the time a load balancer needs to take the server out of rotation (its health or
   * agent check sees the drain) so that no new connection is refused. Default: 0 (close at once).
   */
  drainDelay?: number;
}

/**
 * What `serveUntilSignal()` resolves with: the close report, and the signal that stopped the
 * server (`null` when `shutdown()` or `serverClose()` stopped it).
 *
 * @example
 * ```ts
 * const { signal, completed, aborted } = await server.serveUntilSignal();
 * console.log(`stopped by ${signal}: ${completed} completed, ${aborted} aborted`);
 * ```
 */
export interface SignalCloseReport extends CloseReport {
  /** The signal that stopped the server, or `null`. */
  readonly signal: NodeJS.Signals | null;
}

/**
 * Events every server emits.
 *
 * @example
 * ```ts
 * server.on('request', (client) => console.log('request from', client));
 * server.on('close', ({ completed, aborted }) => console.log({ completed, aborted }));
 * ```
 */
export type ServerEvents<Address> = {
  /** The server is bound and listening. */
  listening: () => void;
  /** A request was accepted and is about to be verified and dispatched. */
  request: (clientAddress: Address) => void;
  /** A request failed; the error is also passed to `handleError()`. */
  requestError: (error: unknown, clientAddress: Address) => void;
  /** `shutdown()` stopped `serveForever()`. */
  shutdown: () => void;
  /** `serveUntilSignal()` got its signal: the server is draining (see `draining`), and will close. */
  draining: () => void;
  /** `serverClose()` finished. */
  close: (report: CloseReport) => void;
  /** The listener failed after it was listening (accept errors). Logged when nobody listens. */
  error: (error: Error) => void;
  /** A request was dropped before any handler saw it (also logged as a warning). */
  dropped: (info: DropInfo<Address>) => void;
  /**
   * A TLS handshake failed or timed out (TLS servers, and `startTls()` in a handler): the
   * connection is closed, no handler ran (or the handler's `startTls()` rejected), and it is
   * logged as a warning. Never passed to `handleError()`.
   */
  tlsClientError: (error: TLSHandshakeError, clientAddress: Address) => void;
};

/**
 * What `server.stats()` returns: counters since the server was created, and gauges of now.
 *
 * @example
 * ```ts
 * const { requests, failed, dropped } = server.stats();
 * ```
 */
export interface ServerStats {
  /** Requests being handled now (including those a strategy holds at its `maxConcurrency`). */
  readonly inFlight: number;
  /** Requests accepted while no `serveForever()` or `handleRequest()` takes them (up to `maxPendingRequests`). */
  readonly queued: number;
  /** Connections open now (stream servers): in flight, queued, lingering after their reply, or in a TLS handshake or PROXY header. */
  readonly connections: number;
  /** Requests accepted in total. */
  readonly requests: number;
  /** Requests whose error reached `handleError()`. */
  readonly failed: number;
  /** Requests aborted by `serverClose()` past its deadline. */
  readonly aborted: number;
  /** Requests and connections dropped before any handler, by reason. */
  readonly dropped: Readonly<Partial<Record<DropInfo<unknown>['reason'], number>>>;
  /** TLS handshakes that failed or timed out. */
  readonly tlsClientErrors: number;
  /** Bytes read from peers and written to them, counted as each request closes. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The strategy's own counters (a worker pool: workers, restarts, requests running in workers). */
  readonly strategy?: Readonly<Record<string, number>>;
}

/**
 * Why and what a server dropped without handling it.
 *
 * @example
 * ```ts
 * server.on('dropped', ({ reason, size, clientAddress }) => metrics.increment(`dropped.${reason}`));
 * ```
 */
export interface DropInfo<Address> {
  /**
   * `'too-large'`: a datagram above the server's maximum size; `'truncated'`: a datagram that did
   * not fit the receive buffer; `'backlog'`: more requests waiting than `maxPendingRequests`;
   * `'handshakes'`: a TLS connection arrived while `maxHandshakes` handshakes were in progress;
   * `'proxy-protocol'`: a connection from an untrusted source, or without a valid PROXY protocol
   * header in time, on a server with `proxyProtocol`.
   */
  readonly reason: 'too-large' | 'truncated' | 'backlog' | 'handshakes' | 'proxy-protocol';
  /** The sender, when known. */
  readonly clientAddress: Address | null;
  /** The size in bytes of what was dropped (0 for connections). */
  readonly size: number;
}
