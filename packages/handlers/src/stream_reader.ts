/**
 * `StreamReader`: buffered, limited reads from a socket, as `rfile`.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import {
  IncompleteReadError,
  InvalidArgumentError,
  InvalidStateError,
  LimitExceededError,
  TimeoutError,
} from '@sockserve/core';
import { kDetach, kOutput, kPipe, kReader, type ChunkConsumer, type Flushable, type ReaderPipe } from './_symbols.js';
import { validateTimeout } from './_validate.js';

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from('\n');

/** An iteration step of lines(): wait (undefined), the end (an empty line), or the line. */
function lineStep(line: Buffer | undefined): IteratorResult<Buffer> | undefined {
  if (line === undefined) return undefined;
  return line.length === 0 ? { done: true, value: undefined } : { done: false, value: line };
}

/** A separator as bytes; throws for an empty one. */
function separatorOf(separator: string | Uint8Array): Buffer {
  const sep = typeof separator === 'string' ? Buffer.from(separator) : Buffer.from(separator.buffer, separator.byteOffset, separator.byteLength);
  if (sep.length === 0) throw new InvalidArgumentError('Expected `separator` to be at least one byte long, got an empty separator');
  return sep;
}
const MIN_GROWTH = 4096;

/**
 * Options of {@link StreamReader}.
 *
 * @example
 * ```ts
 * const reader = new StreamReader(socket, { limit: 8192, timeout: 30_000 });
 * ```
 */
export interface StreamReaderOptions {
  /** Default limit in bytes of `readline`, `lines` and `readUntil`. Default: 65536 (64 KiB). */
  limit?: number;
  /**
   * ms a read may wait without receiving any data before it rejects with `TimeoutError`.
   * Needs a `net.Socket` source. Default: `null` (no timeout).
   */
  timeout?: number | null;
  /** When it aborts, pending and later reads reject with its reason. */
  signal?: AbortSignal;
  /**
   * Bytes to buffer ahead while no read is waiting; past this the source is paused so the peer
   * sees TCP backpressure. Default: the larger of 64 KiB and `limit`.
   */
  highWaterMark?: number;
}

/**
 * Options of one framing read.
 *
 * @example
 * ```ts
 * const line = await this.rfile.readline({ limit: 1024 });
 * ```
 */
export interface ReadLimitOptions {
  /** Maximum length in bytes, separator included. Default: the reader's `limit`. */
  limit?: number;
}

/**
 * Options of `readline()` and `lines()`.
 *
 * @example
 * ```ts
 * // A final line without its newline is an error here, not a line.
 * for await (const line of this.rfile.lines({ partial: 'reject' })) handle(line);
 * ```
 */
export interface ReadLineOptions extends ReadLimitOptions {
  /**
   * What to do when the stream ends in the middle of a line (bytes after the last `\n`):
   * `'return'` (the default, as Python does) returns them as a last line without `\n`;
   * `'reject'` rejects with `IncompleteReadError`, whose `partial` holds them. A stream that
   * ends right after a `\n` ends cleanly either way.
   */
  partial?: 'return' | 'reject';
}

/**
 * A frame decoder for `readFrame()` and `tryReadFrame()`: takes one frame from `input` with its
 * synchronous `try*` reads and returns it, or returns `undefined` when the frame is not all
 * buffered yet (what it took is then put back). It may throw to reject a malformed frame.
 *
 * @example
 * ```ts
 * // A netstring: "5:hello,"
 * const netstring: FrameDecoder<Buffer> = (input) => {
 *   const length = input.tryReadUntil(':', { limit: 10 });
 *   if (length === undefined) return undefined;
 *   const body = input.tryReadExactly(Number(length.subarray(0, -1)) + 1);
 *   return body?.subarray(0, -1);
 * };
 * ```
 */
export type FrameDecoder<T> = (input: StreamReader) => T | undefined;

/** One try at completing a read (`this` is the reader): the result, or undefined to wait. */
type Attempt<T> = (this: StreamReader, arg: number) => T | undefined;

/** A source the reader can pull from: a `net.Socket` or any `Readable`. */
type Source = Readable & { setTimeout?(ms: number): unknown; [kReader]?: StreamReader };

