/**
 * An echo server with its counters for Prometheus:
 *
 *   node dist/main.js [--port 7000] [--metrics-port 9464]
 *
 * Then `curl http://127.0.0.1:9464/metrics`, or point a Prometheus scrape job at it.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { StreamRequestHandler, TCPServer, formatAddress } from 'sockserve';
import { metricsServer } from './prometheus.js';

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines({ limit: 1024 })) await this.wfile.write(line);
  }
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '7000' }, 'metrics-port': { type: 'string', default: '9464' } } });
const server = new TCPServer({ host: '127.0.0.1', port: Number(values.port) }, Echo);
const metrics = metricsServer({ echo: server });
try {
  await server.listen();
  await new Promise<void>((resolve, reject) => metrics.once('error', reject).listen(Number(values['metrics-port']), '127.0.0.1', resolve));
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const { port } = metrics.address() as { port: number };
console.log(`echo server listening on ${formatAddress(server.serverAddress)}, metrics on http://127.0.0.1:${port}/metrics`);
await server.serveUntilSignal();
metrics.close();
