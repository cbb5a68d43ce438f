/**
 * TLSServer and STARTTLS with real peers: Node's tls client, Python's ssl module and
 * `openssl s_client`, over certificates the tests make (test/helpers/certs.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, test } from 'vitest';
import {
  StreamRequestHandler,
  TCPServer,
  TLSHandshakeError,
  TLSServer,
  WorkerPoolStrategy,
  type InetAddress,
  type StartTlsOptions,
  type TLSServerOptions,
} from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { readAll, readLine, until } from '../../../test/helpers/net.js';
import { hasPythonSsl, runPython } from '../../../test/helpers/spawn.js';

const certs = testCerts();
const serverTls = { key: certs.server.key, cert: certs.server.cert };

/** Answers each line with what the connection negotiated, as JSON. */
class TlsInfo extends StreamRequestHandler<InetAddress> {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) {
      const info = this.tls;
      await this.wfile.write(
        `${JSON.stringify({
          line: line.toString().trim(),
          encrypted: (this.request as tls.TLSSocket).encrypted === true,
          protocol: info?.protocol,
          alpn: info?.alpnProtocol,
          servername: info?.servername,
          authorized: info?.authorized,
          authorizationError: info?.authorizationError,
          peer: info?.peerCertificate?.subject?.CN ?? null,
        })}\n`,
      );
    }
  }
}

async function serving(options: Partial<TLSServerOptions> = {}, Handler: typeof StreamRequestHandler<InetAddress> = TlsInfo) {
  const server = new TLSServer({ host: '127.0.0.1', port: 0 }, Handler, { logger: false, tls: serverTls, ...options } as TLSServerOptions);
  await server.listen();
  void server.serveForever();
  return server;
}

