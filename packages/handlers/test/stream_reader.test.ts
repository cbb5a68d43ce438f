import net from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  IncompleteReadError,
  InvalidArgumentError,
  InvalidStateError,
  LimitExceededError,
  StreamReader,
  TimeoutError,
  type FrameDecoder,
} from 'sockserve';

/** A reader fed by `chunks`, then ended; asynchronously (a turn of the loop per chunk) if asked. */
function feed(chunks: Array<string | Buffer>, options: { async?: boolean; end?: boolean; limit?: number } = {}) {
  const source = new PassThrough();
  const reader = new StreamReader(source, options.limit === undefined ? {} : { limit: options.limit });
  const write = async (): Promise<void> => {
    for (const chunk of chunks) {
      source.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (options.async) await new Promise((resolve) => setImmediate(resolve));
    }
    if (options.end !== false) source.end();
  };
  const done = write();
  return { reader, source, done };
}

/** Splits `data` at the given cut points. */
function cut(data: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const point of sorted) {
    if (point > last) pieces.push(data.subarray(last, point));
    last = point;
  }
  if (last < data.length) pieces.push(data.subarray(last));
  return pieces;
}

/** What lines() must yield: split after every \n, the last piece as is. */
function expectedLines(data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, start)) {
    lines.push(data.subarray(start, i + 1));
    start = i + 1;
  }
  if (start < data.length) lines.push(data.subarray(start));
  return lines;
}

const lineText = fc.string({ unit: fc.constantFrom('a', 'é', '€', '𝄞', ' ', '\r', 'z', '日'), maxLength: 30 });
const document = fc.array(fc.tuple(lineText, fc.constantFrom('\n', '\r\n')), { maxLength: 30 }).chain((lines) =>
  fc.tuple(fc.constant(lines), lineText),
);

