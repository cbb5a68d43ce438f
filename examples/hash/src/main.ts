/**
 * The hash server: CPU-heavy requests, under the strategy of your choice.
 *
 *   node dist/main.js [--host 127.0.0.1] [--port 7878] [--strategy event-loop|sequential|pool] [--workers N]
 *                     [--udp [--datagrams shared|relay]]
 *
 * With `--udp`, each datagram is one request; the pool's workers then read the UDP socket
 * themselves (`--datagrams shared`, the default here) or get datagrams relayed by the server.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { EventLoopStrategy, SequentialStrategy, TCPServer, UDPServer, WorkerPoolStrategy, type ConcurrencyStrategy } from 'sockserve';
import { HashDatagramHandler, HashHandler } from './hash_handler.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '7878' },
    strategy: { type: 'string', default: 'pool' },
    workers: { type: 'string' },
    udp: { type: 'boolean', default: false },
    datagrams: { type: 'string', default: 'shared' },
  },
});

if (values.datagrams !== 'shared' && values.datagrams !== 'relay') {
  console.error(`Unknown --datagrams ${JSON.stringify(values.datagrams)}; use shared or relay`);
  process.exit(2);
}

function strategy(): ConcurrencyStrategy {
  switch (values.strategy) {
    case 'pool':
      return new WorkerPoolStrategy({
        module: new URL('./hash_handler.js', import.meta.url),
        datagrams: values.datagrams as 'shared' | 'relay',
        ...(values.workers === undefined ? {} : { workers: Number(values.workers) }),
      });
    case 'sequential':
      return new SequentialStrategy();
    case 'event-loop':
      return new EventLoopStrategy();
    default:
      console.error(`Unknown --strategy ${JSON.stringify(values.strategy)}; use event-loop, sequential or pool`);
      process.exit(2);
  }
}

const address = { host: values.host, port: Number(values.port) };
const server = values.udp
  ? new UDPServer(address, HashDatagramHandler, { concurrency: strategy() })
  : new TCPServer(address, HashHandler, { concurrency: strategy() });
try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.log(
  `hash server listening on ${values.udp ? 'udp ' : ''}${server.serverAddress.host}:${server.serverAddress.port} (${server.concurrency.name})`,
);
// Ctrl-C or SIGTERM: stop accepting, give requests 5 s to finish, abort the rest.
const report = await server.serveUntilSignal({ timeout: 5_000 });
console.log(`stopped: ${report.completed} requests completed, ${report.aborted} aborted`);
