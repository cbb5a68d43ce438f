/**
 * Logger plumbing: the default logger, and `false` for none.
 *
 * @module
 */
import { pino, type Logger } from 'pino';

/**
 * The logger option every server takes: a pino `Logger`, `false` for no logging, or `undefined`
 * for the default (warnings and errors as JSON lines on stderr).
 *
 * @example
 * ```ts
 * import { pino } from 'pino';
 * const server = new TCPServer(address, Handler, { logger: pino({ level: 'debug' }) });
 * ```
 */
export type LoggerOption = Logger | false | undefined;

/**
 * Turns a {@link LoggerOption} into a logger.
 *
 * @example
 * ```ts
 * const log = createLogger(undefined); // warnings and errors to stderr
 * const quiet = createLogger(false);   // logs nothing
 * ```
 */
export function createLogger(option: LoggerOption): Logger {
  if (option === false) return pino({ enabled: false });
  if (option !== undefined) return option;
  return pino({ level: 'warn', name: 'sockserve' }, pino.destination({ dest: 2, sync: true }));
}
