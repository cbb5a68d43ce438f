/**
 * `StreamWriter`: backpressured writes to a socket, as `wfile`.
 *
 * @module
 */
import type { Writable } from 'node:stream';
import { ConnectionClosedError, WriteTimeoutError } from '@sockserve/core';
import { validateTimeout } from './_validate.js';
import { kOutput, kPipe, type Flushable, type ReaderPipe } from './_symbols.js';
import { StreamReader } from './stream_reader.js';

/**
 * Options of {@link StreamWriter}.
 *
 * @example
 * ```ts
 * const rfile = new StreamReader(socket);
 * const wfile = new StreamWriter(socket, { input: rfile });
 * ```
 */
export interface StreamWriterOptions {
  /**
   * The reader of the same connection. What is written in answer to its input goes out when a
   * read has to wait for more input (or at the end of the tick, whichever comes first), so the
   * replies to one input chunk leave in one system call. `StreamRequestHandler` passes its `rfile`.
   */
  input?: StreamReader;
  /**
   * ms a write may wait for the peer to take data (for the socket's buffer to drain, or for
   * `end()` to flush) before it rejects with `WriteTimeoutError` and the connection is destroyed.
   * Only waits count: a write the socket takes at once never times out, and any data the peer
   * takes starts the time again (it is checked four times per timeout, so the error comes between
   * `timeout` and 1.25 × `timeout` after the peer last took data). Default: `null` (no limit: a
   * write waits until the peer reads, goes away, or the server closes).
   */
  timeout?: number | null;
}

/**
 * Writes to a socket with backpressure. `write()` hands data to the socket (you never need to
 * flush: what is held goes out by itself, see below) and resolves with the byte count; it waits for the socket to drain only when
 * the socket's buffer is over its high-water mark, so a fast writer cannot outrun a slow peer.
 * Everything written while handling one chunk of input leaves in one system call: writes are held
 * (corked) until the handler waits for more input (see {@link StreamWriterOptions.input}), or
 * for anything else (at the end of the tick), so pipelined requests get their replies in one
 * write and never wait for a delayed ACK, whatever Nagle's algorithm does.
 * Everything written before the handler's `finish()` returns reaches the peer: the server
 * half-closes only after the socket's buffer has been flushed.
 *
 * A writer adds no listener to the socket: the error that closed it (`socket.errored`) becomes
 * the `cause` of `ConnectionClosedError`. Servers listen for `'error'` on every connection; a
 * writer used on its own needs an `'error'` listener on the socket, as any Node socket does.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   async handle() {
 *     await this.wfile.write('hello\n');
 *     await this.wfile.pipeFrom(this.rfile); // echo the rest
 *   }
 * }
 * ```
 */
export class StreamWriter implements Flushable {
  /** The socket written to. */
  readonly #sink: Writable;
  /** The reader of the same connection, whose buffered input says whether more replies will follow. */
  readonly #input: StreamReader | undefined;
  /** Bytes written since this writer last let the event loop run. */
  #burst = 0;
  /** The socket is corked: writes are held until flush() (the reader waits, or the tick ends). */
  #corked = false;
  /** ms a wait for the peer may last (`timeout`), or null. */
  readonly #timeout: number | null;

  constructor(sink: Writable, options: StreamWriterOptions = {}) {
    const { timeout = null } = options;
    validateTimeout('timeout', timeout);
    this.#sink = sink;
    this.#timeout = timeout;
    this.#input = options.input;
    if (options.input !== undefined) options.input[kOutput] = this;
  }

