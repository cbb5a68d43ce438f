/**
 * Shared types: addresses, the handler contract and the server view a handler sees.
 *
 * @module
 */
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
 * pool it is a stand-in with these same members.
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
