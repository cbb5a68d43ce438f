/**
 * Ending a stream connection without cutting off the reply: flush, half-close, then discard the
 * peer's input until it closes. Stream servers use these; so do worker pools.
 *
 * @module
 */
import type net from 'node:net';
import { currentSocket } from '@sockserve/core/internal';

const noop = (): void => {};

/**
 * Half-closes `socket` once everything written is handed to the kernel. Resolves `true` when
 * that happened, `false` when the socket closed first or `timeout` ms passed (the peer is not
 * reading).
 *
 * @example
 * ```ts
 * if (await endSocket(socket, 2_000)) await discardUntilClosed(socket, 2_000);
 * else socket.destroy();
 * ```
 */
export function endSocket(connection: net.Socket, timeout: number): Promise<boolean> {
  // A connection upgraded to TLS in place ends through its TLS socket (close_notify, then FIN).
  const socket = currentSocket(connection);
  if (socket.writableFinished) return Promise.resolve(true);
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const done = (flushed: boolean): void => {
      clearTimeout(timer);
      socket.off('finish', onFinish);
      socket.off('close', onClose);
      resolve(flushed);
    };
    const onFinish = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), timeout);
    socket.on('finish', onFinish);
    socket.on('close', onClose);
    socket.end();
  });
}

/**
 * Reads and discards the peer's input (unread bytes at close would make the kernel send a reset
 * that can destroy the reply in flight) until the peer closes, or destroys the socket after
 * `timeout` ms. Resolves once the socket is closed. Removes every `'data'` listener first: call
 * it only when the request is over.
 *
 * @example
 * ```ts
 * await discardUntilClosed(socket, 2_000);
 * ```
 */
export function discardUntilClosed(connection: net.Socket, timeout: number): Promise<void> {
  const socket = currentSocket(connection);
  if (socket.closed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), timeout);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // Once the peer's end has arrived there is nothing left to drain: close now.
    if (socket.readableEnded) {
      socket.destroy();
      return;
    }
    socket.removeAllListeners('data');
    socket.removeAllListeners('timeout');
    socket.setTimeout(0);
    socket.on('data', noop);
    socket.once('end', () => socket.destroy());
    socket.resume();
  });
}
