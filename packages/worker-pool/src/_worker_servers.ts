/**
 * The servers inside a pool worker. Each is a sockserve server like the parent's, fed from the
 * IPC channel instead of a listener, so that running handlers, reporting their errors, draining
 * and aborting are the same code as in the parent. What differs is where things go: errors go to
 * the parent's handleError() (a connection stays open until it has run), the end of each request
 * is reported to the parent, and `this.server.shutdown()` in a handler stops the parent's loop.
 *
 * @module
 */
import type dgram from 'node:dgram';
import net from 'node:net';
import type tls from 'node:tls';
import {
  SocketError,
  TlsAcceptor,
  inetAddress,
  type ClientAddress,
  type InetAddress,
  type RequestHandlerClass,
  type TLSHandshakeError,
  type TlsSetup,
  type UnixAddress,
} from '@sockserve/core';
import { DatagramServer, ProxyReader, StreamServer, type DatagramRequest } from '@sockserve/transports';
import type { Logger } from 'pino';
import { kProxy } from '@sockserve/core/internal';
import { ParentLink } from './_parent_link.js';
import { decodeTlsSetup, toWire, type FromWorker, type SharedConnections, type SharedDatagrams, type WorkerConfig } from './_protocol.js';

/** What both worker servers are made from. */
export interface WorkerServerOptions {
  config: WorkerConfig;
  log: Logger;
  send(message: FromWorker, callback?: () => void): void;
}

/** Nothing to bind: requests come from the parent. */
const nothing = (): Promise<void> => Promise.resolve();

/**
 * A worker's server for connections (TCP, Unix stream): handed over with their descriptors by the
 * parent, or accepted by the worker itself on the server's shared listener (`connections:
 * 'shared'`; failures and request events are then sent to the parent).
 */
export class WorkerStreamServer extends StreamServer<ClientAddress, InetAddress | string> {
  readonly #options: WorkerServerOptions;
  readonly link: ParentLink<net.Socket>;
  /** The shared listener this worker accepts on (`connections: 'shared'`). */
  #listener: net.Server | undefined;
  #requestEvents: boolean;
  #seen: unknown[] = [];
  /** A TLS server's handshakes run here (the parent hands connections over as accepted). */
  #tls: TlsAcceptor | undefined;
  /** Connections whose TLS handshake is in progress. */
  readonly #handshaking = new Set<net.Socket>();

  constructor(Handler: RequestHandlerClass<net.Socket, ClientAddress>, options: WorkerServerOptions) {
    super(Handler, { logger: options.log, lingerTimeout: options.config.lingerTimeout });
    this.#options = options;
    // A connection aborted during its handshake is not a request yet: close it.
    this.link = new ParentLink(options.send, (request) => (this.#handshaking.has(request) ? request.destroy() : this._abortRequest(request)));
    this.#requestEvents = options.config.connections?.requestEvents ?? false;
    if (options.config.tls !== undefined) this.tlsSetup(options.config.tls.setup);
  }

  /** The TLS server's setup (JSON), at start and when its certificates change. */
  tlsSetup(json: string): void {
    this.#tls = new TlsAcceptor(decodeTlsSetup<TlsSetup>(json));
  }

  get serverAddress(): InetAddress | string {
    return this.#options.config.serverAddress as InetAddress | string;
  }

  /** The shared listener, to lend to a worker started later. */
  get sharedListener(): net.Server | undefined {
    return this.#listener;
  }

  /** Whether the parent wants to hear of the connections accepted here. */
  set requestEvents(wanted: boolean) {
    this.#requestEvents = wanted;
  }

  /**
   * Connection `id` arrived with its raw handle; `head`: bytes the parent read past a PROXY
   * protocol header, `proxy`: that header.
   */
  take(id: number, handle: unknown, clientAddress: ClientAddress, head?: Uint8Array, proxy?: unknown): void {
    this.#options.send({ type: 'took-connection', id });
    // allowHalfOpen: a peer that half-closes after its request still gets its reply.
    const socket = new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts);
    if (head !== undefined) socket.unshift(Buffer.from(head.buffer, head.byteOffset, head.byteLength));
    if (proxy !== undefined) (socket as unknown as Record<symbol, unknown>)[kProxy] = reviveProxy(proxy);
    this.link.taken(id, socket);
    this.#arrived(socket, clientAddress, id);
  }

  /**
   * A connection accepted here or handed over (`id`): a TLS server's handshake runs first, and
   * only a connection that completes it becomes a request. A failed handshake is reported to the
   * parent (and a handed-over connection is over for it).
   */
  #arrived(socket: net.Socket, clientAddress: ClientAddress, id?: number): void {
    const acceptor = this.#tls;
    if (acceptor === undefined) {
      this._connection(socket, clientAddress);
      return;
    }
    const limit = this.#options.config.tls!.maxHandshakes;
    if (this.#handshaking.size >= limit) {
      socket.destroy();
      const message = `Closed a connection: ${limit} TLS handshakes are in progress in worker ${this.#options.config.id} (maxHandshakes)`;
      this.#options.send({ type: 'dropped', reason: 'handshakes', clientAddress, size: 0, message });
      if (id !== undefined) this.link.done(socket);
      return;
    }
    this.#handshaking.add(socket);
    socket.on('error', noop);
    acceptor.accept(socket, {
      secure: (secure: tls.TLSSocket) => {
        this.#handshaking.delete(socket);
        socket.off('error', noop);
        if (id !== undefined) this.link.taken(id, secure);
        this._connection(secure, clientAddress);
      },
      failed: (error: TLSHandshakeError) => {
        this.#handshaking.delete(socket);
        if (!this._closing) {
          const cause = error.cause === undefined ? {} : { cause: toWire(error.cause) };
          this.#options.send({ type: 'tls-client-error', clientAddress, reason: error.reason, error: toWire(error), ...cause });
        }
        if (id !== undefined) this.link.done(socket);
      },
    });
  }

