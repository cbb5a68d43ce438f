/**
 * `listenFds()`: the listening sockets a service manager passed to this process (systemd socket
 * activation, and anything that speaks its protocol).
 *
 * @module
 */

/**
 * A listening socket passed to this process, as {@link listenFds} reports it: give `{ fd }` to a
 * server as its address.
 *
 * @example
 * ```ts
 * const [{ fd, name }] = listenFds();
 * ```
 */
export interface ListenFd {
  /** The descriptor: 3 for the first, then 4, ... */
  readonly fd: number;
  /** Its name from `LISTEN_FDNAMES` (systemd's `FileDescriptorName=`), or `'unknown'`. */
  readonly name: string;
}

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

/**
 * The listening sockets passed by systemd socket activation (`LISTEN_FDS`, `LISTEN_PID`,
 * `LISTEN_FDNAMES`), as `sd_listen_fds()` reads them: an empty array when none were passed, or when
 * they were meant for another process (`LISTEN_PID` is not this one). The variables are removed
 * afterwards (pass `{ unsetEnvironment: false }` to keep them), so child processes do not take the
 * sockets for theirs.
 *
 * @example
 * ```ts
 * // my.socket: [Socket] ListenStream=7000   my.service: ExecStart=/usr/bin/node server.js
 * const [socket] = listenFds();
 * const server = socket === undefined
 *   ? new TCPServer({ host: '::', port: 7000 }, Handler)   // run by hand
 *   : new TCPServer({ fd: socket.fd }, Handler);            // started by systemd
 * await server.serveUntilSignal();
 * ```
 */
export function listenFds(options: { unsetEnvironment?: boolean; env?: NodeJS.ProcessEnv } = {}): ListenFd[] {
  const { unsetEnvironment = true, env = process.env } = options;
  const pid = env['LISTEN_PID'];
  const count = env['LISTEN_FDS'];
  const names = env['LISTEN_FDNAMES'];
  if (unsetEnvironment) {
    delete env['LISTEN_PID'];
    delete env['LISTEN_FDS'];
    delete env['LISTEN_FDNAMES'];
  }
  if (pid === undefined || count === undefined) return [];
  if (!/^\d+$/.test(pid) || Number(pid) !== process.pid) return [];
  if (!/^\d+$/.test(count)) return [];
  const n = Number(count);
  const labels = names === undefined ? [] : names.split(':');
  return Array.from({ length: n }, (_, i) => ({ fd: FIRST_FD + i, name: labels[i] || 'unknown' }));
}
