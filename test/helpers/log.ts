/** A pino logger that keeps its records in memory, for tests that check what is logged. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function memoryLogger(level = 'debug'): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level }, stream), records };
}
