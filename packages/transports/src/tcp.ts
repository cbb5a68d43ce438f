/**
 * `TCPServer`: a stream server on TCP, IPv4 or IPv6.
 *
 * @module
 */
import net from 'node:net';
import { inetAddress, type InetAddress, type RequestHandlerClass } from '@sockserve/core';
import { checkFd, checkInetAddress, describeInetAddress, reportedInetAddress, requestedInetAddress } from './_inet.js';
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
 * A listening socket made by someone else, given by its descriptor: what systemd socket activation
 * passes (see `listenFds()`), or a descriptor inherited from a parent process.
 *
 * @example
 * ```ts
 * const [socket] = listenFds();
 * new TCPServer({ fd: socket!.fd }, Handler);
 * ```
 */
export interface AdoptedListener {
  /** The descriptor of a socket that is bound and listening already. */
  fd: number;
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
  /** The address as requested (`{ host: '', port: 0 }` for an adopted listener). */
  readonly requestedAddress: Readonly<TCPAddress>;
  /** The descriptor of an adopted listener (`{ fd }`), or `undefined`. */
  readonly fd: number | undefined;
  readonly #options: TCPServerOptions;
  /** The address as bound, kept after close. */
  #bound: InetAddress | undefined;

  constructor(
    address: TCPAddress | AdoptedListener,
    RequestHandlerClass: RequestHandlerClass<net.Socket, InetAddress>,
    options: TCPServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
    const adopted = typeof address === 'object' && address !== null && 'fd' in address;
    this.fd = adopted ? checkFd(address.fd) : undefined;
    this.requestedAddress = adopted ? Object.freeze({ host: '', port: 0 }) : requestedInetAddress(address);
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
    if (this.fd !== undefined) return { fd: this.fd } as net.ListenOptions;
    checkInetAddress(this.requestedAddress);
    const { host, port } = this.requestedAddress;
    return { host, port, ipv6Only: this.#options.ipv6Only === true };
  }

  protected override _rebindOptions(): net.ListenOptions {
    // An adopted descriptor is gone once closed: listen again where it was.
    const { host, port } = this.serverAddress;
    return this.fd === undefined ? { ...this._listenOptions(), port } : { host, port };
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
    return this.fd === undefined ? describeInetAddress(this.requestedAddress) : `the listening socket of descriptor ${this.fd}`;
  }
}
