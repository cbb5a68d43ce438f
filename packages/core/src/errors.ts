/**
 * Errors raised by sockserve. Every error is a {@link SockserveError} with a stable `code`
 * that is safe to branch on; messages may be reworded between releases, codes may not.
 * Every code has a row in `docs/errors.md`.
 *
 * @module
 */

import { describeAddress } from './address.js';

const kBrand = Symbol.for('sockserve.error');

/**
 * Base class of every error sockserve raises.
 *
 * `instanceof` works across duplicate installs of the package (the class is branded with a
 * `Symbol.for` key rather than compared by identity).
 *
 * @example
 * ```ts
 * import { SockserveError } from '@sockserve/core';
 *
 * try {
 *   await server.listen();
 * } catch (error) {
 *   if (error instanceof SockserveError) console.error(error.code, error.message);
 * }
 * ```
 */
export class SockserveError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: string;

  constructor(message: string, code = 'ERR_SOCKSERVE', options?: ErrorOptions) {
    super(message, options);
    this.name = 'SockserveError';
    this.code = code;
  }

  /** @internal */
  get [kBrand](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === SockserveError) {
      return typeof value === 'object' && value !== null && kBrand in value;
    }
    return Function.prototype[Symbol.hasInstance].call(this, value) || brandedAs(this, value);
  }
}

/** Matches instances of the same-named error class from another copy of this module. */
function brandedAs(cls: { name: string }, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || !(kBrand in value)) return false;
  let proto: unknown = Object.getPrototypeOf(value);
  while (proto !== null && typeof proto === 'object') {
    const ctor = (proto as { constructor?: { name?: string } }).constructor;
    if (ctor?.name === cls.name) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/**
 * An argument or option has a value sockserve cannot use. The message quotes the value received.
 *
 * @example
 * ```ts
 * new EventLoopStrategy({ maxConcurrency: 0 });
 * // InvalidArgumentError: Expected `maxConcurrency` to be an integer from 1 and up, got `0`
 * ```
 */
export class InvalidArgumentError extends SockserveError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SOCKSERVE_INVALID_ARGUMENT', options);
    this.name = 'InvalidArgumentError';
  }
}

/**
 * `listen()` could not bind or listen. `code` is the operating system's error code
 * (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, `ENOENT`, ...), and `address` says what was asked for.
 *
 * @example
 * ```ts
 * try {
 *   await server.listen();
 * } catch (error) {
 *   if (error instanceof ListenError && error.code === 'EADDRINUSE') console.error('port taken');
 * }
 * ```
 */
export class ListenError extends SockserveError {
  /** The address that could not be bound, as given to the server. */
  readonly address: string;
  /** The failing system call, when known (`bind`, `listen`). */
  readonly syscall: string | undefined;

  constructor(message: string, code: string, address: string, options?: ErrorOptions & { syscall?: string }) {
    super(message, code, options);
    this.name = 'ListenError';
    this.address = address;
    this.syscall = options?.syscall;
  }
}

/**
 * A framing read (`readline`, `readUntil`, `lines`) did not find its separator within its limit.
 * Nothing buffered was consumed: the data can still be read with `read()` or `readExactly()`.
 *
 * @example
 * ```ts
 * try {
 *   await this.rfile.readline({ limit: 1024 });
 * } catch (error) {
 *   if (error instanceof LimitExceededError) await this.wfile.write('line too long\n');
 * }
 * ```
 */
export class LimitExceededError extends SockserveError {
  /** The limit in bytes that was exceeded. */
  readonly limit: number;

  constructor(limit: number, what = 'line') {
    super(
      `The ${what} is longer than the limit of ${limit} bytes; raise \`limit\` (or the handler's \`maxLineLength\`) if such input is legitimate`,
      'ERR_SOCKSERVE_LIMIT_EXCEEDED',
    );
    this.name = 'LimitExceededError';
    this.limit = limit;
  }
}

/**
 * The stream ended before `readExactly(n)` or `readUntil(separator)` could complete.
 * `partial` holds the bytes that did arrive.
 *
 * @example
 * ```ts
 * try {
 *   const header = await this.rfile.readExactly(8);
 * } catch (error) {
 *   if (error instanceof IncompleteReadError) console.log(`got ${error.partial.length} of ${error.expected}`);
 * }
 * ```
 */
export class IncompleteReadError extends SockserveError {
  /** The bytes read before the end of the stream. */
  readonly partial: Buffer;
  /** The number of bytes wanted, or `null` when reading up to a separator. */
  readonly expected: number | null;

