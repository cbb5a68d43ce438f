/**
 * `server.stats()` in the Prometheus text exposition format, served over HTTP with `node:http`.
 *
 * @module
 */
import http from 'node:http';
import type { ServerStats } from 'sockserve';

/** Something with `stats()`: any sockserve server. */
interface HasStats {
  stats(): ServerStats;
}

/**
 * The stats of each server (by its label) as Prometheus metrics: gauges for what is open now,
 * counters for totals, `sockserve_dropped_total{reason}` per drop reason.
 *
 * @example
 * ```ts
 * const text = prometheusText({ echo: server });
 * ```
 */
export function prometheusText(servers: Record<string, HasStats>): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, values: Array<[Record<string, string>, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of values) {
      const text = Object.entries(labels)
        .map(([key, label]) => `${key}="${label.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
        .join(',');
      lines.push(`${name}{${text}} ${value}`);
    }
  };
  const all = Object.entries(servers).map(([server, source]) => [server, source.stats()] as const);
  const each = (pick: (stats: ServerStats) => number): Array<[Record<string, string>, number]> => all.map(([server, stats]) => [{ server }, pick(stats)]);
  metric('sockserve_requests_in_flight', 'gauge', 'Requests being handled now.', each((s) => s.inFlight));
  metric('sockserve_connections', 'gauge', 'Connections open now.', each((s) => s.connections));
  metric('sockserve_requests_total', 'counter', 'Requests accepted.', each((s) => s.requests));
  metric('sockserve_requests_failed_total', 'counter', 'Requests whose error reached handleError().', each((s) => s.failed));
  metric('sockserve_requests_aborted_total', 'counter', 'Requests aborted at a close deadline.', each((s) => s.aborted));
  metric('sockserve_tls_client_errors_total', 'counter', 'TLS handshakes that failed.', each((s) => s.tlsClientErrors));
  metric('sockserve_bytes_in_total', 'counter', 'Bytes read from peers.', each((s) => s.bytesIn));
  metric('sockserve_bytes_out_total', 'counter', 'Bytes written to peers.', each((s) => s.bytesOut));
  metric(
    'sockserve_dropped_total',
    'counter',
    'Requests and connections dropped before any handler, by reason.',
    all.flatMap(([server, stats]) => Object.entries(stats.dropped).map(([reason, count]) => [{ server, reason }, count ?? 0] as [Record<string, string>, number])),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * An HTTP server that answers `GET /metrics` with {@link prometheusText}; anything else is 404.
 *
 * @example
 * ```ts
 * metricsServer({ echo: server }).listen(9464);
 * ```
 */
export function metricsServer(servers: Record<string, HasStats>): http.Server {
  return http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(prometheusText(servers));
  });
}
