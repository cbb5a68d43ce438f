/**
 * A line-based chat server: everyone connected sees every line, with its sender and time.
 *
 * @module
 */
import type net from 'node:net';
import { StreamRequestHandler, TCPServer, formatAddress, type InetAddress, type TCPAddress, type TCPServerOptions } from 'sockserve';

/**
 * Options of {@link ChatServer}.
 *
 * @example
 * ```ts
 * new ChatServer({ host: '127.0.0.1', port: 9999 }, { maxQueuedBytes: 256 * 1024 });
 * ```
 */
export interface ChatServerOptions extends TCPServerOptions {
  /** Bytes that may wait for one client; a client further behind is dropped. Default: 1 MiB. */
  maxQueuedBytes?: number;
}

/**
 * One chat client's connection.
 *
 * @example
 * ```ts
 * new ChatServer({ host: '127.0.0.1', port: 0 }); // creates a ChatHandler per connection
 * ```
 */
export class ChatHandler extends StreamRequestHandler<InetAddress, ChatServer> {
  static override maxLineLength = 4096;

  /** How the client is shown to the others: its address. */
  get nick(): string {
    return formatAddress(this.clientAddress);
  }

  get room(): ChatServer {
    return this.server;
  }

  override async setup(): Promise<void> {
    super.setup();
    await this.wfile.write(`Welcome, ${this.nick}. ${others(this.room.clients.size)}. Type quit to leave.\n`);
    this.room.clients.add(this);
    this.room.broadcast(`* ${this.nick} joined\n`);
  }

  override async handle(): Promise<void> {
    for await (const raw of this.rfile.lines()) {
      const text = raw.toString('utf8').trimEnd();
      if (text === 'quit') {
        await this.wfile.write('Bye.\n');
        return;
      }
      if (text.length > 0) this.room.broadcast(`[${clock()}] ${this.nick}: ${text}\n`);
    }
  }

  override finish(): void {
    if (this.room.clients.delete(this)) this.room.broadcast(`* ${this.nick} left\n`);
  }
}

/**
 * The chat server: a shared set of clients, and a broadcast that no slow or vanished client can
 * stall. Each client has a bounded queue (the bytes its socket has not sent yet); a client whose
 * queue passes `maxQueuedBytes` is dropped, and the drop is logged.
 *
 * @example
 * ```ts
 * await using server = new ChatServer({ host: '127.0.0.1', port: 9999 });
 * await server.serveForever();
 * ```
 */
export class ChatServer extends TCPServer {
  /** Everyone connected. */
  readonly clients = new Set<ChatHandler>();
  readonly maxQueuedBytes: number;

  constructor(address: TCPAddress, options: ChatServerOptions = {}) {
    super(address, ChatHandler, options);
    this.maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
  }

  /** Sends `message` to every client without waiting on any of them. */
  broadcast(message: string): void {
    for (const client of this.clients) {
      let queued: number;
      try {
        queued = client.wfile.queue(message);
      } catch {
        this.clients.delete(client); // it vanished mid-broadcast; its handler is ending
        continue;
      }
      if (queued > this.maxQueuedBytes) this.#drop(client, queued);
    }
  }

  #drop(client: ChatHandler, queued: number): void {
    this.clients.delete(client);
    this.log.warn({ client: client.nick, queuedBytes: queued }, `Dropped ${client.nick}: it is not reading its messages`);
    (client.request as net.Socket).destroy();
    this.broadcast(`* ${client.nick} was dropped (too slow)\n`);
  }
}

/** "No one else is here", "1 other is here", "2 others are here". */
function others(count: number): string {
  return count === 0 ? 'No one else is here' : count === 1 ? '1 other is here' : `${count} others are here`;
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}