  constructor(partial: Buffer, expected: number | null) {
    super(
      expected === null
        ? `The stream ended after ${partial.length} bytes, before the separator was found`
        : `The stream ended after ${partial.length} of ${expected} expected bytes`,
      'ERR_SOCKSERVE_INCOMPLETE_READ',
    );
    this.name = 'IncompleteReadError';
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A read waited longer than the handler's `timeout` without receiving data.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   static override timeout = 30_000; // reads reject with TimeoutError after 30 s of silence
 * }
 * ```
 */
export class TimeoutError extends SockserveError {
  /** The timeout in milliseconds that elapsed. */
  readonly timeout: number;

  constructor(timeout: number) {
    super(`No data was received for ${timeout} ms; the peer may be gone or idle`, 'ERR_SOCKSERVE_TIMEOUT');
    this.name = 'TimeoutError';
    this.timeout = timeout;
  }
}

/**
 * A write waited longer than the handler's `writeTimeout` for the peer to take data: the peer
 * stopped reading (or its network stalled) while the socket's buffer was full. The connection is
 * closed when this is raised; what was not sent is lost.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   static override writeTimeout = 30_000;
 *
 *   override async handle() {
 *     await this.wfile.pipeFrom(fs.createReadStream('big.iso')); // WriteTimeoutError if the peer stops reading
 *   }
 * }
 * ```
 */
export class WriteTimeoutError extends SockserveError {
  /** The timeout in milliseconds that elapsed. */
  readonly timeout: number;

  constructor(timeout: number) {
    super(`The peer took no data for ${timeout} ms while a write waited; it may have stopped reading. The connection is closed`, 'ERR_SOCKSERVE_WRITE_TIMEOUT');
    this.name = 'WriteTimeoutError';
    this.timeout = timeout;
  }
}

/**
 * The request was ended by the server before it finished: `serverClose({ timeout })` ran out of
 * time. This is the `reason` of the handler's `signal`.
 *
 * @example
 * ```ts
 * class Handler extends StreamRequestHandler {
 *   async handle() {
 *     await longComputation({ signal: this.signal }); // rejects with RequestAbortedError
 *   }
 * }
 * ```
 */
export class RequestAbortedError extends SockserveError {
  constructor(message = 'The request was aborted because the server is closing') {
    super(message, 'ERR_SOCKSERVE_REQUEST_ABORTED');
    this.name = 'RequestAbortedError';
  }
}

/**
 * A read or write on a connection that is already closed: the peer reset it, or it was destroyed.
 * `cause` holds the underlying socket error, when there was one.
 *
 * @example
 * ```ts
 * try {
 *   await this.wfile.write('late reply\n');
 * } catch (error) {
 *   if (error instanceof ConnectionClosedError) return; // the peer went away
 * }
 * ```
 */
export class ConnectionClosedError extends SockserveError {
  constructor(message = 'The connection is closed; nothing more can be written to it', options?: ErrorOptions) {
    super(message, 'ERR_SOCKSERVE_CONNECTION_CLOSED', options);
    this.name = 'ConnectionClosedError';
  }
}

/**
 * An operation is not valid in the object's current state, such as two reads at once on the
 * same `rfile`, or `listen()` after `serverClose()`.
 *
 * @example
 * ```ts
 * await server.serverClose();
 * await server.listen(); // rejects: InvalidStateError (ERR_SOCKSERVE_INVALID_STATE)
 * ```
 */
export class InvalidStateError extends SockserveError {
  constructor(message: string) {
    super(message, 'ERR_SOCKSERVE_INVALID_STATE');
    this.name = 'InvalidStateError';
  }
}

/**
 * The server is closed: `listen()`, `serveForever()` or `handleRequest()` were called after
 * `serverClose()`. Create a new server instead.
 *
 * @example
 * ```ts
 * await server.serverClose();
 * await server.serveForever(); // rejects: ServerClosedError
 * ```
 */
export class ServerClosedError extends SockserveError {
  constructor() {
    super('The server is closed; create a new server to listen again', 'ERR_SOCKSERVE_SERVER_CLOSED');
    this.name = 'ServerClosedError';
  }
}

/**
 * A native part of sockserve (the Unix datagram addon, `@sockserve/unix-dgram`) cannot be loaded.
 * The message names the cause and its fix: the optional package is not installed; no binary
 * matches the platform and none was built at install (build scripts blocked, as pnpm 10 does by
 * default, or no compiler); or the binary does not load. `cause` is the original error. The rest
 * of sockserve works without it.
 *
 * @example
 * ```ts
 * try {
 *   await new UnixDatagramServer('/tmp/log.sock', Handler).listen();
 * } catch (error) {
 *   if (error instanceof AddonUnavailableError) console.error(error.message);
 * }
 * ```
 */
export class AddonUnavailableError extends SockserveError {
  constructor(what: string, options?: ErrorOptions) {
    const cause = options?.cause;
    const reason = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : String(cause ?? 'not installed');
    super(
      `${what} needs sockserve's native addon (@sockserve/unix-dgram), which is unavailable on ${process.platform}-${process.arch} (Node ${process.versions.node}): ${addonFix(cause, reason)}`,
      'ERR_SOCKSERVE_ADDON_UNAVAILABLE',
      options,
    );
    this.name = 'AddonUnavailableError';
  }
}

/** What went wrong loading the addon, and what to do about it. */
function addonFix(cause: unknown, reason: string): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && reason.includes('@sockserve/unix-dgram')) {
    return 'the optional package @sockserve/unix-dgram is not installed (optional dependencies were left out, for example with --omit=optional, or its install failed); install it with `npm install @sockserve/unix-dgram`';
  }
  if (process.platform === 'win32') return 'Windows has no Unix datagram sockets; use UDP or a Unix stream server';
  if (reason.startsWith('No native build was found')) {
    return (
      `${reason}. No prebuilt binary matches this platform, and none was built when the package was installed. ` +
      'If build scripts were blocked (pnpm 10 blocks them by default; so does npm with --ignore-scripts), allow them with `pnpm approve-builds` and reinstall, or run `npm rebuild @sockserve/unix-dgram`; ' +
      'building from source needs a C compiler and Python (node-gyp)'
    );
  }
  return `the binary did not load (${reason}); build it again from source with \`npm rebuild @sockserve/unix-dgram\` (needs a C compiler and Python)`;
}

