/**
 * `TLSServer`: a stream server on TCP with TLS.
 *
 * @module
 */
import type net from 'node:net';
import type tls from 'node:tls';
import {
  InvalidArgumentError,
  TlsAcceptor,
  type InetAddress,
  type RequestHandlerClass,
  type TlsSetup,
  type TlsSetupSource,
} from '@sockserve/core';
import { TCPServer, type TCPAddress, type TCPServerOptions } from './tcp.js';

/**
 * Options of {@link TLSServer}.
 *
 * @example
 * ```ts
 * const options: TLSServerOptions = {
 *   tls: { key, cert, ALPNProtocols: ['myproto/1'] },
 *   sni: { 'b.example': { key: keyB, cert: certB } },
 *   handshakeTimeout: 10_000,
 * };
 * ```
 */
export interface TLSServerOptions extends TCPServerOptions {
  /**
   * `node:tls` server options: `key` and `cert` (or `pfx`, or an `SNICallback`), and any of `ca`,
   * `requestCert` and `rejectUnauthorized` (mutual TLS), `ALPNProtocols`, `minVersion`,
   * `ciphers`, `ticketKeys`, ...
   */
  tls: tls.TlsOptions;
  /**
   * Certificates per server name (SNI): a client asking for that name gets that context; others
   * get the one in `tls`. `'*.example.com'` matches one label.
   */
  sni?: Record<string, tls.SecureContextOptions>;
  /** ms a handshake may take; past it the connection is closed. Default: 10000. */
  handshakeTimeout?: number;
  /**
   * Handshakes that may be in progress at once (they are not requests, so `maxConcurrency` does
   * not count them); a connection that arrives past it is closed at once and reported as
   * `'dropped'` (reason `'handshakes'`). Default: 1024.
   */
  maxHandshakes?: number;
}

/**
 * A TLS server: TCP, with a TLS handshake on each connection before it becomes a request.
 * `request` is the `tls.TLSSocket`; in a `StreamRequestHandler`, `this.tls` tells the protocol,
 * cipher, ALPN protocol, server name and the client's certificate.
 *
 * Handshakes run concurrently and never hold up accepting; one that fails or times out is not a
 * request: it fires `'tlsClientError'` (error, clientAddress), is logged as a warning, and never
 * reaches `handleError()`. `verifyRequest()` runs after the handshake, so it can look at the
 * client's certificate. Under `WorkerPoolStrategy`, handshakes run in the workers.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { StreamRequestHandler, TLSServer } from 'sockserve';
 *
 * class Hello extends StreamRequestHandler {
 *   override async handle() {
 *     await this.wfile.write(`hello over ${this.tls?.protocol}\n`);
 *   }
 * }
 *
 * await using server = new TLSServer({ host: '::', port: 8443 }, Hello, {
 *   tls: { key: readFileSync('key.pem'), cert: readFileSync('cert.pem') },
 * });
 * await server.serveUntilSignal();
 * ```
 */
export class TLSServer extends TCPServer {
  /** ms a handshake may take. */
  readonly handshakeTimeout: number;
  /** Handshakes that may be in progress at once. */
  readonly maxHandshakes: number;
  #setup: TlsSetup;
  readonly #acceptor: TlsAcceptor;
  /** Connections whose handshake is in progress (closed when the server stops accepting). */
  readonly #handshaking = new Set<net.Socket>();
  readonly #watchers: Array<(setup: TlsSetup) => void> = [];

