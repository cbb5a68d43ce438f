/**
 * `@sockserve/unix-dgram`: Unix datagram sockets (`AF_UNIX`, `SOCK_DGRAM`) for Node.js, which
 * Node's `dgram` lacks, on a small Node-API addon. Bind to a path or a Linux abstract name,
 * receive whole datagrams with their sender, send to a path. Safe in worker threads.
 *
 * @example
 * ```ts
 * import { UnixDatagramSocket } from '@sockserve/unix-dgram';
 *
 * const client = new UnixDatagramSocket().bind('/tmp/client.sock');
 * await client.sendTo(Buffer.from('ping'), '/tmp/server.sock');
 * const { data, sender } = await client.receive();
 * client.close();
 * ```
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AddonUnavailableError, InvalidArgumentError, SocketError, type TypedEmitter } from '@sockserve/core';

/** The addon's functions; a handle is an opaque external. */
interface Addon {
  socket(bufferSize: number): object;
  adopt(fd: number, bufferSize: number): object;
  bind(handle: object, path: string): void;
  start(
    handle: object,
    onMessage: (data: Buffer | null, sender: string | null, size: number) => void,
    onError: (code: string) => void,
  ): void;
  sendTo(handle: object, data: Buffer, path: string): string;
  ref(handle: object, ref: boolean): void;
  pause(handle: object, paused: boolean): void;
  localAddress(handle: object): string | null;
  fd(handle: object): number;
  close(handle: object): void;
  probe(path: string): string;
}

let addon: Addon | undefined;
let loadError: unknown;

/**
 * Loads the native addon on first use: a prebuilt binary when one matches the platform, else the
 * one built from source at install. Throws `AddonUnavailableError` (code
 * `ERR_SOCKSERVE_ADDON_UNAVAILABLE`) when neither can be loaded.
 *
 * @example
 * ```ts
 * try { loadAddon(); } catch (error) { console.error('Unix datagrams unavailable:', error.message); }
 * ```
 */
export function loadAddon(what = 'Unix datagram sockets'): void {
  getAddon(what);
}

function getAddon(what: string): Addon {
  if (addon !== undefined) return addon;
  if (loadError === undefined) {
    try {
      if (process.platform === 'win32') throw new Error('Windows has no Unix datagram sockets');
      const require = createRequire(import.meta.url);
      const load = require('node-gyp-build') as (dir: string) => Addon;
      addon = load(fileURLToPath(new URL('..', import.meta.url)));
      return addon;
    } catch (error) {
      loadError = error;
    }
  }
  throw new AddonUnavailableError(what, { cause: loadError });
}

/**
 * Whether a datagram socket is bound at `path`: `''` when one is, else the error code of
 * connecting to it (`'ECONNREFUSED'` for a stale socket file, `'ENOENT'` when there is nothing).
 *
 * @example
 * ```ts
 * if (probe('/run/app.sock') === 'ECONNREFUSED') unlinkSync('/run/app.sock'); // stale
 * ```
 */
export function probe(path: string): string {
  return getAddon('UnixDatagramSocket').probe(path);
}

/**
 * Options of {@link UnixDatagramSocket}.
 *
 * @example
 * ```ts
 * const socket = new UnixDatagramSocket({ bufferSize: 1024 * 1024 }).bind('/tmp/big.sock');
 * ```
 */
export interface UnixDatagramSocketOptions {
  /**
   * Receive buffer in bytes: the largest datagram received whole. A larger one is reported with
   * a `'truncated'` event and never delivered cut. Default: 262144 (256 KiB), above Linux's
   * default maximum datagram size.
   */
  bufferSize?: number;
  /** How long a send may keep retrying while the receiver's queue is full, in ms. Default: 1000. */
  sendTimeout?: number;
}

/**
 * A received datagram.
 *
 * @example
 * ```ts
 * const { data, sender } = await socket.receive();
 * if (sender !== null) await socket.sendTo(data, sender); // echo
 * ```
 */
export interface UnixDatagram {
  /** The datagram, whole. */
  readonly data: Buffer;
  /** The sender's path or abstract name (`'\0name'`), or `null` when the sender is unbound. */
  readonly sender: string | null;
}

/**
 * Events of {@link UnixDatagramSocket}.
 *
 * @example
 * ```ts
 * socket.on('message', (data, sender) => console.log(sender, data.length));
 * ```
 */
export type UnixDatagramSocketEvents = {
  /** A datagram arrived. While no `'message'` listener exists, datagrams queue for `receive()`. */
  message: (data: Buffer, sender: string | null) => void;
  /** A datagram larger than `bufferSize` arrived and was dropped. */
  truncated: (size: number, sender: string | null) => void;
  /** Receiving failed. */
  error: (error: SocketError) => void;
};

