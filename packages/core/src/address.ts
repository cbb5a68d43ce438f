/**
 * Addresses: building them from what Node reports, and showing them in logs and errors.
 *
 * @module
 */
import type { InetAddress } from './types.js';

/**
 * Builds an {@link InetAddress} from what Node reports (`address()`, a `dgram` sender's
 * `RemoteInfo`, a socket's `remoteAddress`/`remotePort`/`remoteFamily`).
 *
 * @example
 * ```ts
 * socket.on('message', (packet, remote) => seen(inetAddress(remote.address, remote.port, remote.family)));
 * ```
 */
export function inetAddress(host: string, port: number, family: string | number | undefined): InetAddress {
  return { host, port, family: family === 'IPv6' || family === 6 ? 'IPv6' : 'IPv4' };
}

/**
 * Formats a client or server address for logs: `host:port`, `[v6]:port`, a Unix path, or
 * `@name` for a Linux abstract socket name (which starts with a NUL byte).
 *
 * @example
 * ```ts
 * formatAddress({ host: '::1', port: 80, family: 'IPv6' }); // '[::1]:80'
 * formatAddress('\0app'); // '@app'
 * ```
 */
export function formatAddress(address: unknown): string {
  if (typeof address === 'string') return address.startsWith('\0') ? `@${address.slice(1)}` : address;
  if (typeof address === 'object' && address !== null) {
    if ('path' in address) {
      const path = (address as { path: string | null }).path;
      return path === null ? 'unix:(unbound)' : formatAddress(path);
    }
    const { host, port } = address as InetAddress;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }
  return String(address);
}

/**
 * Formats an address for an error message: as {@link formatAddress}, and says so of an abstract
 * Unix name (`@app (abstract)`), which has no file a reader could look for.
 *
 * @example
 * ```ts
 * throw new Error(`Cannot listen on ${describeAddress('\0app')}`); // 'Cannot listen on @app (abstract)'
 * ```
 */
export function describeAddress(address: unknown): string {
  const formatted = formatAddress(address);
  return typeof address === 'string' && address.startsWith('\0') ? `${formatted} (abstract)` : formatted;
}
