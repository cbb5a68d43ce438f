/**
 * `DatagramServer`: what UDP and Unix datagram servers share on top of `BaseServer`.
 *
 * @module
 */
import {
  BaseServer,
  InvalidArgumentError,
  type Awaitable,
  type BaseServerOptions,
  type ClientAddress,
  type InetAddress,
  type RequestHandlerClass,
  type SharedDatagramSocket,
} from '@sockserve/core';
import { kDatagramReply, type DatagramReply } from '@sockserve/core/internal';

/**
 * Options of every datagram server.
 *
 * @example
 * ```ts
 * const options: DatagramServerOptions = { maxDatagramSize: 8192 };
 * ```
 */
export interface DatagramServerOptions extends BaseServerOptions {
  /**
   * The largest datagram handled, in bytes. A larger one is dropped whole (never cut), logged
   * and reported with a `'dropped'` event. Default: the transport's maximum.
   */
  maxDatagramSize?: number;
}

/**
 * A datagram request: the packet and the server's socket.
 *
 * @example
 * ```ts
 * override verifyRequest([packet]: DatagramRequest<dgram.Socket>) { return packet.length > 0; }
 * ```
 */
export type DatagramRequest<Socket> = [Buffer, Socket];

/**
 * The shared base of {@link UDPServer} and {@link UnixDatagramServer}: each datagram is one
 * request, `[packet, socket]`; after the handler's `finish()`, the reply it wrote is sent to the
 * client as one datagram. A failure to send reaches `handleError()`. Subclass a concrete server,
 * not this one.
 *
 * @example
 * ```ts
 * function largest(server: DatagramServer<ClientAddress, InetAddress | string, unknown>): number {
 *   return server.maxDatagramSize;
 * }
 * ```
 */
export abstract class DatagramServer<
  Address extends ClientAddress,
  ServerAddress extends InetAddress | string,
  Socket,
> extends BaseServer<DatagramRequest<Socket>, Address, ServerAddress> {
  /** The largest datagram handled, in bytes. */
  readonly maxDatagramSize: number;
  /** Requests aborted by the server: their replies are not sent. */
  readonly #aborted = new WeakSet<DatagramRequest<Socket>>();

  constructor(
    RequestHandlerClass: RequestHandlerClass<DatagramRequest<Socket>, Address>,
    options: DatagramServerOptions,
    limit: number,
  ) {
    super(RequestHandlerClass, options);
    const { maxDatagramSize = limit } = options;
    if (!(Number.isInteger(maxDatagramSize) && maxDatagramSize >= 1 && maxDatagramSize <= limit)) {
      throw new InvalidArgumentError(
        `Expected \`maxDatagramSize\` to be an integer from 1 to ${limit}, got \`${String(maxDatagramSize)}\``,
      );
    }
    this.maxDatagramSize = maxDatagramSize;
  }

  protected override get _requestKind(): 'datagram' {
    return 'datagram';
  }

  /** Lends the bound socket to a strategy that reads it in other processes. */
  protected abstract override _shareSocket(): SharedDatagramSocket;

  /**
   * Sends one datagram from `socket` to `address`: a promise that settles with the outcome, or
   * `undefined` when the transport does not wait and reports a failure itself, through
   * `_lateRequestError(request, ...)`.
   */
  protected abstract _send(socket: Socket, data: Buffer, address: Address, request: DatagramRequest<Socket>): Promise<void> | undefined;

  /** Transports call this for every datagram received. */
  protected _receive(packet: Buffer, clientAddress: Address, socket: Socket): void {
    if (packet.length > this.maxDatagramSize) {
      this._dropped(
        { reason: 'too-large', clientAddress, size: packet.length },
        `Dropped a datagram of ${packet.length} bytes: larger than maxDatagramSize (${this.maxDatagramSize})`,
      );
      return;
    }
    this._countBytes(packet.length, 0);
    this._accept([packet, socket], clientAddress);
  }

  /** Transports call this for a datagram that did not fit their receive buffer (`bufferSize`). */
  protected _receiveTruncated(size: number, clientAddress: Address, bufferSize: number): void {
    this._dropped(
      { reason: 'truncated', clientAddress, size },
      `Dropped a datagram of ${size} bytes: larger than the receive buffer (bufferSize ${bufferSize})`,
    );
  }

  protected override _destroyRequest(request: DatagramRequest<Socket>): void {
    this.#aborted.add(request);
  }

  /**
   * Sends the reply the handler collected (if any) to the client, then calls `closeRequest()`.
   * A failed send reaches `handleError()`.
   *
   * @example
   * ```ts
   * override async shutdownRequest(request: DatagramRequest<dgram.Socket>) {
   *   this.replies += 1;
   *   await super.shutdownRequest(request);
   * }
   * ```
   */
  override shutdownRequest(request: DatagramRequest<Socket>): Awaitable<void> {
    const reply = (request as Partial<Record<typeof kDatagramReply, DatagramReply>>)[kDatagramReply]?.contents();
    const address = this._clientAddressOf(request);
    if (reply === undefined || address === undefined || this.#aborted.has(request)) return this.closeRequest(request);
    this._countBytes(0, reply.length);
    const sent = this._send(request[1], reply, address, request);
    if (sent === undefined) return this.closeRequest(request);
    // Promise callbacks rather than an async function: one frame less per datagram.
    return sent.then(
      () => this.closeRequest(request),
      (error: unknown) => {
        this._requestError(request, error);
        return this.closeRequest(request);
      },
    );
  }
}
