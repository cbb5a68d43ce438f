/**
 * `@sockserve/transports`: the servers. Subpaths `./tcp`, `./udp` and `./unix` hold one kind each.
 *
 * @example
 * ```ts
 * import { TCPServer, UnixStreamServer } from '@sockserve/transports';
 * ```
 *
 * @module
 */
export { DatagramServer, type DatagramRequest, type DatagramServerOptions } from './datagram_server.js';
export { discardUntilClosed, endSocket } from './graceful_close.js';
export { ProxyReader, type ProxyProtocolOptions, type ProxyReaderEvents } from './_proxy_reader.js';
export { StreamServer, type StreamServerOptions } from './stream_server.js';
export { TCPServer, type AdoptedListener, type TCPAddress, type TCPServerOptions } from './tcp.js';
export { TLSServer, type TLSServerOptions } from './tls.js';
export { UDPServer, type UDPAddress, type UDPServerOptions } from './udp.js';
export { UnixStreamServer, type UnixStreamServerOptions } from './unix.js';
export { UnixDatagramServer, type UnixDatagramServerOptions, type UnixDatagramServerSocket } from './unix_dgram.js';
