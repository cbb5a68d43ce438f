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
}

/** An error as it crosses the process boundary. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type ToWorker =
  | { t: 'stream'; rid: number; clientAddress: unknown }
  | { t: 'datagram'; rid: number; clientAddress: unknown; packet: Uint8Array }
  | { t: 'abort'; rid: number }
  | { t: 'stop' };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'fail'; error: WireError }
  | { t: 'done'; rid: number; error?: WireError; reply?: Uint8Array }
  | { t: 'log'; line: string }
  | { t: 'shutdown' };

export const CONFIG_ENV = 'SOCKSERVE_WORKER_CONFIG';

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
