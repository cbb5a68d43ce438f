import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, test } from 'vitest';
import {
  ConnectionClosedError,
  InvalidArgumentError,
  InvalidStateError,
  StreamReader,
  StreamRequestHandler,
  StreamWriter,
  TCPServer,
  WriteTimeoutError,
  type InetAddress,
} from 'sockserve';
import { testCerts } from '../../../test/helpers/certs.js';
import { memoryLogger } from '../../../test/helpers/log.js';
import { exchange, readAll, readBytes, tempDir, until } from '../../../test/helpers/net.js';

/** A connected pair of real TCP sockets (Unix stream sockets at `path`), both destroyed on dispose. */
async function pair(options: net.ServerOpts = {}, path?: string) {
  const server = net.createServer(options);
  await new Promise<void>((resolve) => (path === undefined ? server.listen(0, '127.0.0.1', resolve) : server.listen(path, resolve)));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = path === undefined ? net.connect((server.address() as net.AddressInfo).port, '127.0.0.1') : net.connect(path);
  const socket = await accepted;
  server.close(); // stops listening now; the pair stays connected
  return {
    socket,
    client,
    [Symbol.asyncDispose]: async () => {
      for (const s of [socket, client]) {
        if (!s.closed) await new Promise((resolve) => s.once('close', resolve).destroy());
      }
    },
  };
}

/** Counts what a socket hands to the kernel: one call per write, or one per batch. */
function countWrites(socket: net.Socket): () => number {
  type Sink = { _write: (...args: unknown[]) => unknown; _writev: (...args: unknown[]) => unknown };
  const sink = socket as unknown as Sink;
  let calls = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = sink[name];
    sink[name] = function (this: unknown, ...args: unknown[]) {
      calls++;
      return original.apply(this, args);
    };
  }
  return () => calls;
}

