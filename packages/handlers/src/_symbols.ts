/**
 * Keys shared by the handlers' classes, not part of the public API.
 *
 * @module
 */

/**
 * The writer answering a `StreamReader`'s input: the reader flushes it (see {@link Flushable})
 * whenever a read has to wait for data, so replies to one input chunk leave in one write.
 */
export const kOutput: unique symbol = Symbol('sockserve.output') as never;

/** What a reader calls before it waits for input: send what was written meanwhile. */
export interface Flushable {
  flush(): void;
}

/** The `StreamReader` of a source: its shared listeners find the reader through it. */
export const kReader: unique symbol = Symbol('sockserve.reader') as never;

/** Starts a `StreamReader` pipe, for `StreamWriter.pipeFrom` (see {@link ReaderPipe}). */
export const kPipe: unique symbol = Symbol('sockserve.pipe') as never;

/**
 * What a pipe from a reader delivers to (see `StreamWriter.pipeFrom`): `write()` takes each chunk
 * as it arrives, and returns false to hold further chunks until the pipe's `resume()`.
 */
export interface ChunkConsumer {
  write(chunk: Buffer): boolean;
}

/** A running pipe from a reader: settles when the stream ends (or fails); resumed or stopped by its consumer. */
export interface ReaderPipe {
  done: Promise<true>;
  /** The consumer can take chunks again. */
  resume(): void;
  /** The consumer cannot write any more: the pipe rejects with `error`. */
  stop(error: unknown): void;
}

/** A handler's request context (its server's per-request values), for subclasses in this package. */
export const kContext: unique symbol = Symbol('sockserve.context') as never;

/** Makes a reader let go of its source (STARTTLS): it returns how many unread bytes it dropped. */
export const kDetach: unique symbol = Symbol('sockserve.detach') as never;
