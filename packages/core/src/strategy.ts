/**
 * The interface every concurrency strategy implements.
 *
 * @module
 */
import type { TLSHandshakeError } from './errors.js';
import type { TlsSetup } from './tls_acceptor.js';
import type { Awaitable, CloseReport, DropInfo, HandlerServer, ServerCloseOptions } from './types.js';

/**
 * One request handed to a strategy. The server builds it; the strategy decides where and when it
 * runs.
 *
 * @example
 * ```ts
 * class InlineStrategy implements ConcurrencyStrategy {
 *   readonly name = 'inline';
 *   schedule(job: RequestJob) { return job.run(); }
 * }
 * ```
 */
export interface RequestJob<Request = unknown, Address = unknown> {
  /** The accepted request: a `net.Socket` for stream servers. */
  readonly request: Request;
  /** The peer's address. */
  readonly clientAddress: Address;
  /** Aborted when the server gives up on the request (`serverClose({ timeout })` ran out). */
  readonly signal: AbortSignal;
  /**
   * Handles the request in this process: `finishRequest()` (setup, handle, finish), then
   * `handleError()` on failure, then `shutdownRequest()`. Never rejects.
   */
  run(): Promise<void>;
  /**
   * Reports a failure that happened outside `run()` (in a worker, say) to the server's
   * `handleError()` and closes the request. Never rejects.
   */
  fail(error: unknown): Promise<void>;
}

/**
 * The hooks of a server that a strategy may need to know are overridden (a strategy that runs
 * requests in other processes cannot run some of them).
 *
 * @example
 * ```ts
 * if (host.overrides('verifyRequest')) throw new Error('cannot verify requests read elsewhere');
 * ```
 */
export type ServerHook = 'verifyRequest' | 'processRequest' | 'finishRequest' | 'handleError' | 'shutdownRequest' | 'closeRequest';

/**
 * What a strategy may see of, and do to, the server it serves: one object, handed to `open()`.
 *
 * @example
 * ```ts
 * open(host: StrategyHost) {
 *   host.log.debug({ handler: host.RequestHandlerClass.name, linger: host.lingerTimeout }, 'strategy ready');
 * }
 * ```
 */
export interface StrategyHost extends HandlerServer {
  /** The handler class the server was created with. */
  readonly RequestHandlerClass: abstract new (...args: never[]) => unknown;
  /** What the server's requests are: connections (`'stream'`), datagrams, or neither (`undefined`). */
  readonly requests: 'stream' | 'datagram' | undefined;
  /** Whether the server's class overrides `hook` (replaces `BaseServer`'s own). */
  overrides(hook: ServerHook): boolean;
  /** ms a stream connection may linger after its request (`lingerTimeout`); `undefined` for datagram servers. */
  readonly lingerTimeout: number | undefined;
  /**
   * Lends a datagram server's bound socket to a strategy that reads it in other processes;
   * `undefined` for stream servers. Call it after the server is bound (in `open()`).
   */
  shareSocket(): SharedDatagramSocket | undefined;
  /**
   * Lends a stream server's listening socket to a strategy whose workers accept connections
   * themselves; `undefined` for datagram servers. Call it after the server is bound (in `open()`).
   */
  shareListener(): SharedListener | undefined;
  /** Reports requests that other processes received, handled or dropped. */
  readonly remote: RemoteRequests;
  /**
   * A TLS server's handshake setup, for strategies whose workers run the handshakes (`undefined`
   * for other servers); `watch` hears of new certificates (`setSecureContext()`).
   */
  readonly tls: TlsSetupSource | undefined;
}

/**
 * Where a strategy gets a TLS server's handshake setup, now and as certificates change.
 *
 * @example
 * ```ts
 * host.tls?.watch((setup) => broadcast({ type: 'tls-setup', setup }));
 * ```
 */
export interface TlsSetupSource {
  /** The setup new handshakes use. */
  current(): TlsSetup;
  /** Handshakes that may be in progress at once (per process that runs them). */
  readonly maxHandshakes: number;
  /** Calls `callback` whenever the setup changes. */
  watch(callback: (setup: TlsSetup) => void): void;
}

/**
 * A datagram server's bound socket, lent to a strategy whose workers read it themselves
 * (`WorkerPoolStrategy` with `datagrams: 'shared'`). The server keeps owning the address: it
 * removes a Unix path on close; a UDP port is free once every process closed its copy.
 *
 * @example
 * ```ts
 * const share = host.shareSocket();
 * if (share?.kind === 'udp') child.send({ t: 'share' }, share.socket as dgram.Socket, () => void share.release());
 * ```
 */
