/**
 * `UnixStreamServer`: a stream server on a Unix domain socket.
 *
 * @module
 */
import net from 'node:net';
import { InvalidArgumentError, describeAddress, type RequestHandlerClass, type UnixAddress } from '@sockserve/core';
import { checkSocketPath, claimPath, clearStalePath, isAbstract, isFileMode, releasePath, type SocketFile } from './_unix_path.js';
import { StreamServer, type StreamServerOptions } from './stream_server.js';
import { checkFd } from './_inet.js';
import type { AdoptedListener } from './tcp.js';

/**
 * Options of {@link UnixStreamServer}.
 *
 * @example
 * ```ts
 * const options: UnixStreamServerOptions = { mode: 0o660 };
 * ```
 */
export interface UnixStreamServerOptions extends StreamServerOptions {
  /** File permissions of the socket path, applied right after binding (e.g. `0o660`). */
  mode?: number;
}

/**
 * A Unix stream socket server. The address is a filesystem path, or on Linux an abstract name
 * starting with `'\0'`. At `listen()`, an existing path is replaced only when it is a socket
 * that no live server answers on (a stale leftover); a live socket or any other file makes
 * `listen()` reject with `EADDRINUSE`. The path is removed on close. Client addresses are
 * `{ path: null }`: stream peers are normally unbound.
 *
 * @example
 * ```ts
 * import { UnixStreamServer, StreamRequestHandler } from 'sockserve';
 *
 * await using server = new UnixStreamServer('/run/myapp.sock', EchoHandler, { mode: 0o660 });
 * await server.serveForever();
 * ```
 */
export class UnixStreamServer extends StreamServer<UnixAddress, string> {
  /** The socket path or abstract name; `''` for an adopted listener (its path is not known here). */
  readonly path: string;
  /** The descriptor of an adopted listener (`{ fd }`), or `undefined`. */
  readonly fd: number | undefined;
  /** File permissions applied after binding, if any. */
  readonly mode: number | undefined;
  /** Identity of the socket file we bound. Node removes the path when the listener closes; if it
   * is still there afterwards and still ours, it is removed here (never a file someone else made). */
  #bound: SocketFile | undefined;

  constructor(
    path: string | AdoptedListener,
    RequestHandlerClass: RequestHandlerClass<net.Socket, UnixAddress>,
    options: UnixStreamServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
    if (typeof path === 'object' && path !== null && 'fd' in path) {
      // A listener made by someone else (systemd): its path is theirs to create and remove.
      this.fd = checkFd(path.fd);
      this.path = '';
      this.mode = undefined;
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
    this.mode = options.mode;
  }

  /** True for a Linux abstract socket name (no file on disk). */
  get abstract(): boolean {
    return isAbstract(this.path);
  }

  /** The socket path (or abstract name starting with `'\0'`). */
  get serverAddress(): string {
    return this.path;
  }

  protected override _listenOptions(): net.ListenOptions {
    return this.fd === undefined ? { path: this.path } : ({ fd: this.fd } as net.ListenOptions);
  }

  protected override get _isUnix(): boolean {
    return true;
  }

  protected override _clientAddress(): UnixAddress {
    return { path: null };
  }

  protected override _describeAddress(): string {
    return this.fd === undefined ? describeAddress(this.path) : `the listening socket of descriptor ${this.fd}`;
  }

  protected override async _beforeBind(): Promise<void> {
    if (this.fd !== undefined) return;
    checkSocketPath(this.path);
    await clearStalePath(this.path, answers);
  }

  protected override async _afterBind(): Promise<void> {
    // An adopted listener's path (if it has one) belongs to whoever made it.
    if (this.fd !== undefined) return;
    this.#bound = await claimPath(this.path, this.mode);
  }

  protected override async _afterUnbind(): Promise<void> {
    if (this.fd !== undefined) return;
    const bound = this.#bound;
    this.#bound = undefined;
    await releasePath(this.path, bound, this.log);
  }
}

/** Whether a live server accepts connections on the Unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      probe.destroy();
      if (error.code === 'ECONNREFUSED') resolve(false);
      else if (error.code === 'ENOENT') resolve(false);
      else reject(error);
    });
  });
}

export { UnixDatagramServer, type UnixDatagramServerOptions } from './unix_dgram.js';
