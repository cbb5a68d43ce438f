/**
 * Reading the PROXY protocol header a load balancer sends at the start of a connection, before
 * anything else runs on it (a TLS handshake included).
 *
 * @module
 */
import net from 'node:net';
import { InvalidArgumentError, ProxyProtocolError, parseProxyHeader, type ProxyInfo } from '@sockserve/core';
import { kProxy, stopReading } from '@sockserve/core/internal';

/**
 * Options of `proxyProtocol`: who may send a header, and how long it may take.
 *
 * @example
 * ```ts
 * const proxyProtocol: ProxyProtocolOptions = { trusted: ['127.0.0.1', '10.0.0.0/8', '::1'], timeout: 5_000 };
 * ```
 */
export interface ProxyProtocolOptions {
  /**
   * Addresses and CIDR ranges of the load balancers (IPv4 and IPv6): `'10.0.0.0/8'`,
   * `'192.0.2.7'`, `'fd00::/8'`. A connection from elsewhere is closed unread. Unix stream servers
   * trust every connection (the socket file's permissions decide who connects).
   */
  trusted: readonly string[];
  /** ms the header may take to arrive. Default: 5000. */
  timeout?: number;
}

/**
 * What a {@link ProxyReader} tells its server.
 *
 * @example
 * ```ts
 * const events: ProxyReaderEvents = { ready: (socket, address) => serve(socket, address), refused: (_, message) => log.warn(message), healthCheck: () => {} };
 * ```
 */
export interface ProxyReaderEvents {
  /** The header was read: serve the connection for `address` (the original client, or the socket's own for LOCAL). */
  ready(socket: net.Socket, address: unknown, header: ProxyInfo): void;
  /** The connection is closed: untrusted, malformed, too slow. */
  refused(socket: net.Socket, message: string): void;
  /**
   * A connection closed without sending anything, or after a LOCAL header and nothing else: a
   * balancer's health check (or a port probe), not a request.
   */
  healthCheck(socket: net.Socket): void;
}

/**
 * Reads the PROXY protocol header at the start of each connection, for a stream server with
 * `proxyProtocol` (stream transports use it; so does a pool worker that accepts connections).
 *
 * @example
 * ```ts
 * const reader = new ProxyReader({ trusted: ['10.0.0.0/8'] }, false);
 * listener.on('connection', (socket) => reader.read(socket, ownAddress(socket), events));
 * ```
 */
export class ProxyReader {
  readonly #trusted: net.BlockList | undefined;
  readonly #timeout: number;

  constructor(options: ProxyProtocolOptions, unix: boolean) {
    if (typeof options !== 'object' || options === null || !Array.isArray(options.trusted)) {
      throw new InvalidArgumentError(
        "Expected `proxyProtocol` to be `{ trusted: [...] }` with the load balancers' addresses or CIDR ranges, got `" + String(options) + '`',
      );
    }
    const { trusted, timeout = 5_000 } = options;
    if (!(Number.isInteger(timeout) && timeout > 0)) {
      throw new InvalidArgumentError(`Expected \`proxyProtocol.timeout\` to be an integer number of ms above 0, got \`${String(timeout)}\``);
    }
    this.#timeout = timeout;
    this.#trusted = unix ? undefined : blockList(trusted);
  }

  /** Reads the header of `socket` (paused, as accepted), then tells `events`. */
  read(socket: net.Socket, ownAddress: unknown, events: ProxyReaderEvents): void {
    if (this.#trusted !== undefined && socket.remoteAddress === undefined) {
      // Reset before it was accepted (the peer is gone: no address): a health check that
      // connected and left at once, as HAProxy's do.
      socket.destroy();
      events.healthCheck(socket);
      return;
    }
    if (this.#trusted !== undefined && !trusts(this.#trusted, socket.remoteAddress)) {
      socket.destroy();
      events.refused(socket, `Closed a connection from ${socket.remoteAddress ?? 'an unknown address'}, which is not a trusted PROXY protocol source`);
      return;
    }
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    const refuse = (message: string): void => {
      finish();
      socket.destroy();
      events.refused(socket, message);
    };
    const timer = setTimeout(() => refuse(`No PROXY protocol header within ${this.#timeout} ms; closed the connection`), this.#timeout);
    const onEnd = (): void => {
      if (done) return;
      // Closed without sending a byte: a balancer's plain connect check or a port probe, not a
      // client with a broken header.
      if (buffered.length === 0) {
        finish();
        socket.destroy();
        events.healthCheck(socket);
        return;
      }
      refuse('The connection closed before its PROXY protocol header was complete');
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let parsed: ReturnType<typeof parseProxyHeader>;
      try {
        parsed = parseProxyHeader(buffered);
      } catch (error) {
        refuse(`${(error as ProxyProtocolError).message}; closed the connection`);
        return;
      }
      if (parsed === undefined) return;
      finish();
      const { header, length } = parsed;
      const rest = buffered.subarray(length);
      (socket as net.Socket & { [kProxy]?: ProxyInfo })[kProxy] = header;
      const address = header.command === 'LOCAL' || header.source === null ? ownAddress : header.source;
      if (header.command === 'LOCAL' && rest.length === 0) {
        socket.pause();
        this.#awaitLocal(socket, address, header, events);
        return;
      }
      // Nothing past the header is read here: what came with it goes back to the connection.
      stopReading(socket);
      if (rest.length > 0) socket.unshift(rest);
      events.ready(socket, address, header);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
    socket.resume();
  }

  /**
   * A LOCAL connection is the balancer's own, usually a health check that connects and closes: it
   * becomes a request only once it sends something.
   */
  #awaitLocal(socket: net.Socket, address: unknown, header: ProxyInfo, events: ProxyReaderEvents): void {
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('end', onClose);
      socket.off('error', onClose);
    };
    const onReadable = (): void => {
      // At the end of the stream 'readable' comes with nothing to read: reading makes 'end' follow.
      if (socket.readableLength === 0) {
        socket.read();
        return;
      }
      settle();
      stopReading(socket);
      events.ready(socket, address, header);
    };
    const onClose = (): void => {
      settle();
      socket.destroy();
      events.healthCheck(socket);
    };
    const timer = setTimeout(onClose, this.#timeout);
    socket.on('readable', onReadable);
    socket.once('end', onClose);
    socket.once('close', onClose);
    socket.once('error', onClose);
  }
}

function blockList(trusted: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of trusted) {
    const [address = '', prefix] = String(entry).split('/');
    const family = net.isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (family === 0 || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= (family === 4 ? 32 : 128)))) {
      throw new InvalidArgumentError(
        `Expected \`proxyProtocol.trusted\` to hold IPv4 or IPv6 addresses or CIDR ranges ('10.0.0.0/8', '::1'), got \`${String(entry)}\``,
      );
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/** Whether `address` (IPv4-mapped IPv6 counts as IPv4) is in the list. */
function trusts(list: net.BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return list.check(mapped[1]!, 'ipv4') || list.check(address, 'ipv6');
  return list.check(address, net.isIP(address) === 6 ? 'ipv6' : 'ipv4');
}
