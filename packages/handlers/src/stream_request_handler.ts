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
  /**
   * Turns Nagle's algorithm off on the connection (`TCP_NODELAY`), so small writes go out at once
   * instead of waiting for the peer's ACK of the previous ones. Default: `true`, as in Go, Netty
   * and Node's http (Python's default is `False`); set it to `false` to get Nagle back. No effect
   * on Unix sockets.
   */
  static disableNagleAlgorithm = true;
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

  /**
   * Applies `disableNagleAlgorithm` (nothing to do, no system call, when the server already set
   * the same, as `TCPServer` does by default). Call `super.setup()` when overriding.
   */
  override setup(): void {
    this.request.setNoDelay?.((this.constructor as typeof StreamRequestHandler).disableNagleAlgorithm);
  }
}