/**
 * A socket operation failed with an operating-system error. `code` is the system's (`ENOENT`,
 * `ECONNREFUSED`, `EAGAIN`, `EMSGSIZE`, ...), `syscall` the call that failed, and `address` the
 * peer or path involved.
 *
 * @example
 * ```ts
 * await client.sendTo(data, '/run/gone.sock').catch((error: SocketError) => {
 *   if (error.code === 'ENOENT') console.log('nobody is listening there');
 * });
 * ```
 */
export class SocketError extends SockserveError {
  /** The failing system call. */
  readonly syscall: string;
  /** The peer or path involved, when there is one. */
  readonly address: string | undefined;

  constructor(code: string, syscall: string, address?: string, options?: ErrorOptions) {
    super(`${syscall}${address === undefined ? '' : ` ${describeAddress(address)}`} failed: ${code}${SOCKET_HINTS[code] ? `; ${SOCKET_HINTS[code]}` : ''}`, code, options);
    this.name = 'SocketError';
    this.syscall = syscall;
    this.address = address;
  }
}


const SOCKET_HINTS: Record<string, string> = {
  ENOENT: 'no socket exists at that path (the peer is gone or never bound)',
  ECONNREFUSED: 'no socket is bound there any more (the peer closed)',
  EAGAIN: "the receiver's queue stayed full: it is not reading fast enough",
  EMSGSIZE: 'the datagram is larger than the socket buffers allow',
  ENAMETOOLONG: 'socket paths are limited to 107 bytes',
  EADDRINUSE: 'another socket is bound to that address',
  EBADF: 'the socket is closed',
  EDESTADDRREQ: 'the sender is unbound, so there is no address to reply to; clients that expect replies must bind',
};

/**
 * A worker of a worker pool could not start: its handler module failed to load, did not export
 * the handler class, or the worker did not report ready in time. `listen()` rejects with it.
 *
 * @example
 * ```ts
 * await server.listen().catch((error) => {
 *   if (error instanceof WorkerStartError) console.error(error.message); // names the module and export
 * });
 * ```
 */
export class WorkerStartError extends SockserveError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SOCKSERVE_WORKER_START', options);
    this.name = 'WorkerStartError';
  }
}

/**
 * The worker handling a request exited before the request finished (it crashed, ran out of
 * memory, or was killed). The request is reported to `handleError()` with this error; the worker
 * is replaced and serving goes on.
 *
 * @example
 * ```ts
 * override handleError(_request: unknown, client: InetAddress, error: unknown) {
 *   if (error instanceof WorkerCrashedError) metrics.increment('worker.crash');
 * }
 * ```
 */
export class WorkerCrashedError extends SockserveError {
  constructor(message: string) {
    super(message, 'ERR_SOCKSERVE_WORKER_CRASHED');
    this.name = 'WorkerCrashedError';
  }
}

/**
 * A server or a worker pool was created where it must not be: while a pool worker was loading the
 * handler module (the module's top-level code starts a server, so every worker would start its
 * own, and its own pool), or a `WorkerPoolStrategy` inside a pool worker (pools do not nest).
 * The message names the module and the fix: move the handler class into a module of its own, or
 * wrap the code that starts the server in `if (!isWorker) { ... }`.
 *
 * @example
 * ```ts
 * import { isWorker } from 'sockserve';
 *
 * export class HashHandler extends StreamRequestHandler { ... }
 *
 * if (!isWorker) {
 *   const server = new TCPServer(address, HashHandler, { concurrency: new WorkerPoolStrategy({ module: import.meta.url }) });
 *   await server.serveUntilSignal();
 * }
 * ```
 */
