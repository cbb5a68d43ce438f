/**
 * The messages between a worker pool and its workers, over the IPC channel (structured clone,
 * so Buffers travel as bytes). Each has a `type`; requests are known by the `id` the parent gave
 * them. See the sequence diagram in docs/concurrency.md.
 *
 * @module
 */

/** What a worker is told when it starts, through its environment. */
export interface WorkerConfig {
  id: number;
  module: string;
  exportName: string;
  /** The parent server's kind: connections or datagrams. */
  kind: 'stream' | 'datagram';
  serverAddress: unknown;
  level: string;
  lingerTimeout: number;
  /** Set when workers read the server's datagram socket themselves (`datagrams: 'shared'`). */
  datagrams?: SharedDatagrams;
  /** Set when workers accept connections themselves (`connections: 'shared'`). */
  connections?: SharedConnections;
  /** Set for a TLS server: workers run the handshakes. */
  tls?: WorkerTls;
}

/** A TLS server's setup, as JSON (`encodeTlsSetup`), and its bound on handshakes in progress. */
export interface WorkerTls {
  setup: string;
  maxHandshakes: number;
}

/** A TLS setup as JSON: Buffers (keys, certificates) travel as `{ type: 'Buffer', data }`. */
export function encodeTlsSetup(setup: unknown): string {
  return JSON.stringify(setup);
}

/** The TLS setup `encodeTlsSetup` made, with its Buffers back. */
export function decodeTlsSetup<T>(json: string): T {
  return JSON.parse(json, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)
      ? Buffer.from((value as { data: number[] }).data)
      : value,
  ) as T;
}

/** How a worker accepts connections on a shared listener (which arrives as a handle, `share-socket`). */
export interface SharedConnections {
  kind: 'tcp' | 'unix';
  /** The server's `proxyProtocol`: workers read the headers. */
  proxyProtocol?: { trusted: string[]; timeout?: number };
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Whether the parent has `'request'` listeners (then workers report the requests they accept). */
  requestEvents: boolean;
}

/** How a worker reads a shared datagram socket. */
export interface SharedDatagrams {
  kind: 'udp' | 'unix';
  /** Unix: the inherited descriptor. UDP: the socket arrives later as a handle (`share-socket`). */
  fd?: number;
  maxDatagramSize: number;
  bufferSize?: number;
  sendTimeout?: number;
  /** Whether the parent has `'request'` listeners (then workers report the requests they read). */
  requestEvents: boolean;
}

/** The descriptor number a worker inherits a shared Unix datagram socket at. */
export const SHARED_FD = 4;

/** An error as it crosses the process boundary. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Messages from the parent to a worker. */
export type ToWorker =
  /**
   * Handle this connection (sent with its raw handle). `head`: bytes the parent read past a PROXY
   * protocol header (they come first); `proxy`: that header.
   */
  | { type: 'handle-connection'; id: number; clientAddress: unknown; head?: Uint8Array; proxy?: unknown }
  /** Handle this datagram; `replyHere`: reply through the worker's shared socket, not back to the parent. */
  | { type: 'handle-datagram'; id: number; clientAddress: unknown; packet: Uint8Array; replyHere?: boolean }
  /** The server gave up on request `id` (its close deadline passed): abort it. */
  | { type: 'abort'; id: number }
  /** The parent's handleError() has run for request `id`: the worker may close it. */
  | { type: 'error-reported'; id: number }
  /** Sent with the UDP socket or the listening server as its handle: read (accept) from it from now on. */
  | { type: 'share-socket' }
  /** Send the shared UDP socket or listener back (for a worker started later). */
  | { type: 'lend-socket'; loan: number }
  /** A connection the parent accepted on a listener it held for a moment (sent with it): handle it as your own. */
  | { type: 'forward-connection'; clientAddress: unknown }
  /** A datagram the parent read from a socket it held for a moment: handle it as your own. */
  | { type: 'forward-datagram'; clientAddress: unknown; packet: Uint8Array }
  /** Whether the parent wants `requests-seen` reports. */
  | { type: 'request-events'; wanted: boolean }
  /** The TLS server has new certificates (`encodeTlsSetup`): new handshakes use them. */
  | { type: 'tls-setup'; setup: string }
  /** Stop: requests the worker read itself get until `timeout`, then are aborted. */
  | { type: 'stop'; timeout?: number };

/** Messages from a worker to the parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'load-failed'; error: WireError }
  /** The worker has the connection of request `id`: the parent closes its own descriptor. */
  | { type: 'took-connection'; id: number }
  /** Request `id` failed; the worker holds it open until `error-reported`, so handleError() runs first. */
  | { type: 'request-failed'; id: number; error: WireError }
  /**
   * Request `id` is over. A datagram request's reply (for the parent to send) and its failure
   * (for the parent's handleError(), before the reply goes out) come with it.
   */
  | { type: 'request-done'; id: number; reply?: Uint8Array; error?: WireError }
  | { type: 'log'; line: string }
  /** A handler called `this.server.shutdown()`. */
  | { type: 'shutdown' }
  /** Sent with the shared UDP socket or listener as its handle, in answer to `lend-socket`. */
  | { type: 'lent-socket'; loan: number }
  /** Requests the worker read from the shared socket or accepted itself (only while the parent wants them). */
  | { type: 'requests-seen'; clients: unknown[] }
  /** A request the worker read or accepted itself failed (`packet`: a datagram's bytes). */
  | { type: 'shared-request-failed'; clientAddress: unknown; packet?: Uint8Array; error: WireError }
  /** The worker dropped a datagram it read itself, or a connection past `maxHandshakes`. */
  | { type: 'dropped'; reason: 'too-large' | 'truncated' | 'handshakes' | 'proxy-protocol'; clientAddress: unknown; size: number; message: string }
  /** A TLS handshake in the worker failed or timed out. */
  | { type: 'tls-client-error'; clientAddress: unknown; reason: 'failed' | 'timeout'; error: WireError; cause?: WireError }
  /** The requests the worker read itself that were in flight at `stop`. */
  | { type: 'stopped'; completed: number; aborted: number };

export const CONFIG_ENV = 'SOCKSERVE_WORKER_CONFIG';

/** How long a worker's aborted requests get to end before the worker reports and exits. */
export const ABORT_GRACE_MS = 1_000;

export function toWire(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

export function fromWire(wire: WireError, worker: number): Error & { code?: string; worker: number } {
  const error = new Error(wire.message) as Error & { code?: string; worker: number };
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  if (wire.code !== undefined) error.code = wire.code;
  error.worker = worker;
  return error;
}