  /** Accepts connections on the server's listener (its raw handle) from now on (`connections: 'shared'`). */
  shareListener(handle: unknown, options: SharedConnections): void {
    // As the parent's server sets up the connections it accepts.
    const listener = net.createServer({
      pauseOnConnect: true,
      allowHalfOpen: true,
      ...(options.noDelay === undefined ? {} : { noDelay: options.noDelay }),
      ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
      ...(options.keepAliveInitialDelay === undefined ? {} : { keepAliveInitialDelay: options.keepAliveInitialDelay }),
    });
    listener.listen(handle as net.ListenOptions);
    const address =
      options.kind === 'tcp'
        ? (socket: net.Socket): ClientAddress => inetAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, socket.remoteFamily)
        : (): ClientAddress => ({ path: null });
    // Behind a load balancer, each connection's PROXY header is read here, as the server would.
    const proxy = options.proxyProtocol === undefined ? undefined : new ProxyReader(options.proxyProtocol, options.kind === 'unix');
    const events = {
      ready: (socket: net.Socket, clientAddress: unknown) => this.#arrived(socket, clientAddress as ClientAddress),
      refused: (socket: net.Socket, message: string) => {
        if (!this._closing) this.#options.send({ type: 'dropped', reason: 'proxy-protocol', clientAddress: address(socket), size: 0, message });
      },
      healthCheck: () => {},
    };
    listener.on('connection', (socket: net.Socket) => {
      if (proxy === undefined) this.#arrived(socket, address(socket));
      else proxy.read(socket, address(socket), events);
    });
    listener.on('error', (error) => this.log.error({ err: error }, 'Shared listener error'));
    this.#listener = listener;
  }

  /** A connection the parent accepted on a listener it held for a moment, with its raw handle. */
  forwarded(handle: unknown, clientAddress: ClientAddress): void {
    this.#arrived(new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts), clientAddress);
  }

  /**
   * Stops: accepting ends, the parent's connections get `grace` ms to end after their abort, and
   * the connections accepted here get `timeout` ms, then are aborted. Resolves with their count.
   */
  async stop(timeout: number | undefined, grace: number): Promise<{ completed: number; aborted: number }> {
    // Only connections accepted here get the deadline; the parent's own ended with their abort.
    const shared = this.#listener !== undefined;
    this._stopAccepting();
    await this.link.settled(grace);
    return this.serverClose(!shared ? { timeout: 0 } : timeout === undefined ? {} : { timeout });
  }

  /** Connections accepted here are reported to the parent while it listens for 'request'. */
  override verifyRequest(socket: net.Socket, clientAddress: ClientAddress): boolean {
    if (this.#requestEvents && !this.link.handedOver(socket)) {
      if (this.#seen.length === 0) setImmediate(() => this.#reportSeen());
      this.#seen.push(clientAddress);
    }
    return true;
  }

  /** Errors go to the parent's handleError(); a handed-over connection stays open until it has run. */
  override handleError(socket: net.Socket, clientAddress: ClientAddress, error: unknown): Promise<void> | void {
    if (this.link.handedOver(socket)) return this.link.failed(socket, error);
    this.#options.send({ type: 'shared-request-failed', clientAddress, error: toWire(error) });
  }

  /** In a handler, stops the parent's serveForever(). */
  override async shutdown(): Promise<void> {
    if (this._closing) return super.shutdown();
    this.#options.send({ type: 'shutdown' });
  }

  protected override _requestClosed(socket: net.Socket): void {
    this.link.done(socket);
  }

  protected override _bind(): Promise<void> {
    return nothing();
  }

  protected override _unbind(): Promise<void> {
    this._stopAccepting();
    return nothing();
  }

  protected override _stopAccepting(): void {
    this.#listener?.close(() => {});
    this.#listener = undefined;
    for (const socket of this.#handshaking) socket.destroy();
  }

  protected override _listenOptions(): net.ListenOptions {
    return {};
  }

  protected override _clientAddress(): ClientAddress {
    return { path: null };
  }

  protected override _describeAddress(): string {
    return 'the worker pool';
  }

  #reportSeen(): void {
    const clients = this.#seen;
    this.#seen = [];
    this.#options.send({ type: 'requests-seen', clients });
  }
}

