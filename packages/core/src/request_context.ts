/**
 * The per-request context a server hands its handlers: `signal` and `log`.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { TLSHandshakeError } from './errors.js';

/**
 * The key under which a server hands a handler its per-request context (`signal`, `log`).
 * Handler base classes use it; applications do not need it.
 *
 * @example
 * ```ts
 * const context = (server as RequestContextProvider)[kRequestContext]?.(request);
 * ```
 */
export const kRequestContext: unique symbol = Symbol.for('sockserve.requestContext') as never;

/**
 * Per-request values a server provides to the handler of that request.
 *
 * @example
 * ```ts
 * const { signal, log } = server[kRequestContext](request) ?? fallback;
 * ```
 */
export interface RequestContext {
  /** Aborted when the server forces the request to end. */
  readonly signal: AbortSignal;
  /** A child logger bound to the client address. */
  readonly log: Logger;
  /** Reports a failed TLS handshake of the request's connection (`startTls()`): logged, and `'tlsClientError'`. */
  tlsClientError(error: TLSHandshakeError): void;
}

/**
 * An object that can hand out {@link RequestContext}s; every `BaseServer` is one.
 *
 * @example
 * ```ts
 * function contextOf(server: object, request: unknown): RequestContext | undefined {
 *   return (server as Partial<RequestContextProvider>)[kRequestContext]?.(request);
 * }
 * ```
 */
export interface RequestContextProvider {
  [kRequestContext](request: unknown): RequestContext | undefined;
}