/**
 * Buffered reads from a stream, with a limit on every framing read. It is an
 * `AsyncIterable<Buffer>` of chunks and has `readline`, `lines`, `read`, `readExactly` and
 * `readUntil`, like asyncio's `StreamReader`.
 *
 * It reads from the socket only while a read waits or its buffer is below the high-water mark,
 * so a slow handler pushes back on the peer instead of buffering without bound. Reads complete
 * synchronously from the socket's data callback, lines that lie within one chunk are returned
 * without copying, and bytes are copied only when a frame spans chunks. One read at a time:
 * a second read while one is waiting rejects with `InvalidStateError`. One reader per stream:
 * a second `StreamReader` over the same stream throws `InvalidStateError`.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   async handle() {
 *     const header = await this.rfile.readExactly(4);
 *     const body = await this.rfile.readExactly(header.readUInt32BE(0));
 *     for await (const line of this.rfile.lines({ limit: 1024 })) await this.wfile.write(line);
 *   }
 * }
 * ```
 */
export class StreamReader implements AsyncIterable<Buffer> {
  /** Default limit of framing reads, in bytes. */
  readonly limit: number;
  /** The source, or undefined for a reader over a fixed buffer. */
  readonly #source: Source | undefined;
  readonly #highWaterMark: number;
  #signal: AbortSignal | undefined;
  /** Buffered bytes are #buf[#start, #end). */
  #buf: Buffer = EMPTY;
  #start = 0;
  #end = 0;
  /** #buf is ours, so bytes past #end may be overwritten; otherwise it is a chunk from the source. */
  #owned = false;
  /** Offset in #buf where the next search for #scanSep starts (the part before has no #scanSep). */
  #scanned = 0;
  /** The separator #scanned was searched for: a search for another one starts at #start. */
  #scanSep: Buffer | undefined;
  /** A frame decoder is running (readFrame, tryReadFrame): its try-reads are part of that read. */
  #decoding = false;
  /** The source ended. */
  #eof = false;
  /** The decoder of the waiting readFrame(). */
  #decoder: FrameDecoder<unknown> | undefined;
  /** A terminal error: every later read rejects with it. */
  #error: unknown = undefined;
  /** The read waiting for data (tried again on every change), kept in fields: no object per read. */
  #pending: Attempt<unknown> | undefined;
  /** The argument of the waiting read's attempt (a limit or a byte count). */
  #arg = 0;
  /** The waiting read's resolving functions. */
  #resolve: (value: unknown) => void = noop;
  #reject: (error: unknown) => void = noop;
  #paused = true;
  /** Read timeout in ms, or null. */
  #timeout: number | null = null;
  /** The consumer of a running pipe: chunks go to it as they arrive, without a promise each. */
  #consumer: ChunkConsumer | undefined;
  /** The consumer asked to hold chunks (its sink is full) until it resumes the pipe. */
  #held = false;

