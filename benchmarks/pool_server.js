// Usage: node pool_server.js <event-loop|event-loop-traced|sequential|pool|pool-shared> <handler> [tcp|tls|udp];
// prints "PORT <n>". 'pool-shared' is the pool with datagrams: 'shared' and connections: 'shared'.
// 'tls' reads its certificate from BENCH_TLS_KEY and BENCH_TLS_CERT (tls_certs.js).
import { AsyncLocalStorage } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { EventLoopStrategy, SequentialStrategy, TCPServer, TLSServer, UDPServer, WorkerPoolStrategy, channels, tracingChannels } from 'sockserve';
import * as handlers from './cpu_handlers.js';

const [strategy, name, transport = 'tcp'] = process.argv.slice(2);
if (strategy === 'event-loop-traced') {
  // The event loop with a subscriber on every diagnostics channel and on the request's tracing
  // channel (a store bound, as an APM would): what observability costs per request when it is on.
  for (const channel of Object.values(channels)) dc.subscribe(channel, () => {});
  const trace = dc.tracingChannel(tracingChannels.request);
  const noop = () => {};
  trace.subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
  trace.start.bindStore(new AsyncLocalStorage(), (context) => context);
}
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
const Server = transport === 'udp' ? UDPServer : transport === 'tls' ? TLSServer : TCPServer;
const tls = transport === 'tls' ? { tls: { key: readFileSync(process.env.BENCH_TLS_KEY), cert: readFileSync(process.env.BENCH_TLS_CERT) } } : {};
const server = new Server({ host: '127.0.0.1', port: 0 }, handlers[name], { logger: false, concurrency, ...tls });
await server.listen();
// The pids of every process that serves (the workers too), for the harness's CPU accounting.
console.log(`PORT ${server.serverAddress.port} PIDS ${[process.pid, ...(concurrency.pids ?? [])].join(',')}`);
process.once('SIGTERM', async () => {
  await server.serverClose({ timeout: 1000 });
  process.exit(0);
});
await server.serveForever();
