/**
 * `@sockserve/handlers`: request handlers, and the stream reader and writer behind `rfile` and
 * `wfile`.
 *
 * @example
 * ```ts
 * import { StreamRequestHandler } from '@sockserve/handlers';
 *
 * class EchoHandler extends StreamRequestHandler {
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) await this.wfile.write(line);
 *   }
 * }
 * ```
 *
 * @module
 */
export { BaseRequestHandler } from './base_request_handler.js';
export { DatagramRequestHandler } from './datagram_request_handler.js';
export { DatagramWriter } from './datagram_writer.js';
export { StreamReader, type FrameDecoder, type ReadLimitOptions, type ReadLineOptions, type StreamReaderOptions } from './stream_reader.js';
export { StreamRequestHandler, type StartTlsOptions, type StartTlsResult, type TLSInfo } from './stream_request_handler.js';
export { StreamWriter, type StreamWriterOptions } from './stream_writer.js';
