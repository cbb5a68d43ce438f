/**
 * Keys shared by the handlers' classes, not part of the public API.
 *
 * @module
 */

/** How many chunks a `StreamReader` has received: a writer answering them batches per chunk. */
export const kReceived: unique symbol = Symbol('sockserve.received') as never;

/** The `StreamReader` of a source: its shared listeners find the reader through it. */
export const kReader: unique symbol = Symbol('sockserve.reader') as never;

/** `StreamReader` pipes, for `StreamWriter.pipeFrom`: start one, resume a held one, end one. */
export const kPipe: unique symbol = Symbol('sockserve.pipe') as never;
export const kResume: unique symbol = Symbol('sockserve.resume') as never;
export const kUnpipe: unique symbol = Symbol('sockserve.unpipe') as never;

/**
 * What a pipe from a reader delivers to (see `StreamWriter.pipeFrom`): `write()` takes each chunk
 * as it arrives, and returns false to hold further chunks until the reader's `[kResume]()`.
 */
export interface ChunkConsumer {
  write(chunk: Buffer): boolean;
}
