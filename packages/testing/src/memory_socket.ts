/**
 * `MemorySocket`: one end of an in-memory connection, with the parts of `net.Socket` that
 * servers and handlers use.
 *
 * @module
 */
import { Duplex } from 'node:stream';

/** A socket-like error, as Node reports the same event on a real socket. */
function socketError(code: 'EPIPE' | 'ECONNRESET', syscall: 'write' | 'read'): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  error.code = code;
  error.syscall = syscall;
  error.errno = code === 'EPIPE' ? -32 : -104;
  return error;
}

/**
 * Options of {@link MemorySocket.pair}.
 *
 * @example
 * ```ts
 * const [client, server] = MemorySocket.pair({ highWaterMark: 1024 });
 * ```
 */
export interface MemorySocketPairOptions {
  /** Bytes each end buffers before a write waits for the peer to read. Default: 16384, as a socket. */
  highWaterMark?: number;
}

/**
 * One end of an in-memory connection: a `Duplex` whose writes arrive at its peer, with the
 * behaviour of a TCP socket that tests rely on: backpressure (a write waits while the peer does
 * not read), half-close (`end()` is the peer's end of input), `destroy()` as a close (the peer
 * reads to its end; its later writes fail with `EPIPE`), `resetAndDestroy()` as a reset (the
 * peer fails with `ECONNRESET`), `setTimeout()` with `'timeout'` after inactivity, and no-op
 * `setNoDelay()`, `setKeepAlive()`, `ref()` and `unref()`. `MemoryServer` hands the server end to
 * handlers as their `request`.
 *
 * @example
 * ```ts
 * const [client, server] = MemorySocket.pair();
 * server.on('data', (chunk) => server.write(chunk));
 * client.end('ping');
 * ```
 */
export class MemorySocket extends Duplex {
  /** The other end. */
  #peer: MemorySocket | undefined;
  /** Our write that waits until the peer reads (its buffer was full). */
  #blocked: ((error?: Error | null) => void) | undefined;
  /** The peer has closed: writes fail. */
  #peerGone = false;
  /** We pushed the end of input to the peer. */
  #ended = false;
  /** Destroyed by resetAndDestroy(). */
  #reset = false;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;

  /** The peer's address, as a socket reports it (set by the server for its end). */
  remoteAddress: string | undefined = undefined;
  remotePort: number | undefined = undefined;
  remoteFamily: string | undefined = undefined;

  /**
   * A connected pair: `[client, server]`. The client end half-closes by itself when the server
   * ends (as `net.connect()` sockets do); the server end stays half-open (as a server's do).
   *
   * @example
   * ```ts
   * const [client, server] = MemorySocket.pair();
   * ```
   */
  static pair(options: MemorySocketPairOptions = {}): [client: MemorySocket, server: MemorySocket] {
    const highWaterMark = options.highWaterMark ?? 16_384;
    const client = new MemorySocket({ allowHalfOpen: false, highWaterMark });
    const server = new MemorySocket({ allowHalfOpen: true, highWaterMark });
    client.#peer = server;
    server.#peer = client;
    return [client, server];
  }

  private constructor(options: { allowHalfOpen: boolean; highWaterMark: number }) {
    super({ ...options, decodeStrings: true });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    if (peer === undefined || this.#peerGone) {
      callback(socketError('EPIPE', 'write'));
      return;
    }
    this.#touch();
    peer.#touch();
    if (peer.push(chunk)) callback();
    else this.#blocked = callback;
  }

  override _read(): void {
    // We read: the peer's waiting write may go on.
    const peer = this.#peer;
    if (peer === undefined) return;
    const blocked = peer.#blocked;
    if (blocked !== undefined) {
      peer.#blocked = undefined;
      blocked();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#endPeer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    const peer = this.#peer;
    const blocked = this.#blocked;
    this.#blocked = undefined;
    if (peer !== undefined && !peer.destroyed) {
      peer.#peerGone = true;
      // The peer's write that waited for us to read will never complete.
      const waiting = peer.#blocked;
      peer.#blocked = undefined;
      if (this.#reset) {
        waiting?.(socketError('ECONNRESET', 'write'));
        peer.destroy(socketError('ECONNRESET', 'read'));
      } else {
        waiting?.(socketError('EPIPE', 'write'));
        this.#endPeer();
      }
    }
    this.#peer = undefined;
    blocked?.(error ?? socketError('EPIPE', 'write'));
    callback(error);
  }

  /** Closes with a reset: the peer's reads and writes fail with `ECONNRESET`. */
  resetAndDestroy(): this {
    this.#reset = true;
    return this.destroy();
  }

  /**
   * Emits `'timeout'` after `ms` without data in either direction (0 turns it off), as
   * `net.Socket.setTimeout()` does; the socket stays open.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback !== undefined) this.once('timeout', callback);
    this.#touch();
    return this;
  }

  /** Nothing to do in memory. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Nothing to do in memory. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** Nothing to do in memory. */
  ref(): this {
    return this;
  }

  /** Nothing to do in memory. */
  unref(): this {
    return this;
  }

  /** Sends the end of input to the peer, once. */
  #endPeer(): void {
    const peer = this.#peer;
    if (this.#ended || peer === undefined || peer.destroyed) return;
    this.#ended = true;
    peer.push(null);
  }

  /** Restarts the inactivity timer. */
  #touch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
    }
  }
}