describe('StreamReader: any chunking gives the same result', () => {
  test('lines() yields the same lines for every split, including inside CRLF and multi-byte UTF-8', async () => {
    await fc.assert(
      fc.asyncProperty(document, fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), async ([lines, tail], points, async) => {
        const text = lines.map(([line, end]) => line + end).join('') + tail;
        const data = Buffer.from(text);
        const { reader, done } = feed(cut(data, points), { async });
        const got: Buffer[] = [];
        for await (const line of reader.lines()) got.push(Buffer.from(line));
        await done;
        expect(got).toEqual(expectedLines(data));
        // Decoding each line gives back the original text: no UTF-8 sequence was split.
        expect(got.map((line) => line.toString()).join('')).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  test('readUntil() with a two-byte separator finds it across any split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineText, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), async (messages, points) => {
        const clean = messages.map((m) => m.replaceAll('\r', ''));
        const data = Buffer.from(clean.map((m) => `${m}\r\n`).join(''));
        const { reader, done } = feed(cut(data, points));
        const got: string[] = [];
        for (let i = 0; i < clean.length; i++) got.push((await reader.readUntil('\r\n')).toString());
        expect(got).toEqual(clean.map((m) => `${m}\r\n`));
        expect((await reader.read()).length).toBe(0);
        await done;
      }),
      { numRuns: 200 },
    );
  });

  test('chunks, read(n) and readExactly(n) reassemble the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        async (bytes, points, sizes) => {
          const data = Buffer.from(bytes);
          const { reader, done } = feed(cut(data, points), { async: true });
          const parts: Buffer[] = [];
          let i = 0;
          for (;;) {
            const size = sizes[i++ % sizes.length]!;
            const remaining = data.length - parts.reduce((n, p) => n + p.length, 0);
            const part = i % 2 === 0 && size <= remaining ? await reader.readExactly(size) : await reader.read(size);
            if (part.length === 0) break;
            expect(part.length).toBeLessThanOrEqual(size);
            parts.push(Buffer.from(part));
          }
          await done;
          expect(Buffer.concat(parts).equals(data)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('StreamReader: reads', () => {
  test('readline() returns the rest without a newline at the end of the stream, then empty', async () => {
    const { reader } = feed(['one\ntw', 'o']);
    expect((await reader.readline()).toString()).toBe('one\n');
    expect((await reader.readline()).toString()).toBe('two');
    expect((await reader.readline()).length).toBe(0);
    expect((await reader.readline()).length).toBe(0);
    expect(reader.atEof).toBe(true);
  });

  test('a line within one chunk is returned without copying', async () => {
    const chunk = Buffer.from('abc\ndef\n');
    const { reader } = feed([chunk]);
    const line = await reader.readline();
    expect(line.buffer).toBe(chunk.buffer);
    expect(line.byteOffset).toBe(chunk.byteOffset);
  });

  test('iterating chunks hands out the received buffers themselves', async () => {
    const chunks = [Buffer.from('first'), Buffer.from('second')];
    const { reader } = feed(chunks, { async: true });
    const got: Buffer[] = [];
    for await (const chunk of reader) got.push(chunk);
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(chunks[0]);
    expect(got[1]).toBe(chunks[1]);
  });

  test('a line of exactly the limit is read; one byte more is LimitExceededError and nothing is lost', async () => {
    const { reader } = feed(['x'.repeat(9) + '\n', 'y'.repeat(10) + '\nrest'], { limit: 10 });
    expect((await reader.readline()).toString()).toBe('x'.repeat(9) + '\n');
    const error = await reader.readline().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).code).toBe('ERR_SOCKSERVE_LIMIT_EXCEEDED');
    expect((error as LimitExceededError).limit).toBe(10);
    // The buffered bytes are still there, unmerged.
    expect((await reader.readExactly(11)).toString()).toBe('y'.repeat(10) + '\n');
    expect((await reader.readline()).toString()).toBe('rest');
  });

  test('a line without a newline past the limit fails without waiting for more data', async () => {
    const { reader, source } = feed(['z'.repeat(100)], { limit: 64, end: false });
    await expect(reader.readline()).rejects.toBeInstanceOf(LimitExceededError);
    const next = reader.readline({ limit: 200 });
    source.end('\n');
    expect((await next).toString()).toBe('z'.repeat(100) + '\n');
  });

  test('lines() stops with LimitExceededError on an over-long line', async () => {
    const { reader } = feed(['ok\n', 'x'.repeat(50), '\n'], { limit: 16 });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const line of reader.lines()) got.push(line.toString());
      })(),
    ).rejects.toBeInstanceOf(LimitExceededError);
    expect(got).toEqual(['ok\n']);
  });

  test('readExactly() at the end of the stream rejects with the partial bytes', async () => {
    const { reader } = feed(['abc']);
    const error = (await reader.readExactly(5).catch((e: unknown) => e)) as IncompleteReadError;
    expect(error).toBeInstanceOf(IncompleteReadError);
    expect(error.partial.toString()).toBe('abc');
    expect(error.expected).toBe(5);
  });

  test('readUntil() at the end of the stream rejects with IncompleteReadError', async () => {
    const { reader } = feed(['no separator']);
    const error = (await reader.readUntil('\r\n').catch((e: unknown) => e)) as IncompleteReadError;
    expect(error).toBeInstanceOf(IncompleteReadError);
    expect(error.partial.toString()).toBe('no separator');
    expect(error.expected).toBeNull();
  });

  test('read() returns what is buffered, then empty at the end', async () => {
    const { reader, done } = feed(['hello', ' world']);
    await done;
    expect((await reader.read(3)).toString()).toBe('hel');
    const rest: string[] = [];
    for (let part = await reader.read(); part.length > 0; part = await reader.read()) rest.push(part.toString());
    expect(rest.join('')).toBe('lo world');
    expect((await reader.read(0)).length).toBe(0);
  });

  test('a second read while one waits is InvalidStateError', async () => {
    const { reader, source } = feed([], { end: false });
    const first = reader.readline();
    await expect(reader.readline()).rejects.toBeInstanceOf(InvalidStateError);
    source.end('line\n');
    expect((await first).toString()).toBe('line\n');
  });

  test('bad arguments are InvalidArgumentError', async () => {
    const { reader } = feed([]);
    await expect(reader.read(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(reader.readExactly(1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(reader.readUntil('')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => reader.readline({ limit: 0 })).toThrow(InvalidArgumentError);
    expect(() => new StreamReader(new PassThrough(), { limit: -5 })).toThrow(/got `-5`/);
  });

  test('an aborted signal rejects a waiting read with its reason', async () => {
    const controller = new AbortController();
    const source = new PassThrough();
    const reader = new StreamReader(source, { signal: controller.signal });
    const pending = reader.readline();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    source.destroy();
  });

  test('one reader per stream: a second one throws, readers of other streams are unaffected', async () => {
    const a = new PassThrough();
    const b = new PassThrough();
    const readerA = new StreamReader(a);
    const readerB = new StreamReader(b);
    expect(() => new StreamReader(a)).toThrow(InvalidStateError);
    a.write('from a\n');
    b.write('from b\n');
    a.end();
    expect((await readerA.readline()).toString()).toBe('from a\n');
    expect((await readerB.readline()).toString()).toBe('from b\n');
    b.destroy(new Error('b failed'));
    expect((await readerA.readline()).length).toBe(0);
    await expect(readerB.readline()).rejects.toThrow('b failed');
  });

  test('StreamReader.from() reads bytes in memory', async () => {
    const reader = StreamReader.from(Buffer.from('a\nb'));
    expect((await reader.readline()).toString()).toBe('a\n');
    expect((await reader.readline()).toString()).toBe('b');
    expect((await reader.readline()).length).toBe(0);
  });

  test('pauses the source past its high-water mark while no read waits', async () => {
    const source = new PassThrough();
    const reader = new StreamReader(source, { highWaterMark: 1024, limit: 1024 });
    const first = reader.read(1); // starts the flow
    for (let i = 0; i < 10; i++) source.write(Buffer.alloc(512));
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(reader.buffered).toBeLessThan(2048);
    expect(source.isPaused()).toBe(true);
    let total = 1;
    for (let part = await reader.read(); ; part = await reader.read()) {
      total += part.length;
      if (total === 5120) break;
    }
    source.destroy();
  });
});

describe('StreamReader on a socket', () => {
  test('a read that gets no data within the timeout rejects with TimeoutError; later reads still work', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    const reader = new StreamReader(socket, { timeout: 50 });
    const started = Date.now();
    const error = await reader.readline().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_SOCKSERVE_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    client.write('late\n');
    expect((await reader.readline()).toString()).toBe('late\n');
    client.destroy();
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('StreamReader: recovering from over-long lines, and telling a final partial line', () => {
  test('discardUntil() skips an over-long line however it is chunked, then reading goes on', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (points) => {
        const data = Buffer.from(`short\n${'x'.repeat(300)}\r\nnext\n`);
        const { reader } = feed(cut(data, points), { async: true, limit: 64 });
        expect((await reader.readline()).toString()).toBe('short\n');
        await expect(reader.readline()).rejects.toBeInstanceOf(LimitExceededError);
        expect(await reader.discardUntil('\r\n')).toBe(302);
        expect((await reader.readline()).toString()).toBe('next\n');
        expect((await reader.readline()).length).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  test('discardUntil() keeps nothing of what it skips: 4 MiB pass through, a chunk at a time', async () => {
    const source = new PassThrough();
    const reader = new StreamReader(source);
    const discarding = reader.discardUntil('\r\n');
    for (let i = 0; i < 64; i++) {
      source.write(Buffer.alloc(64 * 1024, 'y'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(reader.buffered).toBeLessThanOrEqual(1); // at most a separator's first byte
    }
    source.end('\r\nafter\n');
    expect(await discarding).toBe(4 * 1024 * 1024 + 2);
    expect((await reader.readline()).toString()).toBe('after\n');
  });

  test('discardUntil() at the end of the stream discards the rest and resolves with its length', async () => {
    const { reader } = feed(['no separator here']);
    expect(await reader.discardUntil('\n')).toBe(17);
    expect(reader.atEof).toBe(true);
    await expect(reader.discardUntil('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test("readline({ partial: 'reject' }) rejects a final line without its newline, and ends cleanly after one", async () => {
    const cut = feed(['whole\nhalf'], { async: true });
    expect((await cut.reader.readline({ partial: 'reject' })).toString()).toBe('whole\n');
    const error = await cut.reader.readline({ partial: 'reject' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteReadError);
    expect((error as IncompleteReadError).partial.toString()).toBe('half');
    const clean = feed(['whole\n']);
    expect((await clean.reader.readline({ partial: 'reject' })).toString()).toBe('whole\n');
    expect((await clean.reader.readline({ partial: 'reject' })).length).toBe(0);
    // The default returns the partial line, which has no newline: that is how to tell.
    const plain = feed(['whole\nhalf']);
    expect((await plain.reader.readline()).at(-1)).toBe(0x0a);
    expect((await plain.reader.readline()).toString()).toBe('half');
  });

  test("lines({ partial: 'reject' }) throws at a final partial line, and ends quietly after a whole one", async () => {
    const seen: string[] = [];
    const cut = feed(['a\nb\nc'], { async: true });
    await expect(
      (async () => {
        for await (const line of cut.reader.lines({ partial: 'reject' })) seen.push(line.toString());
      })(),
    ).rejects.toMatchObject({ code: 'ERR_SOCKSERVE_INCOMPLETE_READ' });
    expect(seen).toEqual(['a\n', 'b\n']);
    const clean = feed(['a\nb\n']);
    const all: string[] = [];
    for await (const line of clean.reader.lines({ partial: 'reject' })) all.push(line.toString());
    expect(all).toEqual(['a\n', 'b\n']);
  });
});

/** A decoder of frames "<kind line>\n<n>\n<n bytes>", written with the try-reads. */
const kindLengthBody: FrameDecoder<{ kind: string; body: string }> = (input) => {
  const kind = input.tryReadline({ limit: 32 });
  if (kind === undefined) return undefined;
  const length = input.tryReadUntil('\n', { limit: 16 });
  if (length === undefined) return undefined;
  const body = input.tryReadExactly(Number(length.toString().trim()));
  if (body === undefined) return undefined;
  return { kind: kind.toString().trim(), body: body.toString() };
};

/** A decoder of the same frames by offsets in peek(), consumed with skip(). */
const kindLengthBodyPeek: FrameDecoder<{ kind: string; body: string }> = (input) => {
  const data = input.peek();
  const first = data.indexOf(10);
  if (first === -1) return undefined;
  const second = data.indexOf(10, first + 1);
  if (second === -1) return undefined;
  const length = Number(data.toString('latin1', first + 1, second));
  if (data.length < second + 1 + length) return undefined;
  input.skip(second + 1 + length);
  return { kind: data.toString('utf8', 0, first), body: data.toString('utf8', second + 1, second + 1 + length) };
};

describe('StreamReader: frame decoders (readFrame, tryReadFrame, try-reads)', () => {
  const frames = fc.array(fc.tuple(fc.constantFrom('get', 'set', 'ping'), fc.string({ maxLength: 40 })), { maxLength: 25 });
  const encode = (list: Array<[string, string]>): Buffer =>
    Buffer.concat(list.map(([kind, body]) => Buffer.concat([Buffer.from(`${kind}\n${Buffer.byteLength(body)}\n`), Buffer.from(body)])));

  for (const [name, decoder] of [
    ['try-reads', kindLengthBody],
    ['peek() and skip()', kindLengthBodyPeek],
  ] as const) {
    test(`${name}: any chunking gives the same frames, taken without an await while buffered`, async () => {
      await fc.assert(
        fc.asyncProperty(frames, fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), async (list, points, async) => {
          const { reader, done } = feed(cut(encode(list), points), { async });
          const got: Array<{ kind: string; body: string }> = [];
          for (;;) {
            const frame = reader.tryReadFrame(decoder) ?? (await reader.readFrame(decoder));
            if (frame === null) break;
            got.push(frame);
          }
          await done;
          expect(got).toEqual(list.map(([kind, body]) => ({ kind, body })));
        }),
        { numRuns: 200 },
      );
    });
  }

  test('tryReadFrame() takes every buffered frame synchronously and puts back a partial one', async () => {
    const reader = StreamReader.from(Buffer.from('get\n1\nAset\n2\nBCping\n5\nxy'));
    expect(reader.tryReadFrame(kindLengthBody)).toEqual({ kind: 'get', body: 'A' });
    expect(reader.tryReadFrame(kindLengthBody)).toEqual({ kind: 'set', body: 'BC' });
    const before = reader.buffered;
    expect(reader.tryReadFrame(kindLengthBody)).toBeUndefined();
    expect(reader.buffered).toBe(before); // nothing of the partial frame was consumed
    // The stream ended inside a frame: readFrame says so, with the bytes.
    const error = await reader.readFrame(kindLengthBody).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteReadError);
    expect((error as IncompleteReadError).partial.toString()).toBe('ping\n5\nxy');
  });

  test('a line search undone by a partial frame does not skip lines on the next try', async () => {
    const { reader, source } = feed([], { end: false });
    // The first line is there, the second not yet: the decoder's second line search fails and
    // its first line is put back; the next try must find that line's newline again.
    const frame = reader.readFrame(kindLengthBody);
    source.write('get\n');
    await new Promise((resolve) => setImmediate(resolve));
    source.write('3\nabc');
    expect(await frame).toEqual({ kind: 'get', body: 'abc' });
    // Reading ahead continues while below the high-water mark: the try-reads see what arrives.
    source.write('set\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(reader.tryReadFrame(kindLengthBody)).toBeUndefined();
    source.write('1\nx');
    await new Promise((resolve) => setImmediate(resolve));
    expect(reader.tryReadFrame(kindLengthBody)).toEqual({ kind: 'set', body: 'x' });
    source.end();
    expect(await reader.readFrame(kindLengthBody)).toBeNull();
  });

  test('readFrame() waits for the rest of a frame, and resolves null at a clean end', async () => {
    const { reader, source } = feed([], { end: false });
    const frame = reader.readFrame(kindLengthBody);
    source.write('set\n1');
    source.write('0\n0123');
    source.write('456789');
    expect(await frame).toEqual({ kind: 'set', body: '0123456789' });
    source.end();
    expect(await reader.readFrame(kindLengthBody)).toBeNull();
  });

  test('a frame past the limit is LimitExceededError, and nothing of it is consumed', async () => {
    const { reader, source } = feed([], { end: false });
    const failed = reader.readFrame(kindLengthBody, { limit: 64 }).catch((e: unknown) => e);
    source.write(`get\n100\n${'x'.repeat(80)}`);
    expect(await failed).toBeInstanceOf(LimitExceededError);
    expect(reader.buffered).toBe(88);
    expect(() => reader.tryReadFrame(kindLengthBody, { limit: 64 })).toThrow(LimitExceededError);
    source.destroy();
  });

  test('what a decoder throws rejects the read, and the frame stays unread', async () => {
    const reader = StreamReader.from(Buffer.from('bad frame\nrest\n'));
    const failure = new Error('malformed');
    const strict: FrameDecoder<Buffer> = (input) => {
      const line = input.tryReadline();
      if (line?.toString().startsWith('bad')) throw failure;
      return line;
    };
    expect(() => reader.tryReadFrame(strict)).toThrow(failure);
    await expect(reader.readFrame(strict)).rejects.toBe(failure);
    expect((await reader.readline()).toString()).toBe('bad frame\n');
    expect((await reader.readFrame(strict))?.toString()).toBe('rest\n');
  });

  test('try-reads never wait and never report the end: undefined until the frame is all there', async () => {
    const reader = StreamReader.from(Buffer.from('ab\ncd'));
    expect(reader.tryReadExactly(10)).toBeUndefined();
    expect(reader.tryReadline()?.toString()).toBe('ab\n');
    expect(reader.tryReadline()).toBeUndefined(); // 'cd' has no newline, even at the end
    expect(reader.tryReadUntil('d')?.toString()).toBe('cd');
    expect(reader.tryReadExactly(0)?.length).toBe(0);
    expect(reader.peek().length).toBe(0);
    expect(() => reader.tryReadExactly(-1)).toThrow(InvalidArgumentError);
    expect(() => reader.skip(1)).toThrow(InvalidArgumentError);
    expect(() => StreamReader.from(Buffer.from('x'.repeat(10))).tryReadline({ limit: 4 })).toThrow(LimitExceededError);
  });

  test('a synchronous read while another read waits is InvalidStateError', async () => {
    const { reader, source } = feed([], { end: false });
    const waiting = reader.readline();
    expect(() => reader.tryReadline()).toThrow(InvalidStateError);
    expect(() => reader.tryReadFrame(kindLengthBody)).toThrow(InvalidStateError);
    expect(() => reader.skip(0)).toThrow(InvalidStateError);
    source.end('last\n');
    expect((await waiting).toString()).toBe('last\n');
  });
});
