/**
 * Runs the Redis-compatible example server.
 *
 *   node dist/main.js [--host 127.0.0.1] [--port 6380]
 *
 * Try it with `redis-cli -p 6380`, or `redis-benchmark -p 6380 -t set,get -P 16`.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { formatAddress } from 'sockserve';
import { RespServer } from './resp_server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '6380' },
  },
});

const server = new RespServer({ host: values.host, port: Number(values.port) });
try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.log(`resp server listening on ${formatAddress(server.serverAddress)}`);
// Ctrl-C or SIGTERM: stop accepting, give clients a second, then close.
await server.serveUntilSignal({ timeout: 1_000 });