  /**
   * Sends what is held now. The reader calls it when a read waits for input; the end of the tick
   * calls it otherwise. Applications do not need it: every write is sent without it.
   *
   * @example
   * ```ts
   * this.wfile.flush(); // before a long computation, say
   * ```
   */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#sink.uncork();
  }

  /** Bytes handed to the socket and not yet sent to the kernel. */
  get writableLength(): number {
    return this.#sink.writableLength;
  }

  /** True once nothing more can be written: the writer was ended, or the connection closed. */
  get closed(): boolean {
    return this.#sink.destroyed || this.#sink.writableEnded;
  }

  /**
   * Writes `data` (strings as UTF-8). Resolves with the number of bytes once the socket has taken
   * them, after waiting for it to drain if its buffer is over the high-water mark. Rejects with
   * `ConnectionClosedError` when the connection is closed, and with `WriteTimeoutError` when the
   * wait outlasts the `timeout` option with the peer taking nothing.
   *
   * @example
   * ```ts
   * const sent = await this.wfile.write(`${JSON.stringify(reply)}\n`);
   * ```
   */
  write(data: string | Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(this.#closedError());
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    this.#burst += length;
    if (this.#put(data, true)) return this.#burst < YIELD_EVERY_BYTES ? resolvedWith(length) : Promise.resolve(this.#pause(length));
    return this.#drain().then(() => this.#pause(length));
  }

  /**
   * Writes one chunk to an open socket; false when the socket is over its high-water mark (wait
   * for 'drain' before the next). Every way of writing goes through here. With `hold`, the chunk
   * is held with the others written before the handler next waits (see #batch), when more are
   * likely: the input still holds unread requests (pipelining), or writes are held already. A
   * reply to the last request of a chunk that nothing was held for goes out at once, with no
   * batching cost (an echo writes once per chunk). A full buffer goes out at once.
   */
  #put(chunk: string | Uint8Array, hold: boolean): boolean {
    if (hold && !this.#corked && (this.#input === undefined || this.#input.buffered > 0)) this.#batch();
    const sink = this.#sink;
    if (sink.write(chunk) || !overHighWaterMark(sink)) return true;
    this.flush();
    return !overHighWaterMark(sink);
  }

  /**
   * `length` at once, or on the next turn of the event loop once a burst is due: a peer that
   * reads as fast as we write never makes us wait long for 'drain' (it may come within the same
   * turn), and without a pause now and then a writing loop would keep the event loop from every
   * other connection.
   */
  #pause(length: number): number | Promise<number> {
    if (this.#burst < YIELD_EVERY_BYTES) return length;
    this.#burst = 0;
    return new Promise((resolve) => setImmediate(resolve, length));
  }

  /**
   * Holds writes until the handler waits: corks the socket, and makes sure the end of the tick
   * flushes it if the reader did not first (one `nextTick` per tick for all writers).
   */
  #batch(): void {
    // Held writes leave as one buffer, not as a writev of many small chunks (see joinWrites).
    // Installed on the first batch: a connection that never batches keeps its socket as it is.
    const sink = this.#sink as WritableInternals;
    if (sink._writev !== joinWrites && typeof sink._writev === 'function') {
      sink[kWritev] = sink._writev;
      sink._writev = joinWrites;
    }
    this.#corked = true;
    this.#sink.cork();
    corked.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      process.nextTick(flushCorked);
    }
  }

  /**
   * Queues `data` without waiting for the peer, and returns how many bytes are now waiting to be
   * sent. It never waits for the socket to drain and returns no promise; what it queues is held
   * with everything else written until the handler waits for input, or until the end of the
   * tick, and leaves in one write. Two uses:
   * - fan-out (one message to many peers), where a slow peer must not hold up the others: compare
   *   the result with your own bound and drop the peer past it;
   * - replies to pipelined requests, while more requests are buffered (`rfile.buffered > 0`):
   *   no `await` per reply; `await write()` the last one of a chunk, which waits for the socket
   *   to drain when it is full, so the held replies stay bounded by one chunk's worth.
   *
   * Throws `ConnectionClosedError` when the connection is closed.
   *
   * @example
   * ```ts
   * for (const peer of room) {
   *   if (peer.wfile.queue(message) > 1024 * 1024) peer.request.destroy(); // too far behind
   * }
   * // Pipelining: an await only for the last reply to a chunk.
   * if (this.rfile.buffered > 0) this.wfile.queue(reply);
   * else await this.wfile.write(reply);
   * ```
   */
  queue(data: string | Uint8Array): number {
    if (this.closed) throw this.#closedError();
    // Always held: a queue() is rarely alone (fan-out, replies to a batch of requests).
    if (!this.#corked) this.#batch();
    this.#put(data, false);
    return this.#sink.writableLength;
  }

  /**
   * Resolves once the socket's buffer is below its high-water mark (at once if it already is).
   * Rejects with `ConnectionClosedError` if the connection closes first, `WriteTimeoutError` as
   * `write()` does.
   *
   * @example
   * ```ts
   * this.wfile.queue(header);
   * this.wfile.queue(body);
   * await this.wfile.drain();
   * ```
   */
  drain(): Promise<void> {
    const sink = this.#sink;
    if (sink.destroyed) return Promise.reject(this.#closedError());
    if (!overHighWaterMark(sink)) return Promise.resolve();
    return this.#drain();
  }

  /**
   * Writes every chunk of `source` with backpressure and resolves with the total byte count.
   * `await this.wfile.pipeFrom(this.rfile)` is an echo. From a `StreamReader`, chunks are written
   * as they arrive, from the socket's data callback (no promise per chunk, as fast as a bare
   * `'data'` listener); meanwhile the reader counts as busy (other reads reject with
   * `InvalidStateError`). Rejects with the source's error, with `ConnectionClosedError` when
   * this connection closes first, or `WriteTimeoutError` as `write()` does.
   *
   * @example
   * ```ts
   * await this.wfile.pipeFrom(fs.createReadStream('motd.txt'));
   * ```
   */
  pipeFrom(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
    return source instanceof StreamReader ? this.#pipeReader(source) : this.#pipeIterable(source);
  }

  /**
   * From a `StreamReader`, chunks are written from the socket's data callback as they arrive, as
   * a bare `'data'` listener would: no promise per chunk. When the socket is over its high-water
   * mark, the reader holds chunks (and stops reading past its own) until it drains.
   */
  #pipeReader(reader: StreamReader): Promise<number> {
    if (this.closed) return Promise.reject(this.#closedError());
    let total = 0;
    let pipe: ReaderPipe | undefined;
    // Chunks come from the socket's data callback, which yields to the event loop by itself: no
    // burst accounting here.
    const consumer = {
      write: (chunk: Buffer): boolean => {
        if (this.closed) throw this.#closedError();
        total += chunk.length;
        // One write per chunk from the socket's data callback: nothing to hold it for.
        if (this.#put(chunk, false)) return true;
        // Asynchronous: the pipe exists by then (the first chunks may arrive while it starts).
        this.#drain().then(
          () => pipe!.resume(),
          (error: unknown) => pipe!.stop(error),
        );
        return false;
      },
    };
    pipe = reader[kPipe](consumer);
    return pipe.done.then(() => total);
  }

  async #pipeIterable(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
    let total = 0;
    for await (const chunk of source) {
      if (this.closed) throw this.#closedError();
      const length = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      total += length;
      this.#burst += length;
      if (!this.#put(chunk, true)) await this.#drain();
      if (this.#burst >= YIELD_EVERY_BYTES) await this.#pause(length);
    }
    return total;
  }

  /**
   * Half-closes the connection after everything written so far: the peer reads an end of
   * stream, while this side can still read. Resolves once the data has been handed to the kernel;
   * rejects as `write()` does.
   *
   * @example
   * ```ts
   * await this.wfile.write(reply);
   * await this.wfile.end();
   * const more = await this.rfile.read(); // the peer may still send
   * ```
   */
  end(): Promise<void> {
    const sink = this.#sink;
    if (sink.writableFinished) return Promise.resolve();
    if (sink.destroyed) return Promise.reject(this.#closedError());
    const finished = this.#until('finish');
    sink.end();
    return finished;
  }

  #drain(): Promise<void> {
    return this.#until('drain');
  }

  /**
   * Resolves on the sink's next `event`; rejects with ConnectionClosedError if it closes first, or
   * with WriteTimeoutError (and destroys the connection) when `timeout` ms pass first.
   */
  #until(event: 'drain' | 'finish'): Promise<void> {
    const sink = this.#sink;
    const timeout = this.#timeout;
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        if (timer !== undefined) clearInterval(timer);
        sink.off(event, onEvent);
        sink.off('close', onClose);
      };
      const onEvent = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.#closedError());
      };
      // An idle timeout: it fires once the peer has taken nothing for `timeout` ms. What is unsent
      // is sampled four times per timeout, and only a drop counts as progress (the native queues
      // fill after the write, a TLS socket's a little later). Destroyed without an error: the
      // rejection is the one report of it (an 'error' event would reach the server's handleError()
      // a second time).
      let timer: NodeJS.Timeout | undefined;
      if (timeout !== null) {
        let last = unsent(sink);
        let quietSince = Date.now();
        timer = setInterval(
          () => {
            const now = unsent(sink);
            const at = Date.now();
            if (now < last) quietSince = at;
            last = now;
            if (at - quietSince < timeout) return;
            cleanup();
            reject(new WriteTimeoutError(timeout));
            sink.destroy();
          },
          Math.max(1, Math.floor(timeout / 4)),
        );
      }
      sink.on(event, onEvent);
      sink.on('close', onClose);
    });
  }

  #closedError(): ConnectionClosedError {
    // The error that closed the socket, if any, is the cause (no listener needed to learn it).
    const error = this.#sink.errored ?? undefined;
    return error === undefined
      ? new ConnectionClosedError()
      : new ConnectionClosedError(`The connection is closed (${(error as NodeJS.ErrnoException).code ?? error.message}); nothing more can be written to it`, { cause: error });
  }
}

