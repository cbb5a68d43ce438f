/**
 * `UDPServer`: a datagram server on UDP, IPv4 or IPv6.
 *
 * @module
 */
import dgram from 'node:dgram';
import net from 'node:net';
import {
  InvalidStateError,
  inetAddress,
  toListenError,
  type InetAddress,
  type RequestHandlerClass,
  type SharedDatagramSocket,
} from '@sockserve/core';
import { readFileSync, readlinkSync } from 'node:fs';
import { checkFd, checkInetAddress, describeInetAddress, reportedInetAddress, requestedInetAddress } from './_inet.js';
import type { AdoptedListener } from './tcp.js';
import { DatagramServer, type DatagramRequest, type DatagramServerOptions } from './datagram_server.js';
import type { TCPAddress } from './tcp.js';

/** The largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header). */
const MAX_UDP_PAYLOAD = 65_507;

/**
 * Where a UDP server listens: the same shape as a TCP address.
 *
 * @example
 * ```ts
 * const address: UDPAddress = { host: '::1', port: 0 };
 * ```
 */
export type UDPAddress = TCPAddress;

/**
 * Options of {@link UDPServer}.
 *
 * @example
 * ```ts
 * const options: UDPServerOptions = { reuseAddress: true, recvBufferSize: 4 * 1024 * 1024 };
 * ```
 */
export interface UDPServerOptions extends DatagramServerOptions {
  /** Set `SO_REUSEADDR`, so several sockets may bind the same address. Default: false. */
  reuseAddress?: boolean;
  /** With host `'::'`, receive IPv6 only. Default: false (dual-stack). */
  ipv6Only?: boolean;
  /** `SO_RCVBUF` in bytes: how much the kernel queues before it drops. Default: the system's. */
  recvBufferSize?: number;
  /** `SO_SNDBUF` in bytes. Default: the system's. */
  sendBufferSize?: number;
}

/**
 * A UDP server: each datagram is one request, `[packet, socket]` (a `dgram.Socket`); client
 * addresses are `{ host, port, family }`. Use it with a `DatagramRequestHandler`, whose reply is
 * sent back as one datagram after `finish()`.
 *
 * @example
 * ```ts
 * import { DatagramRequestHandler, UDPServer } from 'sockserve';
 *
 * class Echo extends DatagramRequestHandler {
 *   override async handle() { await this.wfile.write(this.packet); }
 * }
 *
 * await using server = new UDPServer({ host: '127.0.0.1', port: 9999 }, Echo);
 * await server.serveForever();
 * ```
 */
export class UDPServer extends DatagramServer<InetAddress, InetAddress, dgram.Socket> {
  /** The address as requested (`{ host: '', port: 0 }` for an adopted socket). */
  readonly requestedAddress: Readonly<UDPAddress>;
  /** The descriptor of an adopted socket (`{ fd }`), or `undefined`. */
  readonly fd: number | undefined;
  readonly #options: UDPServerOptions;
  #socket: dgram.Socket | undefined;
  /** The address as bound, kept after close. */
  #bound: InetAddress | undefined;

  constructor(
    address: UDPAddress | AdoptedListener,
    RequestHandlerClass: RequestHandlerClass<DatagramRequest<dgram.Socket>, InetAddress>,
    options: UDPServerOptions = {},
  ) {
    super(RequestHandlerClass, options, MAX_UDP_PAYLOAD);
    const adopted = typeof address === 'object' && address !== null && 'fd' in address;
    this.fd = adopted ? checkFd(address.fd) : undefined;
    this.requestedAddress = adopted ? Object.freeze({ host: '', port: 0 }) : requestedInetAddress(address);
    this.#options = options;
  }