/** A socket the worker reads datagrams from itself (`datagrams: 'shared'`). */
interface SharedSocket {
  /** The UDP socket, to lend to workers started later; `undefined` for a Unix socket (inherited, not lent). */
  readonly udp: dgram.Socket | undefined;
  send(data: Buffer, clientAddress: ClientAddress): Promise<void>;
  pause(): void;
  close(): void;
}

type Request = DatagramRequest<SharedSocket | null>;

/**
 * A worker's server for datagrams (UDP, Unix datagram): handed over by the parent one by one
 * (`'relay'`, replies go back to the parent), or read from the server's socket by the worker
 * itself (`'shared'`, replies go out through it; failures, drops and request events are sent to
 * the parent).
 */
export class WorkerDatagramServer extends DatagramServer<ClientAddress, InetAddress | string, SharedSocket | null> {
  readonly #options: WorkerServerOptions;
  readonly link: ParentLink<Request>;
  #shared: SharedSocket | undefined;
  #requestEvents: boolean;
  #seen: unknown[] = [];

  constructor(Handler: RequestHandlerClass<Request, ClientAddress>, options: WorkerServerOptions) {
    const limit = options.config.datagrams?.maxDatagramSize ?? 0x7fff_ffff;
    super(Handler, { logger: options.log, maxDatagramSize: limit }, limit);
    this.#options = options;
    this.link = new ParentLink(options.send, (request) => this._abortRequest(request));
    this.#requestEvents = options.config.datagrams?.requestEvents ?? false;
  }

  get serverAddress(): InetAddress | string {
    return this.#options.config.serverAddress as InetAddress | string;
  }

  /** The UDP socket this worker reads, in shared mode (to lend to a worker started later). */
  get sharedUdpSocket(): dgram.Socket | undefined {
    return this.#shared?.udp;
  }

