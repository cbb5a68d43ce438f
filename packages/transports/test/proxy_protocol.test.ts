/**
 * The PROXY protocol: the parser (examples, every chunking, random bytes), and servers that read
 * it from real connections.
 */
import net from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ProxyProtocolError,
  StreamRequestHandler,
  TCPServer,
  TLSServer,
  UnixStreamServer,
  WorkerPoolStrategy,
  crc32c,
  parseProxyHeader,
  type ClientAddress,

  type StreamServerOptions,
} from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { readAll, tempDir, until } from '../../../test/helpers/net.js';

/** A PROXY v2 header: command, family/protocol byte, address bytes, TLVs; optionally with a CRC32C. */
function v2(command: 0 | 1, familyProtocol: number, addresses: Buffer, tlvs: Array<[number, Buffer]> = [], crc: 'none' | 'good' | 'bad' = 'none'): Buffer {
  const tlvBytes = tlvs.map(([type, value]) => Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value]));
  if (crc !== 'none') tlvBytes.push(Buffer.from([0x03, 0, 4, 0, 0, 0, 0]));
  const body = Buffer.concat([addresses, ...tlvBytes]);
  const header = Buffer.concat([
    Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
    Buffer.from([0x20 | command, familyProtocol, body.length >> 8, body.length & 0xff]),
    body,
  ]);
  if (crc !== 'none') header.writeUInt32BE(crc === 'good' ? crc32c(header) : (crc32c(header) + 1) >>> 0, header.length - 4);
  return header;
}

function ipv4Addresses(source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  const bytes = Buffer.alloc(12);
  source.split('.').forEach((part, i) => (bytes[i] = Number(part)));
  destination.split('.').forEach((part, i) => (bytes[4 + i] = Number(part)));
  bytes.writeUInt16BE(sourcePort, 8);
  bytes.writeUInt16BE(destinationPort, 10);
  return bytes;
}

function ipv6Addresses(): Buffer {
  const bytes = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(bytes, 0);
  Buffer.from('20010db8000000000000000000000002', 'hex').copy(bytes, 16);
  bytes.writeUInt16BE(40000, 32);
  bytes.writeUInt16BE(443, 34);
  return bytes;
}

const V1 = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n');
const SSL_TLV = Buffer.concat([
  Buffer.from([0x07, 0, 0, 0, 0]), // client: TLS, cert in connection and session; verify: 0 (ok)
  Buffer.from([0x21, 0, 7]),
  Buffer.from('TLSv1.3'),
  Buffer.from([0x22, 0, 5]),
  Buffer.from('alice'),
]);
const V2_FULL = v2(
  1,
  0x11,
  ipv4Addresses('198.51.100.9', '192.0.2.1', 51000, 8443),
  [
    [0x01, Buffer.from('h2')],
    [0x02, Buffer.from('api.example')],
    [0x05, Buffer.from('req-123')],
    [0x20, SSL_TLV],
  ],
  'good',
);
const VALID = [V1, V2_FULL, v2(1, 0x21, ipv6Addresses()), v2(0, 0x00, Buffer.alloc(0)), Buffer.from('PROXY UNKNOWN\r\n')];