describe('StreamWriter', () => {
  test('write() resolves with the byte count, UTF-8 for strings', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    expect(await writer.write('héllo')).toBe(6);
    expect(await writer.write(new Uint8Array([1, 2, 3]))).toBe(3);
    expect((await readBytes(p.client, 9)).toString('latin1')).toBe(Buffer.from('héllo\x01\x02\x03').toString('latin1'));
  });

  test('end() half-closes: the peer sees the end, and this side can still read', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    const reader = new StreamReader(p.socket);
    const received = readAll(p.client);
    await writer.write('reply');
    await writer.end();
    expect(writer.closed).toBe(true);
    p.client.end('more from the peer');
    expect((await received).toString()).toBe('reply');
    expect((await reader.read()).toString()).toBe('more from the peer');
    await expect(writer.write('too late')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  test('pipeFrom() copies an iterable with backpressure and returns the total', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const received = readAll(p.client);
    expect(await writer.pipeFrom(chunks)).toBe(64 * 64 * 1024);
    await writer.end();
    expect((await received).equals(Buffer.concat(chunks))).toBe(true);
  });

  test('queue() never waits and reports what is waiting; drain() waits for the peer', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    p.client.pause();
    let queued = 0;
    for (let i = 0; i < 200; i++) queued = writer.queue(Buffer.alloc(64 * 1024));
    expect(queued).toBeGreaterThan(0);
    expect(writer.writableLength).toBe(queued);
    const drained = writer.drain();
    const received = readBytes(p.client, 200 * 64 * 1024);
    await drained;
    expect((await received).length).toBe(200 * 64 * 1024);
  });

  test('a writing loop lets the event loop run even when the peer keeps up', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    p.client.on('data', () => {});
    let immediateRanAt = -1;
    let written = 0;
    setImmediate(() => (immediateRanAt = written));
    const chunk = Buffer.alloc(64 * 1024);
    for (; written < 128; written++) await writer.write(chunk); // 8 MiB
    expect(immediateRanAt).toBeGreaterThanOrEqual(0);
    expect(immediateRanAt).toBeLessThanOrEqual(16); // within the first MiB, before any buffer fills
  });

  test('writes made in one tick reach the socket together, in order', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    const calls = countWrites(p.socket);
    const expected = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('');
    const received = readBytes(p.client, Buffer.byteLength(expected));
    for (let i = 0; i < 100; i++) await writer.write(`line ${i}\n`); // awaits that resolve in the same tick
    expect((await received).toString()).toBe(expected);
    expect(calls()).toBeLessThanOrEqual(2); // the first write at once, the other 99 in one batch
    // A write in a later tick goes out at once again.
    await new Promise((resolve) => setImmediate(resolve));
    const more = readBytes(p.client, 5);
    await writer.write('later');
    expect((await more).toString()).toBe('later');
    expect(calls()).toBeLessThanOrEqual(3);
  });

  test("with its connection's reader, the answers to one chunk of input go out together", async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    const calls = countWrites(p.socket);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
    const received = readBytes(p.client, Buffer.byteLength(lines) * 2);
    p.client.write(lines);
    let seen = 0;
    for await (const line of reader.lines()) {
      await writer.write(line);
      await writer.write(line);
      if (++seen === 50) break;
    }
    expect((await received).toString()).toBe(lines.replace(/(line \d+\n)/g, '$1$1'));
    // One chunk of 50 lines (loopback delivers it whole): the first answer at once, the rest batched.
    expect(calls()).toBeLessThanOrEqual(4);
  });

  test('a batch is written as one joined buffer; strings, bytes and large batches keep their order', async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    // What the socket's own _write receives: one Buffer per batch of small writes.
    const written: Array<Buffer | string> = [];
    const sink = p.socket as unknown as { _write: (chunk: Buffer | string, ...rest: unknown[]) => unknown };
    const original = sink._write;
    sink._write = function (this: unknown, chunk: Buffer | string, ...rest: unknown[]) {
      written.push(chunk);
      return original.call(this, chunk, ...rest);
    };
    const big = randomBytes(40 * 1024);
    const parts: Buffer[] = [];
    const answer = async (i: number): Promise<void> => {
      const piece = i % 3 === 0 ? `héllo ${i}\n` : i % 3 === 1 ? Buffer.from(`bytes ${i}\n`) : i === 8 ? big : new Uint8Array([i]);
      parts.push(Buffer.from(piece as string | Uint8Array));
      await writer.write(piece);
    };
    const tick = (): Promise<unknown> => new Promise((resolve) => setImmediate(resolve));
    p.client.write('x'.repeat(4));
    await until(() => reader.buffered === 4 || p.socket.bytesRead === 4);
    await reader.readExactly(1); // the rest stays buffered: more answers will follow, writes are held
    for (let i = 0; i < 6; i++) await answer(i);
    await tick(); // the end of the tick sends what is held
    expect(written.length).toBe(1);
    expect(Buffer.isBuffer(written[0])).toBe(true);
    // Large writes among small ones: past the socket's high-water mark what is held goes out at
    // once (as a writev of the chunks as they are, no copy), in order.
    await reader.readExactly(1);
    for (let i = 6; i < 12; i++) await answer(i);
    await writer.write(big);
    parts.push(big);
    await tick();
    const all = Buffer.concat(parts);
    expect((await readBytes(p.client, all.length)).equals(all)).toBe(true);
  });

  test('writes after the peer reset reject with ConnectionClosedError carrying the cause', async () => {
    await using p = await pair();
    const writer = new StreamWriter(p.socket);
    // A writer adds no 'error' listener of its own (a server has one on every connection).
    let reset: unknown;
    p.socket.on('error', (e) => (reset = e));
    p.client.resetAndDestroy();
    await new Promise((resolve) => p.socket.once('close', resolve));
    const error = (await writer.write('x').catch((e: unknown) => e)) as ConnectionClosedError;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.code).toBe('ERR_SOCKSERVE_CONNECTION_CLOSED');
    expect(reset).toMatchObject({ code: 'ECONNRESET' });
    expect(error.cause).toBe(reset);
    expect(error.message).toContain('ECONNRESET');
    expect(() => writer.queue('y')).toThrow(ConnectionClosedError);
  });
});

/** Resolves once `value()` has not changed for `quietMs`. */
async function settled(value: () => number, quietMs = 300): Promise<number> {
  let last = value();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = value();
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return last;
}

