/**
 * Runs the STARTTLS example server.
 *
 *   node dist/main.js --key key.pem --cert cert.pem [--host 127.0.0.1] [--port 2525]
 *
 * Talk to it with a client that can upgrade a connection (Python's `ssl.wrap_socket` after
 * `STARTTLS`, say; docs/tls.md shows one).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatAddress } from 'sockserve';
import { NotesServer } from './notes_server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '2525' },
    key: { type: 'string' },
    cert: { type: 'string' },
  },
});
if (values.key === undefined || values.cert === undefined) {
  console.error('usage: node dist/main.js --key key.pem --cert cert.pem [--host 127.0.0.1] [--port 2525]');
  process.exit(2);
}

const server = new NotesServer({ host: values.host, port: Number(values.port) }, { tls: { key: readFileSync(values.key), cert: readFileSync(values.cert) } });
try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.log(`notes server listening on ${formatAddress(server.serverAddress)}`);
await server.serveUntilSignal({ timeout: 1_000 });
