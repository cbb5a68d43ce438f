/**
 * A syslog receiver: prints every message it receives, parsed, one per line. Listens on a Unix
 * datagram socket (a local log sink like `/dev/log`) or on UDP.
 *
 *   node dist/main.js --unix /tmp/syslog.sock      node dist/main.js --udp [--host H] [--port 5514]
 *
 * @module
 */
import { parseArgs } from 'node:util';
import {
  DatagramRequestHandler,
  UDPServer,
  UnixDatagramServer,
  formatAddress,
  type ClientAddress,
} from 'sockserve';
import { formatSyslog, parseSyslog } from './syslog_parser.js';

/**
 * Parses one datagram and prints it; a malformed one is logged as a warning and skipped.
 *
 * @example
 * ```ts
 * new UnixDatagramServer('/tmp/syslog.sock', SyslogHandler, { mode: 0o666 });
 * ```
 */
export class SyslogHandler extends DatagramRequestHandler<ClientAddress> {
  override handle(): void {
    let line: string;
    try {
      line = formatSyslog(parseSyslog(this.packet));
    } catch (error) {
      this.log.warn({ reason: (error as Error).message }, 'Skipped a datagram that is not syslog');
      return;
    }
    process.stdout.write(`${line}\n`);
  }
}

const { values } = parseArgs({
  options: {
    unix: { type: 'string' },
    udp: { type: 'boolean', default: false },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5514' },
  },
});

const server =
  values.unix !== undefined && !values.udp
    ? new UnixDatagramServer(values.unix, SyslogHandler, { mode: 0o666 })
    : new UDPServer({ host: values.host, port: Number(values.port) }, SyslogHandler);

try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.log(`syslog receiver listening on ${formatAddress(server.serverAddress)}`);
// Ctrl-C or SIGTERM: stop receiving, give messages in flight a second, then exit.
await server.serveUntilSignal({ timeout: 1_000 });
