/**
 * `MemoryServer`: a stream server whose connections are made in memory, for unit tests.
 *
 * @module
 */
import type net from 'node:net';
import type { ClientAddress, InetAddress, RequestHandlerClass } from '@sockserve/core';
import { StreamServer, type StreamServerOptions } from '@sockserve/transports';
import { madeUpAddress, refuseWorkerPool } from './_address.js';
import { MemorySocket, type MemorySocketPairOptions } from './memory_socket.js';

/**
 * Options of {@link MemoryServer}: those of every stream server, plus what the server reports.
 *
 * @example
 * ```ts
 * new MemoryServer(EchoHandler, { serverAddress: 'memory:echo', timeout: 1_000, logger: false });
 * ```
 */
export interface MemoryServerOptions extends StreamServerOptions, MemorySocketPairOptions {
  /** What `serverAddress` reports. Default: `'memory'`. */
  serverAddress?: string;
}


/**
 * A stream server without sockets: `await server.connect()` opens an in-memory connection and
 * returns its client end (a {@link MemorySocket}). Everything else is the server you deploy: the
 * same handler class (a `StreamRequestHandler` with `rfile` and `wfile`), hooks, strategy
 * (`EventLoopStrategy`, `SequentialStrategy`; not `WorkerPoolStrategy`, whose workers need real
 * descriptors), events, timeouts, graceful end of each connection, and close report. Use it to
 * unit-test handlers and server subclasses quickly and deterministically.
 *
 * The handler's `request` is the server end, a `MemorySocket` (a `Duplex` with the socket
 * methods handlers use), typed as a `net.Socket` for the handler. Client addresses are made up
 * (`127.0.0.1`, a new port each) unless `connect()` is given one.
 *
 * @example
 * ```ts
 * import { MemoryServer } from '@sockserve/testing';
 *
 * await using server = new MemoryServer(EchoHandler, { logger: false });
 * void server.serveForever();
 * const client = await server.connect();
 * client.end('hello\n');
 * expect((await client.toArray()).join('')).toBe('hello\n');
 * ```
 */
export class MemoryServer<Address extends ClientAddress = InetAddress> extends StreamServer<Address, string> {
  readonly #serverAddress: string;
  readonly #pair: MemorySocketPairOptions;

  constructor(RequestHandlerClass: RequestHandlerClass<net.Socket, Address>, options: MemoryServerOptions = {}) {
    super(RequestHandlerClass, options);
    refuseWorkerPool(this.concurrency);
    this.#serverAddress = options.serverAddress ?? 'memory';
    this.#pair = options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark };
  }

  /** The name given as `serverAddress` (default `'memory'`). */
  get serverAddress(): string {
    return this.#serverAddress;
  }

  /**
   * Opens a connection to the server (listening first if needed) and returns its client end. The
   * server takes it as a real server takes an accepted connection: dispatched at once while
   * `serveForever()` runs, else waiting for `handleRequest()` or `serveForever()`. Rejects with
   * `ServerClosedError` after `serverClose()`.
   *
   * @example
   * ```ts
   * const alice = await server.connect({ host: '192.0.2.7', port: 5000, family: 'IPv4' });
   * ```
   */
  async connect(clientAddress?: Address): Promise<MemorySocket> {
    await this.listen();
    const [client, server] = MemorySocket.pair(this.#pair);
    const address = clientAddress ?? (madeUpAddress() as ClientAddress as Address);
    if ('host' in address) {
      server.remoteAddress = address.host;
      server.remotePort = address.port;
      server.remoteFamily = address.family;
    }
    this._connection(server as unknown as net.Socket, address);
    return client;
  }

  // The transport contract: nothing to bind, nothing to release.

  protected override async _bind(): Promise<void> {}

  protected override _stopAccepting(): void {}

  protected override async _unbind(): Promise<void> {}

  protected override _listenOptions(): net.ListenOptions {
    return {};
  }

  protected override _clientAddress(): Address {
    return madeUpAddress() as ClientAddress as Address;
  }

  protected override _describeAddress(): string {
    return this.#serverAddress;
  }
}
