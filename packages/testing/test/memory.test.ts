/** The in-memory servers run handlers, hooks and strategies as the socket servers do. */
import { describe, expect, test } from 'vitest';
import {
  DatagramRequestHandler,
  EventLoopStrategy,
  InvalidArgumentError,
  MemoryDatagramServer,
  MemoryServer,
  MemorySocket,
  RequestAbortedError,
  SequentialStrategy,
  ServerClosedError,
  StreamRequestHandler,
  TimeoutError,
  WorkerPoolStrategy,
  type DropInfo,
  type InetAddress,
} from 'sockserve';

/** Everything the client end receives until it closes. */
async function received(client: MemorySocket): Promise<string> {
  const chunks: Buffer[] = [];
  client.on('error', () => {});
  for await (const chunk of client) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

class Echo extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

describe('MemoryServer', () => {
  test('runs a stream handler over an in-memory connection, with its client address', async () => {
    const seen: InetAddress[] = [];
    class Hello extends StreamRequestHandler<InetAddress> {
      override async handle(): Promise<void> {
        seen.push(this.clientAddress);
        const name = (await this.rfile.readline()).toString().trim();
        await this.wfile.write(`hello ${name} from ${this.server.serverAddress}\n`);
      }
    }
    await using server = new MemoryServer(Hello, { logger: false, serverAddress: 'memory:hello' });
    void server.serveForever();
    const client = await server.connect({ host: '192.0.2.7', port: 5000, family: 'IPv4' });
    client.end('ada\n');
    expect(await received(client)).toBe('hello ada from memory:hello\n');
    expect(seen).toEqual([{ host: '192.0.2.7', port: 5000, family: 'IPv4' }]);
    const other = await server.connect();
    other.end('bob\n');
    expect(await received(other)).toBe('hello bob from memory:hello\n');
    expect(seen[1]).toMatchObject({ host: '127.0.0.1', family: 'IPv4' });
  });

  test('runs the hooks and emits the events a socket server does, in the same order', async () => {
    const events: string[] = [];
    class Picky extends MemoryServer {
      override verifyRequest(_socket: unknown, client: InetAddress): boolean {
        events.push(`verify ${client.port}`);
        return client.port !== 1;
      }
      override handleError(_socket: unknown, _client: InetAddress, error: unknown): void {
        events.push(`error ${(error as Error).message}`);
      }
      override serviceActions(): void {
        events.push('serviceActions');
      }
    }
    class Failing extends StreamRequestHandler {
      override async handle(): Promise<void> {
        if ((await this.rfile.readline()).toString() === 'fail\n') throw new Error('handler failed');
        await this.wfile.write('ok\n');
      }
    }
    const server = new Picky(Failing, { logger: false });
    for (const event of ['listening', 'request', 'requestError', 'shutdown', 'close'] as const) {
      server.on(event, () => events.push(event));
    }
    void server.serveForever();
    const refused = await server.connect({ host: '127.0.0.1', port: 1, family: 'IPv4' });
    refused.end('ok\n');
    expect(await received(refused)).toBe('');
    const failing = await server.connect({ host: '127.0.0.1', port: 2, family: 'IPv4' });
    failing.end('fail\n');
    expect(await received(failing)).toBe('');
    const fine = await server.connect({ host: '127.0.0.1', port: 3, family: 'IPv4' });
    fine.end('hi\n');
    expect(await received(fine)).toBe('ok\n');
    await new Promise((resolve) => setImmediate(resolve)); // the last request's end runs its course
    expect(await server.serverClose()).toEqual({ completed: 0, aborted: 0 });
    expect(events).toEqual([
      'listening',
      'request',
      'verify 1',
      'serviceActions',
      'request',
      'verify 2',
      'requestError',
      'error handler failed',
      'serviceActions',
      'request',
      'verify 3',
      'serviceActions',
      'shutdown',
      'close',
    ]);
  });

  test("a handler's read timeout fails the request with TimeoutError", async () => {
    class Patient extends StreamRequestHandler {
      static override timeout = 30;
      override async handle(): Promise<void> {
        await this.rfile.readline();
      }
    }
    await using server = new MemoryServer(Patient, { logger: false });
    const errors: unknown[] = [];
    server.on('requestError', (error) => errors.push(error));
    void server.serveForever();
    const client = await server.connect();
    expect(await received(client)).toBe('');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
  });

  test('SequentialStrategy runs one connection at a time; EventLoopStrategy runs them together', async () => {
    for (const [concurrency, expected] of [
      [new SequentialStrategy(), ['start', 'end', 'start', 'end']],
      [new EventLoopStrategy(), ['start', 'start', 'end', 'end']],
    ] as const) {
      const order: string[] = [];
      class Slow extends StreamRequestHandler {
        override async handle(): Promise<void> {
          order.push('start');
          await new Promise((resolve) => setTimeout(resolve, 20));
          order.push('end');
        }
      }
      await using server = new MemoryServer(Slow, { logger: false, concurrency });
      void server.serveForever();
      const clients = await Promise.all([server.connect(), server.connect()]);
      for (const client of clients) client.end();
      await Promise.all(clients.map(received));
      expect(order).toEqual(expected);
    }
  });

  test('serverClose({ timeout }) aborts what is still running and reports it', async () => {
    let reason: unknown;
    class Stuck extends StreamRequestHandler {
      override async handle(): Promise<void> {
        this.signal.addEventListener('abort', () => (reason = this.signal.reason));
        await this.rfile.readline(); // the client never sends
      }
    }
    const server = new MemoryServer(Stuck, { logger: false });
    void server.serveForever();
    const client = await server.connect();
    const closed = received(client);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await server.serverClose({ timeout: 30 })).toEqual({ completed: 0, aborted: 1 });
    expect(reason).toBeInstanceOf(RequestAbortedError);
    expect(await closed).toBe('');
    await expect(server.connect()).rejects.toBeInstanceOf(ServerClosedError);
  });

  test('writes wait while the client does not read, and all of it arrives once it does', async () => {
    const size = 1024 * 1024;
    let written = false;
    class Big extends StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(Buffer.alloc(size, 'z'));
        written = true;
      }
    }
    await using server = new MemoryServer(Big, { logger: false });
    void server.serveForever();
    const client = await server.connect();
    client.pause();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(written).toBe(false); // backpressure: the 1 MiB write waits for the reader
    client.end();
    expect((await received(client)).length).toBe(size);
    expect(written).toBe(true);
  });

  test('a client that resets mid-request fails its request, and the server goes on', async () => {
    const errors: unknown[] = [];
    class Reader extends StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.rfile.readExactly(100);
      }
    }
    await using server = new MemoryServer(Reader, { logger: false });
    server.on('requestError', (error) => errors.push(error));
    void server.serveForever();
    const client = await server.connect();
    client.write('partial');
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(errors).toHaveLength(1);
    expect(['ECONNRESET', 'ERR_SOCKSERVE_INCOMPLETE_READ']).toContain((errors[0] as { code: string }).code);
  });

  test('handleRequest() takes exactly one connection', async () => {
    await using server = new MemoryServer(Echo, { logger: false });
    const first = await server.connect();
    const second = await server.connect();
    first.end('one\n');
    second.end('two\n');
    await server.handleRequest();
    expect(await received(first)).toBe('one\n');
    void server.serveForever();
    expect(await received(second)).toBe('two\n');
  });

  test('refuses the worker pool, whose workers need real descriptors', () => {
    const concurrency = new WorkerPoolStrategy({ module: import.meta.url, workers: 1 });
    expect(() => new MemoryServer(Echo, { concurrency })).toThrow(InvalidArgumentError);
    expect(() => new MemoryDatagramServer(DatagramRequestHandler, { concurrency })).toThrow(InvalidArgumentError);
  });
});