describe('pipeFrom(rfile): chunks go from the reader to the socket as they arrive', () => {
  const size = 32 * 1024 * 1024; // more than loopback's kernel buffers hold

  type Pair = Awaited<ReturnType<typeof pair>>;

  /**
   * Pipes what `from`'s client sends into `to`'s client, who reads nothing at first: the writes
   * back up, and the reading side must stop reading. Then every byte arrives, in order.
   */
  async function pipeUnderBackpressure(from: Pair, to: Pair): Promise<void> {
    const reader = new StreamReader(from.socket);
    const writer = new StreamWriter(to.socket, { input: reader });
    const piped = writer.pipeFrom(reader);
    const data = randomBytes(size);
    from.client.end(data);
    const read = await settled(() => from.socket.bytesRead);
    expect(read).toBeLessThan(size);
    expect(to.socket.writableLength).toBeLessThan(256 * 1024);
    expect(reader.buffered).toBeLessThan(256 * 1024);
    const received = readBytes(to.client, size);
    expect((await received).equals(data)).toBe(true);
    expect(await piped).toBe(size);
  }

  test('an echo whose peer does not read stops reading, then delivers every byte in order', async () => {
    await using p = await pair();
    await pipeUnderBackpressure(p, p);
  });

  test('a proxy (one connection into another) stops reading while the far side does not read', async () => {
    await using from = await pair();
    await using to = await pair();
    await pipeUnderBackpressure(from, to);
  });

  test('bytes buffered before the pipe go first; reads meanwhile are InvalidStateError', async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    p.client.write('header\nbody one, ');
    expect((await reader.readline()).toString()).toBe('header\n');
    const piped = writer.pipeFrom(reader);
    await expect(reader.read()).rejects.toBeInstanceOf(InvalidStateError);
    await expect(writer.pipeFrom(reader)).rejects.toBeInstanceOf(InvalidStateError);
    const echoed = readAll(p.client);
    p.client.end('body two');
    expect(await piped).toBe('body one, body two'.length);
    await writer.end();
    expect((await echoed).toString()).toBe('body one, body two');
  });

  test('from a reader already at its end, the pipe writes what is left and resolves at once', async () => {
    await using p = await pair({ allowHalfOpen: true }); // as servers accept: the reply may follow the peer's end
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    p.client.end('last words');
    expect((await reader.read(5)).toString()).toBe('last ');
    await until(() => reader.buffered === 'words'.length && p.socket.readableEnded);
    const echoed = readAll(p.client);
    expect(await writer.pipeFrom(reader)).toBe('words'.length);
    expect(await writer.pipeFrom(reader)).toBe(0);
    await writer.end();
    expect((await echoed).toString()).toBe('words');
  });

  test('a peer that resets while the pipe is held rejects it with ConnectionClosedError', async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    const piped = writer.pipeFrom(reader);
    p.client.write(randomBytes(size));
    await settled(() => p.socket.bytesRead);
    p.client.resetAndDestroy();
    const error = await piped.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
  });

  test('an error of the source rejects the pipe with that error', async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    const piped = writer.pipeFrom(reader);
    p.client.write('some');
    await settled(() => p.socket.bytesRead, 100);
    const failure = new Error('source failed');
    p.socket.destroy(failure);
    await expect(piped).rejects.toBe(failure);
  });
});

describe('StreamWriter: one write per input chunk', () => {
  /** What a server saw: the input chunks, and the writes its sockets handed to the kernel. */
  const counts = { writes: 0, chunks: 0 };

  /** Counts the kernel writes of the handler's socket (one each, as write() or writev()) and its input chunks. */
  function countKernelWrites(socket: net.Socket): void {
    const internals = socket as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const writeGeneric = internals._writeGeneric;
    internals._writeGeneric = function (this: unknown, ...args: unknown[]) {
      counts.writes++;
      return writeGeneric.apply(this, args);
    };
    socket.on('data', () => counts.chunks++);
  }

  /** Serves with `Handler` and sends 5 chunks of 16 pipelined requests, each answered in full before the next. */
  async function pipeline(Handler: ConstructorParameters<typeof TCPServer>[1]): Promise<void> {
    counts.writes = counts.chunks = 0;
    await using server = new TCPServer({ host: '127.0.0.1', port: 0 }, Handler, { logger: false });
    await server.listen();
    void server.serveForever();
    const client = net.connect((server.serverAddress as { port: number }).port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 16 }, (_, i) => `GET key${round}-${i}\n`).join('');
      const expected = Array.from({ length: 16 }, (_, i) => `+OK GET key${round}-${i}\r\n`).join('');
      client.write(batch);
      expect((await readBytes(client, Buffer.byteLength(expected))).toString()).toBe(expected);
    }
    client.end();
    await new Promise((resolve) => client.once('close', resolve));
    expect(counts.chunks).toBeGreaterThanOrEqual(5);
  }

  test('the replies to every line of one chunk leave in one write, with or without Nagle', async () => {
    for (const nagle of [false, true]) {
      class Pipelined extends StreamRequestHandler {
        static override disableNagleAlgorithm = !nagle;
        override setup(): void {
          super.setup();
          countKernelWrites(this.request);
        }
        override async handle(): Promise<void> {
          for await (const line of this.rfile.lines()) await this.wfile.write(`+OK ${line.toString().trim()}\r\n`);
        }
      }
      await pipeline(Pipelined);
      expect(counts.writes).toBe(counts.chunks); // 16 replies per chunk, one write each time
    }
  });

  test('queue() while requests are buffered and write() for the last: one write per chunk, no await per reply', async () => {
    let awaited = 0;
    class Queued extends StreamRequestHandler {
      override setup(): void {
        super.setup();
        countKernelWrites(this.request);
      }
      override async handle(): Promise<void> {
        for (;;) {
          const line = this.rfile.tryReadline() ?? (await this.rfile.readline());
          if (line.length === 0) return;
          const reply = `+OK ${line.toString().trim()}\r\n`;
          if (this.rfile.buffered > 0) {
            this.wfile.queue(reply);
          } else {
            awaited++;
            await this.wfile.write(reply);
          }
        }
      }
    }
    await pipeline(Queued);
    expect(counts.writes).toBe(counts.chunks);
    expect(awaited).toBe(counts.chunks); // one await per chunk, not per reply
  });

  test('queue() holds until the end of the tick or the next read, in order with write()', async () => {
    await using p = await pair();
    const reader = new StreamReader(p.socket);
    const writer = new StreamWriter(p.socket, { input: reader });
    // Held until the end of the tick, then sent (fan-out from another connection's handler).
    writer.queue('no');
    expect(writer.queue('w\n')).toBe(4); // still held in the socket
    expect((await readBytes(p.client, 4)).toString()).toBe('now\n');
    // Replies to requests held in order with write(), and sent when the handler waits for input.
    p.client.write('abc');
    await reader.readExactly(1);
    writer.queue('1');
    writer.queue(Buffer.from('2'));
    await writer.write('3\n');
    expect(writer.writableLength).toBe(4);
    const next = reader.readExactly(5); // waits: what is held goes out now
    expect(writer.writableLength).toBe(0);
    expect((await readBytes(p.client, 4)).toString()).toBe('123\n');
    p.client.write('def');
    expect((await next).toString()).toBe('bcdef');
  });
});

