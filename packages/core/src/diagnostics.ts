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

/**
 * The context object of the `sockserve:request` tracing channel: the same object in each of its
 * events for one request, so that a subscriber can keep its span on it.
 *
 * @example
 * ```ts
 * dc.tracingChannel('sockserve:request').subscribe({
 *   start(context) { (context as RequestTraceContext & { span?: Span }).span = tracer.startSpan('request'); },
 *   asyncEnd(context) { (context as RequestTraceContext & { span?: Span }).span?.end(); },
 *   end() {}, asyncStart() {}, error() {},
 * });
 * ```
 */
export interface RequestTraceContext {
  /** The server (a `BaseServer`). */
  readonly server: object;
  /** The request: a socket, or `[packet, socket]`. */
  readonly request: unknown;
  readonly clientAddress: unknown;
  /** Set before `error` is published: what reached `handleError()`. */
  error?: unknown;
}

/**
 * Tracing channels (`diagnostics_channel.tracingChannel(name)`), for instrumentations that need the
 * handler to run inside their context (an `AsyncLocalStorage` store bound to `start`, as
 * OpenTelemetry's context is).
 *
 * - `sockserve:request`: around the run of a request's handler (`setup()`, `handle()`,
 *   `finish()`), in the process that runs it. `start` fires as the handler starts, and stores bound
 *   to it are active in the handler; `end` when its synchronous part returns; `asyncStart` and
 *   `asyncEnd` when it is over; `error` for each error that reaches `handleError()` while it runs
 *   (`context.error`). A request refused by `verifyRequest()` is never traced.
 *
 * Nothing is published, and no context is made, while nobody subscribes.
 *
 * @example
 * ```ts
 * import { AsyncLocalStorage } from 'node:async_hooks';
 * import dc from 'node:diagnostics_channel';
 * import { tracingChannels } from 'sockserve';
 *
 * const store = new AsyncLocalStorage<{ id: number }>();
 * let next = 0;
 * dc.tracingChannel(tracingChannels.request).start.bindStore(store, () => ({ id: ++next }));
 * // In any handler: store.getStore()?.id is this request's id.
 * ```
 */
export const tracingChannels = Object.freeze({
  request: 'sockserve:request',
} as const);
