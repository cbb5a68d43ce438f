/**
 * The messages between a worker pool and its workers, over the IPC channel (structured clone,
 * so Buffers travel as bytes).
 *
 * @module
 */

/** What a worker is told when it starts, through its environment. */
export interface WorkerConfig {
  id: number;
  module: string;
  exportName: string;
  serverAddress: unknown;
  level: string;
  lingerTimeout: number;
  /** Set when workers read the server's datagram socket themselves (`datagrams: 'shared'`). */
  datagrams?: SharedDatagrams;
}

/** How a worker reads a shared datagram socket. */
export interface SharedDatagrams {
  kind: 'udp' | 'unix';
  /** Unix: the inherited descriptor. UDP: the socket arrives later as a handle (`share`). */
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

export type ToWorker =
  /** Sent with the connection's raw handle (not a `net.Socket`: see the pool's schedule()). */
  | { t: 'stream'; rid: number; clientAddress: unknown }
  /** `own`: reply through the worker's shared socket rather than returning the reply. */
  | { t: 'datagram'; rid: number; clientAddress: unknown; packet: Uint8Array; own?: boolean }
  | { t: 'abort'; rid: number }
  /** Sent with the UDP socket as its handle: read it from now on. */
  | { t: 'share' }
  /** Send the shared UDP socket back (for a worker started later). */
  | { t: 'lend'; id: number }
  /** A datagram the parent read from a socket it held for a moment: handle it as your own. */
  | { t: 'packet'; clientAddress: unknown; packet: Uint8Array }
  | { t: 'events'; wanted: boolean }
  /** The parent's handleError() has run for request `rid`: the worker may close its connection. */
  | { t: 'reported'; rid: number }
  | { t: 'stop'; timeout?: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'fail'; error: WireError }
  | { t: 'done'; rid: number; error?: WireError; reply?: Uint8Array }
  /**
   * Request `rid` (a connection) failed; the worker keeps the connection open until the parent
   * answers `reported`, so that handleError() runs before the peer sees the close.
   */
  | { t: 'error'; rid: number; error: WireError }
  /** The worker received the connection of request `rid`: the parent closes its own descriptor. */
  | { t: 'took'; rid: number }
  | { t: 'log'; line: string }
  | { t: 'shutdown' }
  /** Sent with the shared UDP socket as its handle, in answer to `lend`. */
  | { t: 'lent'; id: number }
  /** Requests the worker read from the shared socket (only while the parent wants them). */
  | { t: 'seen'; clients: unknown[] }
  /** A request the worker read itself failed. */
  | { t: 'failed'; clientAddress: unknown; packet: Uint8Array; error: WireError }
  | { t: 'dropped'; reason: 'too-large' | 'truncated'; clientAddress: unknown; size: number; message: string }
  /** The requests the worker read itself that were in flight at `stop`. */
  | { t: 'stopped'; completed: number; aborted: number };

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
