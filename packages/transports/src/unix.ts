/**
 * `UnixStreamServer`: a stream server on a Unix domain socket.
 *
 * @module
 */
import net from 'node:net';
import { InvalidArgumentError, describeAddress, type RequestHandlerClass, type UnixAddress } from '@sockserve/core';
import { checkSocketPath, claimPath, clearStalePath, isAbstract, isFileMode, releasePath, type SocketFile } from './_unix_path.js';
import { StreamServer, type StreamServerOptions } from './stream_server.js';

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
  /** The socket path or abstract name. */
  readonly path: string;
  /** File permissions applied after binding, if any. */
  readonly mode: number | undefined;
  /** Identity of the socket file we bound. Node removes the path when the listener closes; if it
   * is still there afterwards and still ours, it is removed here (never a file someone else made). */
  #bound: SocketFile | undefined;

  constructor(
    path: string,
    RequestHandlerClass: RequestHandlerClass<net.Socket, UnixAddress>,
    options: UnixStreamServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
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
    return { path: this.path };
  }

  protected override _clientAddress(): UnixAddress {
    return { path: null };
  }

  protected override _describeAddress(): string {
    return describeAddress(this.path);
  }

  protected override async _beforeBind(): Promise<void> {
    checkSocketPath(this.path);
    await clearStalePath(this.path, answers);
  }

  protected override async _afterBind(): Promise<void> {
    this.#bound = await claimPath(this.path, this.mode);
  }

  protected override async _afterUnbind(): Promise<void> {
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
