/**
 * Keys shared by the handlers' classes, not part of the public API.
 *
 * @module
 */

/** How many chunks a `StreamReader` has received: a writer answering them batches per chunk. */
export const kReceived: unique symbol = Symbol('sockserve.received') as never;

/** The `StreamReader` of a source: its shared listeners find the reader through it. */
export const kReader: unique symbol = Symbol('sockserve.reader') as never;
