/**
 * `StreamWriter`: backpressured writes to a socket, as `wfile`.
 *
 * @module
 */
import type { Writable } from 'node:stream';
import { ConnectionClosedError } from '@sockserve/core';
import { kPipe, kReceived, type ReaderPipe } from './_symbols.js';
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
   * The reader of the same connection. Writes that answer one chunk of its input go out together;
   * without it, writes made in one tick of the event loop do (which costs a `process.nextTick`
   * per tick). `StreamRequestHandler` passes its `rfile`.
   */
  input?: StreamReader;
}

/**
 * Writes to a socket with backpressure. `write()` hands data to the socket at once (there is
 * nothing to flush) and resolves with the byte count; it waits for the socket to drain only when
 * the socket's buffer is over its high-water mark, so a fast writer cannot outrun a slow peer.
 * Writes that answer one chunk of input (see {@link StreamWriterOptions.input}), or that are made
 * in one tick of the event loop, go out together, in one system call.
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
export class StreamWriter {
  /** The socket written to. */
  readonly #sink: Writable;
  /** The reader of the same connection: writes answering one of its chunks are batched. */
  readonly #input: StreamReader | undefined;
  /** Bytes written since this writer last let the event loop run. */
  #burst = 0;
  /** The socket is corked until the current tick ends. */
  #corked = false;
  /** The input chunk (or tick) of this writer's last write. */
  #tick = -1;
  /** Uncorks at the end of the tick; created on the first batch (a writer that writes once per tick never needs it). */
  #uncork: (() => void) | undefined;

  constructor(sink: Writable, options: StreamWriterOptions = {}) {
    this.#sink = sink;
    this.#input = options.input;
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
   * `ConnectionClosedError` when the connection is closed.
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
    if (this.#put(data)) return Promise.resolve(this.#pause(length));
    return this.#drain().then(() => this.#pause(length));
  }

  /**
   * Writes one chunk to an open socket, batched with the others that answer the same input;
   * false when the socket is over its high-water mark (wait for 'drain' before the next). Every
   * way of writing goes through here.
   */
  #put(chunk: string | Uint8Array): boolean {
    if (!this.#corked) this.#batch();
    const sink = this.#sink;
    return sink.write(chunk) || !overHighWaterMark(sink);
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
   * Batches writes that answer one chunk of input (or, without a reader, that are made in one
   * tick): the first goes out at once (an echo writes once per chunk and gains nothing from
   * waiting), a second one corks the socket until the tick ends, so a handler that replies to
   * many buffered lines makes two system calls, not one per line.
   */
  #batch(): void {
    const tick = this.#input === undefined ? currentTick() : this.#input[kReceived];
    if (this.#tick !== tick) {
      this.#tick = tick;
      return;
    }
    this.#corked = true;
    this.#sink.cork();
    process.nextTick((this.#uncork ??= () => {
      this.#corked = false;
      this.#sink.uncork();
    }));
  }

  /**
   * Queues `data` without waiting for the peer, and returns how many bytes are now waiting to be
   * sent. For fan-out (one message to many peers) where a slow peer must not hold up the others:
   * compare the result with your own bound and drop the peer past it. Throws
   * `ConnectionClosedError` when the connection is closed.
   *
   * @example
   * ```ts
   * for (const peer of room) {
   *   if (peer.wfile.queue(message) > 1024 * 1024) peer.request.destroy(); // too far behind
   * }
   * ```
   */
  queue(data: string | Uint8Array): number {
    if (this.closed) throw this.#closedError();
    this.#sink.write(data);
    return this.#sink.writableLength;
  }

  /**
   * Resolves once the socket's buffer is below its high-water mark (at once if it already is).
   * Rejects with `ConnectionClosedError` if the connection closes first.
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
   * `InvalidStateError`). Rejects with the source's error, or with `ConnectionClosedError` when
   * this connection closes first.
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
        if (this.#put(chunk)) return true;
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
      if (!this.#put(chunk)) await this.#drain();
      if (this.#burst >= YIELD_EVERY_BYTES) await this.#pause(length);
    }
    return total;
  }

  /**
   * Half-closes the connection after everything written so far: the peer reads an end of
   * stream, while this side can still read. Resolves once the data has been handed to the kernel.
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

  /** Resolves on the sink's next `event`; rejects with ConnectionClosedError if it closes first. */
  #until(event: 'drain' | 'finish'): Promise<void> {
    const sink = this.#sink;
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
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

/** Counts ticks of the event loop, lazily: one `nextTick` per tick in which something was written. */
let tickCount = 0;
let tickPending = false;
const nextTickCount = (): void => {
  tickCount++;
  tickPending = false;
};

function currentTick(): number {
  if (!tickPending) {
    tickPending = true;
    process.nextTick(nextTickCount);
  }
  return tickCount;
}

/** How many bytes a writer may hand over without waiting before it lets other work run. */
const YIELD_EVERY_BYTES = 1024 * 1024;

/**
 * True while the socket holds more unsent bytes than its high-water mark. `write()` returns false
 * for any chunk that reaches the mark, even when the kernel took all of it at once; waiting for
 * 'drain' then would only cost a turn of the event loop.
 */
function overHighWaterMark(sink: Writable): boolean {
  return sink.writableLength >= sink.writableHighWaterMark;
}
