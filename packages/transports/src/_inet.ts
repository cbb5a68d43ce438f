/**
 * What TCP and UDP servers share about `{ host, port }` addresses.
 *
 * @module
 */
import net from 'node:net';
import { InvalidArgumentError, formatAddress, type InetAddress } from '@sockserve/core';

/** An address as the user asked for it. */
export interface RequestedInetAddress {
  readonly host: string;
  readonly port: number;
}

/** Copies and freezes the `{ host, port }` given to a constructor; throws on anything else. */
export function requestedInetAddress(address: unknown): RequestedInetAddress {
  if (typeof address !== 'object' || address === null) {
    throw new InvalidArgumentError(`Expected \`address\` to be an object like { host, port }, got \`${String(address)}\``);
  }
  const { host, port } = address as RequestedInetAddress;
  return Object.freeze({ host, port });
}

/** Throws `InvalidArgumentError` for a port or host that cannot be bound (checked at listen). */
export function checkInetAddress({ host, port }: RequestedInetAddress): void {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new InvalidArgumentError(`Expected \`port\` to be an integer from 0 to 65535, got \`${String(port)}\``);
  }
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError(`Expected \`host\` to be a non-empty string, got \`${String(host)}\``);
  }
  // '127.0.0.1:80', 'localhost:80', '[::1]:80': a port inside the host would fail later as ENOTFOUND.
  const withPort = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(host);
  if (withPort !== null) {
    const [, v6, other, given] = withPort;
    throw new InvalidArgumentError(
      `Expected \`host\` without a port, got \`${host}\`: host must not include a port; pass it apart, as { host: '${v6 ?? other}', port: ${given} }`,
    );
  }
  if (host.startsWith('[') && host.endsWith(']')) {
    throw new InvalidArgumentError(`Expected \`host\` without brackets, got \`${host}\`: write IPv6 addresses bare, as '${host.slice(1, -1)}'`);
  }
}

/** The address a server reports: as bound once it listened, else as requested. */
export function reportedInetAddress(bound: InetAddress | undefined, { host, port }: RequestedInetAddress): InetAddress {
  return bound ?? { host, port, family: net.isIPv6(host) ? 'IPv6' : 'IPv4' };
}

/** `host:port` (`[v6]:port`) for error messages, whatever the user passed. */
export function describeInetAddress({ host, port }: RequestedInetAddress): string {
  return formatAddress({ host: String(host), port });
}

/** Checks an adopted listener's descriptor (`{ fd }`): an integer from 0 up. */
export function checkFd(fd: unknown): number {
  if (!(typeof fd === 'number' && Number.isInteger(fd) && fd >= 0)) {
    throw new InvalidArgumentError(`Expected \`fd\` to be a descriptor (an integer from 0 up), got \`${String(fd)}\``);
  }
  return fd;
}
