// What every soak scenario shares: the server process, probes, clients and small helpers.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

let serial = 0;

/** A fresh temp path for a Unix socket or a log file. */
export function tempPath(suffix) {
  return join(tmpdir(), `sockserve-soak-${process.pid}-${serial++}${suffix}`);
}

/**
 * Forks server.js. Resolves with { child, address, connect, probe, close, logFile } once it listens.
 * `connect()` opens a client socket to it (TCP or Unix).
 */
export async function startServer(kind, { env = {}, log = true } = {}) {
  const path = kind === 'unix' ? tempPath('.sock') : '';
  const logFile = log ? tempPath('.log') : '';
  const child = fork(new URL('./server.js', import.meta.url), [kind, path, logFile], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters = new Map();
  child.on('message', (message) => {
    const waiter = waiters.get(message.type);
    if (waiter) {
      waiters.delete(message.type);
      waiter.resolve(message);
    }
  });
  child.on('exit', (code, signal) => {
    for (const [type, waiter] of waiters) waiter.reject(new Error(`soak server exited (${code ?? signal}) while waiting for '${type}'`));
    waiters.clear();
  });
  const reply = (type) => new Promise((resolve, reject) => waiters.set(type, { resolve, reject }));
  const { address } = await reply('ready');
  const target = typeof address === 'string' ? { path: address } : { host: address.host, port: address.port };
  return {
    child,
    address: target,
    logFile,
    connect: () => net.connect(target),
    /** Memory (after a full GC when `gc`), descriptors, event-loop delay, stats(), handleError tally. */
    probe: (gc = false) => {
      const answer = reply('probe');
      child.send({ type: 'probe', gc });
      return answer;
    },
    resetDelay: () => child.send({ type: 'reset-delay' }),
    /** serverClose({ timeout }) in the server; resolves with { report, errors, stats, exitMs }. */
    close: async (timeout) => {
      const started = performance.now();
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      const answer = reply('closed');
      child.send({ type: 'close', timeout });
      const closed = await answer;
      await exited;
      if (path) rmSync(path, { force: true });
      return { ...closed, exitMs: performance.now() - started };
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (path) rmSync(path, { force: true });
      if (logFile) rmSync(logFile, { force: true });
    },
  };
}

/** Log lines by pino level name, from a server's log file. */
export function logLevels(file) {
  const names = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const counts = {};
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level) counts[names[level]] = (counts[names[level]] ?? 0) + 1;
  }
  rmSync(file, { force: true });
  return counts;
}

/** Printable bytes without '\n' and without the command byte '!'. */
export const text = Buffer.from(randomBytes(1 << 16).map((byte) => 0x22 + (byte % 0x5c)));

/** A line of `length` bytes (its '\n' included) cut from `text` at a random place. */
export function line(length) {
  const out = Buffer.allocUnsafe(length);
  text.copy(out, 0, Math.floor(Math.random() * (text.length - length)));
  out[length - 1] = 0x0a;
  return out;
}

export const random = (low, high) => low + Math.floor(Math.random() * (high - low + 1));

/** Resolves when the socket is connected; rejects on its error. */
export function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject);
  });
}

/**
 * Everything a client socket receives until it closes: { data, error, ms }. `error` is the
 * socket's error code if it ended with one (a reset), `ms` the time from the call to the close.
 * A socket still open after `limit` ms is destroyed (and `ms` shows it): no wait is unbounded.
 */
export function drain(socket, limit = 60_000) {
  const started = performance.now();
  const timer = setTimeout(() => socket.destroy(), limit);
  return new Promise((resolve) => {
    const chunks = [];
    let error;
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err) => (error = err.code ?? err.message));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), error, ms: performance.now() - started });
    });
  });
}

/**
 * The request/reply of a verifying client: `ask(bytes)` sends them and resolves with as many bytes
 * back; rejects once the connection fails or closes. Bytes nobody asked for fail it too.
 */
export function session(socket) {
  let pending;
  let closed;
  socket.on('data', (chunk) => {
    if (pending === undefined) {
      closed ??= new Error(`${chunk.length} bytes nobody asked for`);
      socket.destroy();
      return;
    }
    pending.chunks.push(chunk);
    pending.got += chunk.length;
    if (pending.got >= pending.expected.length) {
      const { resolve, chunks, got } = pending;
      pending = undefined;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, got));
    }
  });
  const fail = (error) => {
    closed ??= error;
    if (pending !== undefined) {
      const { reject } = pending;
      pending = undefined;
      reject(closed);
    }
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('closed by the server')));
  return (expected) =>
    new Promise((resolve, reject) => {
      if (closed) return reject(closed);
      pending = { expected, chunks: [], got: 0, resolve, reject };
      socket.write(expected);
    });
}

/**
 * Waits (up to 10 s) until the server is back to `fds` descriptors with no connection open; the
 * last probe, with `ok`.
 */
export function backToBaseline(server, fds) {
  return until(async () => {
    const probe = await server.probe();
    return { ...probe, ok: probe.fds <= fds && probe.stats.connections === 0 };
  }, 10_000);
}

/** Waits until `test()` holds, polling every `every` ms, for at most `ms`. Resolves with the last value. */
export async function until(check, ms, every = 100) {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await check();
    if (value.ok || performance.now() > deadline) return value;
    await sleep(every);
  }
}

/** Runs `fn` for each index with at most `width` in flight. */
export async function inBatches(count, width, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(width, count) }, async () => {
    while (next < count) await fn(next++);
  });
  await Promise.all(workers);
}

/** Log counts by level as text: "3 warn, 1 error", or "none". */
export const formatLogs = (logs) => Object.entries(logs).map(([level, count]) => `${count} ${level}`).join(', ') || 'none';

export const mib = (bytes) => (bytes / 1048576).toFixed(1);
export const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