  constructor(address: TCPAddress, RequestHandlerClass: RequestHandlerClass<net.Socket, InetAddress>, options: TLSServerOptions) {
    super(address, RequestHandlerClass, options);
    if (typeof options?.tls !== 'object' || options.tls === null) {
      throw new InvalidArgumentError('Expected a `tls` option with the server\'s `key` and `cert` (node:tls server options), got none');
    }
    const { handshakeTimeout = 10_000, maxHandshakes = 1024 } = options;
    if (!(Number.isInteger(handshakeTimeout) && handshakeTimeout > 0)) {
      throw new InvalidArgumentError(`Expected \`handshakeTimeout\` to be an integer number of ms above 0, got \`${String(handshakeTimeout)}\``);
    }
    if (!(Number.isInteger(maxHandshakes) && maxHandshakes >= 1)) {
      throw new InvalidArgumentError(`Expected \`maxHandshakes\` to be an integer from 1 and up, got \`${String(maxHandshakes)}\``);
    }
    this.handshakeTimeout = handshakeTimeout;
    this.maxHandshakes = maxHandshakes;
    this.#setup = { tls: { ...options.tls }, ...(options.sni === undefined ? {} : { sni: { ...options.sni } }), handshakeTimeout };
    try {
      this.#acceptor = new TlsAcceptor(this.#setup);
    } catch (error) {
      throw new InvalidArgumentError(`The \`tls\` options are not usable: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Handshakes in progress. */
  get handshaking(): number {
    return this.#handshaking.size;
  }

  /**
   * Replaces the certificate (and any other secure context option) for new handshakes;
   * connections already made keep theirs. This is how to rotate certificates without a restart.
   *
   * @example
   * ```ts
   * process.on('SIGHUP', () => server.setSecureContext({ key: readFileSync('key.pem'), cert: readFileSync('cert.pem') }));
   * ```
   */
  setSecureContext(options: tls.SecureContextOptions): void {
    this.#acceptor.setSecureContext(options);
    this.#setup = { ...this.#setup, tls: { ...this.#setup.tls, ...options } };
    for (const watch of this.#watchers) watch(this.#setup);
  }

  /**
   * Sets (or replaces) the certificate for one server name (SNI), for new handshakes.
   *
   * @example
   * ```ts
   * server.addContext('c.example', { key: keyC, cert: certC });
   * ```
   */
  addContext(hostname: string, context: tls.SecureContextOptions): void {
    this.#acceptor.addContext(hostname, context);
    this.#setup = { ...this.#setup, sni: { ...this.#setup.sni, [hostname]: context } };
    for (const watch of this.#watchers) watch(this.#setup);
  }

  protected override _tlsSetup(): TlsSetupSource {
    return {
      current: () => this.#setup,
      maxHandshakes: this.maxHandshakes,
      watch: (callback) => void this.#watchers.push(callback),
    };
  }

  protected override _connection(socket: net.Socket, clientAddress: InetAddress): void {
    // A worker pool hands the connection over as accepted: the handshake runs in the worker.
    if (this.concurrency.separateProcesses === true) {
      super._connection(socket, clientAddress);
      return;
    }
    if (this.#handshaking.size >= this.maxHandshakes) {
      socket.destroy();
      this._dropped(
        { reason: 'handshakes', clientAddress, size: 0 },
        `Closed a connection: ${this.maxHandshakes} TLS handshakes are in progress (maxHandshakes)`,
      );
      return;
    }
    this.#handshaking.add(socket);
    // Errors of the raw connection during the handshake are the handshake's.
    socket.on('error', noop);
    this.#acceptor.accept(socket, {
      secure: (secure) => {
        this.#handshaking.delete(socket);
        socket.off('error', noop);
        if (this._closing) {
          secure.destroy();
          return;
        }
        super._connection(secure, clientAddress);
      },
      failed: (error) => {
        this.#handshaking.delete(socket);
        // Handshakes cut short by the server's close are not the client's failures.
        if (!this._closing) this._tlsClientError(error, clientAddress);
      },
    });
  }

  protected override get _idleConnections(): number {
    return super._idleConnections + this.#handshaking.size;
  }

  protected override _stopAccepting(): void {
    super._stopAccepting();
    // Handshakes in progress are not requests: they end with the listener.
    for (const socket of this.#handshaking) socket.destroy();
  }
}

function noop(): void {}
