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