  /** Datagram `id` from the parent; `replyHere`: reply through the shared socket. */
  take(id: number, packet: Buffer, clientAddress: ClientAddress, replyHere: boolean): void {
    const request: Request = [packet, replyHere ? (this.#shared ?? null) : null];
    this.link.taken(id, request);
    this._accept(request, clientAddress);
  }

  /** A datagram the parent read from a socket it held for a moment. */
  forwarded(packet: Buffer, clientAddress: ClientAddress): void {
    if (this.#shared !== undefined) this._receive(packet, clientAddress, this.#shared);
  }

  /** Whether the parent wants to hear of the requests read here. */
  set requestEvents(wanted: boolean) {
    this.#requestEvents = wanted;
  }

  /** Reads the shared UDP socket from now on. */
  shareUdp(socket: dgram.Socket): void {
    const shared: SharedSocket = {
      udp: socket,
      send: (data, clientAddress) =>
        new Promise((resolve, reject) => {
          const { host, port } = clientAddress as InetAddress;
          socket.send(data, port, host, (error) => (error ? reject(error) : resolve()));
        }),
      pause: () => {}, // dgram cannot stop reading; datagrams read while stopping are dropped
      close: () => socket.close(),
    };
    socket.on('message', (packet, remote) => this._receive(packet, inetAddress(remote.address, remote.port, remote.family), shared));
    socket.on('error', (error) => this.log.error({ err: error }, 'Shared datagram socket error'));
    this.#shared = shared;
  }

  /** Reads the shared Unix datagram socket inherited at `fd` from now on. */
  async shareUnix(fd: number, options: SharedDatagrams): Promise<void> {
    const { UnixDatagramSocket } = await import('@sockserve/unix-dgram');
    const socket = UnixDatagramSocket.adopt(fd, {
      ...(options.bufferSize === undefined ? {} : { bufferSize: options.bufferSize }),
      ...(options.sendTimeout === undefined ? {} : { sendTimeout: options.sendTimeout }),
    });
    const shared: SharedSocket = {
      udp: undefined,
      send: (data, clientAddress) => {
        const { path } = clientAddress as UnixAddress;
        return path === null ? Promise.reject(new SocketError('EDESTADDRREQ', 'sendto', undefined)) : socket.sendTo(data, path);
      },
      pause: () => socket.pause(),
      close: () => socket.close(),
    };
    socket.on('message', (packet, sender) => this._receive(packet, { path: sender }, shared));
    // The parent's server set bufferSize (its default included) in the options it lends.
    socket.on('truncated', (size, sender) => this._receiveTruncated(size, { path: sender }, options.bufferSize!));
    socket.on('error', (error) => this.log.error({ err: error }, 'Shared datagram socket error'));
    this.#shared = shared;
  }

  /**
   * Stops: reading ends, the parent's requests get `grace` ms to end after their abort, and the
   * requests read here get `timeout` ms, then are aborted. Resolves with their count.
   */
  async stop(timeout: number | undefined, grace: number): Promise<{ completed: number; aborted: number }> {
    this.#shared?.pause();
    await this.link.settled(grace);
    return this.serverClose(timeout === undefined ? {} : { timeout });
  }

  /** Requests read here are reported to the parent while it listens for 'request'. */
  override verifyRequest(request: Request, clientAddress: ClientAddress): boolean {
    if (this.#requestEvents && !this.link.handedOver(request)) {
      if (this.#seen.length === 0) setImmediate(() => this.#reportSeen());
      this.#seen.push(clientAddress);
    }
    return true;
  }

  /** Errors go to the parent's handleError() (for its own datagrams, with the reply: it reports, then sends). */
  override handleError(request: Request, clientAddress: ClientAddress, error: unknown): void {
    if (this.link.handedOver(request)) return this.link.failedWithReply(request, error);
    this.#options.send({ type: 'shared-request-failed', clientAddress, packet: request[0], error: toWire(error) });
  }

  /** In a handler, stops the parent's serveForever(). */
  override async shutdown(): Promise<void> {
    if (this._closing) return super.shutdown();
    this.#options.send({ type: 'shutdown' });
  }

  protected override _dropped(info: { reason: 'too-large' | 'truncated' | 'backlog'; clientAddress: ClientAddress | null; size: number }, message: string): void {
    if (info.reason === 'backlog') return super._dropped(info, message);
    this.#options.send({ type: 'dropped', reason: info.reason, clientAddress: info.clientAddress, size: info.size, message });
  }

  protected override _send(socket: SharedSocket | null, data: Buffer, clientAddress: ClientAddress, request: Request): Promise<void> {
    if (socket === null) {
      this.link.reply(request, data);
      return Promise.resolve();
    }
    return socket.send(data, clientAddress);
  }

  protected override _requestClosed(request: Request): void {
    this.link.done(request);
  }

  protected override _shareSocket(): never {
    throw new Error('A pool worker does not share its socket');
  }

  protected override _bind(): Promise<void> {
    return nothing();
  }

  protected override async _unbind(): Promise<void> {
    this.#shared?.close();
    this.#shared = undefined;
  }

  #reportSeen(): void {
    const clients = this.#seen;
    this.#seen = [];
    this.#options.send({ type: 'requests-seen', clients });
  }
}

function noop(): void {}

/** A PROXY header as it crossed the IPC channel (Buffers arrive as Uint8Arrays): Buffers again. */
function reviveProxy(proxy: unknown): unknown {
  const header = proxy as { tlvs?: { uniqueId?: Uint8Array; raw?: Array<{ type: number; value: Uint8Array }> } };
  const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (header.tlvs?.uniqueId !== undefined) header.tlvs.uniqueId = toBuffer(header.tlvs.uniqueId);
  if (header.tlvs?.raw !== undefined) header.tlvs.raw = header.tlvs.raw.map(({ type, value }) => ({ type, value: toBuffer(value) }));
  return header;
}