export interface SharedDatagramSocket {
  /** `'udp'`: `socket` is the bound `dgram.Socket`; `'unix'`: `fd` is the bound descriptor. */
  readonly kind: 'udp' | 'unix';
  /** The server's socket object (a `dgram.Socket` for UDP). */
  readonly socket: unknown;
  /** The descriptor, for child processes to inherit (Unix only). */
  readonly fd: number | undefined;
  /** The largest datagram the server handles. */
  readonly maxDatagramSize: number;
  /** What a reader in another process needs to open the socket as the server would. */
  readonly options: Readonly<{ bufferSize?: number; sendTimeout?: number }>;
  /**
   * Stops this process reading. UDP closes this process's copy (the workers keep theirs);
   * Unix stops polling and keeps the descriptor open for workers started later.
   */
  release(): Promise<void>;
  /**
   * UDP: binds a new socket at the server's address with its options, for when no process
   * holds the socket any more (every worker died). Unix: rejects (the server keeps its copy).
   */
  rebind(): Promise<unknown>;
}

/**
 * A stream server's listening socket, lent to a strategy whose workers accept connections
 * themselves (`WorkerPoolStrategy` with `connections: 'shared'`). The server keeps owning the
 * address: it removes a Unix path on close; a TCP port is free once every process closed its copy.
 *
 * @example
 * ```ts
 * const share = host.shareListener();
 * if (share !== undefined) child.send({ t: 'share' }, share.listener as net.Server, () => void share.release());
 * ```
 */
export interface SharedListener {
  /** `'tcp'` or `'unix'` (a Unix stream socket). */
  readonly kind: 'tcp' | 'unix';
  /** The listening `net.Server`, to send to other processes as a handle. */
  readonly listener: unknown;
  /** How the server sets up each accepted connection, for the processes that accept. */
  readonly options: Readonly<{
    noDelay?: boolean;
    keepAlive?: boolean;
    keepAliveInitialDelay?: number;
    /** The server's `proxyProtocol`: the accepting processes read the headers. */
    proxyProtocol?: { trusted: string[]; timeout?: number };
  }>;
  /**
   * Stops this process accepting: closes this process's copy of the listener (the others keep
   * theirs). A Unix socket path stays in place until the server closes.
   */
  release(): Promise<void>;
  /**
   * Listens anew at the server's address, for when no process holds the listener any more (every
   * worker died): resolves with the new listener, lent the same way (this process does not accept
   * on it: hand it over, then `release()` it).
   */
  rebind(): Promise<SharedListener>;
}

/**
 * How a strategy reports requests that another process received, handled or dropped, so that the
 * server's events and `handleError()` still see them.
 *
 * @example
 * ```ts
 * host.remote.watchRequestListeners((wanted) => broadcast({ t: 'events', wanted }));
 * ```
 */
export interface RemoteRequests {
  /** Calls `callback` now and whenever `'request'` listeners come or go: report them only when wanted. */
  watchRequestListeners(callback: (wanted: boolean) => void): void;
  /** Fires `'request'` for each client address. */
  seen(clientAddresses: readonly unknown[]): void;
  /** Fires `'requestError'` and calls `handleError(request, clientAddress, error)`. Never rejects. */
  failed(request: unknown, clientAddress: unknown, error: unknown): Promise<void>;
  /** Logs the drop and fires `'dropped'`. */
  dropped(info: DropInfo<unknown>, message: string): void;
  /** Logs a failed TLS handshake and fires `'tlsClientError'`. */
  tlsClientError(error: TLSHandshakeError, clientAddress: unknown): void;
}

/**
 * Decides where and when requests run. The server calls `open()` once from `listen()`,
 * `schedule()` once per request, and `close()` from `serverClose()` after in-flight requests have
 * completed or been aborted. A strategy object belongs to one server.
 *
 * Contract for `schedule(job)`: resolve once the request is done (after `job.run()` or
 * `job.fail()` resolved), never reject, and when `job.signal` aborts before the job started,
 * resolve without starting it (the server closes the request itself).
 *
 * @example
 * ```ts
 * const server = new TCPServer(address, Handler, { concurrency: new SequentialStrategy() });
 * ```
 */
export interface ConcurrencyStrategy {
  /** A short name for logs, such as `'event-loop'`. */
  readonly name: string;
  /**
   * True when requests run in other processes, which get each connection as it was accepted:
   * transports then leave what belongs with the request (a TLS handshake) to those processes.
   */
  readonly separateProcesses?: boolean;
  /** Prepares the strategy (starts workers, say). Called once, from the first `listen()`. */
  open?(server: StrategyHost): Awaitable<void>;
  /** Runs one request; see the contract above. */
  schedule(job: RequestJob): Promise<void>;
  /**
   * Releases what `open()` acquired, within `options.timeout` ms when set. A strategy that ran
   * requests the server did not track itself returns their count, which the server adds to its
   * close report.
   */
  close?(options?: ServerCloseOptions): Awaitable<void | CloseReport>;
  /** The strategy's own counters, for `server.stats()` (a worker pool: workers, restarts, ...). */
  stats?(): Readonly<Record<string, number>>;
}
