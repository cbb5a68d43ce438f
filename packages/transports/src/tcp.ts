/**
 * `TCPServer`: a stream server on TCP, IPv4 or IPv6.
 *
 * @module
 */
import net from 'node:net';
import { InvalidArgumentError, type InetAddress, type RequestHandlerClass } from '@sockserve/core';
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
  /** Set `TCP_NODELAY` on every connection. Default: false. */
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
    if (typeof address !== 'object' || address === null) {
      throw new InvalidArgumentError(`Expected \`address\` to be an object like { host, port }, got \`${String(address)}\``);
    }
    this.requestedAddress = Object.freeze({ host: address.host, port: address.port });
    this.#options = options;
  }

  /** The bound address with the real port (still after close); before `listen()`, the requested one. */
  get serverAddress(): InetAddress {
    if (this.#bound !== undefined) return this.#bound;
    const { host, port } = this.requestedAddress;
    return { host, port, family: net.isIPv6(host) ? 'IPv6' : 'IPv4' };
  }

  protected override async _afterBind(): Promise<void> {
    const bound = this._listener?.address();
    if (bound !== null && typeof bound === 'object') {
      this.#bound = { host: bound.address, port: bound.port, family: familyOf(bound.family) };
    }
  }

  protected override _listenOptions(): net.ListenOptions {
    const { host, port } = this.requestedAddress;
    if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
      throw new InvalidArgumentError(`Expected \`port\` to be an integer from 0 to 65535, got \`${String(port)}\``);
    }
    if (typeof host !== 'string' || host.length === 0) {
      throw new InvalidArgumentError(`Expected \`host\` to be a non-empty string, got \`${String(host)}\``);
    }
    return { host, port, ipv6Only: this.#options.ipv6Only === true };
  }

  protected override _serverOptions(): net.ServerOpts {
    const { noDelay = false, keepAlive = false } = this.#options;
    return {
      noDelay,
      keepAlive: keepAlive !== false,
      keepAliveInitialDelay: typeof keepAlive === 'number' ? keepAlive : 0,
    };
  }

  protected override _clientAddress(socket: net.Socket): InetAddress {
    return {
      host: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      family: familyOf(socket.remoteFamily),
    };
  }

  protected override _describeAddress(): string {
    const { host, port } = this.requestedAddress;
    return `${String(host).includes(':') ? `[${host}]` : host}:${port}`;
  }
}

function familyOf(family: string | number | undefined): 'IPv4' | 'IPv6' {
  return family === 'IPv6' || family === 6 ? 'IPv6' : 'IPv4';
}
