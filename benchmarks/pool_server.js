// Usage: node pool_server.js <strategy> <handler>; prints "PORT <n>".
import { EventLoopStrategy, SequentialStrategy, TCPServer, WorkerPoolStrategy } from 'sockserve';
import * as handlers from './cpu_handlers.js';

const [strategy, name] = process.argv.slice(2);
const concurrency =
  strategy === 'pool'
    ? new WorkerPoolStrategy({ module: new URL('./cpu_handlers.js', import.meta.url) })
    : strategy === 'sequential'
      ? new SequentialStrategy()
      : new EventLoopStrategy();
const server = new TCPServer({ host: '127.0.0.1', port: 0 }, handlers[name], { logger: false, concurrency });
await server.listen();
console.log(`PORT ${server.serverAddress.port}`);
process.once('SIGTERM', async () => {
  await server.serverClose({ timeout: 1000 });
  process.exit(0);
});
await server.serveForever();
