/**
 * A CPU-heavy handler: for each line, sha256 iterated `ROUNDS` times. Workers of a worker pool
 * import this module and take `HashHandler` from it by name.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { StreamRequestHandler } from 'sockserve';

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
      let digest: Buffer = line;
      for (let i = 0; i < ROUNDS; i++) digest = createHash('sha256').update(digest).digest();
      await this.wfile.write(`${digest.toString('hex')} ${process.pid}\n`);
    }
  }
}
