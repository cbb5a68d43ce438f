/**
 * Datagram servers talking to real peers (Python's socket module and socketserver), and their
 * failures. The Unix datagram socket on its own is tested in its package.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { describe, expect, test } from 'vitest';
import { UnixDatagramSocket } from '@sockserve/unix-dgram';
import { DatagramRequestHandler, SocketError, UDPServer, UnixDatagramServer } from 'sockserve';
import { gate, tempDir, until } from '../../../test/helpers/net.js';
import { runPython } from '../../../test/helpers/spawn.js';

class Upper extends DatagramRequestHandler {
  override async handle() {
    await this.wfile.write(this.packet.toString().toUpperCase());
  }
}

const PY_UNIX_CLIENT = `
import socket, sys, os
# "@name" stands for the abstract name "\\0name" (argv cannot carry a NUL byte)
server, client = (a.replace("@", "\\0", 1) if a.startswith("@") else a for a in sys.argv[1:3])
count = int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(client)
s.settimeout(10)
for i in range(count):
    s.sendto(b"message %d" % i, server)
replies = sorted(s.recv(65536).decode() for _ in range(count))
print("\\n".join(replies))
if not client.startswith("\\0"): os.unlink(client)
`;

describe('Python peers', () => {
  test('a Python UDP client gets replies from UDPServer', async () => {
    await using server = new UDPServer({ host: '127.0.0.1', port: 0 }, Upper, { logger: false });
    await server.listen();
    void server.serveForever();
    const out = await runPython(
      `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"hello from python", ("127.0.0.1", int(sys.argv[1])))
print(s.recv(65536).decode())
`,
      [String(server.serverAddress.port)],
    );
    expect(out.trim()).toBe('HELLO FROM PYTHON');
  });

  test('a burst of 64 datagrams from Python, well past the kernel queue of 10, is answered in full', async () => {
    using dir = tempDir();
    await using server = new UnixDatagramServer(dir.file('server.sock'), Upper, { logger: false });
    await server.listen();
    void server.serveForever();
    const out = await runPython(PY_UNIX_CLIENT, [server.serverAddress, dir.file('py.sock'), '64']);
    const expected = Array.from({ length: 64 }, (_, i) => `MESSAGE ${i}`).sort();
    expect(out.trim().split('\n')).toEqual(expected);
  });

  test.skipIf(process.platform !== 'linux')('abstract names are reachable from Python, both ways', async () => {
    const name = `\0sockserve-py-${process.pid}`;
    await using server = new UnixDatagramServer(name, Upper, { logger: false });
    await server.listen();
    void server.serveForever();
    const out = await runPython(PY_UNIX_CLIENT, [`@${name.slice(1)}`, `@sockserve-py-client-${process.pid}`, '3']);
    expect(out.trim().split('\n')).toEqual(['MESSAGE 0', 'MESSAGE 1', 'MESSAGE 2']);
  });

  test("our client talks to Python's socketserver.UnixDatagramServer", async () => {
    using dir = tempDir();
    const serverPath = dir.file('python-server.sock');
    const ready = gate();
    const child = spawn(
      'python3',
      [
        '-c',
        `
import socketserver, sys
class Handler(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(b"python got " + self.rfile.read())
with socketserver.UnixDatagramServer(sys.argv[1], Handler) as server:
    print("ready", flush=True)
    server.handle_request()
`,
        serverPath,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.stdout.once('data', () => ready.open());
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await ready.promise;
      using client = new UnixDatagramSocket().bind(dir.file('node-client.sock'));
      await client.sendTo('hi', serverPath);
      const reply = await client.receive();
      expect(reply.data.toString()).toBe('python got hi');
      expect(reply.sender).toBe(serverPath);
      expect(await exited).toBe(0);
    } finally {
      // Never leave the Python server behind, whatever failed above.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await exited;
      }
    }
  });
});

describe('UDP errors', () => {
  test('a reply too large for UDP reaches handleError with the client address, and serving goes on', async () => {
    class Huge extends DatagramRequestHandler {
      override async handle() {
        await this.wfile.write(this.packet.toString() === 'huge' ? Buffer.alloc(70_000) : this.packet);
      }
    }
    const failed = gate<[unknown, unknown, unknown]>();
    class Reporting extends UDPServer {
      override handleError(request: unknown, client: unknown, error: unknown): void {
        failed.open([request, client, error]);
      }
    }
    await using server = new Reporting({ host: '127.0.0.1', port: 0 }, Huge, { logger: false });
    await server.listen();
    void server.serveForever();
    const client = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      const replies: string[] = [];
      client.on('message', (data) => replies.push(data.toString()));
      client.send('huge', server.serverAddress.port, '127.0.0.1');
      const [request, clientAddress, error] = await failed.promise;
      expect(error).toMatchObject({ code: 'EMSGSIZE' });
      expect(clientAddress).toEqual({ host: '127.0.0.1', port: client.address().port, family: 'IPv4' });
      expect((request as [Buffer])[0].toString()).toBe('huge');
      client.send('small', server.serverAddress.port, '127.0.0.1');
      await until(() => replies.length === 1);
      expect(replies).toEqual(['small']);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });
});

describe('Unix datagram errors', () => {
  test('a client that vanished before the reply reaches handleError, and serving goes on', async () => {
    using dir = tempDir();
    const release = gate();
    class Late extends DatagramRequestHandler {
      override async handle() {
        if (this.packet.toString() === 'late') await release.promise;
        await this.wfile.write('reply');
      }
    }
    await using server = new UnixDatagramServer(dir.file('server.sock'), Late, { logger: false });
    const failed = gate<unknown>();
    server.on('requestError', (error) => failed.open(error));
    await server.listen();
    void server.serveForever();
    const vanishing = new UnixDatagramSocket().bind(dir.file('gone.sock'));
    await vanishing.sendTo('late', server.serverAddress);
    vanishing.close(); // its file stays, bound to nobody: ECONNREFUSED
    await new Promise((resolve) => setTimeout(resolve, 20));
    release.open();
    const error = (await failed.promise) as SocketError;
    expect(error).toBeInstanceOf(SocketError);
    expect(['ECONNREFUSED', 'ENOENT']).toContain(error.code);
    using next = new UnixDatagramSocket().bind(dir.file('next.sock'));
    await next.sendTo('now', server.serverAddress);
    expect((await next.receive()).data.toString()).toBe('reply');
  });

  test('a reply to an unbound sender reaches handleError as EDESTADDRREQ', async () => {
    using dir = tempDir();
    await using server = new UnixDatagramServer(dir.file('server.sock'), Upper, { logger: false });
    const failed = gate<unknown>();
    server.on('requestError', (error) => failed.open(error));
    await server.listen();
    void server.serveForever();
    using unbound = new UnixDatagramSocket();
    await unbound.sendTo('anyone?', server.serverAddress);
    expect(await failed.promise).toMatchObject({ code: 'EDESTADDRREQ' });
  });

  test('UnixDatagramServer replaces a stale path, refuses a live one, and removes its path on close', async () => {
    using dir = tempDir();
    const path = dir.file('dgram.sock');
    const stale = new UnixDatagramSocket().bind(path);
    stale.close(); // the file stays behind, bound to nobody
    const server = new UnixDatagramServer(path, Upper, { logger: false });
    await server.listen();
    await using intruder = new UnixDatagramServer(path, Upper, { logger: false });
    await expect(intruder.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await server.serverClose();
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });
});

describe('Unix datagram servers', () => {
  test('a datagram larger than the receive buffer is reported as truncated, never delivered cut', async () => {
    using dir = tempDir();
    await using server = new UnixDatagramServer(dir.file('small.sock'), Upper, { logger: false, bufferSize: 1024 });
    const dropped = gate<unknown>();
    server.on('dropped', (info) => dropped.open(info));
    await server.listen();
    void server.serveForever();
    using client = new UnixDatagramSocket().bind(dir.file('client.sock'));
    await client.sendTo(Buffer.alloc(2000, 'a'), server.serverAddress);
    expect(await dropped.promise).toMatchObject({ reason: 'truncated', clientAddress: { path: dir.file('client.sock') } });
    await client.sendTo('fits', server.serverAddress);
    expect((await client.receive()).data.toString()).toBe('FITS');
  });
});
