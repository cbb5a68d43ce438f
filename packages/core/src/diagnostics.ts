/**
 * `node:diagnostics_channel` channels that sockserve publishes on, for APM and OpenTelemetry
 * instrumentations: they subscribe by name, without patching anything. Nothing is published (and
 * no message object is made) while a channel has no subscriber.
 *
 * @module
 */

/**
 * The message of `sockserve:request:start`, `sockserve:request:end` and `sockserve:request:error`.
 *
 * @example
 * ```ts
 * dc.subscribe('sockserve:request:end', (message) => {
 *   const { clientAddress, failed, aborted } = message as RequestMessage;
 * });
 * ```
 */
export interface RequestMessage {
  /** The server (a `BaseServer`). */
  readonly server: object;
  /** The request: a socket, or `[packet, socket]`. */
  readonly request: unknown;
  readonly clientAddress: unknown;
  /** `sockserve:request:error`: what reached `handleError()`. */
  readonly error?: unknown;
  /** `sockserve:request:end`: whether `handleError()` was called for it. */
  readonly failed?: boolean;
  /** `sockserve:request:end`: whether the server aborted it (`serverClose()` past its deadline). */
  readonly aborted?: boolean;
}

/**
 * The channels, by name. Subscribe with `diagnostics_channel.subscribe(name, listener)`.
 *
 * - `sockserve:request:start`: a request was accepted (as the `'request'` event), before
 *   `verifyRequest()`.
 * - `sockserve:request:end`: a request is over and closed, with `failed` and `aborted`.
 * - `sockserve:request:error`: an error reached `handleError()` (as `'requestError'`).
 * - `sockserve:connection:dropped`: a request or connection was dropped before any handler
 *   (`{ server, reason, clientAddress, size }`, as `'dropped'`).
 * - `sockserve:tls:client-error`: a TLS handshake failed (`{ server, error, clientAddress }`).
 *
 * @example
 * ```ts
 *  * import { channels } from 'sockserve';
 *
 * dc.subscribe(channels.requestEnd, (message) => histogram.record(Date.now() - started.get(message.request)));
 * ```
 */
export const channels = Object.freeze({
  requestStart: 'sockserve:request:start',
  requestEnd: 'sockserve:request:end',
  requestError: 'sockserve:request:error',
  connectionDropped: 'sockserve:connection:dropped',
  tlsClientError: 'sockserve:tls:client-error',
} as const);
