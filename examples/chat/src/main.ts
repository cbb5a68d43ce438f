/**
 * Runs the chat server. HOST and PORT (environment) or --host and --port choose the address;
 * the default is 127.0.0.1:9999.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ChatServer } from './chat_server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.PORT ?? '9999' },
    'max-queue': { type: 'string' },
  },
});

const server = new ChatServer(
  { host: values.host, port: Number(values.port) },
  {
    logger: pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination({ dest: 2, sync: true })),
    ...(values['max-queue'] === undefined ? {} : { maxQueuedBytes: Number(values['max-queue']) }),
  },
);

try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const { host, port } = server.serverAddress;
const shown = host.includes(':') ? `[${host}]` : host;
console.log(`chat server listening on ${shown}:${port}`);
console.log(`connect with: nc ${host} ${port}   (type lines to talk, quit to leave; Ctrl-C stops the server)`);

// Ctrl-C or SIGTERM: say goodbye, stop accepting, give clients a second, then close.
server.once('shutdown', () => server.broadcast('* The server is shutting down. Bye.\n'));
await server.serveUntilSignal({ timeout: 1_000 });
