/**
 * `DatagramRequestHandler`: a handler for one datagram (UDP, Unix datagram).
 *
 * @module
 */
import type { ClientAddress, HandlerServer } from '@sockserve/core';
import { kDatagramReply } from '@sockserve/core/internal';
import { BaseRequestHandler } from './base_request_handler.js';
import { DatagramWriter } from './datagram_writer.js';
import { StreamReader } from './stream_reader.js';

/**
 * A handler for one datagram. `request` is `[packet, socket]`, also available as `this.packet`
 * and `this.socket`. `rfile` reads from the packet (so `readline()` works); `wfile` collects
 * writes, which the server sends as one datagram to `clientAddress` after `finish()`. Nothing
 * written means nothing sent. A failure to send (the client vanished) reaches `handleError()`.
 *
 * @example
 * ```ts
 * class UpperHandler extends DatagramRequestHandler {
 *   override async handle() {
 *     const line = await this.rfile.readline();
 *     await this.wfile.write(line.toString().toUpperCase());
 *   }
 * }
 * ```
 */
export class DatagramRequestHandler<
  Address extends ClientAddress = ClientAddress,
  Socket = unknown,
  Server extends HandlerServer = HandlerServer,
> extends BaseRequestHandler<[Buffer, Socket], Address, Server> {
  /** Default limit in bytes of `readline` and `readUntil` on the packet. */
  static maxLineLength = 65_536;

  /** Collects the reply. */
  readonly wfile: DatagramWriter;
  #rfile: StreamReader | undefined;

  constructor(request: [Buffer, Socket], clientAddress: Address, server: HandlerServer) {
    super(request, clientAddress, server);
    this.wfile = new DatagramWriter();
    (request as unknown as Record<typeof kDatagramReply, DatagramWriter>)[kDatagramReply] = this.wfile;
  }

  /** Reads from the datagram (created on first use). */
  get rfile(): StreamReader {
    return (this.#rfile ??= StreamReader.from(this.request[0], {
      limit: (this.constructor as typeof DatagramRequestHandler).maxLineLength,
    }));
  }

  /** The datagram received. */
  get packet(): Buffer {
    return this.request[0];
  }

  /** The server's socket, which the reply is sent from. */
  get socket(): Socket {
    return this.request[1];
  }
}
