// Handlers for the concurrency benchmark: CPU-bound (sha256 over 1 MiB per request) and echo,
// for streams (per line) and datagrams.
import { createHash } from 'node:crypto';
import { DatagramRequestHandler, StreamRequestHandler } from 'sockserve';

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

// The datagram counterparts: the reply is the datagram itself, so the load generator can check it.
export class HashDatagramHandler extends DatagramRequestHandler {
  async handle() {
    createHash('sha256').update(this.packet).update(block).digest();
    await this.wfile.write(this.packet);
  }
}

export class EchoDatagramHandler extends DatagramRequestHandler {
  async handle() {
    await this.wfile.write(this.packet);
  }
}