export class ServerInWorkerError extends SockserveError {
  constructor(message: string) {
    super(message, 'ERR_SOCKSERVE_SERVER_IN_WORKER');
    this.name = 'ServerInWorkerError';
  }
}

/**
 * A TLS handshake failed or did not finish in time: the peer spoke plaintext to a TLS port, offered
 * no protocol or cipher in common, sent no certificate (or one that does not verify) where one was
 * required, or stayed silent. `cause` holds OpenSSL's error, whose own `code` (such as
 * `ERR_SSL_WRONG_VERSION_NUMBER`) says which; `reason` tells a failure from a timeout. A
 * handshake is not a request: the server reports it through its `'tlsClientError'` event and a
 * warning, never through `handleError()`.
 *
 * @example
 * ```ts
 * server.on('tlsClientError', (error, client) => {
 *   metrics.increment(`tls.${error.reason}`, { code: (error.cause as { code?: string })?.code });
 * });
 * ```
 */
export class TLSHandshakeError extends SockserveError {
  /** `'failed'` (the handshake failed) or `'timeout'` (it did not finish in time). */
  readonly reason: 'failed' | 'timeout';

  constructor(message: string, reason: 'failed' | 'timeout', options?: ErrorOptions) {
    super(message, 'ERR_SOCKSERVE_TLS_HANDSHAKE', options);
    this.name = 'TLSHandshakeError';
    this.reason = reason;
  }
}

/**
 * Every sockserve-defined error code, for documentation and exhaustive handling. `ListenError`
 * uses the operating system's codes in addition to these.
 *
 * @example
 * ```ts
 * if (error.code === ErrorCodes.LIMIT_EXCEEDED) { ... }
 * ```
 */
export const ErrorCodes = Object.freeze({
  GENERIC: 'ERR_SOCKSERVE',
  INVALID_ARGUMENT: 'ERR_SOCKSERVE_INVALID_ARGUMENT',
  LIMIT_EXCEEDED: 'ERR_SOCKSERVE_LIMIT_EXCEEDED',
  INCOMPLETE_READ: 'ERR_SOCKSERVE_INCOMPLETE_READ',
  TIMEOUT: 'ERR_SOCKSERVE_TIMEOUT',
  WRITE_TIMEOUT: 'ERR_SOCKSERVE_WRITE_TIMEOUT',
  REQUEST_ABORTED: 'ERR_SOCKSERVE_REQUEST_ABORTED',
  CONNECTION_CLOSED: 'ERR_SOCKSERVE_CONNECTION_CLOSED',
  INVALID_STATE: 'ERR_SOCKSERVE_INVALID_STATE',
  SERVER_CLOSED: 'ERR_SOCKSERVE_SERVER_CLOSED',
  ADDON_UNAVAILABLE: 'ERR_SOCKSERVE_ADDON_UNAVAILABLE',
  WORKER_START: 'ERR_SOCKSERVE_WORKER_START',
  WORKER_CRASHED: 'ERR_SOCKSERVE_WORKER_CRASHED',
  SERVER_IN_WORKER: 'ERR_SOCKSERVE_SERVER_IN_WORKER',
  TLS_HANDSHAKE: 'ERR_SOCKSERVE_TLS_HANDSHAKE',
  PROXY_PROTOCOL: 'ERR_SOCKSERVE_PROXY_PROTOCOL',
} as const);

/**
 * Wraps an operating-system error from `bind`/`listen` in a {@link ListenError} whose message
 * says what to do. Transports use it; sockserve errors pass through unchanged.
 *
 * @example
 * ```ts
 * server.listen(options).once('error', (error) => reject(toListenError(error, '127.0.0.1:80')));
 * ```
 */
export function toListenError(error: unknown, address: string): SockserveError {
  if (error instanceof SockserveError) return error;
  const sys = error as NodeJS.ErrnoException;
  const code = typeof sys?.code === 'string' ? sys.code : 'ERR_SOCKSERVE';
  const hint = LISTEN_HINTS[code] ?? 'check the address and the process permissions';
  return new ListenError(`Cannot listen on ${address}: ${code}; ${hint}`, code, address, {
    cause: error,
    ...(sys?.syscall === undefined ? {} : { syscall: sys.syscall }),
  });
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'another socket is bound there; stop it or pick another address (port 0 picks a free port)',
  EACCES: 'the process lacks permission (ports below 1024 need privileges; check directory permissions for Unix paths)',
  EADDRNOTAVAIL: 'the host address is not assigned to this machine',
  ENOENT: 'the directory for the Unix socket path does not exist',
  ENOTFOUND: 'the host name does not resolve',
  ERR_SOCKET_BAD_PORT: 'ports are integers from 0 to 65535',
  EINVAL: 'the address is not valid for this socket type',
};
