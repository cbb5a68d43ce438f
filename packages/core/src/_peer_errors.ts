/**
 * Whose fault an error is: the peer's (routine on a network, logged without a stack) or the
 * handler's (a bug, logged at error with its stack). The default `handleError()` uses it.
 *
 * @module
 */

/**
 * Error codes that are the peer's doing, and the level the default handleError() logs them at
 * (without a stack): hang-ups are routine (info); misbehaviour and stalls are worth a look (warn).
 */
const PEER_ERROR_LEVELS: Readonly<Record<string, 'info' | 'warn'>> = {
  ECONNRESET: 'info',
  EPIPE: 'info',
  ECONNABORTED: 'info',
  ERR_SOCKSERVE_INCOMPLETE_READ: 'info',
  ERR_SOCKSERVE_CONNECTION_CLOSED: 'info',
  ERR_STREAM_PREMATURE_CLOSE: 'info',
  ERR_SOCKSERVE_LIMIT_EXCEEDED: 'warn',
  ERR_SOCKSERVE_TIMEOUT: 'warn',
  ERR_SOCKSERVE_WRITE_TIMEOUT: 'warn',
  ETIMEDOUT: 'warn',
  EHOSTUNREACH: 'warn',
  ENETUNREACH: 'warn',
};

/** The same for a datagram reply that could not be sent (`syscall: 'sendto'`). */
const REPLY_ERROR_LEVELS: Readonly<Record<string, 'info' | 'warn'>> = {
  ...PEER_ERROR_LEVELS,
  // The peer is gone.
  ENOENT: 'info',
  ECONNREFUSED: 'info',
  // The peer is unbound, or its queue stayed full.
  EDESTADDRREQ: 'warn',
  EAGAIN: 'warn',
};

/** The level a peer's error is logged at, or `undefined` for an error that is not the peer's doing. */
export function peerErrorLevel(error: unknown): 'info' | 'warn' | undefined {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return undefined;
  return syscall === 'sendto' ? REPLY_ERROR_LEVELS[code] : PEER_ERROR_LEVELS[code];
}