const TypedEventEmitter = EventEmitter as unknown as new () => TypedEmitter<UnixDatagramSocketEvents>;

interface PendingSend {
  data: Buffer;
  path: string;
  resolve(): void;
  reject(error: unknown): void;
  deadline: number;
}

const MAX_QUEUED_MESSAGES = 4096;

/**
 * A Unix datagram socket: `new UnixDatagramSocket()`, then `bind(path)` (a path or an abstract
 * name `'\0name'`; a client that expects replies must bind too), or
 * {@link UnixDatagramSocket.adopt} for an inherited descriptor. The descriptor is non-blocking
 * and close-on-exec.
 *
 * Sending never blocks and never stops reads: when the receiver's queue is full (`EAGAIN`), the
 * send is retried with a growing delay for up to `sendTimeout` ms, then rejected with a
 * `SocketError` `EAGAIN`. Sends leave in order.
 *
 * @example
 * ```ts
 * const server = new UnixDatagramSocket().bind('\0my-service');
 * server.on('message', (data, sender) => {
 *   if (sender !== null) void server.sendTo(data, sender).catch(() => {});
 * });
 * ```
 */
export class UnixDatagramSocket extends TypedEventEmitter implements Disposable {
  readonly #addon: Addon;
  readonly #handle: object;
  readonly #sendTimeout: number;
  readonly #sends: PendingSend[] = [];
  readonly #received: UnixDatagram[] = [];
  #waiters: Array<{ resolve(message: UnixDatagram): void; reject(error: unknown): void }> = [];
  #retry: NodeJS.Timeout | undefined;
  #backoff = 1;
  #closed = false;

