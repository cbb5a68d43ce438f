/**
 * `@sockserve/transports`: the servers. Subpaths `./tcp` and `./unix` hold one each.
 *
 * @example
 * ```ts
 * import { TCPServer, UnixStreamServer } from '@sockserve/transports';
 * ```
 *
 * @module
 */
export { StreamServer, type StreamServerOptions } from './stream_server.js';
export { TCPServer, type TCPAddress, type TCPServerOptions } from './tcp.js';
export { UnixStreamServer, type UnixStreamServerOptions } from './unix.js';
