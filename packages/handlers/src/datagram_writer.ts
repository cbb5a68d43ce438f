/**
 * `DatagramWriter`: collects a datagram handler's writes into one reply.
 *
 * @module
 */
import type { DatagramReply } from '@sockserve/core/internal';

/**
 * The `wfile` of a datagram handler: writes are collected and sent as one datagram to the client
 * after the handler's `finish()`, as in Python. Nothing written means nothing sent.
 *
 * @example
 * ```ts
 * class Pong extends DatagramRequestHandler {
 *   override async handle() {
 *     await this.wfile.write('pong ');
 *     await this.wfile.write(this.packet);
 *   }
 * }
 * ```
 */
export class DatagramWriter implements DatagramReply {
  readonly #chunks: Buffer[] = [];
  #length = 0;

  /** Bytes collected so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Adds `data` (strings as UTF-8) to the reply and resolves with its byte count.
   *
   * @example
   * ```ts
   * await this.wfile.write(JSON.stringify({ ok: true }));
   * ```
   */
  write(data: string | Uint8Array): Promise<number> {
    const chunk =
      typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    return Promise.resolve(chunk.length);
  }

  /**
   * Adds every chunk of `source` to the reply and resolves with the total byte count.
   *
   * @example
   * ```ts
   * await this.wfile.pipeFrom(this.rfile); // echo the datagram
   * ```
   */
  async pipeFrom(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
    let total = 0;
    for await (const chunk of source) total += await this.write(chunk);
    return total;
  }

  /**
   * The reply as one Buffer, or `undefined` when nothing was written.
   *
   * @example
   * ```ts
   * const reply = this.wfile.contents();
   * ```
   */
  contents(): Buffer | undefined {
    if (this.#chunks.length === 0) return undefined;
    if (this.#chunks.length === 1) return this.#chunks[0];
    return Buffer.concat(this.#chunks, this.#length);
  }
}
