/**
 * `MemoryDatagramServer`: a datagram server whose datagrams are sent in memory, for unit tests.
 *
 * @module
 */
import { InvalidStateError, type ClientAddress, type InetAddress, type RequestHandlerClass, type SharedDatagramSocket } from '@sockserve/core';
import { DatagramServer, type DatagramRequest, type DatagramServerOptions } from '@sockserve/transports';
import { madeUpAddress, refuseWorkerPool } from './_address.js';

/** The largest datagram a `MemoryDatagramServer` takes by default: UDP's over IPv4. */
const MAX_DATAGRAM = 65_507;

/**
 * What a `MemoryDatagramServer` handler sees as `this.socket`: the exchange of one datagram.
 *
 * @example
 * ```ts
 * class Handler extends DatagramRequestHandler<InetAddress, MemoryDatagramSocket> {
 *   override handle() { this.log.info({ bytes: this.packet.length }, 'got one'); }
 * }
 * ```
 */
export class MemoryDatagramSocket {
  /** The reply the server sent back, if any. */
  reply: Buffer | undefined = undefined;
  #settle: ((reply: Buffer | undefined) => void) | undefined;
  /** Settles with the reply once the request is done. */
  readonly done: Promise<Buffer | undefined>;

  constructor() {
    this.done = new Promise((resolve) => (this.#settle = resolve));
  }

  /** The request is over: its reply (or none) is final. */
  finish(): void {
    this.#settle?.(this.reply);
    this.#settle = undefined;
  }
}

/**
 * Options of {@link MemoryDatagramServer}.
 *
 * @example
 * ```ts
 * new MemoryDatagramServer(UpperHandler, { maxDatagramSize: 512, serverAddress: 'memory:dns' });
 * ```
 */
export interface MemoryDatagramServerOptions extends DatagramServerOptions {
  /** What `serverAddress` reports. Default: `'memory'`. */
  serverAddress?: string;
}

/**
 * A datagram server without sockets: `await server.send(packet)` delivers one datagram and
 * resolves with the reply the handler wrote (`undefined` when it wrote none, or when the datagram
 * was dropped or refused). Everything else is the server you deploy: the same
 * `DatagramRequestHandler`, hooks (`verifyRequest()`, `handleError()`, ...), strategy (not the
 * worker pool), events (`'dropped'` for a datagram over `maxDatagramSize`), and close report.
 *
 * As on a socket, a datagram is taken while `serveForever()` runs (or by `handleRequest()`); until
 * then it waits, and so does `send()`.
 *
 * @example
 * ```ts
 * import { MemoryDatagramServer } from '@sockserve/testing';
 *
 * await using server = new MemoryDatagramServer(UpperHandler, { logger: false });
 * void server.serveForever();
 * expect((await server.send('hi'))?.toString()).toBe('HI');
 * ```
 */
export class MemoryDatagramServer<Address extends ClientAddress = InetAddress> extends DatagramServer<
  Address,
  string,
  MemoryDatagramSocket
> {
  readonly #serverAddress: string;

  constructor(
    RequestHandlerClass: RequestHandlerClass<DatagramRequest<MemoryDatagramSocket>, Address>,
    options: MemoryDatagramServerOptions = {},
  ) {
    super(RequestHandlerClass, options, MAX_DATAGRAM);
    refuseWorkerPool(this.concurrency);
    this.#serverAddress = options.serverAddress ?? 'memory';
  }

  /** The name given as `serverAddress` (default `'memory'`). */
  get serverAddress(): string {
    return this.#serverAddress;
  }

  /**
   * Sends one datagram from `clientAddress` (default: made up, `127.0.0.1` and a new port) and
   * resolves with the reply once the request is done. Listens first if needed; rejects with
   * `ServerClosedError` after `serverClose()`.
   *
   * @example
   * ```ts
   * const reply = await server.send(Buffer.from([1, 2, 3]), { host: '::1', port: 53, family: 'IPv6' });
   * ```
   */
  async send(packet: Uint8Array | string, clientAddress?: Address): Promise<Buffer | undefined> {
    await this.listen();
    const bytes = typeof packet === 'string' ? Buffer.from(packet) : Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    const socket = new MemoryDatagramSocket();
    this._receive(bytes, clientAddress ?? (madeUpAddress() as ClientAddress as Address), socket);
    // Dropped as too large: the server reported it, and no request will end.
    if (bytes.length > this.maxDatagramSize) socket.finish();
    return socket.done;
  }

  // The transport contract.

  protected override async _bind(): Promise<void> {}

  protected override async _unbind(): Promise<void> {}

  protected override _send(socket: MemoryDatagramSocket, data: Buffer): Promise<void> {
    socket.reply = data;
    return Promise.resolve();
  }

  protected override _destroyRequest(request: DatagramRequest<MemoryDatagramSocket>): void {
    super._destroyRequest(request);
    request[1].finish(); // aborted, or refused while closing: no reply
  }

  protected override _requestClosed(request: DatagramRequest<MemoryDatagramSocket>): void {
    request[1].finish();
  }

  protected override _shareSocket(): SharedDatagramSocket {
    throw new InvalidStateError('A MemoryDatagramServer has no socket to share: use it with EventLoopStrategy or SequentialStrategy');
  }
}