  /**
   * Creates an unbound socket, or with `fd`, wraps a descriptor that is already a Unix datagram
   * socket (inherited from a parent process, say), taking ownership of it. Throws
   * `AddonUnavailableError` where the native addon cannot load.
   *
   * @example
   * ```ts
   * const client = new UnixDatagramSocket();
   * client.bind(join(tmpdir(), 'client.sock')); // so that replies can reach it
   * ```
   */
  constructor(options: UnixDatagramSocketOptions & { fd?: number } = {}) {
    super();
    const { sendTimeout = 1_000, fd } = options;
    if (!(typeof sendTimeout === 'number' && sendTimeout >= 0)) {
      throw new InvalidArgumentError(`Expected \`sendTimeout\` to be a number of milliseconds from 0 and up, got \`${String(sendTimeout)}\``);
    }
    const native = getAddon('UnixDatagramSocket');
    let handle: object;
    try {
      handle = fd === undefined ? native.socket(bufferSizeOf(options)) : native.adopt(fd, bufferSizeOf(options));
    } catch (error) {
      throw socketError(error, fd === undefined ? 'socket' : 'adopt');
    }
    this.#addon = native;
    this.#handle = handle;
    this.#sendTimeout = sendTimeout;
    native.start(handle, this.#onMessage, this.#onError);
  }

  /**
   * Wraps an inherited descriptor: `new UnixDatagramSocket({ fd })`.
   *
   * @example
   * ```ts
   * const socket = UnixDatagramSocket.adopt(3);
   * ```
   */
  static adopt(fd: number, options: UnixDatagramSocketOptions = {}): UnixDatagramSocket {
    return new UnixDatagramSocket({ ...options, fd });
  }

  /**
   * Binds to `path`: a filesystem path, or `'\0name'` for a Linux abstract name of exactly that
   * length. Throws a `SocketError` (`EADDRINUSE`, `ENOENT`, `EACCES`, `ENAMETOOLONG`).
   *
   * @example
   * ```ts
   * const socket = new UnixDatagramSocket();
   * socket.bind('\0my-service');
   * ```
   */
  bind(path: string): this {
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError(`Expected \`path\` to be a non-empty string, got \`${String(path)}\``);
    }
    if (this.#closed) throw new SocketError('EBADF', 'bind', path);
    try {
      this.#addon.bind(this.#handle, path);
    } catch (error) {
      throw socketError(error, 'bind', path);
    }
    return this;
  }

  /** The bound path or abstract name, or `null` when unbound. */
  get address(): string | null {
    return this.#closed ? null : this.#addon.localAddress(this.#handle);
  }

  /** The file descriptor (for handing to a child process). */
  get fd(): number {
    return this.#addon.fd(this.#handle);
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `data` as one datagram to the socket bound at `path`. Resolves once the kernel has
   * queued it for the receiver; rejects with a `SocketError`: `ENOENT` or `ECONNREFUSED` when
   * nobody is bound there, `EAGAIN` when the receiver's queue stayed full for `sendTimeout` ms,
   * `EMSGSIZE` when it is too large.
   *
   * @example
   * ```ts
   * await socket.sendTo(Buffer.from('hello'), '/run/peer.sock');
   * ```
   */
  sendTo(data: Uint8Array | string, path: string): Promise<void> {
    if (this.#closed) return Promise.reject(new SocketError('EBADF', 'sendto', path));
    const buffer = typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.#sends.length === 0) {
      const code = this.#addon.sendTo(this.#handle, buffer, path);
      if (code === '') return Promise.resolve();
      if (code !== 'EAGAIN') return Promise.reject(new SocketError(code, 'sendto', path));
    }
    return new Promise<void>((resolve, reject) => {
      this.#sends.push({ data: buffer, path, resolve, reject, deadline: Date.now() + this.#sendTimeout });
      this.#scheduleRetry();
    });
  }

  /**
   * Resolves with the next datagram (one that already arrived, or the next to arrive). Used when
   * no `'message'` listener is attached.
   *
   * @example
   * ```ts
   * const { data, sender } = await socket.receive();
   * ```
   */
  receive(): Promise<UnixDatagram> {
    const next = this.#received.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.#closed) return Promise.reject(new SocketError('EBADF', 'recvmsg'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Lets the process exit while this socket is open (`unref`), or not (`ref`, the default).
   *
   * @example
   * ```ts
   * socket.unref();
   * ```
   */
  unref(): this {
    if (!this.#closed) this.#addon.ref(this.#handle, false);
    return this;
  }

  /**
   * Stops receiving: datagrams stay queued in the kernel (for another process that shares the
   * descriptor, say) until `resume()`. Sending still works, and the descriptor stays open.
   *
   * @example
   * ```ts
   * const child = fork('reader.js', { stdio: ['inherit', 'inherit', 'inherit', 'ipc', socket.fd] });
   * socket.pause(); // the child reads from now on
   * ```
   */
  pause(): this {
    if (!this.#closed) this.#addon.pause(this.#handle, true);
    return this;
  }

  /** Undoes `pause()`. */
  resume(): this {
    if (!this.#closed) this.#addon.pause(this.#handle, false);
    return this;
  }

  /** Undoes `unref()`. */
  ref(): this {
    if (!this.#closed) this.#addon.ref(this.#handle, true);
    return this;
  }

  /**
   * Closes the socket. Pending sends and receives reject with `EBADF`. A bound path stays on
   * disk: remove it yourself (servers do).
   *
   * @example
   * ```ts
   * socket.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#addon.close(this.#handle);
    for (const send of this.#sends.splice(0)) send.reject(new SocketError('EBADF', 'sendto', send.path));
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new SocketError('EBADF', 'recvmsg'));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #scheduleRetry(): void {
    if (this.#retry !== undefined || this.#sends.length === 0) return;
    this.#retry = setTimeout(this.#flush, this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, 64);
  }

  readonly #flush = (): void => {
    this.#retry = undefined;
    while (this.#sends.length > 0 && !this.#closed) {
      const send = this.#sends[0]!;
      const code = this.#addon.sendTo(this.#handle, send.data, send.path);
      if (code === 'EAGAIN') {
        if (Date.now() < send.deadline) break;
        this.#sends.shift();
        send.reject(new SocketError('EAGAIN', 'sendto', send.path));
        continue;
      }
      this.#sends.shift();
      this.#backoff = 1;
      if (code === '') send.resolve();
      else send.reject(new SocketError(code, 'sendto', send.path));
    }
    this.#scheduleRetry();
  };

  readonly #onMessage = (data: Buffer | null, sender: string | null, size: number): void => {
    try {
      if (data === null) {
        this.emit('truncated', size, sender);
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.resolve({ data, sender });
      else if (this.listenerCount('message') > 0) this.emit('message', data, sender);
      else if (this.#received.length < MAX_QUEUED_MESSAGES) this.#received.push({ data, sender });
    } catch (error) {
      // A listener threw: surface it like any other uncaught exception, after this callback.
      queueMicrotask(() => {
        throw error;
      });
    }
  };

  readonly #onError = (code: string): void => {
    const error = new SocketError(code, 'recvmsg', this.#closed ? undefined : (this.address ?? undefined));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  };
}

function bufferSizeOf(options: UnixDatagramSocketOptions): number {
  const { bufferSize = 256 * 1024 } = options;
  if (!(Number.isInteger(bufferSize) && bufferSize >= 1)) {
    throw new InvalidArgumentError(`Expected \`bufferSize\` to be a positive integer number of bytes, got \`${String(bufferSize)}\``);
  }
  return bufferSize;
}

function socketError(error: unknown, syscall: string, address?: string): unknown {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('E') ? new SocketError(code, syscall, address, { cause: error }) : error;
}