describe('MemoryDatagramServer', () => {
  class Upper extends DatagramRequestHandler {
    override async handle(): Promise<void> {
      const text = this.packet.toString();
      if (text === 'silent') return;
      if (text === 'fail') throw new Error('bad datagram');
      await this.wfile.write(text.toUpperCase());
    }
  }

  test("resolves with the handler's reply, or undefined when it wrote none", async () => {
    await using server = new MemoryDatagramServer(Upper, { logger: false });
    void server.serveForever();
    expect((await server.send('hi'))?.toString()).toBe('HI');
    expect(await server.send('silent')).toBeUndefined();
    const replies = await Promise.all(['a', 'b', 'c'].map((text) => server.send(text)));
    expect(replies.map(String)).toEqual(['A', 'B', 'C']);
  });

  test('handler errors reach handleError; refused and oversized datagrams get no reply', async () => {
    const errors: string[] = [];
    const dropped: Array<DropInfo<InetAddress>> = [];
    class Guarded extends MemoryDatagramServer {
      override verifyRequest([packet]: [Buffer, unknown]): boolean {
        return packet.toString() !== 'blocked';
      }
      override handleError(_request: unknown, _client: InetAddress, error: unknown): void {
        errors.push((error as Error).message);
      }
    }
    await using server = new Guarded(Upper, { logger: false, maxDatagramSize: 16 });
    server.on('dropped', (info) => dropped.push(info));
    void server.serveForever();
    expect(await server.send('fail')).toBeUndefined();
    expect(errors).toEqual(['bad datagram']);
    expect(await server.send('blocked')).toBeUndefined();
    expect(await server.send('x'.repeat(17), { host: '::1', port: 53, family: 'IPv6' })).toBeUndefined();
    expect(dropped).toEqual([{ reason: 'too-large', size: 17, clientAddress: { host: '::1', port: 53, family: 'IPv6' } }]);
    expect((await server.send('still'))?.toString()).toBe('STILL');
  });

  test('serverClose({ timeout }) aborts a stuck datagram handler: no reply, and the report says so', async () => {
    class Stuck extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        await new Promise((resolve) => this.signal.addEventListener('abort', resolve));
        await this.wfile.write('too late');
      }
    }
    const server = new MemoryDatagramServer(Stuck, { logger: false });
    void server.serveForever();
    const reply = server.send('x');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await server.serverClose({ timeout: 20 })).toEqual({ completed: 0, aborted: 1 });
    expect(await reply).toBeUndefined();
  });
});
