/**
 * `UnixStreamServer`: a stream server on a Unix domain socket.
 *
 * @module
 */
import { lstat, chmod, unlink, stat } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import { InvalidArgumentError, ListenError, type RequestHandlerClass, type UnixAddress } from '@sockserve/core';
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
  #bound: { dev: number; ino: number } | undefined;

  constructor(
    path: string,
    RequestHandlerClass: RequestHandlerClass<net.Socket, UnixAddress>,
    options: UnixStreamServerOptions = {},
  ) {
    super(RequestHandlerClass, options);
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError(`Expected \`path\` to be a non-empty string, got \`${String(path)}\``);
    }
    if (options.mode !== undefined && !(Number.isInteger(options.mode) && options.mode >= 0 && options.mode <= 0o7777)) {
      throw new InvalidArgumentError(`Expected \`mode\` to be a file mode such as 0o660, got \`${String(options.mode)}\``);
    }
    this.path = path;
    this.mode = options.mode;
  }

  /** True for a Linux abstract socket name (no file on disk). */
  get abstract(): boolean {
    return this.path.startsWith('\0');
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
    return this.abstract ? `@${this.path.slice(1)} (abstract)` : this.path;
  }

  protected override async _beforeBind(): Promise<void> {
    if (this.abstract) return;
    let info;
    try {
      info = await lstat(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // Node reports a missing directory as EACCES; say what is really wrong.
      await stat(dirname(this.path));
      return;
    }
    const inUse = (why: string): ListenError =>
      new ListenError(`Cannot listen on ${this.path}: EADDRINUSE; ${why}`, 'EADDRINUSE', this.path, { syscall: 'bind' });
    if (!info.isSocket()) throw inUse('a file that is not a socket is in the way; remove it or pick another path');
    if (await answers(this.path)) throw inUse('a live server is listening on this socket; stop it or pick another path');
    // A stale socket file left by a server that died: safe to replace.
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  protected override async _afterBind(): Promise<void> {
    if (this.abstract) return;
    if (this.mode !== undefined) await chmod(this.path, this.mode);
    const info = await stat(this.path);
    this.#bound = { dev: info.dev, ino: info.ino };
  }

  protected override async _afterUnbind(): Promise<void> {
    const bound = this.#bound;
    this.#bound = undefined;
    if (bound === undefined) return;
    try {
      const info = await lstat(this.path);
      if (info.dev === bound.dev && info.ino === bound.ino) await unlink(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn({ err: error, path: this.path }, 'Could not remove the socket path');
      }
    }
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