  /** The bound address with the real port (still after close); before `listen()`, the requested one. */
  get serverAddress(): InetAddress {
    return reportedInetAddress(this.#bound, this.requestedAddress);
  }

  /** The bound `dgram.Socket`, or `undefined` before `listen()` and after close. */
  get socket(): dgram.Socket | undefined {
    return this.#socket;
  }

  protected override async _bind(): Promise<void> {
    if (this.fd === undefined) checkInetAddress(this.requestedAddress);
    const { host, port } = this.requestedAddress;
    const described = this.fd === undefined ? `udp ${describeInetAddress(this.requestedAddress)}` : `the UDP socket of descriptor ${this.fd}`;
    let socket: dgram.Socket;
    try {
      socket = await this.#open(host, port, this.fd);
    } catch (error) {
      throw toListenError(error, described);
    }
    const bound = socket.address();
    this.#bound = inetAddress(bound.address, bound.port, bound.family);
    socket.on('error', (error) => this._serverError(error));
    socket.on('message', (packet, remote) => {
      this._receive(packet, inetAddress(remote.address, remote.port, remote.family), socket);
    });
    this.#socket = socket;
  }

  /** A socket bound at `host:port` (or adopted from `fd`) with the server's options (no listeners attached). */
  async #open(host: string, port: number, fd?: number): Promise<dgram.Socket> {
    const { reuseAddress = false, ipv6Only = false, recvBufferSize, sendBufferSize } = this.#options;
    const socket = dgram.createSocket({
      type: fd === undefined ? (net.isIPv6(host) ? 'udp6' : 'udp4') : udpTypeOf(fd),
      reuseAddr: reuseAddress,
      ipv6Only,
      ...(recvBufferSize === undefined ? {} : { recvBufferSize }),
      ...(sendBufferSize === undefined ? {} : { sendBufferSize }),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(fd === undefined ? { address: host, port } : { fd }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw error;
    }
    return socket;
  }

  protected override _shareSocket(): SharedDatagramSocket {
    const socket = this.#socket;
    const bound = this.#bound;
    if (socket === undefined || bound === undefined) throw new InvalidStateError('Only a listening UDPServer can share its socket');
    return {
      kind: 'udp',
      socket,
      fd: undefined,
      maxDatagramSize: this.maxDatagramSize,
      options: {},
      release: async () => {
        if (this.#socket !== socket) return;
        await this.#whenSent();
        this.#socket = undefined;
        await new Promise<void>((resolve) => socket.close(() => resolve()));
      },
      rebind: () => this.#open(bound.host, bound.port),
    };
  }

  protected override async _unbind(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return;
    await this.#whenSent();
    this.#socket = undefined;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  protected override _send(socket: dgram.Socket, data: Buffer, address: InetAddress, request: DatagramRequest<dgram.Socket>): undefined {
    // Not awaited: holding each request open until the kernel answers costs more than the send
    // itself. A failure (EMSGSIZE, ENETUNREACH, ...) still reaches handleError().
    this.#sending++;
    socket.send(data, address.port, address.host, (error) => {
      if (--this.#sending === 0) for (const resolve of this.#sent.splice(0)) resolve();
      if (error) void this._lateRequestError(request, address, error);
    });
    return undefined;
  }

  /** Replies handed to the socket and not yet confirmed: the socket closes only after them. */
  #sending = 0;
  readonly #sent: Array<() => void> = [];

  async #whenSent(): Promise<void> {
    if (this.#sending > 0) await new Promise<void>((resolve) => this.#sent.push(resolve));
  }
}

/**
 * Whether the UDP socket of descriptor `fd` is IPv4 or IPv6 (Node must be told when it creates
 * the socket). Linux tells through /proc; elsewhere IPv6 is assumed when the program's other
 * sockets cannot tell, and a dual-stack IPv6 socket serves both.
 */
function udpTypeOf(fd: number): 'udp4' | 'udp6' {
  try {
    const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (inode === undefined) return 'udp6';
    const listed = (table: string): boolean =>
      readFileSync(table, 'utf8')
        .split('\n')
        .some((line) => line.trim().split(/\s+/)[9] === inode);
    return listed('/proc/net/udp') ? 'udp4' : 'udp6';
  } catch {
    return 'udp6';
  }
}