/** A Node TLS client; resolves once the handshake is done (or rejects with its error). */
function connectTls(server: TLSServer, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.serverAddress.port, ca: certs.ca, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Sends a line and parses the JSON line that answers it. */
async function ask(socket: net.Socket, line = 'info'): Promise<Record<string, unknown>> {
  socket.write(`${line}\n`);
  return JSON.parse(await readLine(socket)) as Record<string, unknown>;
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('openssl is not installed (apt-get install openssl): the s_client test is skipped');
if (!hasPythonSsl) console.warn('python3 with ssl is not installed (apt-get install python3): the Python TLS tests are skipped');


describe('TLSServer', () => {
  test.each(['TLSv1.2', 'TLSv1.3'] as const)('serves %s; this.tls tells the protocol; the client verifies the certificate', async (version) => {
    await using server = await serving();
    const socket = await connectTls(server, { minVersion: version, maxVersion: version });
    const info = await ask(socket);
    expect(info).toMatchObject({ encrypted: true, protocol: version, servername: 'localhost', authorized: false, peer: null });
    socket.end();
    await closed(socket);
  });

  test('SNI picks the certificate by the name the client asks for', async () => {
    await using server = await serving({ sni: { 'b.example': { key: certs.sniB.key, cert: certs.sniB.cert } } });
    const b = await connectTls(server, { servername: 'b.example' });
    expect(b.getPeerCertificate().subject.CN).toBe('b.example');
    expect((await ask(b)).servername).toBe('b.example');
    const plain = await connectTls(server);
    expect(plain.getPeerCertificate().subject.CN).toBe('localhost');
    for (const socket of [b, plain]) socket.destroy();
  });

  test('ALPN: a protocol in common is negotiated; none in common fails the handshake, reported as tlsClientError', async () => {
    await using server = await serving({ tls: { ...serverTls, ALPNProtocols: ['myproto/2', 'myproto/1'] } });
    const errors: unknown[] = [];
    const handled: unknown[] = [];
    server.on('tlsClientError', (error) => errors.push(error));
    server.on('requestError', (error) => handled.push(error));
    const agreed = await connectTls(server, { ALPNProtocols: ['myproto/1'] });
    expect((await ask(agreed)).alpn).toBe('myproto/1');
    agreed.destroy();
    await expect(connectTls(server, { ALPNProtocols: ['other/1'] })).rejects.toThrow();
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(TLSHandshakeError);
    expect(errors[0]).toMatchObject({ code: 'ERR_SOCKSERVE_TLS_HANDSHAKE', reason: 'failed' });
    expect(handled).toEqual([]);
  });

  test('mutual TLS: a client certificate from the CA is accepted and visible to verifyRequest and the handler', async () => {
    const seen: unknown[] = [];
    class Checked extends TLSServer {
      override verifyRequest(socket: net.Socket): boolean {
        const peer = (socket as tls.TLSSocket).getPeerCertificate();
        seen.push(peer.subject?.CN);
        return (socket as tls.TLSSocket).authorized;
      }
    }
    await using server = new Checked({ host: '127.0.0.1', port: 0 }, TlsInfo, {
      logger: false,
      tls: { ...serverTls, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
    });
    await server.listen();
    void server.serveForever();
    const errors: TLSHandshakeError[] = [];
    server.on('tlsClientError', (error) => errors.push(error));
    const alice = await connectTls(server, { key: certs.client.key, cert: certs.client.cert });
    expect(await ask(alice)).toMatchObject({ authorized: true, authorizationError: null, peer: 'alice' });
    expect(seen).toEqual(['alice']);
    alice.destroy();
    // A certificate from another CA, and none at all: refused during the handshake, with the reason.
    for (const options of [{ key: certs.stranger.key, cert: certs.stranger.cert }, {}]) {
      const socket = await connectTls(server, options).catch((error: unknown) => error);
      // TLS 1.3: the client learns of the refusal on its first read.
      if (socket instanceof tls.TLSSocket) await readAll(socket);
    }
    await until(() => errors.length === 2);
    const causes = errors.map((error) => (error.cause as { code?: string }).code);
    expect(causes[0]).toMatch(/CERTIFICATE|VERIFY|UNKNOWN_CA/i);
    expect(causes[1]).toMatch(/CERTIFICATE/i);
    expect(seen).toEqual(['alice']);
  });

  test('requestCert without rejectUnauthorized: an unverified client gets in, and the handler sees why', async () => {
    await using server = await serving({ tls: { ...serverTls, ca: certs.ca, requestCert: true, rejectUnauthorized: false } });
    const mallory = await connectTls(server, { key: certs.stranger.key, cert: certs.stranger.cert });
    const info = await ask(mallory);
    expect(info).toMatchObject({ authorized: false, peer: 'mallory' });
    expect(String(info.authorizationError)).toMatch(/UNABLE|SELF|CERT/);
    mallory.destroy();
  });

  test('setSecureContext(): new handshakes get the new certificate; a connection made before keeps working', async () => {
    await using server = await serving();
    const before = await connectTls(server);
    expect(before.getPeerCertificate().subject.CN).toBe('localhost');
    server.setSecureContext({ key: certs.rotated.key, cert: certs.rotated.cert });
    const after = await connectTls(server);
    expect(after.getPeerCertificate().subject.CN).toBe('localhost rotated');
    expect((await ask(before, 'still')).line).toBe('still');
    for (const socket of [before, after]) socket.destroy();
  });

  test('a handshake that does not finish in time is closed and reported; a plaintext client is refused', async () => {
    await using server = await serving({ handshakeTimeout: 200 });
    const errors: TLSHandshakeError[] = [];
    server.on('tlsClientError', (error) => errors.push(error));
    const silent = net.connect(server.serverAddress.port, '127.0.0.1');
    silent.on('error', () => {});
    await closed(silent);
    expect(errors[0]).toMatchObject({ reason: 'timeout' });
    const plaintext = net.connect(server.serverAddress.port, '127.0.0.1');
    plaintext.on('error', () => {});
    plaintext.write('GET / HTTP/1.0\r\n\r\n');
    await closed(plaintext);
    await until(() => errors.length === 2);
    expect(errors[1]).toMatchObject({ reason: 'failed' });
    expect((errors[1]!.cause as { code?: string }).code).toMatch(/WRONG_VERSION|HTTP_REQUEST|UNKNOWN_PROTOCOL/);
  });

  test('1,000 connections that never speak do not stop serving, and none is left behind', async () => {
    await using server = await serving({ handshakeTimeout: 1_500, maxHandshakes: 500 });
    const dropped: unknown[] = [];
    server.on('dropped', (info) => dropped.push(info));
    const silent: net.Socket[] = [];
    for (let i = 0; i < 1_000; i++) {
      const socket = net.connect(server.serverAddress.port, '127.0.0.1');
      socket.on('error', () => {});
      silent.push(socket);
    }
    await until(() => server.handshaking + dropped.length >= 1_000, 10_000);
    expect(server.handshaking).toBeLessThanOrEqual(500);
    // Past maxHandshakes, connections are closed at once and reported.
    expect(dropped.length).toBeGreaterThanOrEqual(500);
    expect(dropped[0]).toMatchObject({ reason: 'handshakes' });
    // Once the silent ones time out, a real client is served.
    await until(() => server.handshaking === 0, 10_000);
    const client = await connectTls(server);
    expect((await ask(client, 'served')).line).toBe('served');
    client.destroy();
    await Promise.all(silent.map(closed));
  });

  test('graceful close over TLS: the reply arrives whole, then close_notify and FIN, no reset', async () => {
    class Bye extends StreamRequestHandler<InetAddress> {
      override async handle(): Promise<void> {
        await this.rfile.readline();
        await this.wfile.write(Buffer.alloc(256 * 1024, 'x'));
      }
    }
    await using server = await serving({}, Bye);
    const socket = await connectTls(server);
    let ended = false;
    let error: unknown;
    socket.on('end', () => (ended = true));
    socket.on('error', (e) => (error = e));
    const reply = readAll(socket);
    socket.write('go\n');
    expect((await reply).length).toBe(256 * 1024);
    expect(ended).toBe(true); // the server's close_notify and FIN, read as a clean end
    expect(error).toBeUndefined();
  });

  test('a client that half-closes after its request still gets the reply', async () => {
    await using server = await serving();
    const socket = await connectTls(server);
    const reply = readAll(socket);
    socket.end('half\n');
    expect(JSON.parse((await reply).toString()).line).toBe('half');
  });

  test('serverClose() closes handshakes in progress without reporting them as client errors', async () => {
    const server = await serving();
    const errors: unknown[] = [];
    server.on('tlsClientError', (error) => errors.push(error));
    const silent = net.connect(server.serverAddress.port, '127.0.0.1');
    silent.on('error', () => {});
    await until(() => server.handshaking === 1);
    await server.serverClose();
    await closed(silent);
    expect(errors).toEqual([]);
  });

  test.skipIf(!hasPythonSsl)("Python's ssl module: a verified TLS 1.3 and a TLS 1.2 connection", async () => {
    await using server = await serving();
    const script = `
import socket, ssl, sys, json
port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca)
context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
with socket.create_connection(('127.0.0.1', port)) as raw:
    with context.wrap_socket(raw, server_hostname='localhost') as s:
        s.sendall(b'from python\\n')
        data = b''
        while not data.endswith(b'\\n'):
            data += s.recv(4096)
        print(json.dumps({'reply': json.loads(data), 'version': s.version()}))
`;
    for (const version of ['TLSv1_3', 'TLSv1_2']) {
      const out = JSON.parse(await runPython(script, [String(server.serverAddress.port), certs.caFile, version])) as {
        reply: Record<string, unknown>;
        version: string;
      };
      expect(out.version).toBe(version.replace('_', '.'));
      expect(out.reply).toMatchObject({ line: 'from python', protocol: out.version });
    }
  });

  test.skipIf(!hasOpenssl)('openssl s_client: SNI, ALPN and a client certificate', async () => {
    await using server = await serving({
      tls: { ...serverTls, ca: certs.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['myproto/1'] },
      sni: { 'b.example': { key: certs.sniB.key, cert: certs.sniB.cert } },
    });
    const out = await new Promise<string>((resolve) => {
      const child = spawn(
        'openssl',
        [
          's_client', '-connect', `127.0.0.1:${server.serverAddress.port}`, '-servername', 'b.example', '-alpn', 'myproto/1',
          '-CAfile', certs.caFile, '-cert', certs.client.certFile, '-key', certs.client.keyFile, '-quiet', '-no_ign_eof', '-verify_return_error',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let text = '';
      let err = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\n')) child.stdin.end(); // -no_ign_eof: then s_client closes and exits
      });
      child.stderr.on('data', (chunk) => (err += chunk));
      child.stdin.write('from openssl\n');
      child.once('close', () => resolve(text || err));
    });
    expect(out, out).toMatch(/^\{/);
    expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ line: 'from openssl', alpn: 'myproto/1', servername: 'b.example', authorized: true, peer: 'alice' });
  });

  test('under WorkerPoolStrategy the handshakes run in the workers', async () => {
    const module = new URL('../../worker-pool/test/fixtures/handlers.js', import.meta.url);
    const { PoolEcho } = (await import(module.href)) as { PoolEcho: typeof StreamRequestHandler<InetAddress> };
    for (const connections of ['handoff', 'shared'] as const) {
      await using server = await serving({ concurrency: new WorkerPoolStrategy({ module, workers: 2, connections }) }, PoolEcho);
      const errors: TLSHandshakeError[] = [];
      server.on('tlsClientError', (error) => errors.push(error));
      const pids = new Set<number>();
      for (let i = 0; i < 40 && pids.size < 2; i++) {
        const socket = await connectTls(server);
        const reply = (await ask(socket, 'tls')) as { pid: number; protocol: string };
        expect(reply.protocol).toBe('TLSv1.3');
        pids.add(reply.pid);
        socket.destroy();
      }
      expect(pids.has(process.pid)).toBe(false);
      expect([...pids].sort()).toEqual((server.concurrency as WorkerPoolStrategy).pids.sort());
      // A failed handshake in a worker reaches the parent's 'tlsClientError'.
      const plaintext = net.connect(server.serverAddress.port, '127.0.0.1');
      plaintext.on('error', () => {});
      plaintext.write('hello?\n');
      await closed(plaintext);
      await until(() => errors.length === 1);
      expect(errors[0]).toBeInstanceOf(TLSHandshakeError);
      // New certificates reach the workers.
      server.setSecureContext({ key: certs.rotated.key, cert: certs.rotated.cert });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const rotated = await connectTls(server);
      expect(rotated.getPeerCertificate().subject.CN).toBe('localhost rotated');
      rotated.destroy();
    }
  });

  test('bad options are refused at construction, quoting them', () => {
    expect(() => new TLSServer({ host: '127.0.0.1', port: 0 }, TlsInfo, {} as TLSServerOptions)).toThrow(/`tls` option/);
    expect(() => new TLSServer({ host: '127.0.0.1', port: 0 }, TlsInfo, { tls: serverTls, handshakeTimeout: 0 })).toThrow(/handshakeTimeout/);
    expect(() => new TLSServer({ host: '127.0.0.1', port: 0 }, TlsInfo, { tls: { key: 'not a key', cert: 'nor a cert' } })).toThrow(
      /not usable/,
    );
  });
});

/** A tiny line protocol with STARTTLS, as examples/starttls has it. */
const startTlsOptions: StartTlsOptions = { tls: serverTls };
/** What each startTls() reported it discarded. */
const discardedCounts: number[] = [];

class StartTlsLines extends StreamRequestHandler<InetAddress> {
  override async handle(): Promise<void> {
    for (;;) {
      const line = (await this.rfile.readline()).toString().trim();
      if (line === '') return;
      if (line === 'STARTTLS') {
        await this.wfile.write('OK begin TLS\n');
        const { discarded } = await this.startTls(startTlsOptions);
        discardedCounts.push(discarded);
        continue;
      }
      await this.wfile.write(`${this.tls === undefined ? 'plain' : this.tls.protocol}: ${line}\n`);
    }
  }
}

describe('STARTTLS', () => {
  async function serving() {
    const server = new TCPServer({ host: '127.0.0.1', port: 0 }, StartTlsLines, { logger: false });
    await server.listen();
    void server.serveForever();
    return server;
  }

  /** Upgrades a client socket after the server's go-ahead. */
  function upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ socket, ca: certs.ca, servername: 'localhost' });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', reject);
    });
  }

  test('upgrades in place: rfile and wfile go on over TLS, and the close is graceful', async () => {
    await using server = await serving();
    const socket = net.connect(server.serverAddress.port, '127.0.0.1');
    socket.write('hello\n');
    expect(await readLine(socket)).toBe('plain: hello\n');
    socket.write('STARTTLS\n');
    expect(await readLine(socket)).toBe('OK begin TLS\n');
    const secure = await upgrade(socket);
    secure.write('secret\n');
    expect(await readLine(secure)).toBe('TLSv1.3: secret\n');
    const rest = readAll(secure);
    secure.end();
    expect((await rest).length).toBe(0);
  });

  test.skipIf(!hasPythonSsl)('plaintext injected after STARTTLS is discarded and never read as if it came over TLS (CVE-2011-0411)', async () => {
    await using server = await serving();
    discardedCounts.length = 0;
    // The injected command arrives in the same segment as STARTTLS, before the handshake.
    const script = `
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
raw = socket.create_connection(('127.0.0.1', port))
raw.sendall(b'STARTTLS\\nINJECTED\\n')
data = b''
while not data.endswith(b'\\n'):
    data += raw.recv(1)
assert data == b'OK begin TLS\\n', data
context = ssl.create_default_context(cafile=ca)
s = context.wrap_socket(raw, server_hostname='localhost')
s.sendall(b'after\\n')
reply = b''
while not reply.endswith(b'\\n'):
    reply += s.recv(4096)
print(reply.decode(), end='')
s.close()
`;
    const out = await runPython(script, [String(server.serverAddress.port), certs.caFile]);
    // The first line over TLS is the client's; INJECTED was never answered.
    expect(out).toBe('TLSv1.3: after\n');
    expect(discardedCounts).toEqual(['INJECTED\n'.length]);
  });

  test('a failed STARTTLS handshake closes the connection and fires tlsClientError, not requestError', async () => {
    await using server = await serving();
    const errors: unknown[] = [];
    const failed: unknown[] = [];
    server.on('tlsClientError', (error) => errors.push(error));
    server.on('requestError', (error) => failed.push(error));
    const socket = net.connect(server.serverAddress.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('STARTTLS\n');
    expect(await readLine(socket)).toBe('OK begin TLS\n');
    socket.write('this is not a ClientHello\n');
    await closed(socket);
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(TLSHandshakeError);
    expect(failed).toEqual([]);
  });
});
