/**
 * `@sockserve/testing`: in-memory servers for unit tests. Any handler, server hooks and strategy
 * (the worker pool excepted), the same lifecycle, timeouts, events and close report as on a
 * socket, and no sockets.
 *
 * @example
 * ```ts
 * import { MemoryServer } from '@sockserve/testing';
 *
 * await using server = new MemoryServer(EchoHandler, { logger: false });
 * void server.serveForever();
 * const client = await server.connect();
 * client.end('ping\n');
 * ```
 *
 * @module
 */
export { MemoryDatagramServer, MemoryDatagramSocket, type MemoryDatagramServerOptions } from './memory_datagram_server.js';
export { MemoryServer, type MemoryServerOptions } from './memory_server.js';
export { MemorySocket, type MemorySocketPairOptions } from './memory_socket.js';