describe('parseProxyHeader', () => {
  test('version 1: TCP4, TCP6, UNKNOWN', () => {
    expect(parseProxyHeader(Buffer.concat([V1, Buffer.from('GET /')]))).toEqual({
      header: {
        version: 1,
        command: 'PROXY',
        protocol: 'tcp4',
        source: { host: '203.0.113.7', port: 56324, family: 'IPv4' },
        destination: { host: '192.0.2.1', port: 443, family: 'IPv4' },
        tlvs: { crc32c: false, raw: [] },
      },
      length: V1.length,
    });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n'))?.header.source).toEqual({
      host: '2001:db8::1',
      port: 40000,
      family: 'IPv6',
    });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))?.header).toMatchObject({ protocol: 'unknown', source: null });
  });

  test('version 2: addresses, TLVs (ALPN, authority, unique ID, SSL sub-TLVs) and a checked CRC32C', () => {
    const { header, length } = parseProxyHeader(V2_FULL)!;
    expect(length).toBe(V2_FULL.length);
    expect(header).toMatchObject({
      version: 2,
      command: 'PROXY',
      protocol: 'tcp4',
      source: { host: '198.51.100.9', port: 51000, family: 'IPv4' },
      destination: { host: '192.0.2.1', port: 8443, family: 'IPv4' },
      tlvs: {
        alpn: 'h2',
        authority: 'api.example',
        crc32c: true,
        ssl: { tls: true, certificateInConnection: true, certificateInSession: true, verified: true, version: 'TLSv1.3', cn: 'alice' },
      },
    });
    expect(header.tlvs.uniqueId?.toString()).toBe('req-123');
    expect(header.tlvs.raw.map((tlv) => tlv.type)).toEqual([0x01, 0x02, 0x05, 0x20, 0x03]);
    expect(parseProxyHeader(v2(1, 0x21, ipv6Addresses()))?.header.source).toEqual({ host: '2001:db8::1', port: 40000, family: 'IPv6' });
    const unix = Buffer.alloc(216);
    unix.write('/run/client.sock', 0);
    expect(parseProxyHeader(v2(1, 0x31, unix))?.header).toMatchObject({ protocol: 'unix', source: { path: '/run/client.sock' }, destination: { path: null } });
    // LOCAL: the balancer's own connection, whatever addresses it carries.
    expect(parseProxyHeader(v2(0, 0x11, ipv4Addresses('10.0.0.1', '10.0.0.2', 1, 2)))?.header).toMatchObject({ command: 'LOCAL', source: null });
  });

  test.each([
    ['no header at all', Buffer.from('GET / HTTP/1.1\r\n')],
    ['a wrong v1 prefix', Buffer.from('PROXZ TCP4')],
    ['a v1 header without CRLF within 107 bytes', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)],
    ['a v1 header with a bad address', Buffer.from('PROXY TCP4 300.0.0.1 192.0.2.1 1 2\r\n')],
    ['a v1 header with a bad port', Buffer.from('PROXY TCP4 192.0.2.9 192.0.2.1 65536 2\r\n')],
    ['a v1 header with a lone LF', Buffer.from('PROXY TCP4 192.0.2.9 192.0.2.1 1 2\n')],
    ['a v1 header with an unknown protocol', Buffer.from('PROXY UDP4 192.0.2.9 192.0.2.1 1 2\r\n')],
    ['a v2 header of version 3', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)])],
    ['a v2 header with an unknown command', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x22, 0x11, 0, 12]), Buffer.alloc(12)])],
    ['a v2 header too short for its addresses', v2(1, 0x21, Buffer.alloc(12))],
    ['a v2 header longer than accepted', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0xff, 0xff])])],
    ['a truncated TLV', v2(1, 0x11, Buffer.concat([ipv4Addresses('1.2.3.4', '5.6.7.8', 1, 2), Buffer.from([0x01, 0x00])]))],
    ['a TLV longer than the header', v2(1, 0x11, Buffer.concat([ipv4Addresses('1.2.3.4', '5.6.7.8', 1, 2), Buffer.from([0x01, 0x00, 0x09, 0x41])]))],
    ['a wrong CRC32C', v2(1, 0x11, ipv4Addresses('1.2.3.4', '5.6.7.8', 1, 2), [], 'bad')],
  ])('rejects %s with ProxyProtocolError', (_name, bytes) => {
    expect(() => parseProxyHeader(bytes)).toThrow(ProxyProtocolError);
  });

  test('CRC32C is the Castagnoli checksum', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  test('any chunking of a valid header gives the same result, and needs every byte', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), (header, after, cuts) => {
        const data = Buffer.concat([header, Buffer.from(after)]);
        const whole = parseProxyHeader(data)!;
        expect(whole.length).toBe(header.length);
        // Fed as it arrives: undefined until the header is complete, then the same result.
        const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
        for (const point of points) {
          const result = parseProxyHeader(data.subarray(0, point));
          if (point < header.length) expect(result).toBeUndefined();
          else expect(result).toEqual(whole);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('random bytes never throw anything but ProxyProtocolError, and never wait past the maximum length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.boolean(), (bytes, asV1, asV2) => {
        const prefix = asV1 ? Buffer.from('PROXY ') : asV2 ? Buffer.from('0d0a0d0a000d0a515549540a', 'hex') : Buffer.alloc(0);
        const data = Buffer.concat([prefix, Buffer.from(bytes)]);
        try {
          const result = parseProxyHeader(data);
          if (result === undefined) {
            // Still a valid beginning: never past the longest header.
            expect(data.length).toBeLessThan(asV2 ? 16 + 65535 : 107);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ProxyProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Replies with what the server knows of the client, as JSON. */
class WhoAmI extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const line = (await this.rfile.readline()).toString();
    await this.wfile.write(
      `${JSON.stringify({ client: this.clientAddress, line, proxy: this.proxy === undefined ? null : { ...this.proxy, tlvs: { alpn: this.proxy.tlvs.alpn } }, pid: process.pid })}\n`,
    );
  }
}

async function serving(options: StreamServerOptions = {}, kind: 'tcp' | 'tls' | 'unix' = 'tcp') {
  const base: StreamServerOptions = { logger: false, proxyProtocol: { trusted: ['127.0.0.1', '::1'], timeout: 300 }, ...options };
  const dir = tempDir();
  const server =
    kind === 'unix'
      ? new UnixStreamServer(dir.file('p.sock'), WhoAmI, base)
      : kind === 'tls'
        ? new TLSServer({ host: '127.0.0.1', port: 0 }, WhoAmI, { ...base, tls: { key: testCerts().server.key, cert: testCerts().server.cert } })
        : new TCPServer({ host: '127.0.0.1', port: 0 }, WhoAmI, base);
  await server.listen();
  void server.serveForever();
  const requests: ClientAddress[] = [];
  const dropped: unknown[] = [];
  server.on('request', (client) => requests.push(client as ClientAddress));
  server.on('dropped', (info) => dropped.push(info));
  return {
    server,
    requests,
    dropped,
    connect: () => (kind === 'unix' ? net.connect(server.serverAddress as string) : net.connect((server.serverAddress as { port: number }).port, '127.0.0.1')),
    [Symbol.asyncDispose]: async () => {
      await server[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

/** Sends `bytes` on a new connection, half-closes, and returns the JSON reply (or null). */
async function send(fixture: { connect(): net.Socket }, bytes: Buffer): Promise<Record<string, unknown> | null> {
  const socket = fixture.connect();
  socket.on('error', () => {});
  const reply = readAll(socket);
  socket.end(bytes);
  const text = (await reply).toString();
  return text === '' ? null : (JSON.parse(text) as Record<string, unknown>);
}

describe('servers with proxyProtocol', () => {
  test('v1 and v2 headers: the client they name is the request\'s address; the bytes after the header reach the handler', async () => {
    await using fixture = await serving();
    const one = await send(fixture, Buffer.concat([V1, Buffer.from('hello\n')]));
    expect(one).toMatchObject({ client: { host: '203.0.113.7', port: 56324, family: 'IPv4' }, line: 'hello\n', proxy: { version: 1 } });
    const two = await send(fixture, Buffer.concat([V2_FULL, Buffer.from('there\n')]));
    expect(two).toMatchObject({ client: { host: '198.51.100.9', port: 51000 }, line: 'there\n', proxy: { version: 2, tlvs: { alpn: 'h2' } } });
    expect(fixture.requests).toEqual([
      { host: '203.0.113.7', port: 56324, family: 'IPv4' },
      { host: '198.51.100.9', port: 51000, family: 'IPv4' },
    ]);
  });

  test('a header sent a byte at a time is read, and nothing after it is lost', async () => {
    await using fixture = await serving();
    const socket = fixture.connect();
    const reply = readAll(socket);
    const data = Buffer.concat([V2_FULL, Buffer.from('slow\n')]);
    for (const byte of data) {
      socket.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.end();
    expect(JSON.parse((await reply).toString())).toMatchObject({ line: 'slow\n', client: { host: '198.51.100.9' } });
  });

  test('a LOCAL connection that sends nothing (a health check) is not a request; one that sends keeps its own address', async () => {
    await using fixture = await serving();
    const check = fixture.connect();
    check.on('error', () => {});
    check.end(v2(0, 0x00, Buffer.alloc(0)));
    await new Promise((resolve) => check.once('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fixture.requests).toEqual([]);
    expect(fixture.dropped).toEqual([]);
    const local = await send(fixture, Buffer.concat([v2(0, 0x11, ipv4Addresses('10.9.9.9', '10.0.0.2', 1, 2)), Buffer.from('local\n')]));
    expect(local).toMatchObject({ line: 'local\n', client: { host: '127.0.0.1' }, proxy: { command: 'LOCAL', source: null } });
  });

  test.each([
    ['no header', Buffer.from('hello\n')],
    ['a malformed header', Buffer.from('PROXY TCP4 nonsense\r\nhello\n')],
    ['an unknown version', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x31, 0x11, 0, 0])])],
  ])('%s: closed before any handler runs, reported as dropped', async (_name, bytes) => {
    await using fixture = await serving();
    expect(await send(fixture, bytes)).toBeNull();
    await until(() => fixture.dropped.length === 1);
    expect(fixture.dropped[0]).toMatchObject({ reason: 'proxy-protocol' });
    expect(fixture.requests).toEqual([]);
  });

  test('no header within the timeout: closed and reported', async () => {
    await using fixture = await serving();
    const socket = fixture.connect();
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('close', resolve));
    expect(fixture.dropped[0]).toMatchObject({ reason: 'proxy-protocol' });
  });

  test('a connection from an untrusted source is closed unread', async () => {
    await using fixture = await serving({ proxyProtocol: { trusted: ['10.0.0.0/8', 'fd00::/8'] } });
    expect(await send(fixture, Buffer.concat([V1, Buffer.from('hello\n')]))).toBeNull();
    await until(() => fixture.dropped.length === 1);
    expect(fixture.dropped[0]).toMatchObject({ reason: 'proxy-protocol', clientAddress: { host: '127.0.0.1' } });
  });

  test.each([
    ['IPv6 source in an IPv6 range', '::1', ['::/127'], true],
    ['IPv6 source, only IPv4 trusted', '::1', ['127.0.0.1'], false],
    ['IPv4-mapped IPv6 source (a dual-stack listener) in an IPv4 range', '::', ['127.0.0.0/8'], true],
    ['IPv4-mapped IPv6 source outside the IPv4 range', '::', ['10.0.0.0/8'], false],
  ])('trusted sources: %s', async (_name, listenHost, trusted, accepted) => {
    const server = new TCPServer({ host: listenHost, port: 0 }, WhoAmI, { logger: false, proxyProtocol: { trusted } });
    await server.listen();
    void server.serveForever();
    const dropped: unknown[] = [];
    server.on('dropped', (info) => dropped.push(info));
    try {
      // '::' is dual-stack: an IPv4 client arrives as ::ffff:127.0.0.1.
      const connectTo = listenHost === '::' ? '127.0.0.1' : listenHost;
      const socket = net.connect(server.serverAddress.port, connectTo);
      socket.on('error', () => {});
      const reply = readAll(socket);
      socket.end(Buffer.concat([V1, Buffer.from('hi\n')]));
      const text = (await reply).toString();
      if (accepted) expect(JSON.parse(text)).toMatchObject({ client: { host: '203.0.113.7' } });
      else {
        expect(text).toBe('');
        await until(() => dropped.length === 1);
      }
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });

  test('bad trusted ranges are refused at construction', () => {
    expect(() => new TCPServer({ host: '127.0.0.1', port: 0 }, WhoAmI, { proxyProtocol: { trusted: ['10.0.0.0/33'] } })).toThrow(/trusted/);
    expect(() => new TCPServer({ host: '127.0.0.1', port: 0 }, WhoAmI, { proxyProtocol: { trusted: ['example.com'] } })).toThrow(/trusted/);
  });

  test('Unix stream servers read the header from every connection', async () => {
    await using fixture = await serving({}, 'unix');
    expect(await send(fixture, Buffer.concat([V1, Buffer.from('unix\n')]))).toMatchObject({ line: 'unix\n', client: { host: '203.0.113.7' } });
  });

  test('TLS: the header comes before the handshake', async () => {
    await using fixture = await serving({}, 'tls');
    const raw = fixture.connect();
    raw.write(V1);
    const secure = tls.connect({ socket: raw, ca: testCerts().ca, servername: 'localhost' });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    const reply = readAll(secure);
    secure.end('over tls\n');
    expect(JSON.parse((await reply).toString())).toMatchObject({ line: 'over tls\n', client: { host: '203.0.113.7' }, proxy: { version: 1 } });
  });

  test.each(['handoff', 'shared'] as const)('TLS under WorkerPoolStrategy (%s): the header, then the handshake in the worker', async (connections) => {
    const module = new URL('./fixtures/proxy_handlers.js', import.meta.url);
    await using fixture = await serving({ concurrency: new WorkerPoolStrategy({ module, workers: 2, connections, exportName: 'WhoAmI' }) }, 'tls');
    for (let i = 0; i < 3; i++) {
      const raw = fixture.connect();
      // The header and the ClientHello may arrive together: the parent must pass the rest on.
      raw.cork();
      raw.write(V1);
      const secure = tls.connect({ socket: raw, ca: testCerts().ca, servername: 'localhost' });
      process.nextTick(() => raw.uncork());
      await new Promise((resolve) => secure.once('secureConnect', resolve));
      const reply = readAll(secure);
      secure.end(`tls ${i}\n`);
      const parsed = JSON.parse((await reply).toString()) as { pid: number };
      expect(parsed).toMatchObject({ line: `tls ${i}\n`, client: { host: '203.0.113.7' }, proxy: { version: 1 } });
      expect(parsed.pid).not.toBe(process.pid);
    }
  });

  test.each(['handoff', 'shared'] as const)('under WorkerPoolStrategy (%s) the worker sees the header, and the bytes that came with it', async (connections) => {
    const module = new URL('./fixtures/proxy_handlers.js', import.meta.url);
    await using fixture = await serving({ concurrency: new WorkerPoolStrategy({ module, workers: 2, connections, exportName: 'WhoAmI' }) });
    for (let i = 0; i < 4; i++) {
      const reply = await send(fixture, Buffer.concat([V2_FULL, Buffer.from(`pool ${i}\n`)]));
      expect(reply).toMatchObject({ line: `pool ${i}\n`, client: { host: '198.51.100.9' }, proxy: { version: 2, tlvs: { alpn: 'h2' } } });
      expect(reply!.pid).not.toBe(process.pid);
    }
    expect(await send(fixture, Buffer.from('no header\n'))).toBeNull();
    await until(() => fixture.dropped.length === 1);
  });
});


