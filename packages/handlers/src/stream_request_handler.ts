/**
 * `StreamRequestHandler`: a handler for TCP and Unix stream connections, with `rfile` and `wfile`.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { InvalidStateError, TlsAcceptor, type ClientAddress, type HandlerServer, type ProxyInfo, type TLSHandshakeError } from '@sockserve/core';
import { kProxy, kUpgraded } from '@sockserve/core/internal';
import { kContext, kDetach } from './_symbols.js';
import { BaseRequestHandler } from './base_request_handler.js';
import { StreamReader } from './stream_reader.js';
import { StreamWriter } from './stream_writer.js';

/**
 * What a TLS connection negotiated, as `this.tls` of a {@link StreamRequestHandler} shows it.
 *
 * @example
 * ```ts
 * const { protocol, alpnProtocol, servername, authorized, peerCertificate } = this.tls!;
 * ```
 */
export interface TLSInfo {
  /** `'TLSv1.3'`, `'TLSv1.2'`, ... */
  readonly protocol: string | null;
  /** The cipher suite: `{ name, standardName, version }`. */
  readonly cipher: tls.CipherNameAndProtocol;
  /** The protocol chosen by ALPN, or `null` when none was. */
  readonly alpnProtocol: string | null;
  /** The server name the client asked for (SNI), or `null`. */
  readonly servername: string | null;
  /** Whether the client's certificate was verified against the server's `ca` (mutual TLS). */
  readonly authorized: boolean;
  /** Why it was not (`'UNABLE_TO_VERIFY_LEAF_SIGNATURE'`, ...), or `null`. */
  readonly authorizationError: string | null;
  /** The client's certificate, or `null` when it sent none. */
  readonly peerCertificate: tls.PeerCertificate | null;
}

/**
 * Options of {@link StreamRequestHandler.startTls}.
 *
 * @example
 * ```ts
 * const options: StartTlsOptions = { tls: { key, cert }, handshakeTimeout: 10_000 };
 * ```
 */
export interface StartTlsOptions {
  /** `node:tls` server options, as `TLSServer`'s `tls`. Pass the same object every time: its context is made once. */
  tls: tls.TlsOptions;
  /** Certificates per server name (SNI). */
  sni?: Record<string, tls.SecureContextOptions>;
  /** ms the handshake may take. Default: 10000. */
  handshakeTimeout?: number;
}

/**
 * What {@link StreamRequestHandler.startTls} did.
 *
 * @example
 * ```ts
 * const { discarded } = await this.startTls(options);
 * ```
 */
export interface StartTlsResult {
  /**
   * Bytes the peer sent after its STARTTLS command and before the handshake, in plaintext: they
   * were thrown away, never read as if they came over TLS (logged as a warning when not 0).
   */
  readonly discarded: number;
}

/** One acceptor per options object: a secure context is made once, not per connection. */
const acceptors = new WeakMap<StartTlsOptions, TlsAcceptor>();

/**
 * A handler for stream connections (TCP, Unix stream). `request` is the `net.Socket`; read from
 * `rfile` (a {@link StreamReader}) and write to `wfile` (a {@link StreamWriter}). Tune it with
 * static fields, as in Python: `timeout`, `writeTimeout`, `disableNagleAlgorithm`, `maxLineLength`. The type
 * parameters name the client address and the server (`StreamRequestHandler<InetAddress,
 * ChatServer>` gives a typed `this.server`).
 *
 * @example
 * ```ts
 * class EchoHandler extends StreamRequestHandler {
 *   static override timeout = 60_000;
 *
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) await this.wfile.write(line);
 *   }
 * }
 * ```
 */
export class StreamRequestHandler<
  Address extends ClientAddress = ClientAddress,
  Server extends HandlerServer = HandlerServer,
