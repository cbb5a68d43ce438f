/**
 * A small Redis-compatible server, written the way a sockserve user would: one `readline()` or
 * `readExactly()` per frame of the Redis protocol (RESP2), one `write()` per reply. Pipelining
 * needs nothing special: replies to all the commands of one input chunk leave in one write.
 *
 * @module
 */
import { IncompleteReadError, LimitExceededError, StreamRequestHandler, TCPServer, type InetAddress, type TCPAddress, type TCPServerOptions } from 'sockserve';

/** Redis's own limits: a bulk string of at most 512 MiB here is 64 MiB; 1M arguments per command. */
const MAX_BULK = 64 * 1024 * 1024;
const MAX_ARGS = 1024 * 1024;
/** Inline commands and the `*N`/`$N` headers are lines of at most this many bytes (Redis: 64 KiB). */
const MAX_LINE = 64 * 1024;

const OK = '+OK\r\n';
const NIL = '$-1\r\n';

/** A protocol error: answered as Redis does, then the connection is closed. */
class ProtocolError extends Error {}

/**
 * Handles one client connection: reads commands (RESP2 arrays of bulk strings, or inline
 * commands), runs them against the server's store, writes the replies.
 *
 * @example
 * ```ts
 * new RespServer({ host: '127.0.0.1', port: 6380 }); // uses RespHandler
 * ```
 */
export class RespHandler extends StreamRequestHandler<InetAddress, RespServer> {
  static override maxLineLength = MAX_LINE;

  override async handle(): Promise<void> {
    for (;;) {
      let command: Buffer[] | undefined;
      try {
        command = await this.#readCommand();
      } catch (error) {
        if (error instanceof ProtocolError) {
          await this.wfile.write(`-ERR Protocol error: ${error.message}\r\n`);
          return; // Redis closes the connection after a protocol error
        }
        if (error instanceof LimitExceededError) {
          await this.wfile.write('-ERR Protocol error: too big inline request\r\n');
          return;
        }
        if (error instanceof IncompleteReadError) return; // the client hung up mid-command
        throw error;
      }
      if (command === undefined) return; // the client closed
      if (command.length === 0) continue; // an empty inline line
      await this.wfile.write(this.server.execute(command));
    }
  }

  /** The next command's arguments; `undefined` at the end of the stream. */
  async #readCommand(): Promise<Buffer[] | undefined> {
    const line = await this.rfile.readline();
    if (line.length === 0) return undefined;
    if (line[0] !== 0x2a /* '*' */) return inline(line);
    const count = header(line, MAX_ARGS, 'invalid multibulk length');
    const args: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const bulk = await this.rfile.readline();
      if (bulk.length === 0) throw new IncompleteReadError(bulk, null);
      if (bulk[0] !== 0x24 /* '$' */) throw new ProtocolError(`expected '$', got '${String.fromCharCode(bulk[0]!)}'`);
      const length = header(bulk, MAX_BULK, 'invalid bulk length');
      const data = await this.rfile.readExactly(length + 2);
      // A view into the received chunk: copied only if it is stored (see RespServer.set).
      args.push(data.subarray(0, length));
    }
    return args;
  }
}

/** The number of a `*N\r\n` or `$N\r\n` header line. */
function header(line: Buffer, max: number, what: string): number {
  const end = line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1;
  const text = line.toString('latin1', 1, end);
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value > max || value < 0) throw new ProtocolError(what);
  return value;
}

/** An inline command: words separated by spaces (quotes are not supported here). */
function inline(line: Buffer): Buffer[] {
  const text = line.toString('latin1').replace(/\r?\n$/, '');
  return text
    .split(' ')
    .filter((word) => word.length > 0)
    .map((word) => Buffer.from(word, 'latin1'));
}

/** A bulk string reply. */
function bulk(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
}

/** An array of bulk strings reply. */
function array(values: string[]): string {
  return `*${values.length}\r\n${values.map((value) => `$${Buffer.byteLength(value)}\r\n${value}\r\n`).join('')}`;
}

function wrongArgs(name: string): string {
  return `-ERR wrong number of arguments for '${name}' command\r\n`;
}

/**
 * The server and its store: a map from keys to values, shared by every connection.
 *
 * @example
 * ```ts
 * await using server = new RespServer({ host: '127.0.0.1', port: 0 });
 * await server.serveUntilSignal();
 * ```
 */
export class RespServer extends TCPServer {
  /** The data: key bytes (as latin1 text) to value bytes. */
  readonly store = new Map<string, Buffer>();

  constructor(address: TCPAddress, options: TCPServerOptions = {}) {
    super(address, RespHandler, options);
  }

  /** Runs one command and returns its reply. */
  execute(args: Buffer[]): string | Buffer {
    const name = args[0]!.toString('latin1').toLowerCase();
    const arity = args.length;
    switch (name) {
      case 'ping':
        if (arity === 1) return '+PONG\r\n';
        return arity === 2 ? bulk(args[1]!) : wrongArgs(name);
      case 'echo':
        return arity === 2 ? bulk(args[1]!) : wrongArgs(name);
      case 'set':
        if (arity !== 3) return arity < 3 ? wrongArgs(name) : '-ERR syntax error\r\n';
        this.#set(args[1]!, args[2]!);
        return OK;
      case 'get': {
        if (arity !== 2) return wrongArgs(name);
        const value = this.store.get(args[1]!.toString('latin1'));
        return value === undefined ? NIL : bulk(value);
      }
      case 'del': {
        if (arity < 2) return wrongArgs(name);
        let removed = 0;
        for (const key of args.slice(1)) if (this.store.delete(key.toString('latin1'))) removed++;
        return `:${removed}\r\n`;
      }
      case 'incr': {
        if (arity !== 2) return wrongArgs(name);
        const key = args[1]!.toString('latin1');
        const current = this.store.get(key);
        const text = current === undefined ? '0' : current.toString('latin1');
        if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || !Number.isSafeInteger(Number(text) + 1)) {
          return '-ERR value is not an integer or out of range\r\n';
        }
        const next = String(Number(text) + 1);
        this.store.set(key, Buffer.from(next, 'latin1'));
        return `:${next}\r\n`;
      }
      case 'mset':
        if (arity < 3 || arity % 2 === 0) return wrongArgs(name);
        for (let i = 1; i < arity; i += 2) this.#set(args[i]!, args[i + 1]!);
        return OK;
      case 'config': {
        // What redis-benchmark asks for at start; nothing here is configurable.
        const sub = args[1]?.toString('latin1').toLowerCase();
        if (sub !== 'get' || arity !== 3) return "-ERR unknown subcommand or wrong number of arguments for 'config' command\r\n";
        const parameter = args[2]!.toString('latin1').toLowerCase();
        const known: Record<string, string> = { save: '', appendonly: 'no' };
        return parameter in known ? array([parameter, known[parameter]!]) : '*0\r\n';
      }
      default: {
        const rest = args
          .slice(1)
          .map((arg) => `'${arg.toString('latin1')}' `)
          .join('');
        return `-ERR unknown command '${args[0]!.toString('latin1')}', with args beginning with: ${rest}\r\n`;
      }
    }
  }

  /** Stores a copy of the value: the argument is a view into a received chunk. */
  #set(key: Buffer, value: Buffer): void {
    this.store.set(key.toString('latin1'), Buffer.from(value));
  }
}
