/**
 * A connection upgraded in place (STARTTLS): the raw socket keeps being the request's identity,
 * and carries the socket that now speaks for it.
 *
 * @module
 */

/** On a raw socket, the TLS socket it was upgraded to (STARTTLS). */
export const kUpgraded: unique symbol = Symbol.for('sockserve.upgraded') as never;

/** The socket that speaks for `socket` now: its upgrade, or itself. */
export function currentSocket<T extends object>(socket: T): T {
  return ((socket as { [kUpgraded]?: T })[kUpgraded] ?? socket) as T;
}

/** On a connection that came through a load balancer, its PROXY protocol header (`ProxyInfo`). */
export const kProxy: unique symbol = Symbol.for('sockserve.proxy') as never;

/**
 * Stops a socket reading from the kernel, now (not only once its buffer fills, as `pause()` does):
 * what follows stays in the kernel for whoever serves the connection, in this process or another.
 */
export function stopReading(socket: { pause(): unknown }): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } | null })._handle;
  if (handle?.reading === true && typeof handle.readStop === 'function') {
    handle.reading = false;
    handle.readStop();
  }
}
