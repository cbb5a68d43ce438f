/**
 * Socket-path housekeeping shared by the Unix servers: clear a stale path before binding, apply
 * the file mode, and remove the path on close if it is still ours.
 *
 * @module
 */
import { chmod, lstat, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError, ListenError } from '@sockserve/core';
import type { Logger } from 'pino';

/** The identity of a socket file, to remove ours and nothing else. */
export interface SocketFile {
  readonly dev: number;
  readonly ino: number;
}

/** True for a Linux abstract socket name (no file on disk). */
export function isAbstract(path: string): boolean {
  return path.startsWith('\0');
}

/**
 * The longest Unix socket address in bytes: `sun_path` holds 108 bytes on Linux and 104 on macOS
 * and the BSDs, one of which ends a path (an abstract name's leading NUL counts instead).
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * Throws `InvalidArgumentError` for a path the kernel cannot bind: longer than
 * {@link MAX_SOCKET_PATH_BYTES} in UTF-8 (the kernel, or Node, would cut it and bind another
 * path), or with a NUL byte after the first.
 */
export function checkSocketPath(path: string): void {
  const length = Buffer.byteLength(path);
  if (length > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidArgumentError(
      `Expected a Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes on ${process.platform}, got ${length} bytes (\`${path.length > 60 ? `${path.slice(0, 40)}...${path.slice(-16)}` : path}\`); ` +
        'use a shorter path, such as one in a shorter directory or relative to the working directory',
    );
  }
  if (path.indexOf('\0', 1) !== -1) {
    throw new InvalidArgumentError(`Expected a Unix socket path without NUL bytes (other than an abstract name's first), got \`${JSON.stringify(path)}\``);
  }
}

/**
 * Makes `path` free to bind: nothing to do when it does not exist; a socket file that `answers`
 * says nobody serves is removed; a live socket or any other file is `EADDRINUSE`.
 */
export async function clearStalePath(path: string, answers: (path: string) => Promise<boolean>): Promise<void> {
  if (isAbstract(path)) return;
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // Node reports a missing directory as EACCES; say what is really wrong.
    await stat(dirname(path));
    return;
  }
  const inUse = (why: string): ListenError =>
    new ListenError(`Cannot listen on ${path}: EADDRINUSE; ${why}`, 'EADDRINUSE', path, { syscall: 'bind' });
  if (!info.isSocket()) throw inUse('a file that is not a socket is in the way; remove it or pick another path');
  if (await answers(path)) throw inUse('a live server is listening on this socket; stop it or pick another path');
  // A stale socket file left by a server that died: safe to replace.
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Applies `mode` and returns the identity of the socket file now bound at `path`. */
export async function claimPath(path: string, mode: number | undefined): Promise<SocketFile | undefined> {
  if (isAbstract(path)) return undefined;
  if (mode !== undefined) await chmod(path, mode);
  const info = await stat(path);
  return { dev: info.dev, ino: info.ino };
}

/** Removes `path` if it is still the socket file we bound (never one someone else made). */
export async function releasePath(path: string, bound: SocketFile | undefined, log: Logger): Promise<void> {
  if (bound === undefined) return;
  try {
    const info = await lstat(path);
    if (info.dev === bound.dev && info.ino === bound.ino) await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: error, path }, 'Could not remove the socket path');
  }
}

/** Validates a `mode` option. */
export function isFileMode(mode: unknown): boolean {
  return mode === undefined || (Number.isInteger(mode) && (mode as number) >= 0 && (mode as number) <= 0o7777);
}