> extends BaseRequestHandler<Socket, Address, Server> {
  /** ms a read may wait without data before it rejects with `TimeoutError`; `null`: no limit. */
  static timeout: number | null = null;
  /**
   * ms a write may wait while the peer takes no data (its buffer full, the peer not reading)
   * before it rejects with `WriteTimeoutError` and the connection is closed; `null`: no limit.
   */
  static writeTimeout: number | null = null;
  /**
   * Turns Nagle's algorithm off on the connection (`TCP_NODELAY`), so small writes go out at once
   * instead of waiting for the peer's ACK of the previous ones. Default: `true`, as in Go, Netty
   * and Node's http (Python's default is `False`); set it to `false` to get Nagle back. No effect
   * on Unix sockets.
   */
  static disableNagleAlgorithm = true;
  /** Default limit in bytes of `readline`, `lines` and `readUntil`. */
  static maxLineLength = 65_536;

  #rfile: StreamReader;
  #wfile: StreamWriter;
  /** The TLS socket after `startTls()`. */
  #secure: tls.TLSSocket | undefined;
  #tls: TLSInfo | null | undefined;

  constructor(request: Socket, clientAddress: Address, server: HandlerServer) {
    super(request, clientAddress, server);
    const options = this.constructor as typeof StreamRequestHandler;
    // No signal: when the server aborts the request it destroys the socket, which ends reads.
    this.#rfile = new StreamReader(request, { limit: options.maxLineLength, timeout: options.timeout });
    this.#wfile = new StreamWriter(request, { input: this.#rfile, timeout: options.writeTimeout });
  }

  /** Buffered reads from the connection (after `startTls()`: from the TLS connection). */
  get rfile(): StreamReader {
    return this.#rfile;
  }

  /** Backpressured writes to the connection (after `startTls()`: to the TLS connection). */
  get wfile(): StreamWriter {
    return this.#wfile;
  }

  /** The socket the handler talks through: `request`, or the TLS socket after `startTls()`. */
  get socket(): Socket {
    return this.#secure ?? this.request;
  }

  /**
   * The PROXY protocol header the load balancer sent before the connection (version, command,
   * source, destination, TLVs), on a server with `proxyProtocol`; `undefined` otherwise. The
   * client it names is already `this.clientAddress`.
   *
   * @example
   * ```ts
   * const viaTls = this.proxy?.tlvs.ssl?.tls === true; // the client spoke TLS to the balancer
   * ```
   */
  get proxy(): ProxyInfo | undefined {
    return (this.request as Socket & { [kProxy]?: ProxyInfo })[kProxy];
  }

  /**
   * What the TLS connection negotiated, or `undefined` on a plain connection (until
   * `startTls()`). On a `TLSServer` it is set before `setup()` runs.
   *
   * @example
   * ```ts
   * if (this.tls?.alpnProtocol !== 'myproto/1') return;
   * if (!this.tls.authorized) this.log.warn({ reason: this.tls.authorizationError }, 'unverified client');
   * ```
   */
  get tls(): TLSInfo | undefined {
    if (this.#tls !== undefined) return this.#tls ?? undefined;
    const socket = this.socket as Socket & Partial<tls.TLSSocket>;
    if (socket.encrypted !== true) {
      this.#tls = null;
      return undefined;
    }
    const secure = socket as tls.TLSSocket;
    const certificate = secure.getPeerCertificate();
    this.#tls = {
      protocol: secure.getProtocol(),
      cipher: secure.getCipher(),
      alpnProtocol: typeof secure.alpnProtocol === 'string' ? secure.alpnProtocol : null,
      servername: typeof (secure as { servername?: unknown }).servername === 'string' ? (secure as unknown as { servername: string }).servername : null,
      authorized: secure.authorized,
      authorizationError: secure.authorizationError === undefined || secure.authorizationError === null ? null : String(secure.authorizationError),
      peerCertificate: certificate !== null && typeof certificate === 'object' && Object.keys(certificate).length > 0 ? certificate : null,
    };
    return this.#tls;
  }

  /**
   * Upgrades a plain TCP or Unix connection to TLS in place (STARTTLS), as the server side of the
   * handshake. Call it once the peer has asked for TLS and been told to go ahead: what was written
   * before is sent in plaintext first, then the handshake runs, then `rfile`, `wfile` and `tls`
   * speak for the TLS connection. Bytes the peer sent after its request and before the handshake
   * (plaintext already received) are discarded and counted in the result, never read as if they
   * came over TLS: the command injection of CVE-2011-0411 cannot happen.
   *
   * Rejects with `TLSHandshakeError` when the handshake fails or times out (the connection is then
   * closed; the server fires `'tlsClientError'`, and the error does not reach `handleError()`), and
   * with `InvalidStateError` on a connection that is TLS already.
   *
   * @example
   * ```ts
   * const tlsOptions = { tls: { key, cert } }; // made once, at module level
   *
   * class Handler extends StreamRequestHandler {
   *   override async handle() {
   *     for (;;) {
   *       const line = (await this.rfile.readline()).toString().trim();
   *       if (line === 'STARTTLS') {
   *         await this.wfile.write('OK begin TLS\n');
   *         await this.startTls(tlsOptions);
   *         continue; // the next line comes over TLS
   *       }
   *       if (line === '') return;
   *       await this.wfile.write(`${this.tls ? 'secret' : 'public'}: ${line}\n`);
   *     }
   *   }
   * }
   * ```
   */
  async startTls(options: StartTlsOptions): Promise<StartTlsResult> {
    const socket = this.request;
    if (this.#secure !== undefined || (socket as Socket & { encrypted?: boolean }).encrypted === true) {
      throw new InvalidStateError('The connection already speaks TLS; startTls() upgrades a plain connection once');
    }
    let acceptor = acceptors.get(options);
    if (acceptor === undefined) {
      acceptor = new TlsAcceptor({ tls: options.tls, ...(options.sni === undefined ? {} : { sni: options.sni }), handshakeTimeout: options.handshakeTimeout ?? 10_000 });
      acceptors.set(options, acceptor);
    }
    // What the handler wrote (its go-ahead) leaves in plaintext before the handshake starts.
    this.#wfile.flush();
    if (socket.writableLength > 0) await new Promise<void>((resolve) => socket.write(EMPTY, () => resolve()));
    const discarded = this.#rfile[kDetach]();
    if (discarded > 0) {
      this.log.warn({ discarded }, `Discarded ${discarded} bytes the peer sent in plaintext after asking for TLS; they are not read as TLS data`);
    }
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      acceptor.accept(socket, {
        secure: resolve,
        failed: (error: TLSHandshakeError) => {
          this[kContext]?.tlsClientError(error);
          socket.destroy();
          reject(error);
        },
      });
    });
    // The connection stays the request to the server; it closes it through the TLS socket.
    (socket as Socket & { [kUpgraded]?: tls.TLSSocket })[kUpgraded] = secure;
    secure.on('error', (error) => socket.emit('error', error));
    this.#secure = secure;
    this.#tls = undefined;
    const handler = this.constructor as typeof StreamRequestHandler;
    this.#rfile = new StreamReader(secure, { limit: handler.maxLineLength, timeout: handler.timeout });
    this.#wfile = new StreamWriter(secure, { input: this.#rfile, timeout: handler.writeTimeout });
    return { discarded };
  }

  /**
   * Applies `disableNagleAlgorithm` (nothing to do, no system call, when the server already set
   * the same, as `TCPServer` does by default). Call `super.setup()` when overriding.
   */
  override setup(): void {
    this.request.setNoDelay?.((this.constructor as typeof StreamRequestHandler).disableNagleAlgorithm);
  }
}

const EMPTY = Buffer.alloc(0);
