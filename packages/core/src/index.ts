/**
 * `@sockserve/core`: the server lifecycle, concurrency strategies, errors and events.
 *
 * @example
 * ```ts
 * import { EventLoopStrategy, SequentialStrategy, SockserveError } from '@sockserve/core';
 * ```
 *
 * @module
 */
export { describeAddress, formatAddress, inetAddress } from './address.js';
export { BaseServer, type BaseServerOptions } from './base_server.js';
export type { RequestContext } from './request_context.js';
export {
  AddonUnavailableError,
  ConnectionClosedError,
  ErrorCodes,
  IncompleteReadError,
  InvalidArgumentError,
  InvalidStateError,
  LimitExceededError,
  ListenError,
  RequestAbortedError,
  ServerClosedError,
  ServerInWorkerError,
  SocketError,
  SockserveError,
  TimeoutError,
  TLSHandshakeError,
  toListenError,
  WorkerCrashedError,
  WorkerStartError,
  WriteTimeoutError,
} from './errors.js';
export { EventLoopStrategy, type EventLoopStrategyOptions } from './event_loop_strategy.js';
export { channels, tracingChannels, type RequestMessage, type RequestTraceContext } from './diagnostics.js';
export { listenFds, type ListenFd } from './listen_fds.js';
export { createLogger, type LoggerOption } from './logger.js';
export { SequentialStrategy } from './sequential_strategy.js';
export type {
  ConcurrencyStrategy,
  RemoteRequests,
  RequestJob,
  ServerHook,
  SharedDatagramSocket,
  SharedListener,
  StrategyHost,
  TlsSetupSource,
} from './strategy.js';
export {
  PROXY_V2_MAX,
  ProxyProtocolError,
  crc32c,
  parseProxyHeader,
  type ProxyInfo,
  type ProxySsl,
  type ProxyTlvs,
} from './proxy_protocol.js';
export { TlsAcceptor, type TlsHandshakeCallbacks, type TlsSetup } from './tls_acceptor.js';
export type {
  Awaitable,
  ClientAddress,
  CloseReport,
  DropInfo,
  ServerCloseOptions,
  ServerStats,
  ServerEvents,
  ServeUntilSignalOptions,
  SignalCloseReport,
  HandlerServer,
  InetAddress,
  RequestHandler,
  RequestHandlerClass,
  UnixAddress,
} from './types.js';
export type { EventMap, TypedEmitter } from './typed_emitter.js';
