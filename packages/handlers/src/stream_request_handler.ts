/**
 * `StreamRequestHandler`: a handler for TCP and Unix stream connections, with `rfile` and `wfile`.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { ClientAddress, HandlerServer } from '@sockserve/core';
import { BaseRequestHandler } from './base_request_handler.js';
import { StreamReader } from './stream_reader.js';
import { StreamWriter } from './stream_writer.js';

/**
 * A handler for stream connections (TCP, Unix stream). `request` is the `net.Socket`; read from
 * `rfile` (a {@link StreamReader}) and write to `wfile` (a {@link StreamWriter}). Tune it with
 * static fields, as in Python: `timeout`, `disableNagleAlgorithm`, `maxLineLength`. The type
 * parameters name the client address and the server (`StreamRequestHandler<InetAddress,
 * ChatServer>` gives a typed `this.server`).
 *
 * @example
 * ```ts
 * class EchoHandler extends StreamRequestHandler {
 *   static override timeout = 60_000;
 *
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) await this.wfile.write(line);
 *   }
 * }
 * ```
 */
export class StreamRequestHandler<
  Address extends ClientAddress = ClientAddress,
  Server extends HandlerServer = HandlerServer,
> extends BaseRequestHandler<Socket, Address, Server> {
  /** ms a read may wait without data before it rejects with `TimeoutError`; `null`: no limit. */
  static timeout: number | null = null;
  /** Sets `TCP_NODELAY` on the connection, for small latency-sensitive writes. */
  static disableNagleAlgorithm = false;
  /** Default limit in bytes of `readline`, `lines` and `readUntil`. */
  static maxLineLength = 65_536;

  /** Buffered reads from the connection. */
  readonly rfile: StreamReader;
  /** Backpressured writes to the connection. */
  readonly wfile: StreamWriter;

  constructor(request: Socket, clientAddress: Address, server: HandlerServer) {
    super(request, clientAddress, server);
    const options = this.constructor as typeof StreamRequestHandler;
    // No signal: when the server aborts the request it destroys the socket, which ends reads.
    this.rfile = new StreamReader(request, { limit: options.maxLineLength, timeout: options.timeout });
    this.wfile = new StreamWriter(request, { input: this.rfile });
  }

  /** Applies `disableNagleAlgorithm`. Call `super.setup()` when overriding. */
  override setup(): void {
    if ((this.constructor as typeof StreamRequestHandler).disableNagleAlgorithm) this.request.setNoDelay(true);
  }
}
