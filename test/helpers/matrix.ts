/** The transports and strategies every conformance test runs under. */
import {
  EventLoopStrategy,
  SequentialStrategy,
  TCPServer,
  TLSServer,
  UnixStreamServer,
  WorkerPoolStrategy,
  type ClientAddress,
  type InetAddress,
  type ConcurrencyStrategy,
  type RequestHandlerClass,
  type StreamServer,
  type StreamServerOptions,
} from 'sockserve';
import type net from 'node:net';
import { testCerts } from './certs.js';
import { tempDir } from './net.js';

export type AnyStreamServer = StreamServer<ClientAddress, InetAddress | string>;

/**
 * A stream server class, as the transport's own or a test's subclass of it (typed as TCP's, which
 * has every hook a test overrides; Unix stream servers have the same hooks).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin pattern needs any[]
export type StreamServerClass = new (...args: any[]) => TCPServer;

/**
 * Overrides hooks the way users do: by subclassing the server class, e.g.
 * `(Base) => class extends Base { override verifyRequest() { return false; } }`.
 */
export type Extend<Class> = (Base: Class) => Class;

export interface TransportCase {
  name: string;
  /** Creates a server on a fresh address; `dispose` cleans up what the address needed. */
  create(
    Handler: RequestHandlerClass<net.Socket, never>,
    options?: StreamServerOptions,
    extend?: Extend<StreamServerClass>,
  ): { server: AnyStreamServer } & AsyncDisposable;
}

function tcp(name: string, host: string): TransportCase {
  return {
    name,
    create(Handler, options, extend = (Base) => Base) {
      const Server = extend(TCPServer as unknown as StreamServerClass);
      const server = new Server({ host, port: 0 }, Handler, options) as unknown as AnyStreamServer;
      return { server, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
    },
  };
}

/** TLS on TCP, with the test certificates (clients from `connect()` trust the test CA). */
function tlsOver(name: string, host: string): TransportCase {
  return {
    name,
    create(Handler, options, extend = (Base) => Base) {
      const { server: pair } = testCerts();
      const Server = extend(TLSServer as unknown as StreamServerClass);
      const server = new Server({ host, port: 0 }, Handler, { tls: { key: pair.key, cert: pair.cert }, ...options }) as unknown as AnyStreamServer;
      return { server, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
    },
  };
}

function unix(name: string, abstract: boolean): TransportCase {
  let counter = 0;
  const makePath = (dir: { file(name: string): string }): string =>
    abstract ? `\0sockserve-test-${process.pid}-${Date.now()}-${counter++}` : dir.file(`s${counter++}.sock`);
  return {
    name,
    create(Handler, options, extend = (Base) => Base) {
      const dir = tempDir();
      const Server = extend(UnixStreamServer as unknown as StreamServerClass);
      const server = new Server(makePath(dir), Handler, options) as unknown as AnyStreamServer;
      return {
        server,
        [Symbol.asyncDispose]: async () => {
          await server[Symbol.asyncDispose]();
          dir[Symbol.dispose]();
        },
      };
    },
  };
}

export const transports: TransportCase[] = [
  tcp('TCP IPv4', '127.0.0.1'),
  tcp('TCP IPv6', '::1'),
  unix('Unix stream', false),
  ...(process.platform === 'linux' ? [unix('Unix abstract', true)] : []),
  tlsOver('TLS', '127.0.0.1'),
];

export interface StrategyCase {
  name: string;
  create(): ConcurrencyStrategy;
  /** Whether two requests can run at the same time. */
  concurrent: boolean;
  /** Whether handlers run in the test's own process (so module state is visible to the test). */
  inProcess: boolean;
}

/** The module the conformance suites' handlers live in, which pool workers import. */
export const conformanceHandlers = new URL('../fixtures/conformance_handlers.js', import.meta.url);

/**
 * Every strategy, the worker pool included. Handlers must come from `conformanceHandlers` so that
 * the pool's workers can import them.
 */
export const strategies: StrategyCase[] = [
  { name: 'EventLoopStrategy', create: () => new EventLoopStrategy(), concurrent: true, inProcess: true },
  { name: 'EventLoopStrategy capped', create: () => new EventLoopStrategy({ maxConcurrency: 4 }), concurrent: true, inProcess: true },
  { name: 'SequentialStrategy', create: () => new SequentialStrategy(), concurrent: false, inProcess: true },
  {
    name: 'WorkerPoolStrategy',
    create: () => new WorkerPoolStrategy({ module: conformanceHandlers, workers: 2 }),
    concurrent: true,
    inProcess: false,
  },
];

