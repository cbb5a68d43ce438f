/**
 * `StreamServer`: what TCP and Unix stream servers share on top of `BaseServer`: a `net.Server`,
 * and a graceful end of each connection.
 *
 * @module
 */
import { linkSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import {
  BaseServer,
  InvalidArgumentError,
  InvalidStateError,
  type SharedListener,
  toListenError,
  type BaseServerOptions,
  type ClientAddress,
  type InetAddress,
} from '@sockserve/core';
import { currentSocket } from '@sockserve/core/internal';
import { ProxyReader, type ProxyProtocolOptions } from './_proxy_reader.js';
import { discardUntilClosed, endSocket } from './graceful_close.js';

/**
 * Options of every stream server.
 *
 * @example
 * ```ts
 * const options: StreamServerOptions = { backlog: 1024, lingerTimeout: 1_000 };
 * ```
 */
export interface StreamServerOptions extends BaseServerOptions {
  /** The listen backlog (pending connections the kernel queues). Default: 511. */
  backlog?: number;
  /**
   * ms to wait, after a handler finished, for its reply to be handed to the kernel and then for
   * the peer to close its side, while its unread input is discarded. This is what lets a reply's
   * tail reach the peer instead of being cut off by a reset. Default: 2000.
   */
  lingerTimeout?: number;
  /**
   * Expect a PROXY protocol header (version 1 or 2) from a load balancer in front of the server,
   * before anything else on each connection (a TLS handshake included). From a `trusted` source
   * the header is required, and the client it names becomes the request's `clientAddress`
   * everywhere (handlers, `verifyRequest()`, logs, events); the handler's `this.proxy` has the
   * whole header. A `LOCAL` header (the balancer's health check) keeps the socket's own address,
   * and becomes a request only if it sends something. A connection from an untrusted source, with
   * a malformed or over-long header, or without one within `timeout`, is closed before any
   * handler runs and reported as `'dropped'` (reason `'proxy-protocol'`).
   */
  proxyProtocol?: ProxyProtocolOptions;
}

/**
 * The shared base of {@link TCPServer} and {@link UnixStreamServer}: listens with a `net.Server`
 * (connections arrive paused, so nothing is read until a handler reads), and ends each request
 * gracefully: half-close after the reply is flushed, discard the peer's unread input until it
 * closes or `lingerTimeout` passes, then close. Subclass a concrete server, not this one.
 *
 * @example
 * ```ts
 * function connections(server: StreamServer<ClientAddress, InetAddress | string>) {
 *   return server.serverAddress;
 * }
 * ```
 */
export abstract class StreamServer<
  Address extends ClientAddress,
  ServerAddress extends InetAddress | string,
> extends BaseServer<net.Socket, Address, ServerAddress> {
  /** The listen backlog. */
  readonly backlog: number;
  /** See {@link StreamServerOptions.lingerTimeout}. */
  readonly lingerTimeout: number;
  /** The listener while bound. */
  #server: net.Server | undefined;
  /** Connections whose request is done, waiting for the peer to close. */
  readonly #lingering = new Set<net.Socket>();
  /** Connections closeRequest() has been called for. */
  readonly #released = new WeakSet<net.Socket>();
  /** Reads PROXY protocol headers, when the server expects them. */
  readonly #proxy: ProxyReader | undefined;
  readonly #proxyOptions: ProxyProtocolOptions | undefined;
  /** Connections whose PROXY header is being read (closed when the server stops accepting). */
  readonly #preface = new Set<net.Socket>();

  constructor(
    RequestHandlerClass: ConstructorParameters<typeof BaseServer<net.Socket, Address, ServerAddress>>[0],
    options: StreamServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
    const { backlog = 511, lingerTimeout = 2_000 } = options;
    if (!Number.isInteger(backlog) || backlog < 0) {
      throw new InvalidArgumentError(`Expected \`backlog\` to be an integer from 0 and up, got \`${String(backlog)}\``);
    }
    if (typeof lingerTimeout !== 'number' || !(lingerTimeout >= 0)) {
      throw new InvalidArgumentError(`Expected \`lingerTimeout\` to be a number of milliseconds from 0 and up, got \`${String(lingerTimeout)}\``);
    }
    this.backlog = backlog;
    this.lingerTimeout = lingerTimeout;
    this.#proxy = options.proxyProtocol === undefined ? undefined : new ProxyReader(options.proxyProtocol, this._isUnix);
    this.#proxyOptions = options.proxyProtocol;
  }

  /** Whether the listener is a Unix socket (PROXY protocol sources are then all trusted). */
  protected get _isUnix(): boolean {
    return false;
  }

  protected override get _requestKind(): 'stream' {
    return 'stream';
  }

  protected override get _lingerTimeout(): number {
    return this.lingerTimeout;
  }

  /** The bound `net.Server`, or `undefined` before `listen()` and after close. */
  protected get _listener(): net.Server | undefined {
    return this.#server;
  }

  /** Where to listen, for `server.listen()`. Throws `InvalidArgumentError` for a bad address. */
  protected abstract _listenOptions(): net.ListenOptions;

  /** `net.createServer()` options beyond the ones every stream server uses. */
  protected _serverOptions(): net.ServerOpts {
    return {};
  }

  /** The address of an accepted connection's peer. */
  protected abstract _clientAddress(socket: net.Socket): Address;

  /** A description of the requested address, for errors. */
  protected abstract _describeAddress(): string;

  /** Runs before binding (a Unix server clears a stale socket path here). */
  protected async _beforeBind(): Promise<void> {}

  /** Runs after binding (a Unix server applies its file mode here). */
  protected async _afterBind(): Promise<void> {}

  /** Runs after the listener is closed (a Unix server removes its socket path here). */
  protected async _afterUnbind(): Promise<void> {}

  protected override async _bind(): Promise<void> {
    const server = await this.#listen(this._listenOptions());
    server.on('connection', this.#onConnection);
    this.#server = server;
  }

  /** Runs the bind hooks around a new listener at `address`; resolves once it listens. */
  async #listen(address: net.ListenOptions): Promise<net.Server> {
    let options: net.ListenOptions;
    try {
      options = { ...address, backlog: this.backlog };
      await this._beforeBind();
    } catch (error) {
      throw toListenError(error, this._describeAddress());
    }
    const server = net.createServer({ ...this._serverOptions(), pauseOnConnect: true, allowHalfOpen: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      server.close(() => {});
      throw toListenError(error, this._describeAddress());
    }
    server.on('error', (error) => this._serverError(error));
    const previous = this.#server;
    this.#server = server; // _afterBind reads the address from _listener
    try {
      await this._afterBind();
    } catch (error) {
      throw toListenError(error, this._describeAddress());
    } finally {
      this.#server = previous;
    }
    return server;
  }

  /** Where to listen again, for `rebind()` of a shared listener: the same address (a TCP server's real port). */
  protected _rebindOptions(): net.ListenOptions {
    return this._listenOptions();
  }

  /** The listener was lent to other processes and closed here: closing the server still runs `_afterUnbind()`. */
  #lent = false;

  protected override _shareListener(): SharedListener {
    const server = this.#server;
    if (server === undefined) throw new InvalidStateError('Only a listening stream server can share its listener');
    return this.#lend(server, () => {
      if (this.#server !== server) return;
      this.#server = undefined;
      this.#lent = true;
    });
  }

  /** `server` as a SharedListener; `released` runs when this process stops accepting on it. */
  #lend(server: net.Server, released: () => void): SharedListener {
    const options = this._listenOptions();
    const path = typeof options.path === 'string' ? options.path : undefined;
    const serverOptions = this._serverOptions();
    let open = true;
    return {
      kind: path === undefined ? 'tcp' : 'unix',
      listener: server,
      options: {
        ...(serverOptions.noDelay === undefined ? {} : { noDelay: serverOptions.noDelay }),
        ...(serverOptions.keepAlive === undefined ? {} : { keepAlive: serverOptions.keepAlive }),
        ...(serverOptions.keepAliveInitialDelay === undefined ? {} : { keepAliveInitialDelay: serverOptions.keepAliveInitialDelay }),
        ...(this.#proxyOptions === undefined
          ? {}
          : { proxyProtocol: { trusted: [...this.#proxyOptions.trusted], ...(this.#proxyOptions.timeout === undefined ? {} : { timeout: this.#proxyOptions.timeout }) } }),
      },
      release: async () => {
        if (!open) return;
        open = false;
        released();
        closeKeepingPath(server, path);
      },
      rebind: async () => this.#lend(await this.#listen(this._rebindOptions()), () => {}),
    };
  }

  /** Resolves once the listener has closed, after `_stopAccepting()`. */
  #closed: Promise<void> | undefined;

  protected override _stopAccepting(): void {
    if (this.#lent) {
      // The listener lives in other processes; this one still owns the address.
      this.#lent = false;
      this.#closed = this._afterUnbind();
      return;
    }
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    // Stops accepting now. Node's callback, which waits until every connection has closed, is not
    // waited for: the server tracks its connections itself, and the callback never comes when
    // connections were handed to worker processes that have died.
    server.close(() => {});
    // Connections still sending their PROXY header are not requests yet.
    for (const socket of this.#preface) socket.destroy();
    this.#closed = this._afterUnbind();
  }

  protected override async _unbind(): Promise<void> {
    this._stopAccepting();
    await this.#closed;
  }

  protected override _requestClosed(socket: net.Socket): void {
    const current = currentSocket(socket);
    this._countBytes(current.bytesRead, current.bytesWritten);
  }

  protected override get _idleConnections(): number {
    return this.#lingering.size + this.#preface.size;
  }

  protected override _destroyRequest(socket: net.Socket): void {
    currentSocket(socket).destroy();
  }

  /**
   * Takes a new connection: watches it for errors, then hands it to the server. The listener
   * calls it for each accepted connection; a transport that makes connections otherwise (in
   * memory, say) calls it too.
   */
  protected _connection(socket: net.Socket, clientAddress: Address): void {
    socket.on('error', this.#onSocketError);
    this._accept(socket, clientAddress);
  }

  readonly #onConnection = (socket: net.Socket): void => {
    if (this.#proxy === undefined) {
      this._connection(socket, this._clientAddress(socket));
      return;
    }
    // A load balancer's PROXY header comes first: the connection is served for the client it names.
    this.#preface.add(socket);
    this.#proxy.read(socket, this._clientAddress(socket), this.#proxyEvents);
  };

  readonly #proxyEvents = {
    ready: (socket: net.Socket, address: unknown): void => {
      this.#preface.delete(socket);
      this._connection(socket, address as Address);
    },
    refused: (socket: net.Socket, message: string): void => {
      this.#preface.delete(socket);
      if (this._closing) return;
      this._dropped({ reason: 'proxy-protocol', clientAddress: this._clientAddress(socket), size: 0 }, message);
    },
    healthCheck: (socket: net.Socket): void => {
      this.#preface.delete(socket);
      this.log.debug({ client: socket.remoteAddress ?? null }, 'A connection closed before sending a request (a health check): not counted');
    },
  };

  /** One listener for every connection (the socket is `this`), not a closure per connection. */
  readonly #onSocketError = ((server: StreamServer<Address, ServerAddress>) =>
    function (this: net.Socket, error: Error): void {
      // A reset after the reply was flushed is the peer's business, not a failed request.
      if (!this.writableFinished) server._requestError(this, error);
    })(this);

  /**
   * Ends a connection after its handler: flushes what was written and half-closes, then lets the
   * peer's unread input drain (discarded) until the peer closes or `lingerTimeout` passes, and
   * calls `closeRequest()`. Resolves once the reply is handed to the kernel; the lingering goes on
   * in the background (`serverClose()` ends it).
   *
   * @example
   * ```ts
   * override async shutdownRequest(socket: net.Socket) {
   *   socket.write('bye\n');
   *   await super.shutdownRequest(socket);
   * }
   * ```
   */
  override async shutdownRequest(socket: net.Socket): Promise<void> {
    const current = currentSocket(socket);
    if (current.destroyed || !(await endSocket(socket, this.lingerTimeout))) {
      if (!current.destroyed) {
        this.log.warn(
          { pendingBytes: current.writableLength, lingerTimeout: this.lingerTimeout },
          'The peer did not take the reply in time; closing the connection',
        );
      }
      await this.closeRequest(socket);
      return;
    }
    this.#lingering.add(socket);
    void discardUntilClosed(socket, this.lingerTimeout).then(() => {
      this.#lingering.delete(socket);
      if (!this.#released.has(socket)) void this.#closeRequestSafely(socket);
    });
  }

  /**
   * Destroys the connection.
   *
   * @example
   * ```ts
   * override closeRequest(socket: net.Socket) {
   *   this.openConnections -= 1;
   *   return super.closeRequest(socket);
   * }
   * ```
   */
  override closeRequest(socket: net.Socket): void {
    this.#released.add(socket);
    const current = currentSocket(socket);
    if (current !== socket) current.destroy();
    socket.destroy();
  }

  async #closeRequestSafely(socket: net.Socket): Promise<void> {
    try {
      await this.closeRequest(socket);
    } catch (error) {
      this.log.error({ err: error }, 'closeRequest() failed');
      socket.destroy();
    }
  }

  protected override async _closeLingering(): Promise<void> {
    const sockets = [...this.#lingering];
    // Their replies are already flushed and their input drained, so closing sends no reset.
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            const current = currentSocket(socket);
            if (current.closed) return resolve();
            current.once('close', () => resolve());
            void this.#closeRequestSafely(socket);
          }),
      ),
    );
  }
}

/**
 * Closes this process's copy of a listener. Closing a Unix listener removes its socket path (libuv
 * unlinks the path it bound), which would leave the copies in other processes unreachable: the
 * path is kept by a second hard link to the socket, renamed back over it once closed.
 */
function closeKeepingPath(server: net.Server, path: string | undefined): void {
  if (path === undefined || path.startsWith('\0')) {
    server.close(() => {});
    return;
  }
  const keep = `${path}.${process.pid}.keep`;
  linkSync(path, keep);
  try {
    server.close(() => {});
  } finally {
    try {
      renameSync(keep, path);
    } catch {
      rmSync(keep, { force: true });
    }
  }
}
