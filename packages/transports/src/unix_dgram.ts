/**
 * `UnixDatagramServer`: a datagram server on a Unix domain socket, on sockserve's native addon.
 *
 * @module
 */
import {
  AddonUnavailableError,
  InvalidArgumentError,
  InvalidStateError,
  SocketError,
  describeAddress,
  toListenError,
  type RequestHandlerClass,
  type SharedDatagramSocket,
  type UnixAddress,
} from '@sockserve/core';
// Types of the optional addon package stay out of this module's declarations (see
// UnixDatagramServerSocket), so TCP-only programs compile without it installed.
import type { UnixDatagramSocket } from '@sockserve/unix-dgram';
import { checkSocketPath, claimPath, clearStalePath, isFileMode, releasePath, type SocketFile } from './_unix_path.js';
import { DatagramServer, type DatagramRequest, type DatagramServerOptions } from './datagram_server.js';
import { checkFd } from './_inet.js';
import type { AdoptedListener } from './tcp.js';

/**
 * Options of {@link UnixDatagramServer}.
 *
 * @example
 * ```ts
 * const options: UnixDatagramServerOptions = { mode: 0o666, bufferSize: 1024 * 1024 };
 * ```
 */
export interface UnixDatagramServerOptions extends DatagramServerOptions {
  /** File permissions of the socket path, applied right after binding (e.g. `0o666` for `/dev/log`-like sinks). */
  mode?: number;
  /** Receive buffer in bytes: the largest datagram received whole. Default: 262144. */
  bufferSize?: number;
  /** How long a reply may wait while the client's queue is full, in ms. Default: 1000. */
  sendTimeout?: number;
}

/**
 * The socket of a {@link UnixDatagramServer}, as its handlers (`this.socket`) and hooks see it: the
 * `UnixDatagramSocket` of `@sockserve/unix-dgram`, described here so that programs that never use
 * Unix datagrams compile without that optional package installed.
 *
 * @example
 * ```ts
 * class Forward extends DatagramRequestHandler<UnixAddress, UnixDatagramServerSocket> {
 *   override async handle() { await this.socket.sendTo(this.packet, '/run/next.sock'); }
 * }
 * ```
 */
export interface UnixDatagramServerSocket {
  /** The bound path (or abstract name), or `null` before `bind()`. */
  readonly address: string | null;
  /** The socket's file descriptor. */
  readonly fd: number;
  /** True once closed. */
  readonly closed: boolean;
  /** Sends one datagram to the socket bound at `path`; see `UnixDatagramSocket.sendTo()`. */
  sendTo(data: Uint8Array | string, path: string): Promise<void>;
  /** Stops reading until `resume()`. */
  pause(): this;
  /** Reads again after `pause()`. */
  resume(): this;
}

type Module = typeof import('@sockserve/unix-dgram');

let loading: Promise<Module> | undefined;

