/**
 * A small Redis-compatible server, written the way a sockserve user would for speed: a frame
 * decoder for the Redis protocol (RESP2) that parses the buffered bytes by offsets (`peek()`,
 * `skip()`), every command already buffered taken without an `await` (`tryReadFrame()`), and
 * its reply queued without an `await` while more commands are buffered (`queue()`; the last reply
 * to a chunk is awaited with `write()`). Replies to all the commands of one input chunk leave in
 * one write.
 *
 * @module
 */
import {
  IncompleteReadError,
  LimitExceededError,
  StreamRequestHandler,
  TCPServer,
  type FrameDecoder,
  type InetAddress,
  type TCPAddress,
  type TCPServerOptions,
} from 'sockserve';

/** Redis's own limits: a bulk string of at most 512 MiB here is 64 MiB; 1M arguments per command. */
const MAX_BULK = 64 * 1024 * 1024;
const MAX_ARGS = 1024 * 1024;
/** Inline commands and the `*N`/`$N` headers are lines of at most this many bytes (Redis: 64 KiB). */
const MAX_LINE = 64 * 1024;
/** The largest command: its arguments and their headers. */
const MAX_COMMAND = MAX_BULK + 64 * MAX_LINE;
/** The limit of one command, as frame read options (one object, not one per read). */
const COMMAND = { limit: MAX_COMMAND };

// Constant replies as bytes: written as they are, with no encoding each time.
const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const PONG = Buffer.from('+PONG\r\n');

/** A protocol error: answered as Redis does, then the connection is closed. */
class ProtocolError extends Error {}

/**
 * Takes one command from the buffered input: its arguments (an empty array for an empty inline
 * line), or `undefined` when the command is not all buffered yet. Throws `ProtocolError` for
 * malformed input. It parses by offsets in `input.peek()` and consumes the command with
 * `input.skip()`: no object per header line, only a view per argument.
 *
 * @example
 * ```ts
 * const command = this.rfile.tryReadFrame(parseCommand) ?? (await this.rfile.readFrame(parseCommand));
 * ```
 */
export const parseCommand: FrameDecoder<Buffer[]> = (input) => {
  const data = input.peek();
  if (data[0] !== 0x2a /* '*' */) {
    const line = input.tryReadline({ limit: MAX_LINE });
    return line === undefined ? undefined : inline(line);
  }
  let eol = data.indexOf(0x0a, 1);
  if (eol === -1) return tooLong(data.length, 'too big mbulk count string');
  const count = header(data, 1, eol, MAX_ARGS, 'invalid multibulk length');
  let pos = eol + 1;
  const args = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    if (pos >= data.length) return undefined;
    if (data[pos] !== 0x24 /* '$' */) throw new ProtocolError(`expected '$', got '${String.fromCharCode(data[pos]!)}'`);
    eol = data.indexOf(0x0a, pos + 1);
    if (eol === -1) return tooLong(data.length - pos, 'too big bulk count string');
    const length = header(data, pos + 1, eol, MAX_BULK, 'invalid bulk length');
    pos = eol + 1;
    if (pos + length + 2 > data.length) return undefined;
    // A view into the received chunk: copied only if it is stored (see RespServer.set).
    args[i] = data.subarray(pos, pos + length);
    pos += length + 2;
  }
  input.skip(pos);
  return args;
};

/** Waits for the rest of a header line (undefined), unless it is already too long. */
function tooLong(length: number, what: string): undefined {
  if (length > MAX_LINE) throw new ProtocolError(what);
  return undefined;
}

/** The number in a `*N\r\n` or `$N\r\n` header: the digits in data[start, eol), before `\r`. */
function header(data: Buffer, start: number, eol: number, max: number, what: string): number {
  const end = data[eol - 1] === 0x0d ? eol - 1 : eol;
  if (end === start || end - start > 10) throw new ProtocolError(what);
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = data[i]! - 0x30;
    if (digit < 0 || digit > 9) throw new ProtocolError(what);
    value = value * 10 + digit;
  }
  if (value > max) throw new ProtocolError(what);
  return value;
}

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
  override async handle(): Promise<void> {
    for (;;) {
      let command: Buffer[] | null;
      try {
        // Every command already buffered is taken at once; only an incomplete one waits.
        command = this.rfile.tryReadFrame(parseCommand, COMMAND) ?? (await this.rfile.readFrame(parseCommand, COMMAND));
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
      if (command === null) return; // the client closed
      if (command.length === 0) continue; // an empty inline line
      const reply = this.server.execute(command);
      // More commands buffered (pipelining): queue the reply, with no await; it leaves with the
      // others in one write. The last reply to a chunk is awaited: it waits when the socket is full.
      if (this.rfile.buffered > 0) this.wfile.queue(reply);
      else await this.wfile.write(reply);
    }
  }
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
  const head = `$${value.length}\r\n`;
  const reply = Buffer.allocUnsafe(head.length + value.length + 2);
  reply.write(head, 0, 'latin1');
  reply.set(value, head.length);
  reply.write('\r\n', head.length + value.length, 'latin1');
  return reply;
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

  /** @param Handler The handler class: `RespHandler`, or a subclass of it. */
  constructor(address: TCPAddress, options: TCPServerOptions = {}, Handler: typeof RespHandler = RespHandler) {
    super(address, Handler, options);
  }

  /** Runs one command and returns its reply. */
  execute(args: Buffer[]): string | Buffer {
    const name = args[0]!.toString('latin1').toLowerCase();
    const arity = args.length;
    switch (name) {
      case 'ping':
        if (arity === 1) return PONG;
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
