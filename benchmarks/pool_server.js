// Usage: node pool_server.js <event-loop|sequential|pool|pool-shared> <handler> [tcp|udp];
// prints "PORT <n>". 'pool-shared' is the pool with datagrams: 'shared' and connections: 'shared'.
import { EventLoopStrategy, SequentialStrategy, TCPServer, UDPServer, WorkerPoolStrategy } from 'sockserve';
import * as handlers from './cpu_handlers.js';

const [strategy, name, transport = 'tcp'] = process.argv.slice(2);
const module = new URL('./cpu_handlers.js', import.meta.url);
const concurrency =
  strategy === 'pool' || strategy === 'pool-shared'
    ? new WorkerPoolStrategy({
        module,
        datagrams: strategy === 'pool-shared' ? 'shared' : 'relay',
        connections: strategy === 'pool-shared' ? 'shared' : 'handoff',
      })
    : strategy === 'sequential'
      ? new SequentialStrategy()
      : new EventLoopStrategy();
const Server = transport === 'udp' ? UDPServer : TCPServer;
const server = new Server({ host: '127.0.0.1', port: 0 }, handlers[name], { logger: false, concurrency });
await server.listen();
console.log(`PORT ${server.serverAddress.port}`);
process.once('SIGTERM', async () => {
  await server.serverClose({ timeout: 1000 });
  process.exit(0);
});
await server.serveForever();
