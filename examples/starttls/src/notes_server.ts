/**
 * A tiny line protocol with STARTTLS, as SMTP, IMAP and XMPP have it: the client connects in
 * plaintext, may ask `STARTTLS`, gets `OK begin TLS`, and from then on the same connection speaks
 * TLS. Commands:
 *
 * - `STARTTLS`: upgrade to TLS (once).
 * - `NOTE <text>`: store a note; refused before TLS (`ERR TLS required`), like SMTP's AUTH.
 * - `LIST`: the notes stored on this connection, then `.`.
 * - `QUIT`: the server says `BYE` and closes.
 *
 * @module
 */
import { StreamRequestHandler, TCPServer, type InetAddress, type StartTlsOptions, type TCPAddress, type TCPServerOptions } from 'sockserve';

/**
 * One connection of the notes protocol.
 *
 * @example
 * ```ts
 * new NotesServer({ host: '127.0.0.1', port: 2525 }, { tls: { key, cert } }); // uses NotesHandler
 * ```
 */
export class NotesHandler extends StreamRequestHandler<InetAddress, NotesServer> {
  static override maxLineLength = 4096;
  static override timeout = 60_000;

  override async handle(): Promise<void> {
    const notes: string[] = [];
    await this.wfile.write('OK notes ready; STARTTLS available\n');
    for (;;) {
      const line = await this.rfile.readline();
      if (line.length === 0) return;
      const text = line.toString('utf8').replace(/\r?\n$/, '');
      const [command = '', ...rest] = text.split(' ');
      switch (command.toUpperCase()) {
        case 'STARTTLS': {
          if (this.tls !== undefined) {
            await this.wfile.write('ERR already TLS\n');
            break;
          }
          await this.wfile.write('OK begin TLS\n');
          // Anything the client sent after STARTTLS, before the handshake, is thrown away here.
          const { discarded } = await this.startTls(this.server.startTls);
          if (discarded > 0) this.log.warn({ discarded }, 'Plaintext after STARTTLS was discarded');
          break;
        }
        case 'NOTE':
          if (this.tls === undefined) {
            await this.wfile.write('ERR TLS required\n');
            break;
          }
          notes.push(rest.join(' '));
          await this.wfile.write(`OK ${notes.length}\n`);
          break;
        case 'LIST':
          await this.wfile.write(notes.map((note) => `${note}\n`).join('') + '.\n');
          break;
        case 'QUIT':
          await this.wfile.write('BYE\n');
          return;
        default:
          await this.wfile.write(`ERR unknown command ${JSON.stringify(command)}\n`);
      }
    }
  }
}

/**
 * Options of {@link NotesServer}: TCP options and the TLS options STARTTLS uses.
 *
 * @example
 * ```ts
 * const options: NotesServerOptions = { tls: { key, cert } };
 * ```
 */
export interface NotesServerOptions extends TCPServerOptions {
  /** `node:tls` server options for the upgrade (`key`, `cert`, ...). */
  tls: StartTlsOptions['tls'];
}

/**
 * The notes server: plain TCP until a client asks for TLS.
 *
 * @example
 * ```ts
 * await using server = new NotesServer({ host: '127.0.0.1', port: 0 }, { tls: { key, cert } });
 * await server.serveUntilSignal();
 * ```
 */
export class NotesServer extends TCPServer {
  /** What `startTls()` gets: one object, so its secure context is made once. */
  readonly startTls: StartTlsOptions;

  constructor(address: TCPAddress, options: NotesServerOptions) {
    const { tls, ...tcp } = options;
    super(address, NotesHandler, tcp);
    this.startTls = { tls };
  }
}
