/**
 * `TCPServer`: a stream server on TCP, IPv4 or IPv6.
 *
 * @module
 */
import net from 'node:net';
import { inetAddress, type InetAddress, type RequestHandlerClass } from '@sockserve/core';
import { checkInetAddress, describeInetAddress, reportedInetAddress, requestedInetAddress } from './_inet.js';
import { StreamServer, type StreamServerOptions } from './stream_server.js';

/**
 * Where a TCP server listens.
 *
 * @example
 * ```ts
 * const any: TCPAddress = { host: '::', port: 8000 };        // dual-stack: IPv6 and IPv4
 * const local: TCPAddress = { host: '127.0.0.1', port: 0 }; // port 0: the system picks one
 * ```
 */
export interface TCPAddress {
  /** A numeric address (`'127.0.0.1'`, `'::1'`, `'0.0.0.0'`, `'::'`) or a host name. */
  host: string;
  /** 0 to 65535; 0 picks a free port (read it back from `serverAddress`). */
  port: number;
}

/**
 * Options of {@link TCPServer}.
 *
 * @example
 * ```ts
 * const options: TCPServerOptions = { noDelay: true, keepAlive: 30_000, ipv6Only: false };
 * ```
 */
export interface TCPServerOptions extends StreamServerOptions {
  /**
   * Set `TCP_NODELAY` (Nagle's algorithm off) on every connection as it is accepted. Default:
   * true. Handlers apply their own `disableNagleAlgorithm` on top (true by default too).
   */
  noDelay?: boolean;
  /** Enable TCP keep-alive on every connection; a number sets the initial delay in ms. Default: false. */
  keepAlive?: boolean | number;
  /** With host `'::'`, accept IPv6 only (no IPv4-mapped addresses). Default: false (dual-stack). */
  ipv6Only?: boolean;
}

/**
 * A TCP server: one handler instance per connection, `request` is the `net.Socket`, the client
 * address is `{ host, port, family }`.
 *
 * @example
 * ```ts
 * import { TCPServer, StreamRequestHandler } from 'sockserve';
 *
 * class EchoHandler extends StreamRequestHandler {
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) await this.wfile.write(line);
 *   }
 * }
 *
 * await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, EchoHandler);
 * await server.listen();
 * console.log(`listening on port ${server.serverAddress.port}`);
 * await server.serveForever();
 * ```
 */
export class TCPServer extends StreamServer<InetAddress, InetAddress> {
  /** The address as requested. */
  readonly requestedAddress: Readonly<TCPAddress>;
  readonly #options: TCPServerOptions;
  /** The address as bound, kept after close. */
  #bound: InetAddress | undefined;

  constructor(
    address: TCPAddress,
    RequestHandlerClass: RequestHandlerClass<net.Socket, InetAddress>,
    options: TCPServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
    this.requestedAddress = requestedInetAddress(address);
    this.#options = options;
  }

  /** The bound address with the real port (still after close); before `listen()`, the requested one. */
  get serverAddress(): InetAddress {
    return reportedInetAddress(this.#bound, this.requestedAddress);
  }

  protected override async _afterBind(): Promise<void> {
    const bound = this._listener?.address();
    if (bound !== null && typeof bound === 'object') {
      this.#bound = inetAddress(bound.address, bound.port, bound.family);
    }
  }

  protected override _listenOptions(): net.ListenOptions {
    checkInetAddress(this.requestedAddress);
    const { host, port } = this.requestedAddress;
    return { host, port, ipv6Only: this.#options.ipv6Only === true };
  }

  protected override _rebindOptions(): net.ListenOptions {
    return { ...this._listenOptions(), port: this.serverAddress.port };
  }

  protected override _serverOptions(): net.ServerOpts {
    const { noDelay = true, keepAlive = false } = this.#options;
    return {
      noDelay,
      keepAlive: keepAlive !== false,
      keepAliveInitialDelay: typeof keepAlive === 'number' ? keepAlive : 0,
    };
  }

  protected override _clientAddress(socket: net.Socket): InetAddress {
    return inetAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, socket.remoteFamily);
  }

  protected override _describeAddress(): string {
    return describeInetAddress(this.requestedAddress);
  }
}
