/**
 * The HAProxy configuration for sockserve backends: one frontend, `balance leastconn`, PROXY
 * protocol v2 to the backends, health checks that send it too, and agent checks that take a
 * draining backend out of rotation before it stops.
 *
 * @module
 */

/**
 * One backend, as HAProxy reaches it.
 *
 * @example
 * ```ts
 * const backend: Backend = { name: 'app1', port: 7001, agentPort: 7101 };
 * ```
 */
export interface Backend {
  name: string;
  port: number;
  agentPort: number;
}

/**
 * An `haproxy.cfg` for `backends` on loopback, with the frontend on `port`.
 *
 * @example
 * ```ts
 * writeFileSync('haproxy.cfg', haproxyConfig(8000, [{ name: 'app1', port: 7001, agentPort: 7101 }]));
 * ```
 */
export function haproxyConfig(port: number, backends: readonly Backend[], host = '127.0.0.1'): string {
  const servers = backends
    .map(
      ({ name, port: backendPort, agentPort }) =>
        // send-proxy-v2: the client's address; check-send-proxy: health checks send it too (as
        // LOCAL); agent-check: the backend says "drain" before it stops, "up ready" when back.
        `  server ${name} ${host}:${backendPort} send-proxy-v2 check check-send-proxy inter 200 fall 1 rise 1 ` +
        `agent-check agent-port ${agentPort} agent-inter 100`,
    )
    .join('\n');
  return `global
  maxconn 4096

defaults
  mode tcp
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  # A health check that is merely slow (a busy machine, a long GC) is not a failure: without this,
  # a check times out after its interval (200 ms here), and with "fall 1" that takes the server out.
  # A stopped backend still fails its check at once (connection refused).
  timeout check 2s
  # A connection refused by a backend (one that just stopped) is retried on another.
  retries 3
  option redispatch

frontend app
  bind ${host}:${port}
  default_backend app

backend app
  balance leastconn
${servers}
`;
}
