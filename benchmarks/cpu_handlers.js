// A CPU-bound handler for the concurrency benchmark: sha256 over 1 MiB per request line.
import { createHash } from 'node:crypto';
import { StreamRequestHandler } from 'sockserve';

const block = Buffer.alloc(1024 * 1024, 'sockserve');

export class HashHandler extends StreamRequestHandler {
  async handle() {
    for await (const line of this.rfile.lines()) {
      const digest = createHash('sha256').update(line).update(block).digest('hex');
      await this.wfile.write(`${digest}\n`);
    }
  }
}

export class EchoLinesHandler extends StreamRequestHandler {
  async handle() {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}
