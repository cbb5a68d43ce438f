/**
 * The echo handlers: raw bytes, or line by line.
 *
 * @module
 */
import { DatagramRequestHandler, StreamRequestHandler } from 'sockserve';

/**
 * Sends back every byte it receives, as it arrives.
 *
 * @example
 * ```ts
 * new TCPServer({ host: '127.0.0.1', port: 7 }, EchoHandler);
 * ```
 */
export class EchoHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.pipeFrom(this.rfile);
  }
}

/**
 * Sends back each line it receives (up to 64 KiB a line); a longer line ends the connection.
 *
 * @example
 * ```ts
 * new UnixStreamServer('/tmp/echo.sock', LineEchoHandler);
 * ```
 */
export class LineEchoHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

/**
 * Sends each datagram back to its sender.
 *
 * @example
 * ```ts
 * new UDPServer({ host: '127.0.0.1', port: 7 }, DatagramEchoHandler);
 * ```
 */
export class DatagramEchoHandler extends DatagramRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.write(this.packet);
  }
}