  /**
   * @param source A socket or other readable stream, or bytes already in memory (then reads are
   * served from them, and the reader is at its end once they are read).
   * @throws InvalidStateError when `source` already has a reader.
   */
  constructor(source: Readable | Uint8Array, options: StreamReaderOptions = {}) {
    const { limit = 65_536, timeout = null, signal, highWaterMark } = options;
    validateLimit('limit', limit);
    validateTimeout('timeout', timeout);
    this.limit = limit;
    this.#highWaterMark = Math.max(highWaterMark ?? 65_536, limit);
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => {
        this.#error ??= signal.reason;
        this.#poll();
      };
      signal.addEventListener('abort', this.#onAbort, { once: true });
      if (signal.aborted) this.#error = signal.reason;
    }
    if (source instanceof Uint8Array) {
      this.#source = undefined;
      this.#buf = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
      this.#end = this.#buf.length;
      this.#eof = true;
      return;
    }
    const from = source as Source;
    if (from[kReader] !== undefined) {
      throw new InvalidStateError('This stream already has a StreamReader; read through that one (two readers would each get only part of the data)');
    }
    this.#source = from;
    // The listeners are shared by every reader (they find theirs on the source): no closures per
    // connection.
    from[kReader] = this;
    from.on('data', StreamReader.#sourceData);
    from.on('end', StreamReader.#sourceEnd);
    from.on('error', StreamReader.#sourceError);
    from.on('close', StreamReader.#sourceClose);
    if (timeout !== null) {
      this.#timeout = timeout;
      from.on('timeout', StreamReader.#sourceTimeout);
      from.setTimeout?.(timeout);
    }
    // Sockets accepted with pauseOnConnect are paused; other streams would start flowing on 'data'.
    source.pause();
  }

  /**
   * A reader over bytes already in memory, such as a datagram: reads are served from `data`, then
   * the reader is at its end.
   *
   * @example
   * ```ts
   * const reader = StreamReader.from(Buffer.from('a\nb\n'));
   * await reader.readline(); // <Buffer 61 0a>
   * ```
   */
  static from(data: Uint8Array, options: Pick<StreamReaderOptions, 'limit' | 'signal'> = {}): StreamReader {
    return new StreamReader(data, options);
  }

  /** Bytes buffered and not yet read. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** True once the peer has ended its side and every buffered byte has been read. */
  get atEof(): boolean {
    return this.#eof && this.#end === this.#start;
  }

  /**
   * Reads one line, `\n` included. At the end of the stream, returns what is left (without
   * `\n`: that is how to tell a final unterminated line from a whole one; or pass
   * `partial: 'reject'`), then an empty Buffer, like Python's `readline()`. Rejects with
   * `LimitExceededError` when the line is longer than `limit`; the buffered bytes stay unread
   * (`discardUntil('\n')` skips them).
   *
   * The line is a view into the received chunk, not a copy: keeping it keeps that whole chunk
   * (up to 64 KiB) in memory. Copy what you store (`Buffer.from(line)`, or `line.toString()`).
   *
   * @example
   * ```ts
   * const line = await this.rfile.readline();
   * if (line.length === 0) return; // the peer closed
   * if (line.at(-1) !== 0x0a) return; // the peer closed mid-line
   * ```
   */
  readline(options?: ReadLineOptions): Promise<Buffer> {
    return this.#read(options?.partial === 'reject' ? StreamReader.#wholeLine : StreamReader.#line, this.#limitOf(options));
  }

  /**
   * Discards input up to and including the next `separator` (default `'\n'`), however long,
   * holding no more than one chunk meanwhile; resolves with the number of bytes discarded. At the
   * end of the stream it discards the rest and resolves. This is how a line protocol skips a line
   * that was over its limit and goes on with the next.
   *
   * @example
   * ```ts
   * for (;;) {
   *   let line: Buffer;
   *   try {
   *     line = await this.rfile.readline({ limit: 1024 });
   *   } catch (error) {
   *     if (!(error instanceof LimitExceededError)) throw error;
   *     await this.rfile.discardUntil('\n');
   *     await this.wfile.write('ERR line too long\n');
   *     continue;
   *   }
   *   if (line.length === 0) return;
   *   await this.wfile.write(answer(line));
   * }
   * ```
   */
  discardUntil(separator: string | Uint8Array = NEWLINE): Promise<number> {
    let sep: Buffer;
    try {
      sep = separatorOf(separator);
    } catch (error) {
      return Promise.reject(error);
    }
    let discarded = 0;
    return this.#read(function (this: StreamReader) {
      const start = this.#start;
      const end = this.#end;
      const found = this.#buf.subarray(start, end).indexOf(sep);
      if (found !== -1) {
        this.#consume(start + found + sep.length);
        return discarded + found + sep.length;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#eof) {
        this.#consume(end);
        return discarded + (end - start);
      }
      // Keep what may be the start of a separator split across chunks.
      const cut = Math.max(start, end - (sep.length - 1));
      this.#consume(cut);
      discarded += cut - start;
      return undefined;
    }, 0);
  }

  /**
   * Reads up to and including `separator`. Rejects with `IncompleteReadError` (holding what was
   * read) when the stream ends first, and with `LimitExceededError` past `limit`, leaving the
   * buffered bytes unread. The result is a view into the received chunk (see `readline()`).
   *
   * @example
   * ```ts
   * const message = await this.rfile.readUntil('\r\n\r\n', { limit: 16_384 });
   * ```
   */
  readUntil(separator: string | Uint8Array, options?: ReadLimitOptions): Promise<Buffer> {
    const limit = this.#limitOf(options);
    let sep: Buffer;
    try {
      sep = separatorOf(separator);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#read(function (this: StreamReader) {
      return this.#takeUntil(sep, limit, true);
    }, 0);
  }

  /**
   * Iterates over lines (each with its `\n`; the last may lack it, unless `partial: 'reject'`)
   * until the end of the stream. Each line is a view into the received chunk (see `readline()`).
   *
   * @example
   * ```ts
   * for await (const line of this.rfile.lines({ limit: 1024 })) {
   *   await this.wfile.write(line.toString().toUpperCase());
   * }
   * ```
   */
  lines(options?: ReadLineOptions): AsyncIterableIterator<Buffer> {
    const attempt = options?.partial === 'reject' ? StreamReader.#nextWholeLine : StreamReader.#nextLine;
    return new StreamReader.#Iterator(this, attempt, this.#limitOf(options));
  }

  /**
   * Reads up to `n` bytes: what is buffered, or the next data to arrive. Without `n`, everything
   * that is buffered (at least one byte). An empty Buffer means the end of the stream.
   *
   * @example
   * ```ts
   * const chunk = await this.rfile.read(4096);
   * ```
   */
  read(n?: number): Promise<Buffer> {
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) {
      return Promise.reject(new InvalidArgumentError(`Expected \`n\` to be an integer from 0 and up, got \`${String(n)}\``));
    }
    if (n === 0) return Promise.resolve(EMPTY);
    return this.#read(StreamReader.#some, n ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Reads exactly `n` bytes. Rejects with `IncompleteReadError` (holding the bytes that arrived)
   * when the stream ends first. The result is a view into the received chunk when it fits in one
   * (see `readline()`): copy what you keep.
   *
   * @example
   * ```ts
   * const length = (await this.rfile.readExactly(4)).readUInt32BE(0);
   * ```
   */
  readExactly(n: number): Promise<Buffer> {
    if (!(Number.isInteger(n) && n >= 0)) {
      return Promise.reject(new InvalidArgumentError(`Expected \`n\` to be an integer from 0 and up, got \`${String(n)}\``));
    }
    return this.#read(StreamReader.#exactly, n);
  }

  /**
   * Takes a whole line (with its `\n`) if one is buffered, without waiting: `undefined` when no
   * complete line is buffered yet, whatever the state of the stream (use `readline()` to wait,
   * and to read a last line without `\n`). Throws `LimitExceededError` as `readline()` rejects.
   * With the other `try*` methods it is the way to write a frame decoder for `readFrame()`.
   *
   * @example
   * ```ts
   * let line: Buffer | undefined;
   * while ((line = this.rfile.tryReadline()) !== undefined) this.wfile.queue(line);
   * ```
   */
  tryReadline(options?: ReadLimitOptions): Buffer | undefined {
    this.#checkSyncRead();
    return this.#findFrame(NEWLINE, this.#limitOf(options));
  }

  /**
   * Takes everything up to and including `separator` if it is buffered, without waiting;
   * `undefined` otherwise. Throws `LimitExceededError` as `readUntil()` rejects.
   *
   * @example
   * ```ts
   * const head = this.rfile.tryReadUntil('\r\n\r\n', { limit: 16_384 });
   * ```
   */
  tryReadUntil(separator: string | Uint8Array, options?: ReadLimitOptions): Buffer | undefined {
    this.#checkSyncRead();
    return this.#findFrame(separatorOf(separator), this.#limitOf(options));
  }

  /**
   * Takes exactly `n` bytes if that many are buffered, without waiting; `undefined` otherwise.
   * Like `readExactly()`, the result is a view into the received chunk when it fits in one.
   *
   * @example
   * ```ts
   * const header = this.rfile.tryReadExactly(4);
   * ```
   */
  tryReadExactly(n: number): Buffer | undefined {
    this.#checkSyncRead();
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new InvalidArgumentError(`Expected \`n\` to be an integer from 0 and up, got \`${String(n)}\``);
    }
    return this.#end - this.#start >= n ? this.#consume(this.#start + n) : undefined;
  }

  /**
   * Everything buffered, without consuming it or waiting (an empty Buffer when nothing is). A view
   * of the reader's buffer, valid until the next read or `skip()`: do not keep it or write to it.
   * With `skip()` it lets a frame decoder parse by offsets, with no view per field: the fastest
   * way to decode a binary or pipelined protocol.
   *
   * @example
   * ```ts
   * // A decoder of "<length byte><payload>" frames.
   * const decode: FrameDecoder<Buffer> = (input) => {
   *   const data = input.peek();
   *   if (data.length < 1 || data.length < 1 + data[0]!) return undefined;
   *   const payload = data.subarray(1, 1 + data[0]!);
   *   input.skip(1 + data[0]!);
   *   return payload;
   * };
   * ```
   */
  peek(): Buffer {
    return this.#end === this.#start ? EMPTY : this.#buf.subarray(this.#start, this.#end);
  }

  /**
   * Consumes `n` buffered bytes without returning them (after `peek()`, say). Throws
   * `InvalidArgumentError` when fewer than `n` are buffered, and `InvalidStateError` while
   * another read waits.
   *
   * @example
   * ```ts
   * if (this.rfile.peek()[0] === 0x0a) this.rfile.skip(1); // a blank line
   * ```
   */
  skip(n: number): void {
    this.#checkSyncRead();
    if (!(Number.isInteger(n) && n >= 0 && n <= this.#end - this.#start)) {
      throw new InvalidArgumentError(`Expected \`n\` to be an integer from 0 to the ${this.#end - this.#start} bytes buffered, got \`${String(n)}\``);
    }
    this.#start += n;
    if (this.#start === this.#end) this.#scanned = this.#end;
  }

  /**
   * Reads one frame with `decoder`, a synchronous function that takes a frame from the reader
   * with the `try*` methods (`tryReadline`, `tryReadUntil`, `tryReadExactly`) and returns it, or
   * returns `undefined` when the frame is not all buffered yet. Then what it took is put back and
   * the decoder runs again when more data has arrived, so a decoder never sees half a frame and
   * keeps no state. Resolves with the frame, or `null` at a clean end of the stream; rejects with
   * `IncompleteReadError` when the stream ends inside a frame, with `LimitExceededError` when a
   * frame grows past `limit` (default: the reader's `limit`), and with what the decoder throws
   * (nothing of that frame is consumed).
   *
   * With `tryReadFrame()` it takes every frame already buffered without an `await` each: the
   * fastest way to serve a pipelined protocol. See docs/framing.md for when to use which read.
   *
   * @example
   * ```ts
   * // A frame: a 4-byte big-endian length, then that many bytes.
   * const decode: FrameDecoder<Buffer> = (input) => {
   *   const header = input.tryReadExactly(4);
   *   return header && input.tryReadExactly(header.readUInt32BE(0));
   * };
   * for (;;) {
   *   const frame = this.rfile.tryReadFrame(decode) ?? (await this.rfile.readFrame(decode));
   *   if (frame === null) return; // the peer closed
   *   await this.wfile.write(answer(frame));
   * }
   * ```
   */
  readFrame<T>(decoder: FrameDecoder<T>, options?: ReadLimitOptions): Promise<T | null> {
    let limit: number;
    try {
      limit = this.#limitOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#decoder = decoder as FrameDecoder<unknown>;
    return this.#read(StreamReader.#frame, limit) as Promise<T | null>;
  }

  /**
   * Takes one frame with `decoder` (see `readFrame()`) if it is all buffered, without waiting:
   * the frame, or `undefined` when it is not all buffered (nothing is consumed then). Throws what
   * the decoder throws, `LimitExceededError` past `limit`, and `InvalidStateError` while another
   * read waits. It never reports the end of the stream: `readFrame()` does.
   *
   * @example
   * ```ts
   * const command = this.rfile.tryReadFrame(parseCommand) ?? (await this.rfile.readFrame(parseCommand));
   * ```
   */
  tryReadFrame<T>(decoder: FrameDecoder<T>, options?: ReadLimitOptions): T | undefined {
    this.#checkSyncRead();
    return this.#decodeOnce(decoder, this.#limitOf(options));
  }

  /**
   * Iterates over chunks as they arrive, without copying them, until the end of the stream.
   *
   * @example
   * ```ts
   * for await (const chunk of this.rfile) await this.wfile.write(chunk);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return new StreamReader.#Iterator(this, StreamReader.#nextChunk, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts: one per kind of read, shared by all readers (`this` is the reader), so that a read
  // allocates no closure. Each returns the result, or undefined to wait for more data.

  static #line(this: StreamReader, limit: number): Buffer | undefined {
    return this.#takeUntil(NEWLINE, limit, false);
  }

  static #some(this: StreamReader, n: number): Buffer | undefined {
    return this.#takeSome(n) ?? (this.#eof ? EMPTY : this.#failOrWait());
  }

  static #exactly(this: StreamReader, n: number): Buffer | undefined {
    if (this.#end - this.#start >= n) return this.#consume(this.#start + n);
    if (this.#error !== undefined) throw this.#error;
    if (this.#eof) throw new IncompleteReadError(this.#consume(this.#end), n);
    return undefined;
  }

  /** readFrame's attempt: the frame, END at a clean end of the stream, or undefined to wait. */
  static #frame(this: StreamReader, limit: number): unknown {
    const value = this.#decodeOnce(this.#decoder!, limit);
    if (value !== undefined) return value;
    if (this.#error !== undefined) throw this.#error;
    if (!this.#eof) return undefined;
    if (this.#end === this.#start) return null;
    throw new IncompleteReadError(this.#consume(this.#end), null);
  }

  static #nextLine(this: StreamReader, limit: number): IteratorResult<Buffer> | undefined {
    return lineStep(this.#takeUntil(NEWLINE, limit, false));
  }

  /** A line with its `\n`; EMPTY at a clean end; IncompleteReadError for a final partial line. */
  static #wholeLine(this: StreamReader, limit: number): Buffer | undefined {
    if (this.#eof && this.#end === this.#start && this.#error === undefined) return EMPTY;
    return this.#takeUntil(NEWLINE, limit, true);
  }

  static #nextWholeLine(this: StreamReader, limit: number): IteratorResult<Buffer> | undefined {
    return lineStep(StreamReader.#wholeLine.call(this, limit));
  }

  /** A pipe's attempt: hands over what is buffered; true once the stream has ended. */
  static #deliver(this: StreamReader): true | undefined {
    const consumer = this.#consumer!;
    while (!this.#held) {
      const chunk = this.#takeSome(Number.POSITIVE_INFINITY);
      if (chunk === undefined) break;
      if (!consumer.write(chunk)) this.#held = true;
    }
    if (this.#held) return undefined;
    if (this.#eof) return true;
    return this.#failOrWait();
  }

  static #nextChunk(this: StreamReader): IteratorResult<Buffer> | undefined {
    const chunk = this.#takeSome(Number.POSITIVE_INFINITY);
    if (chunk !== undefined) return { done: false, value: chunk };
    if (this.#eof) return { done: true, value: undefined };
    return this.#failOrWait();
  }

  /**
   * Lets go of the source (its connection is upgraded to TLS in place): stops reading it, drops
   * what is buffered, and returns how many unread bytes that was, counting those the stream had
   * received and not yet delivered. Every later read of this reader rejects.
   */
  [kDetach](): number {
    const source = this.#source;
    let dropped = this.#end - this.#start;
    this.#buf = EMPTY;
    this.#start = this.#end = this.#scanned = 0;
    this.#eof = true;
    this.#error ??= new InvalidStateError('The connection was upgraded to TLS: read from the new rfile');
    if (this.#pending !== undefined) this.#fail(this.#error);
    if (source === undefined) return dropped;
    source.pause();
    source.off('data', StreamReader.#sourceData);
    source.off('end', StreamReader.#sourceEnd);
    source.off('error', StreamReader.#sourceError);
    source.off('close', StreamReader.#sourceClose);
    if (this.#timeout !== null) {
      source.off('timeout', StreamReader.#sourceTimeout);
      source.setTimeout?.(0);
    }
    delete source[kReader];
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    // Received by the stream and not delivered: never read now (reading would pull more).
    dropped += source.readableLength;
    return dropped;
  }

  // ---------------------------------------------------------------------------------------------
  // Pipes (for StreamWriter.pipeFrom): chunks go straight from the data callback to the consumer.

  /**
   * Delivers every chunk to `consumer` as it arrives, until the end of the stream (`done`
   * resolves) or an error (it rejects). Counts as the one waiting read meanwhile. The consumer
   * holds chunks by returning false, and calls `resume()` when it can take them again, or
   * `stop(error)` when it cannot write any more.
   */
  [kPipe](consumer: ChunkConsumer): ReaderPipe {
    const pipe: ReaderPipe = { done: Promise.resolve(true), resume: () => this.#resumePipe(), stop: (error) => this.#stopPipe(error) };
    if (this.#pending !== undefined) {
      pipe.done = this.#read(StreamReader.#deliver, 0); // rejects: busy
      return pipe;
    }
    this.#consumer = consumer;
    pipe.done = this.#read(StreamReader.#deliver, 0);
    // Over at once (the stream had ended, or failed): keep no reference to the consumer.
    if (this.#pending === undefined) this.#clear();
    return pipe;
  }

  /** The pipe's consumer can take chunks again. */
  #resumePipe(): void {
    if (!this.#held || this.#pending !== StreamReader.#deliver) return;
    this.#held = false;
    this.#poll();
    if (this.#pending !== undefined && this.#paused) {
      this.#paused = false;
      this.#source?.resume();
    }
  }

  /** Ends a running pipe with `error` (its consumer can no longer write). */
  #stopPipe(error: unknown): void {
    if (this.#pending === StreamReader.#deliver) this.#fail(error);
  }

  // ---------------------------------------------------------------------------------------------

  #limitOf(options: ReadLimitOptions | undefined): number {
    const limit = options?.limit ?? this.limit;
    if (limit !== this.limit) validateLimit('limit', limit);
    return limit;
  }

  /** Throws the terminal error if there is one, else says "wait" (undefined). */
  #failOrWait(): undefined {
    if (this.#error !== undefined) throw this.#error;
    return undefined;
  }

  /** An iterator over reads: methods on a prototype, so iterating costs one object per loop. */
  static readonly #Iterator = class Iterator<T> implements AsyncIterableIterator<T> {
    constructor(
      readonly reader: StreamReader,
      readonly attempt: Attempt<IteratorResult<T>>,
      readonly arg: number,
    ) {}

    next(): Promise<IteratorResult<T>> {
      return this.reader.#read(this.attempt, this.arg);
    }

    return(value?: unknown): Promise<IteratorResult<T>> {
      return Promise.resolve({ done: true, value: value as T });
    }

    [Symbol.asyncIterator](): AsyncIterableIterator<T> {
      return this;
    }
  };

  /** The reader whose read is being parked: `new Promise()` runs its executor synchronously. */
  static #capturing: StreamReader | undefined;

  /**
   * The executor of every waiting read's promise, shared by all readers: it keeps the resolving
   * functions in the reader being parked. No closure per read, nor per reader.
   */
  static #capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
    const reader = StreamReader.#capturing!;
    reader.#resolve = resolve;
    reader.#reject = reject;
  }

  /** Completes a read now when it can, else parks it until the source changes state. */
  #read<T>(attempt: Attempt<T>, arg: number): Promise<T> {
    if (this.#pending !== undefined) {
      return Promise.reject(new InvalidStateError('Another read is already waiting on this reader; await it before starting the next'));
    }
    let result: T | undefined;
    try {
      result = attempt.call(this, arg);
    } catch (error) {
      return Promise.reject(error);
    }
    if (result !== undefined) return Promise.resolve(result);
    // The handler waits for input: what it wrote in answer to the last input goes out now, in
    // one write (the peer may be waiting for it before it sends more).
    this[kOutput]?.flush();
    // A shared executor keeps the resolving functions in this reader: no closure per waiting read.
    StreamReader.#capturing = this;
    const promise = new Promise<T>(StreamReader.#capture as Executor<T>);
    StreamReader.#capturing = undefined;
    this.#pending = attempt;
    this.#arg = arg;
    if (this.#paused) {
      this.#paused = false;
      this.#source?.resume();
    }
    return promise;
  }

  /** Retries the waiting read after a change of state. */
  #poll(): void {
    const attempt = this.#pending;
    if (attempt === undefined) return;
    let result: unknown;
    try {
      result = attempt.call(this, this.#arg);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (result !== undefined) {
      const resolve = this.#resolve;
      this.#clear();
      resolve(result);
    }
  }

  /** Rejects the waiting read. */
  #fail(error: unknown): void {
    const reject = this.#reject;
    this.#clear();
    reject(error);
  }

  #clear(): void {
    this.#pending = undefined;
    this.#consumer = undefined;
    this.#decoder = undefined;
    this.#held = false;
    this.#resolve = noop;
    this.#reject = noop;
  }

  /** Returns #buf[#start, end) and marks it read. */
  #consume(end: number): Buffer {
    const start = this.#start;
    this.#start = end;
    if (end === this.#end) this.#scanned = end;
    if (start === 0 && end === this.#buf.length) return this.#buf;
    return this.#buf.subarray(start, end);
  }

  /** Up to n buffered bytes, or undefined when nothing is buffered. */
  #takeSome(n: number): Buffer | undefined {
    const available = this.#end - this.#start;
    if (available === 0) return undefined;
    return this.#consume(this.#start + Math.min(n, available));
  }

  /**
   * A frame ending in `sep` of at most `limit` bytes; undefined: wait for more. At the end of the
   * stream: the rest (or EMPTY) unless `strict`, in which case IncompleteReadError.
   */
  #takeUntil(sep: Buffer, limit: number, strict: boolean): Buffer | undefined {
    const frame = this.#findFrame(sep, limit);
    if (frame !== undefined) return frame;
    if (this.#error !== undefined) throw this.#error;
    if (!this.#eof) return undefined;
    const end = this.#end;
    if (strict) throw new IncompleteReadError(this.#consume(end), null);
    return end === this.#start ? EMPTY : this.#consume(end);
  }

  /**
   * The buffered frame ending in `sep`, if it is all buffered; throws LimitExceededError when it
   * is (or would be) longer than `limit`.
   */
  #findFrame(sep: Buffer, limit: number): Buffer | undefined {
    const start = this.#start;
    const end = this.#end;
    const from = sep === this.#scanSep ? Math.max(start, this.#scanned) : start;
    // A one-byte separator (a newline) is searched for as a number: no Buffer to compare with.
    const found = end - from < sep.length ? -1 : sep.length === 1 ? this.#buf.indexOf(sep[0]!, from) : this.#buf.indexOf(sep, from);
    if (found !== -1 && found + sep.length <= end) {
      const frameEnd = found + sep.length;
      if (frameEnd - start > limit) throw new LimitExceededError(limit, sep === NEWLINE ? 'line' : 'frame');
      return this.#consume(frameEnd);
    }
    // Keep the last sep.length - 1 bytes for the next search: a separator may straddle chunks.
    this.#scanned = Math.max(start, end - sep.length + 1);
    this.#scanSep = sep;
    if (end - start >= limit) throw new LimitExceededError(limit, sep === NEWLINE ? 'line' : 'frame');
    return undefined;
  }

  /**
   * One run of a frame decoder over the buffered bytes: its result, or undefined with nothing
   * consumed (the decoder's try-reads are undone) when the frame is not all buffered yet.
   */
  #decodeOnce<T>(decoder: FrameDecoder<T>, limit: number): T | undefined {
    if (this.#end === this.#start) return undefined;
    const start = this.#start;
    const scanned = this.#scanned;
    const scanSep = this.#scanSep;
    let value: T | undefined;
    this.#decoding = true;
    try {
      value = decoder(this);
    } catch (error) {
      // Nothing of a frame that failed is consumed: the caller may skip it, or close.
      this.#start = start;
      this.#scanned = scanned;
      this.#scanSep = scanSep;
      throw error;
    } finally {
      this.#decoding = false;
    }
    if (value !== undefined) return value;
    this.#start = start;
    this.#scanned = scanned;
    this.#scanSep = scanSep;
    if (this.#end - start > limit) throw new LimitExceededError(limit, 'frame');
    return undefined;
  }

  /** Throws unless a synchronous read may run now: no other read waits, or it runs in a decoder. */
  #checkSyncRead(): void {
    if (this.#pending !== undefined && !this.#decoding) {
      throw new InvalidStateError('Another read is already waiting on this reader; await it before starting the next');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Source events. The listeners are static, shared by all readers; `this` is the source.

  static #sourceData(this: Source, chunk: Buffer | string): void {
    this[kReader]!.#onData(chunk);
  }

  static #sourceEnd(this: Source): void {
    this[kReader]!.#onEnd();
  }

  static #sourceError(this: Source, error: unknown): void {
    this[kReader]!.#onError(error);
  }

  static #sourceClose(this: Source): void {
    this[kReader]!.#onClose();
  }

  static #sourceTimeout(this: Source): void {
    this[kReader]!.#onTimeout();
  }

  /** The writer answering this input (see `StreamWriterOptions.input`): flushed when a read waits. */
  [kOutput]: Flushable | undefined = undefined;

  #onData(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#start === this.#end) {
      this.#buf = data;
      this.#start = 0;
      this.#end = data.length;
      this.#scanned = 0;
      this.#owned = false;
    } else {
      this.#append(data);
    }
    if (this.#pending !== undefined) this.#poll();
    // Past the high-water mark with no read waiting for data (or a pipe held by its consumer),
    // stop reading: the peer sees backpressure.
    if ((this.#pending === undefined || this.#held) && this.#end - this.#start >= this.#highWaterMark && !this.#paused) {
      this.#paused = true;
      this.#source?.pause();
    }
  }

  #append(data: Buffer): void {
    const length = data.length;
    if (this.#owned && this.#buf.length - this.#end >= length) {
      data.copy(this.#buf, this.#end);
      this.#end += length;
      return;
    }
    // Never write below #end in place: earlier reads may still hold views of those bytes.
    const available = this.#end - this.#start;
    const next = Buffer.allocUnsafe(Math.max(MIN_GROWTH, (available + length) * 2));
    this.#buf.copy(next, 0, this.#start, this.#end);
    data.copy(next, available);
    this.#scanned = Math.max(0, this.#scanned - this.#start);
    this.#buf = next;
    this.#start = 0;
    this.#end = available + length;
    this.#owned = true;
  }

  #onEnd(): void {
    this.#eof = true;
    this.#poll();
  }

  #onError(error: unknown): void {
    this.#error ??= error;
    this.#poll();
  }

  #onClose(): void {
    // Destroyed without an error or an end: no more data will come.
    this.#eof = true;
    this.#poll();
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Set only when there is a signal: most readers have none. */
  #onAbort: (() => void) | undefined;

  #onTimeout(): void {
    const source = this.#source!;
    const timeout = this.#timeout!;
    // The socket timer does not re-arm itself until the next activity.
    if (!source.destroyed) source.setTimeout?.(timeout);
    // A pipe held by its consumer waits for the peer to read, not for data: no read timeout.
    if (this.#pending !== undefined && !this.#held) this.#fail(new TimeoutError(timeout));
  }
}

function noop(): void {}

/** A Promise executor. */
type Executor<T> = (resolve: (value: T) => void, reject: (error: unknown) => void) => void;

function validateLimit(name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer number of bytes from 1 and up, got \`${String(value)}\``);
  }
}
