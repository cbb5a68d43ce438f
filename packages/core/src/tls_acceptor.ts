/**
 * `TlsAcceptor`: server-side TLS handshakes on connections accepted elsewhere. TLS servers use it
 * on the connections they accept, pool workers on the connections handed to them, and
 * `startTls()` on a connection that upgrades in place.
 *
 * @module
 */
import type net from 'node:net';
import tls from 'node:tls';
import { kProxy } from './_upgrade.js';
import { TLSHandshakeError } from './errors.js';

/**
 * What a TLS server needs to run handshakes: `node:tls` server options, certificates per server
 * name, and the handshake deadline. Everything but `SNICallback` can be sent to another process.
 *
 * @example
 * ```ts
 * const setup: TlsSetup = { tls: { key, cert }, sni: { 'b.example': { key: keyB, cert: certB } }, handshakeTimeout: 10_000 };
 * ```
 */
export interface TlsSetup {
  /** `node:tls` server options (`key`, `cert`, `ca`, `requestCert`, `ALPNProtocols`, `SNICallback`, ...). */
  readonly tls: tls.TlsOptions;
  /** Secure context options per server name (`'*.example.com'` matches one label). */
  readonly sni?: Readonly<Record<string, tls.SecureContextOptions>>;
  /** ms a handshake may take before the connection is closed. */
  readonly handshakeTimeout: number;
}

/**
 * What became of one connection's handshake.
 *
 * @example
 * ```ts
 * const callbacks: TlsHandshakeCallbacks = { secure: (socket) => serve(socket), failed: (error) => log.warn(error.message) };
 * ```
 */
export interface TlsHandshakeCallbacks {
  /** The handshake completed: `socket` is the connection, decrypted. */
  secure(socket: tls.TLSSocket): void;
  /** The handshake failed or timed out; the connection is closed. */
  failed(error: TLSHandshakeError): void;
}

/** A TLS socket Node's tls.Server made around a connection it was given (`_parent`). */
type Wrapper = tls.TLSSocket & { _parent?: net.Socket | null };

/**
 * Runs server-side TLS handshakes on connections it is given, with everything `node:tls` servers
 * do (SNI contexts, ALPN, client certificates verified and refused, handshake timeouts, session
 * tickets), without listening itself: a `tls.Server` that never listens is fed the connections.
 *
 * @example
 * ```ts
 * const acceptor = new TlsAcceptor({ tls: { key, cert }, handshakeTimeout: 10_000 });
 * acceptor.accept(socket, { secure: (tlsSocket) => serve(tlsSocket), failed: (error) => log.warn(error) });
 * ```
 */
export class TlsAcceptor {
  readonly #server: tls.Server;
  /** The server's own options, which SNI contexts inherit (the `ca` that verifies clients, ciphers, ...). */
  #base: tls.SecureContextOptions;
  /** The callbacks of each connection whose handshake is in progress, by connection. */
  readonly #pending = new Map<net.Socket, TlsHandshakeCallbacks>();

  constructor(setup: TlsSetup) {
    this.#server = tls.createServer({ ...setup.tls, handshakeTimeout: setup.handshakeTimeout });
    this.#base = setup.tls;
    for (const [name, context] of Object.entries(setup.sni ?? {})) this.addContext(name, context);
    this.#server.on('secureConnection', (socket: Wrapper) => {
      const callbacks = this.#settle(socket);
      // What a load balancer said of the connection (PROXY protocol) goes with it.
      const proxy = (socket._parent as (net.Socket & { [kProxy]?: unknown }) | null | undefined)?.[kProxy];
      if (proxy !== undefined) (socket as tls.TLSSocket & { [kProxy]?: unknown })[kProxy] = proxy;
      callbacks?.secure(socket);
    });
    // Node reports here a failed handshake, one that timed out, and a connection that closed
    // before its handshake completed.
    this.#server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: Wrapper) => {
      const callbacks = this.#settle(socket);
      socket.destroy();
      // A client certificate refused by rejectUnauthorized: Node closes the connection without an
      // error of its own (a reset is all it reports), and says why in authorizationError.
      const refused = (socket as { authorizationError?: unknown }).authorizationError;
      if (typeof refused === 'string' || refused instanceof Error) {
        const code = refused instanceof Error ? ((refused as NodeJS.ErrnoException).code ?? refused.message) : refused;
        error = Object.assign(new Error(`The client's certificate was refused: ${code}`), { code });
      }
      const timeout = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
      callbacks?.failed(
        new TLSHandshakeError(
          timeout
            ? `The TLS handshake did not finish within ${setup.handshakeTimeout} ms; the connection was closed`
            : `The TLS handshake failed (${error.code ?? error.message}); the connection was closed`,
          timeout ? 'timeout' : 'failed',
          { cause: error },
        ),
      );
    });
  }

  /** Handshakes in progress. */
  get handshaking(): number {
    return this.#pending.size;
  }

  /**
   * Starts the handshake on `socket` (a connected `net.Socket`, paused or not); `callbacks` hear
   * how it ends, once. A peer that closes during the handshake counts as a failed handshake.
   */
  accept(socket: net.Socket, callbacks: TlsHandshakeCallbacks): void {
    this.#pending.set(socket, callbacks);
    // tls.Server wraps the connection in a TLSSocket (which keeps it as `_parent`) and runs the
    // handshake with everything it does for its own connections.
    this.#server.emit('connection', socket);
  }

  /** New handshakes use these options; connections already made keep theirs. */
  setSecureContext(options: tls.SecureContextOptions): void {
    this.#server.setSecureContext(options);
    this.#base = { ...this.#base, ...options };
  }

  /**
   * Sets a context for a server name (SNI); new handshakes use it. It inherits the server's other
   * secure context options (`ca`, `ciphers`, ...) and replaces what it gives (`key`, `cert`, ...).
   */
  addContext(hostname: string, context: tls.SecureContextOptions): void {
    this.#server.addContext(hostname, { ...this.#base, ...context });
  }

  /** The callbacks of a handshake that just ended (once). */
  #settle(socket: Wrapper): TlsHandshakeCallbacks | undefined {
    const raw = socket._parent ?? undefined;
    const callbacks = raw === undefined ? undefined : this.#pending.get(raw);
    if (callbacks !== undefined) this.#pending.delete(raw!);
    return callbacks;
  }
}
