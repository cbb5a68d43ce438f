/** Datagram test clients and the datagram transports every datagram conformance test runs on. */
import dgram from 'node:dgram';
import { UnixDatagramSocket } from '@sockserve/unix-dgram';
import {
  UDPServer,
  UnixDatagramServer,
  type DatagramServerOptions,
  type RequestHandlerClass,
} from 'sockserve';
import type { Extend } from './matrix.js';
import { tempDir } from './net.js';

export interface DatagramClient extends AsyncDisposable {
  send(data: string | Buffer): Promise<void>;
  /** The next datagram, or `undefined` after `ms` without one. */
  receive(ms?: number): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

export type AnyDatagramServer = UDPServer | UnixDatagramServer;

/**
 * A datagram server class, as the transport's own or a test's subclass of it (typed as UDP's,
 * which has every hook a test overrides; Unix datagram servers have the same hooks).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin pattern needs any[]
export type DatagramServerClass = new (...args: any[]) => UDPServer;

export interface DatagramTransport {
  name: string;
  unix: boolean;
  /** The largest datagram the transport can carry in tests. */
  maxSize: number;
  create(
    Handler: RequestHandlerClass<never, never>,
    options?: DatagramServerOptions,
    extend?: Extend<DatagramServerClass>,
  ): { server: AnyDatagramServer } & AsyncDisposable;
  client(server: AnyDatagramServer, options?: { bound?: boolean }): Promise<DatagramClient>;
}

function queueOf(): { push(data: Buffer): void; receive(ms?: number): Promise<Buffer | undefined> } {
  const items: Buffer[] = [];
  const waiters: Array<(data: Buffer | undefined) => void> = [];
  return {
    push(data) {
      const waiter = waiters.shift();
      if (waiter) waiter(data);
      else items.push(data);
    },
    receive(ms = 5_000) {
      const next = items.shift();
      if (next) return Promise.resolve(next);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(done), 1);
          resolve(undefined);
        }, ms);
        const done = (data: Buffer | undefined): void => {
          clearTimeout(timer);
          resolve(data);
        };
        waiters.push(done);
      });
    },
  };
}

function udp(name: string, host: string): DatagramTransport {
  return {
    name,
    unix: false,
    maxSize: 65_507,
    create(Handler, options, extend = (Base) => Base) {
      const Server = extend(UDPServer as unknown as DatagramServerClass);
      const server = new Server({ host, port: 0 }, Handler, options) as UDPServer;
      return { server, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
    },
    async client(server) {
      const { port } = (server as UDPServer).serverAddress;
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const queue = queueOf();
      socket.on('message', (data) => queue.push(data));
      await new Promise<void>((resolve) => socket.bind(0, host, resolve));
      let closed = false;
      const close = (): Promise<void> =>
        closed ? Promise.resolve() : ((closed = true), new Promise<void>((resolve) => socket.close(() => resolve())));
      return {
        send: (data) => new Promise((resolve, reject) => socket.send(data, port, host, (error) => (error ? reject(error) : resolve()))),
        receive: (ms) => queue.receive(ms),
        close,
        [Symbol.asyncDispose]: close,
      };
    },
  };
}

let counter = 0;

function unix(name: string, abstract: boolean): DatagramTransport {
  return {
    name,
    unix: true,
    maxSize: 200 * 1024,
    create(Handler, options, extend) {
      const dir = tempDir();
      const path = abstract ? `\0sockserve-dgram-${process.pid}-${counter++}` : dir.file(`d${counter++}.sock`);
      const Server = (extend ?? ((Base) => Base))(UnixDatagramServer as unknown as DatagramServerClass);
      const server = new Server(path, Handler, options) as unknown as UnixDatagramServer;
      return {
        server,
        [Symbol.asyncDispose]: async () => {
          await server[Symbol.asyncDispose]();
          dir[Symbol.dispose]();
        },
      };
    },
    async client(server, { bound = true } = {}) {
      const dir = tempDir();
      const socket = new UnixDatagramSocket();
      if (bound) socket.bind(abstract ? `\0sockserve-client-${process.pid}-${counter++}` : dir.file('client.sock'));
      const queue = queueOf();
      socket.on('message', (data) => queue.push(data));
      const close = async (): Promise<void> => {
        socket.close();
        dir[Symbol.dispose]();
      };
      return {
        send: (data) => socket.sendTo(data, server.serverAddress as string),
        receive: (ms) => queue.receive(ms),
        close,
        [Symbol.asyncDispose]: close,
      };
    },
  };
}

export const datagramTransports: DatagramTransport[] = [
  udp('UDP IPv4', '127.0.0.1'),
  udp('UDP IPv6', '::1'),
  unix('Unix datagram', false),
  ...(process.platform === 'linux' ? [unix('Unix datagram abstract', true)] : []),
];