/** Loads the addon package on first use, so the rest of sockserve works without it. */
function loadUnixDgram(): Promise<Module> {
  loading ??= import('@sockserve/unix-dgram').then(
    (module) => {
      module.loadAddon('UnixDatagramServer');
      return module;
    },
    (error: unknown) => {
      throw new AddonUnavailableError('UnixDatagramServer', { cause: error });
    },
  );
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/**
 * A Unix datagram socket server, the counterpart of Python's `UnixDatagramServer`, which Node's
 * `dgram` cannot provide. Each datagram is one request, `[packet, socket]`; client addresses are
 * `{ path }`, `null` when the sender is unbound (a reply to it goes to `handleError()`). The
 * address is a path or a Linux abstract name `'\0name'`; paths are handled as by
 * `UnixStreamServer` (a stale socket file is replaced, a live one is `EADDRINUSE`, the path is
 * removed on close). Datagrams arrive whole up to `bufferSize`; a larger one is dropped and
 * reported, never cut.
 *
 * Runs on a small native addon, loaded on first use; where it cannot load, `listen()` rejects
 * with `AddonUnavailableError`.
 *
 * @example
 * ```ts
 * import { DatagramRequestHandler, UnixDatagramServer } from 'sockserve';
 *
 * class LogSink extends DatagramRequestHandler {
 *   override handle() { process.stdout.write(this.packet); }
 * }
 *
 * await using server = new UnixDatagramServer('/tmp/log.sock', LogSink, { mode: 0o666 });
 * await server.serveForever();
 * ```
 */
export class UnixDatagramServer extends DatagramServer<UnixAddress, string, UnixDatagramServerSocket> {
  /** The socket path or abstract name; `''` for an adopted socket (its path is its owner's). */
  readonly path: string;
  /** The descriptor of an adopted socket (`{ fd }`), or `undefined`. */
  readonly fd: number | undefined;
  readonly #options: UnixDatagramServerOptions;
  #socket: UnixDatagramSocket | undefined;
  #bound: SocketFile | undefined;

  constructor(
    path: string | AdoptedListener,
    RequestHandlerClass: RequestHandlerClass<DatagramRequest<UnixDatagramServerSocket>, UnixAddress>,
    options: UnixDatagramServerOptions = {},
  ) {
    const { bufferSize = 256 * 1024 } = options;
    if (!(Number.isInteger(bufferSize) && bufferSize >= 1)) {
      throw new InvalidArgumentError(`Expected \`bufferSize\` to be a positive integer number of bytes, got \`${String(bufferSize)}\``);
    }
    super(RequestHandlerClass, options, bufferSize);
    this.#options = { ...options, bufferSize };
    if (typeof path === 'object' && path !== null && 'fd' in path) {
      // A bound socket made by someone else (systemd's ListenDatagram=): its path is theirs.
      this.fd = checkFd(path.fd);
      this.path = '';
      return;
    }
    this.fd = undefined;
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError(`Expected \`path\` to be a non-empty string, got \`${String(path)}\``);
    }
    if (!isFileMode(options.mode)) {
      throw new InvalidArgumentError(`Expected \`mode\` to be a file mode such as 0o660, got \`${String(options.mode)}\``);
    }
    this.path = path;
  }

  /** The socket path (or abstract name starting with `'\0'`). */
  get serverAddress(): string {
    return this.path;
  }

  /** The bound socket, or `undefined` before `listen()` and after close. */
  get socket(): UnixDatagramServerSocket | undefined {
    return this.#socket;
  }

  protected override async _bind(): Promise<void> {
    const described = this.fd === undefined ? describeAddress(this.path) : `the socket of descriptor ${this.fd}`;
    if (this.fd === undefined) checkSocketPath(this.path);
    const { UnixDatagramSocket, probe } = await loadUnixDgram();
    const { bufferSize, sendTimeout, mode } = this.#options;
    const socketOptions = { ...(bufferSize === undefined ? {} : { bufferSize }), ...(sendTimeout === undefined ? {} : { sendTimeout }) };
    let socket: UnixDatagramSocket | undefined;
    try {
      if (this.fd !== undefined) {
        socket = UnixDatagramSocket.adopt(this.fd, socketOptions);
      } else {
        await clearStalePath(this.path, async (path) => probe(path) === '');
        socket = new UnixDatagramSocket(socketOptions);
        socket.bind(this.path);
        this.#bound = await claimPath(this.path, mode);
      }
    } catch (error) {
      socket?.close();
      throw toListenError(error, described);
    }
    socket.on('message', (packet, sender) => this._receive(packet, { path: sender }, socket));
    socket.on('truncated', (size, sender) => this._receiveTruncated(size, { path: sender }, this.#options.bufferSize!));
    socket.on('error', (error) => this._serverError(error));
    this.#socket = socket;
  }

  protected override _shareSocket(): SharedDatagramSocket {
    const socket = this.#socket;
    if (socket === undefined) throw new InvalidStateError('Only a listening UnixDatagramServer can share its socket');
    const { bufferSize, sendTimeout } = this.#options;
    return {
      kind: 'unix',
      socket,
      fd: socket.fd,
      maxDatagramSize: this.maxDatagramSize,
      options: { ...(bufferSize === undefined ? {} : { bufferSize }), ...(sendTimeout === undefined ? {} : { sendTimeout }) },
      release: async () => {
        socket.pause();
      },
      rebind: () => Promise.reject(new InvalidStateError('A Unix datagram server keeps its descriptor: there is nothing to rebind')),
    };
  }

  protected override async _unbind(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
    const bound = this.#bound;
    this.#bound = undefined;
    if (this.fd === undefined) await releasePath(this.path, bound, this.log);
  }

  protected override _send(socket: UnixDatagramServerSocket, data: Buffer, address: UnixAddress): Promise<void> | undefined {
    if (address.path === null) {
      return Promise.reject(new SocketError('EDESTADDRREQ', 'sendto', undefined));
    }
    return socket.sendTo(data, address.path);
  }
}