/** The Writable implementation methods that joinWrites uses (documented for stream implementers). */
interface WritableInternals {
  _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', callback: (error?: Error | null) => void): void;
  _writev?: (chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: (error?: Error | null) => void) => void;
  [kWritev]?: NonNullable<WritableInternals['_writev']>;
}

/** The sink's own `_writev`, used for batches too large to join. */
const kWritev = Symbol('sockserve.writev');

/** Batches up to this size are copied into one buffer; larger ones go out as a writev. */
const JOIN_LIMIT = 64 * 1024;

/**
 * A sink's `_writev` while a writer uses it: the chunks held while corked (the replies to one
 * input chunk, typically many small ones) are copied into one buffer and written as one chunk.
 * The system call is the same as writev's, but the runtime's cost per chunk of a writev (every
 * string or buffer looked at one by one on the native side) is gone: for small pipelined replies
 * it was most of the cost of writing. Large batches keep the sink's own writev (no copy).
 */
function joinWrites(
  this: WritableInternals,
  chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>,
  callback: (error?: Error | null) => void,
): void {
  let total = 0;
  for (let i = 0; i < chunks.length; i++) {
    const { chunk, encoding } = chunks[i]!;
    total += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : chunk.length;
    if (total > JOIN_LIMIT) return this[kWritev]!.call(this, chunks, callback);
  }
  const joined = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    const { chunk, encoding } = chunks[i]!;
    offset += typeof chunk === 'string' ? joined.write(chunk, offset, encoding) : (joined.set(chunk, offset), chunk.length);
  }
  this._write(joined, 'buffer', callback);
}

