import { statSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import {
  DatagramRequestHandler,
  InvalidArgumentError,
  ListenError,
  StreamRequestHandler,
  UnixDatagramServer,
  UnixStreamServer,
} from 'sockserve';
import { exchange, tempDir } from '../../../test/helpers/net.js';

class Echo extends StreamRequestHandler {
  override async handle() {
    await this.wfile.pipeFrom(this.rfile);
  }
}

class DatagramEcho extends DatagramRequestHandler {
  override async handle() {
    await this.wfile.write(this.packet);
  }
}

/** Leaves a stale socket file behind, as a server that was killed would. */
function staleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
}

describe('UnixStreamServer', () => {
  test('removes its socket path on close', async () => {
    using dir = tempDir();
    const path = dir.file('echo.sock');
    const server = new UnixStreamServer(path, Echo, { logger: false });
    await server.listen();
    void server.serveForever();
    expect(statSync(path).isSocket()).toBe(true);
    expect((await exchange(server, 'over unix')).toString()).toBe('over unix');
    await server.serverClose();
    expect(existsSync(path)).toBe(false);
  });

  test('replaces a stale socket file that no server answers on', async () => {
    using dir = tempDir();
    const path = dir.file('stale.sock');
    staleSocket(path);
    expect(statSync(path).isSocket()).toBe(true);
    await using server = new UnixStreamServer(path, Echo, { logger: false });
    await server.listen();
    void server.serveForever();
    expect((await exchange(server, 'fresh')).toString()).toBe('fresh');
  });

  test('refuses a live socket with EADDRINUSE and leaves it working', async () => {
    using dir = tempDir();
    const path = dir.file('live.sock');
    await using live = new UnixStreamServer(path, Echo, { logger: false });
    await live.listen();
    void live.serveForever();
    await using intruder = new UnixStreamServer(path, Echo, { logger: false });
    const error = (await intruder.listen().catch((e: unknown) => e)) as ListenError;
    expect(error).toBeInstanceOf(ListenError);
    expect(error.code).toBe('EADDRINUSE');
    expect(error.message).toContain('live server');
    await intruder.serverClose();
    expect((await exchange(live, 'still mine')).toString()).toBe('still mine');
  });

  test('refuses a path held by a regular file with EADDRINUSE and does not delete it', async () => {
    using dir = tempDir();
    const path = dir.file('data.txt');
    writeFileSync(path, 'precious');
    await using server = new UnixStreamServer(path, Echo, { logger: false });
    await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  test('rejects with ENOENT when the directory does not exist', async () => {
    using dir = tempDir();
    await using server = new UnixStreamServer(dir.file('missing/dir/s.sock'), Echo, { logger: false });
    await expect(server.listen()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('applies the file mode', async () => {
    using dir = tempDir();
    const path = dir.file('private.sock');
    await using server = new UnixStreamServer(path, Echo, { logger: false, mode: 0o600 });
    await server.listen();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test.skipIf(process.platform !== 'linux')('listens on a Linux abstract name, with no file', async () => {
    const name = `\0sockserve-abstract-${process.pid}`;
    await using server = new UnixStreamServer(name, Echo, { logger: false });
    await server.listen();
    void server.serveForever();
    expect(server.abstract).toBe(true);
    expect(server.serverAddress).toBe(name);
    expect((await exchange(server, 'abstract')).toString()).toBe('abstract');
  });
});

describe.each([
  { name: 'UnixStreamServer', create: (path: string) => new UnixStreamServer(path, Echo, { logger: false }) },
  { name: 'UnixDatagramServer', create: (path: string) => new UnixDatagramServer(path, DatagramEcho, { logger: false }) },
])('$name: socket paths longer than the kernel allows', ({ create }) => {
  const limit = process.platform === 'linux' ? 107 : 103;

  test('are refused before binding, with the limit and the length, leaving nothing behind', async () => {
    using dir = tempDir();
    const path = `${dir.path}/${'x'.repeat(120)}.sock`;
    const server = create(path);
    const error = await server.listen().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain(`at most ${limit} bytes`);
    expect((error as Error).message).toContain(`got ${Buffer.byteLength(path)} bytes`);
    expect(readdirSync(dir.path)).toEqual([]);
    await server.serverClose();
    expect(readdirSync(dir.path)).toEqual([]);
  });

  test('a path of exactly the limit binds, and is removed on close', async () => {
    using dir = tempDir();
    const path = `${dir.path}/`.padEnd(limit - 5, 'y') + '.sock';
    expect(Buffer.byteLength(path)).toBe(limit);
    const server = create(path);
    await server.listen();
    expect(readdirSync(dir.path)).toEqual([path.slice(dir.path.length + 1)]);
    await server.serverClose();
    expect(readdirSync(dir.path)).toEqual([]);
  });
});
