/**
 * `UnixDatagramSocket` on its own: errors, pausing, descriptors inherited by child processes,
 * and worker threads. (Servers on it are tested with the transports.)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { SocketError } from '@sockserve/core';
import { UnixDatagramSocket } from '@sockserve/unix-dgram';
import { tempDir, until } from '../../../test/helpers/net.js';

describe('UnixDatagramSocket', () => {
  test('sending to a path nobody is bound at rejects with a coded SocketError', async () => {
    using dir = tempDir();
    using socket = new UnixDatagramSocket();
    const error = (await socket.sendTo('x', dir.file('nobody.sock')).catch((e: unknown) => e)) as SocketError;
    expect(error).toBeInstanceOf(SocketError);
    expect(error.code).toBe('ENOENT');
    expect(error.message).toContain('nobody.sock');
    expect(() => new UnixDatagramSocket().bind(dir.file('missing/dir.sock'))).toThrow(/ENOENT/);
  });

  test('a paused socket leaves datagrams queued, still sends, and gets them on resume', async () => {
    using dir = tempDir();
    using server = new UnixDatagramSocket().bind(dir.file('paused.sock'));
    using client = new UnixDatagramSocket().bind(dir.file('client.sock'));
    const got: string[] = [];
    server.on('message', (data) => got.push(data.toString()));
    server.pause();
    await client.sendTo('one', dir.file('paused.sock'));
    await client.sendTo('two', dir.file('paused.sock'));
    await server.sendTo('from a paused socket', dir.file('client.sock'));
    expect((await client.receive()).data.toString()).toBe('from a paused socket');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(got).toEqual([]);
    server.resume();
    await until(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
  });

  test('a child process adopts an inherited descriptor and serves on it', async () => {
    using dir = tempDir();
    const socket = new UnixDatagramSocket().bind(dir.file('shared.sock'));
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { UnixDatagramSocket } = await import(${JSON.stringify(entry)});
         const socket = UnixDatagramSocket.adopt(3);
         const { data, sender } = await socket.receive();
         await socket.sendTo('child got ' + data, sender);
         socket.close();`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit', socket.fd] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    socket.close(); // the child holds its own copy of the descriptor
    using client = new UnixDatagramSocket().bind(dir.file('client.sock'));
    await client.sendTo('hello', dir.file('shared.sock'));
    expect((await client.receive()).data.toString()).toBe('child got hello');
    expect(await exited).toBe(0);
  });
});

describe('worker threads', () => {
  test('the addon loads and works in worker threads, with no shared state', async () => {
    using dir = tempDir();
    using main = new UnixDatagramSocket().bind(dir.file('main.sock'));
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const workers = [1, 2, 3].map(
      (id) =>
        new Worker(
          `
const { workerData } = require('node:worker_threads');
import(workerData.entry).then(async ({ UnixDatagramSocket }) => {
  const socket = new UnixDatagramSocket().bind(workerData.path);
  await socket.sendTo('hello from worker ' + workerData.id, workerData.main);
  const { data } = await socket.receive();
  await socket.sendTo('worker ' + workerData.id + ' heard ' + data, workerData.main);
  socket.close();
});
`,
          { eval: true, workerData: { entry, id, path: dir.file(`worker${id}.sock`), main: main.address } },
        ),
    );
    const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    const hellos = await Promise.all(workers.map(() => main.receive()));
    expect(hellos.map((m) => m.data.toString()).sort()).toEqual([1, 2, 3].map((id) => `hello from worker ${id}`));
    for (const { sender } of hellos) await main.sendTo('pong', sender!);
    const heard = await Promise.all(workers.map(() => main.receive()));
    expect(heard.map((m) => m.data.toString()).sort()).toEqual([1, 2, 3].map((id) => `worker ${id} heard pong`));
    expect(await Promise.all(exits)).toEqual([0, 0, 0]);
  });
});
