/**
 * `sockserve`: async/await socket servers for Node.js, the stream-first successor of Python's
 * `socketserver`. Re-exports `@sockserve/core`, `@sockserve/handlers`, `@sockserve/transports`,
 * `@sockserve/worker-pool` and `@sockserve/testing`.
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
 * await using server = new TCPServer({ host: '127.0.0.1', port: 9999 }, EchoHandler);
 * await server.serveForever();
 * ```
 *
 * @module
 */
export * from '@sockserve/core';
export * from '@sockserve/handlers';
export * from '@sockserve/transports';
export * from '@sockserve/worker-pool';
export * from '@sockserve/testing';