describe('StreamWriter: write timeout', () => {
  const MiB = Buffer.alloc(1024 * 1024, 'x');

  test('the timeout must be a number of milliseconds above 0, or null', async () => {
    await using p = await pair();
    for (const timeout of [0, -1, Number.NaN, '100']) {
      expect(() => new StreamWriter(p.socket, { timeout: timeout as number })).toThrow(InvalidArgumentError);
    }
    expect(() => new StreamWriter(p.socket, { timeout: null })).not.toThrow();
  });

  test('a write to a peer that does not read rejects with WriteTimeoutError and destroys the connection', async () => {
    await using p = await pair();
    p.client.pause(); // never reads
    const writer = new StreamWriter(p.socket, { timeout: 200 });
    const closed = new Promise((resolve) => p.client.once('close', resolve));
    let error: unknown;
    let waitedFrom = 0;
    try {
      for (let i = 0; i < 1024; i++) {
        waitedFrom = Date.now();
        await writer.write(MiB); // the kernel's buffers fill, then a write waits for the peer
      }
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WriteTimeoutError);
    expect((error as WriteTimeoutError).code).toBe('ERR_SOCKSERVE_WRITE_TIMEOUT');
    expect((error as WriteTimeoutError).timeout).toBe(200);
    expect(Date.now() - waitedFrom).toBeGreaterThanOrEqual(190);
    expect(p.socket.destroyed).toBe(true);
    expect(p.socket.errored).toBeNull(); // destroyed without an error: the rejection is the one report
    p.client.resume();
    await closed;
    await expect(writer.write('more')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  test('end() and pipeFrom() give up on a peer that does not read, too', async () => {
    await using d = tempDir();
    {
      await using p = await pair({}, d.file('end.sock'));
      p.client.pause();
      const writer = new StreamWriter(p.socket, { timeout: 150 });
      writer.queue(Buffer.alloc(8 * 1024 * 1024)); // far more than a Unix socket buffers
      await expect(writer.end()).rejects.toBeInstanceOf(WriteTimeoutError);
      expect(p.socket.destroyed).toBe(true);
    }
    {
      await using p = await pair({}, d.file('pipe.sock'));
      p.client.pause();
      const writer = new StreamWriter(p.socket, { timeout: 150 });
      const forever = (function* () {
        for (;;) yield MiB;
      })();
      await expect(writer.pipeFrom(forever)).rejects.toBeInstanceOf(WriteTimeoutError);
    }
  });

  test('it is an idle timeout: a slow peer that keeps taking data is waited for, even within one large write', async () => {
    // A Unix socket buffers a few hundred KiB in the kernel; the peer takes 64 KiB every 40 ms,
    // so the single 2 MiB write below needs about two timeouts' worth of time, with progress in each
    // (the timeout is generous so that a busy machine's pauses cannot pass for a stalled peer).
    await using d = tempDir();
    await using p = await pair({}, d.file('slow.sock'));
    p.client.pause();
    const writer = new StreamWriter(p.socket, { timeout: 600 });
    const size = 2 * 1024 * 1024;
    let received = 0;
    const reading = setInterval(() => {
      for (let chunk: Buffer | null, taken = 0; taken < 65_536 && (chunk = p.client.read() as Buffer | null) !== null; ) {
        taken += chunk.length;
        received += chunk.length;
      }
    }, 40);
    try {
      const started = Date.now();
      await writer.write(Buffer.alloc(size));
      await writer.drain();
      expect(Date.now() - started).toBeGreaterThan(600); // waited past the timeout: its progress was seen
      expect(p.socket.destroyed).toBe(false);
      await until(() => received === size);
    } finally {
      clearInterval(reading);
    }
  });

  test('over TLS too, a slow peer is waited for within one large write, and a silent one is not', async () => {
    const { server: pairOfKeys, ca } = testCerts();
    const server = tls.createServer({ key: pairOfKeys.key, cert: pairOfKeys.cert });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const connectPair = async (): Promise<[tls.TLSSocket, tls.TLSSocket]> => {
      const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
      const client = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' });
      client.pause();
      return [await accepted, client];
    };
    const sockets: net.Socket[] = [];
    try {
      // Slow: the peer takes 256 KiB every 40 ms of a single 12 MiB write, far more than the
      // kernel buffers, so the write waits several timeouts' worth in all, with progress in each.
      const [slowServerSide, slowClient] = await connectPair();
      sockets.push(slowServerSide, slowClient);
      const started = Date.now();
      let received = 0;
      slowClient.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 262_144 * (1 + Math.floor((Date.now() - started) / 40))) slowClient.pause();
      });
      const pacing = setInterval(() => slowClient.resume(), 40);
      try {
        const writer = new StreamWriter(slowServerSide, { timeout: 600 });
        await writer.write(Buffer.alloc(12 * 1024 * 1024));
        await writer.drain();
        expect(Date.now() - started).toBeGreaterThan(600);
        expect(slowServerSide.destroyed).toBe(false);
      } finally {
        clearInterval(pacing);
      }
      // Silent: the same write to a peer that reads nothing times out.
      const [silentServerSide, silentClient] = await connectPair();
      sockets.push(silentServerSide, silentClient);
      silentClient.on('error', () => {});
      const writer = new StreamWriter(silentServerSide, { timeout: 300 });
      const outcome = writer.write(Buffer.alloc(12 * 1024 * 1024)).then(() => writer.drain());
      await expect(outcome).rejects.toBeInstanceOf(WriteTimeoutError);
      expect(silentServerSide.destroyed).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a handler's writeTimeout: one WriteTimeoutError in handleError(), logged at warn, and serving goes on", async () => {
    const { logger, records } = memoryLogger();
    const errors: unknown[] = [];
    class Flood extends StreamRequestHandler {
      static override writeTimeout = 200;
      override async handle() {
        const line = await this.rfile.readline();
        if (line.toString() === 'flood\n') for (;;) await this.wfile.write(MiB);
        await this.wfile.write(line);
      }
    }
    class Recording extends TCPServer {
      override handleError(socket: net.Socket, client: InetAddress, error: unknown) {
        errors.push(error);
        super.handleError(socket, client, error);
      }
    }
    await using server = new Recording({ host: '127.0.0.1', port: 0 }, Flood, { logger });
    await server.listen();
    void server.serveForever();
    const { port } = server.serverAddress as InetAddress;
    const stuck = net.connect(port, '127.0.0.1');
    stuck.pause(); // asks for the flood, never reads it
    stuck.write('flood\n');
    const closed = new Promise((resolve) => stuck.once('close', resolve));
    await until(() => errors.length > 0, 10_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(WriteTimeoutError);
    stuck.resume();
    await closed;
    expect((await exchange(server, 'still here\n')).toString()).toBe('still here\n');
    const failures = records.filter((r) => String(r.msg).startsWith('Request'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 40, code: 'ERR_SOCKSERVE_WRITE_TIMEOUT' }); // the peer's doing: warn, no stack
    expect(failures[0]!.err).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
