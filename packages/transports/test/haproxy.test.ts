/**
 * Behind a real HAProxy (Debian's package): PROXY protocol v1 and v2, HAProxy's health checks,
 * and TLS terminated by HAProxy with the SSL TLV passed on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer, type InetAddress } from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { readAll, tempDir, until } from '../../../test/helpers/net.js';

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
if (!hasHaproxy) console.warn('haproxy is not installed (apt-get install haproxy): the HAProxy tests are skipped');

/** Replies with the client the server sees, and what the PROXY header said. */
class Seen extends StreamRequestHandler<InetAddress> {
  override async handle(): Promise<void> {
    const line = (await this.rfile.readline()).toString().trim();
    const ssl = this.proxy?.tlvs.ssl;
    await this.wfile.write(
      `${JSON.stringify({ line, client: this.clientAddress, version: this.proxy?.version, command: this.proxy?.command, ssl: ssl ?? null })}\n`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(!hasHaproxy)('behind HAProxy', () => {
  const dir = tempDir();
  let backend: TCPServer;
  let haproxy: ChildProcess;
  const ports = { v1: 0, v2: 0, tls: 0 };
  const requests: InetAddress[] = [];
  const dropped: unknown[] = [];

  beforeAll(async () => {
    backend = new TCPServer({ host: '127.0.0.1', port: 0 }, Seen, { logger: false, proxyProtocol: { trusted: ['127.0.0.1'] } });
    await backend.listen();
    void backend.serveForever();
    backend.on('request', (client) => requests.push(client));
    backend.on('dropped', (info) => dropped.push(info));
    ports.v1 = await freePort();
    ports.v2 = await freePort();
    ports.tls = await freePort();
    const { server } = testCerts();
    const pem = dir.file('haproxy.pem');
    writeFileSync(pem, Buffer.concat([readFileSync(server.certFile), readFileSync(server.keyFile)]));
    const target = `127.0.0.1:${backend.serverAddress.port}`;
    const config = dir.file('haproxy.cfg');
    writeFileSync(
      config,
      `global
  maxconn 1000
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v1
  bind 127.0.0.1:${ports.v1}
  default_backend v1
backend v1
  server app ${target} send-proxy
frontend v2
  bind 127.0.0.1:${ports.v2}
  default_backend v2
backend v2
  server app ${target} send-proxy-v2 check check-send-proxy inter 100 rise 1 fall 3
frontend offload
  bind 127.0.0.1:${ports.tls} ssl crt ${pem}
  default_backend offload
backend offload
  server app ${target} send-proxy-v2-ssl-cn
`,
    );
    haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await until(() => haproxy.exitCode === null, 1_000);
    for (const port of Object.values(ports)) {
      const deadline = Date.now() + 10_000;
      while (!(await listening(port))) {
        if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${port}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    if (haproxy !== undefined && haproxy.exitCode === null) await new Promise((resolve) => haproxy.once('exit', resolve));
    await backend?.[Symbol.asyncDispose]();
    dir[Symbol.dispose]();
  });

  /** A request through HAProxy; resolves with the reply and the client's own port. */
  async function through(port: number, line: string, secure = false): Promise<{ reply: Record<string, unknown>; localPort: number }> {
    const socket = secure
      ? tls.connect({ port, host: '127.0.0.1', ca: testCerts().ca, servername: 'localhost' })
      : net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once(secure ? 'secureConnect' : 'connect', resolve));
    const localPort = socket.localPort!;
    const reply = readAll(socket);
    socket.end(`${line}\n`);
    return { reply: JSON.parse((await reply).toString()) as Record<string, unknown>, localPort };
  }

  test('send-proxy (v1): the backend sees the client\'s own address and port', async () => {
    const { reply, localPort } = await through(ports.v1, 'one');
    expect(reply).toMatchObject({ line: 'one', version: 1, command: 'PROXY', client: { host: '127.0.0.1', port: localPort } });
  });

  test('send-proxy-v2: the same, with version 2', async () => {
    const { reply, localPort } = await through(ports.v2, 'two');
    expect(reply).toMatchObject({ line: 'two', version: 2, client: { host: '127.0.0.1', port: localPort } });
  });

  test("HAProxy's health checks (LOCAL) are not requests, and are not dropped", async () => {
    const before = requests.length;
    // Checks run every 100 ms: a second of them.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(requests.length).toBe(before);
    expect(dropped).toEqual([]);
    // The backend is up for HAProxy: requests go through.
    expect((await through(ports.v2, 'after checks')).reply.line).toBe('after checks');
  });

  test('TLS terminated by HAProxy: the SSL TLV says the client used TLS, and which version', async () => {
    const { reply, localPort } = await through(ports.tls, 'secure', true);
    expect(reply).toMatchObject({ line: 'secure', version: 2, client: { host: '127.0.0.1', port: localPort }, ssl: { tls: true, version: 'TLSv1.3' } });
  });
});
