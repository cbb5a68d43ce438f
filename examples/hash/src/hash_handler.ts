/**
 * CPU-heavy handlers: sha256 iterated `ROUNDS` times, per line (TCP) or per datagram (UDP).
 * Workers of a worker pool import this module and take the handler from it by name.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { DatagramRequestHandler, StreamRequestHandler } from 'sockserve';

/** How many times each line is hashed: enough to make a request cost about a millisecond. */
export const ROUNDS = 2_000;

/**
 * Replies to each line with the hex sha256 of the line, hashed `ROUNDS` times.
 *
 * @example
 * ```ts
 * new TCPServer({ host: '127.0.0.1', port: 0 }, HashHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: import.meta.url }),
 * });
 * ```
 */
export class HashHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines({ limit: 4096 })) {
      await this.wfile.write(`${hash(line)} ${process.pid}\n`);
    }
  }
}

/**
 * Replies to each datagram with the hex sha256 of its bytes, hashed `ROUNDS` times.
 *
 * @example
 * ```ts
 * new UDPServer({ host: '127.0.0.1', port: 0 }, HashDatagramHandler, {
 *   concurrency: new WorkerPoolStrategy({ module: import.meta.url, datagrams: 'shared' }),
 * });
 * ```
 */
export class HashDatagramHandler extends DatagramRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.write(`${hash(this.packet)} ${process.pid}\n`);
  }
}

/** The hex sha256 of `data`, hashed `ROUNDS` times. */
function hash(data: Buffer): string {
  let digest = data;
  for (let i = 0; i < ROUNDS; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex');
}
