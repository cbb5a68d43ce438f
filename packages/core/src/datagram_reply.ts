/**
 * How a datagram handler hands its reply to the server that sends it.
 *
 * @module
 */

/**
 * The key under which a datagram handler attaches its reply to the request (`[packet, socket]`),
 * so that the server sends it after `finish()`, whatever the handler's `finish()` does. Handler
 * base classes and datagram transports use it; applications do not need it.
 *
 * @example
 * ```ts
 * const reply = (request as Partial<Record<typeof kDatagramReply, DatagramReply>>)[kDatagramReply];
 * const bytes = reply?.contents();
 * ```
 */
export const kDatagramReply: unique symbol = Symbol.for('sockserve.datagramReply') as never;

/**
 * A reply collected while a datagram request was handled.
 *
 * @example
 * ```ts
 * const reply: DatagramReply = { contents: () => Buffer.from('pong') };
 * ```
 */
export interface DatagramReply {
  /** The bytes to send back as one datagram, or `undefined` when nothing was written. */
  contents(): Buffer | undefined;
}
