/** Test helpers: real clients, temp socket paths, and servers that always get closed. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { TLSServer, type InetAddress } from 'sockserve';
import { testCerts } from './certs.js';

/** A temp directory for Unix socket paths, removed on dispose. */
export function tempDir(): { path: string; file(name: string): string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), 'sockserve-'));
  return {
    path,
    file: (name: string) => join(path, name),
    [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Connects a real client to a TCP or Unix stream server (or an in-memory one to a MemoryServer). */
export function connect(server: { serverAddress: InetAddress | string; connect?: () => Promise<unknown> }): Promise<net.Socket> {
  // A MemorySocket has the parts of net.Socket these helpers use.
  if (typeof server.connect === 'function') return server.connect() as Promise<net.Socket>;
  const address = server.serverAddress;
  // A TLS server gets a TLS client that trusts the test CA; it is connected once the handshake is done.
  const secure = server instanceof TLSServer && typeof address !== 'string';
  const socket = secure
    ? tls.connect({ host: address.host, port: address.port, ca: testCerts().ca, servername: 'localhost' })
    : typeof address === 'string'
      ? net.connect({ path: address })
      : net.connect({ host: address.host, port: address.port });
  return new Promise((resolve, reject) => {
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads everything until the peer ends (or resets: then what arrived before is returned). */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.once('error', () => {});
  });
}

/** Resolves with the next `n` bytes the socket receives (or fewer if it closes). */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (): void => {
      socket.off('data', onData);
      socket.off('close', done);
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= n) done();
    };
    socket.on('data', onData);
    socket.once('close', done);
    socket.resume();
  });
}

/** Reads one `\n`-terminated line from the socket. */
export async function readLine(socket: net.Socket): Promise<string> {
  let line = '';
  for (;;) {
    const byte = await readBytes(socket, 1);
    if (byte.length === 0) return line;
    line += byte.toString('latin1');
    if (line.endsWith('\n')) return line;
  }
}

/** Sends `data`, ends the client's side, and returns everything the server sent back. */
export async function exchange(server: { serverAddress: InetAddress | string }, data: string | Buffer): Promise<Buffer> {
  let socket: net.Socket;
  try {
    socket = await connect(server);
  } catch (error) {
    // A TLS server that closes a connection before its handshake (verifyRequest() refused it in
    // the parent of a worker pool) sent nothing back.
    if (server instanceof TLSServer && /disconnected before secure TLS connection|ECONNRESET/.test(String(error))) return Buffer.alloc(0);
    throw error;
  }
  const reply = readAll(socket);
  socket.end(data);
  return reply;
}

/** Destroys every socket on dispose. */
export class Clients implements AsyncDisposable {
  readonly #sockets = new Set<net.Socket>();

  async connect(server: { serverAddress: InetAddress | string }): Promise<net.Socket> {
    const socket = await connect(server);
    this.#sockets.add(socket);
    socket.on('error', () => {});
    return socket;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(
      [...this.#sockets].map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.closed) return resolve();
            socket.once('close', () => resolve());
            socket.destroy();
          }),
      ),
    );
  }
}

/** Resolves once `predicate()` holds, checking every 5 ms, or rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