/** Writers corked in this tick, flushed at its end (those whose reader waited are flushed already). */
let corked: StreamWriter[] = [];
let flushScheduled = false;

function flushCorked(): void {
  const writers = corked;
  corked = [];
  flushScheduled = false;
  for (const writer of writers) writer.flush();
}

/** Settled promises of small byte counts, shared by every write of that size (a promise per write otherwise). */
const resolved: Array<Promise<number> | undefined> = [];

/** A promise resolved with `length`: shared for lengths under 4 KiB (resolved promises cannot change). */
function resolvedWith(length: number): Promise<number> {
  if (length >= 4096) return Promise.resolve(length);
  return (resolved[length] ??= Promise.resolve(length));
}

/** How many bytes a writer may hand over without waiting before it lets other work run. */
const YIELD_EVERY_BYTES = 1024 * 1024;

/**
 * Bytes the socket has not handed to the kernel yet: its own buffer, plus what the native handle
 * still queues of the chunk being written (which shrinks as the peer takes data, where a chunk's
 * length only leaves `writableLength` once all of it is written), plus, for a TLS socket, what
 * the plain socket under it still queues of the encrypted bytes.
 */
function unsent(sink: Writable): number {
  const socket = sink as SocketInternals;
  return sink.writableLength + queuedIn(socket) + queuedIn(socket._parent);
}

/** What the native handle of a socket still has to write (0 when there is no such handle). */
function queuedIn(socket: SocketInternals | null | undefined): number {
  const queued = socket?._handle?.writeQueueSize;
  return typeof queued === 'number' ? queued : 0;
}

/**
 * The parts of a socket `unsent()` reads: its native handle's write queue, and for a TLS socket
 * the plain socket under it (`_parent`), whose queue shrinks as the peer reads.
 */
interface SocketInternals {
  _handle?: { writeQueueSize?: unknown } | null;
  _parent?: SocketInternals | null;
}

/**
 * True while the socket holds more unsent bytes than its high-water mark. `write()` returns false
 * for any chunk that reaches the mark, even when the kernel took all of it at once; waiting for
 * 'drain' then would only cost a turn of the event loop.
 */
function overHighWaterMark(sink: Writable): boolean {
  return sink.writableLength >= sink.writableHighWaterMark;
}
