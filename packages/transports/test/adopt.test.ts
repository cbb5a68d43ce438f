/**
 * Listeners made by someone else: `{ fd }` addresses and `listenFds()`, with systemd's own
 * `systemd-socket-activate` making the socket and starting an example on it.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer, UnixStreamServer, listenFds } from 'sockserve';
import { readAll, tempDir, until } from '../../../test/helpers/net.js';
import { hasPythonSsl, runPython } from '../../../test/helpers/spawn.js';

const hasActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0;
if (!hasActivate) console.warn('systemd-socket-activate is not installed (apt-get install systemd): the socket activation tests are skipped');
const echoMain = fileURLToPath(new URL('../../../examples/echo/dist/main.js', import.meta.url));

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Connects (retrying while the activator starts), sends `data`, half-closes, returns the reply. */
async function exchangeWith(target: { port: number } | { path: string }, data: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const socket = 'port' in target ? net.connect(target.port, '127.0.0.1') : net.connect(target.path);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const reply = readAll(socket);
      socket.end(data);
      return (await reply).toString();
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('listenFds()', () => {
  test("reads systemd's variables for this process, then removes them", () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(process.pid), LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' };
    expect(listenFds({ env })).toEqual([
      { fd: 3, name: 'web' },
      { fd: 4, name: 'admin' },
    ]);
    expect(env).toEqual({});
  });

  test('passes for another process, or none at all, give nothing', () => {
    expect(listenFds({ env: { LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1' } })).toEqual([]);
    expect(listenFds({ env: {} })).toEqual([]);
    const kept: NodeJS.ProcessEnv = { LISTEN_PID: String(process.pid), LISTEN_FDS: '1' };
    expect(listenFds({ env: kept, unsetEnvironment: false })).toEqual([{ fd: 3, name: 'unknown' }]);
    expect(kept.LISTEN_FDS).toBe('1');
  });
});

describe('adopted listeners ({ fd })', () => {
  test('a bad descriptor is refused at construction', () => {
    expect(() => new TCPServer({ fd: -1 }, StreamRequestHandler)).toThrow(/fd/);
    expect(() => new UnixStreamServer({ fd: 1.5 }, StreamRequestHandler)).toThrow(/fd/);
  });

  test.skipIf(!hasActivate)('systemd-socket-activate makes a TCP socket and starts the echo example on it', async () => {
    const port = await freePort();
    const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, process.execPath, echoMain], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    try {
      expect(await exchangeWith({ port }, 'activated\n')).toBe('activated\n');
      await until(() => out.includes('listening on'));
      expect(out).toContain(`listening on 127.0.0.1:${port}`);
      expect(await exchangeWith({ port }, 'again\n')).toBe('again\n');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  test.skipIf(!hasActivate)('systemd-socket-activate makes a Unix socket; the server leaves its path to the activator', async () => {
    using dir = tempDir();
    const path = dir.file('activated.sock');
    const child = spawn('systemd-socket-activate', ['-l', path, process.execPath, echoMain, '--unix', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    try {
      expect(await exchangeWith({ path }, 'over unix\n')).toBe('over unix\n');
      await until(() => out.includes('listening on'));
      expect(out).toContain('listening on the socket passed as descriptor 3');
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
    }
    // The server did not remove a path it did not create.
    expect(existsSync(path)).toBe(true);
  });

  test.skipIf(!hasActivate)('systemd-socket-activate --datagram makes a UDP socket and starts the echo example on it', async () => {
    const port = await freePort();
    const child = spawn('systemd-socket-activate', ['--datagram', '-l', `127.0.0.1:${port}`, process.execPath, echoMain, '--udp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const client = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
      client.on('error', () => {}); // ICMP port unreachable before the activator listens
      const reply = new Promise<string>((resolve) => client.once('message', (data) => resolve(data.toString())));
      // The first datagram starts the example, which then reads it from the socket; until the
      // activator listens, datagrams are lost: send again until one comes back.
      const timer = setInterval(() => client.send('over udp', port, '127.0.0.1'), 100);
      client.send('over udp', port, '127.0.0.1');
      try {
        expect(await reply).toBe('over udp');
      } finally {
        clearInterval(timer);
      }
    } finally {
      client.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  test.skipIf(!hasActivate || !hasPythonSsl)('systemd-socket-activate --datagram makes a Unix datagram socket for the echo example', async () => {
    using dir = tempDir();
    const path = dir.file('activated.dgram');
    const child = spawn('systemd-socket-activate', ['--datagram', '-l', path, process.execPath, echoMain, '--unix-dgram', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const script = `
import socket, sys, time
path, me = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(me)
s.settimeout(0.2)
for attempt in range(50):
    try:
        s.sendto(b'over unix datagrams', path)
        print(s.recvfrom(100)[0].decode())
        break
    except (socket.timeout, FileNotFoundError, ConnectionRefusedError):
        time.sleep(0.1)
`;
      expect((await runPython(script, [path, dir.file('client.dgram')])).trim()).toBe('over unix datagrams');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
