// The handlers the soak servers run. Plain JavaScript importing the built packages, so that the
// pool's workers can load them by URL.
import { setTimeout as sleep } from 'node:timers/promises';
import { DatagramRequestHandler, StreamRequestHandler } from 'sockserve';

/** Bytes that start a command line; well-behaved clients and garbage never start a line with it. */
export const COMMAND = 0x21; // '!'

/**
 * A line echo with faults on request: `!THROW <id>` throws `Error('injected <id>')`, `!HANG`
 * waits for a body that never comes (the read times out), `!SLOW <ms>` answers `done` after
 * `ms` (aborted with the request), `!BIG <MiB>` writes that much to a peer that may never read.
 * Every other line is echoed as it came.
 */
export class FaultyEcho extends StreamRequestHandler {
  static timeout = Number(process.env.SOAK_TIMEOUT ?? 2000);
  static maxLineLength = 16 * 1024;

  async handle() {
    for await (const line of this.rfile.lines()) {
      if (line[0] === COMMAND) await this.#command(line.toString('latin1').trim());
      else await this.wfile.write(line);
    }
  }

  async #command(text) {
    const [name, arg] = text.slice(1).split(' ');
    if (name === 'THROW') throw new Error(`injected ${arg}`);
    if (name === 'HANG') await this.rfile.readExactly(1024);
    else if (name === 'SLOW') {
      await sleep(Number(arg), undefined, { signal: this.signal });
      await this.wfile.write('done\n');
    } else if (name === 'BIG') {
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      for (let i = 0; i < Number(arg) * 16; i++) await this.wfile.write(chunk);
    } else await this.wfile.write(`unknown ${name}\n`);
  }
}

/** Reads one byte: held connections stay until the idle `timeout` (SOAK_TIMEOUT ms) closes them. */
export class Idle extends StreamRequestHandler {
  static timeout = Number(process.env.SOAK_TIMEOUT ?? 2000);

  async handle() {
    await this.rfile.read(1);
  }
}

/** Echoes datagrams that start with `SOAK`; anything else is read and not answered. */
export class DatagramEcho extends DatagramRequestHandler {
  async handle() {
    const { packet } = this;
    if (packet.length >= 4 && packet.readUInt32BE(0) === 0x534f414b) await this.wfile.write(packet);
  }
}
