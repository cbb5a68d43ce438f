/**
 * An echo server over TCP or a Unix socket.
 *
 *   node dist/main.js [--host 127.0.0.1] [--port 7777] [--udp] [--unix PATH] [--unix-dgram PATH]
 *                     [--strategy event-loop|sequential] [--max-concurrency N] [--lines]
 *
 * Started by systemd socket activation (or `systemd-socket-activate -l 7777 node dist/main.js`;
 * add `--datagram` and `--udp` for UDP), it serves the socket it was passed instead of binding one.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import {
  EventLoopStrategy,
  SequentialStrategy,
  TCPServer,
  UDPServer,
  UnixDatagramServer,
  UnixStreamServer,
  formatAddress,
  listenFds,
  type ConcurrencyStrategy,
} from 'sockserve';
import { DatagramEchoHandler, EchoHandler, LineEchoHandler } from './echo_handler.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '7777' },
    unix: { type: 'string' },
    udp: { type: 'boolean', default: false },
    'unix-dgram': { type: 'string' },
    strategy: { type: 'string', default: 'event-loop' },
    'max-concurrency': { type: 'string' },
    lines: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(
    'Usage: echo [--host H] [--port P] [--udp] [--unix PATH] [--unix-dgram PATH] [--strategy event-loop|sequential] [--max-concurrency N] [--lines]',
  );
  process.exit(0);
}

function strategy(): ConcurrencyStrategy {
  const max = values['max-concurrency'] === undefined ? undefined : Number(values['max-concurrency']);
  switch (values.strategy) {
    case 'event-loop':
      return new EventLoopStrategy(max === undefined ? {} : { maxConcurrency: max });
    case 'sequential':
      return new SequentialStrategy();
    default:
      console.error(`Unknown --strategy ${JSON.stringify(values.strategy)}; use event-loop or sequential`);
      process.exit(2);
  }
}

const options = { concurrency: strategy() };
// A socket passed by systemd socket activation is used as it is: bound and listening already.
const [passed] = listenFds();
const address = passed === undefined ? { host: values.host, port: Number(values.port) } : { fd: passed.fd };
const Handler = values.lines ? LineEchoHandler : EchoHandler;
const server =
  values['unix-dgram'] !== undefined
    ? new UnixDatagramServer(passed === undefined ? values['unix-dgram'] : { fd: passed.fd }, DatagramEchoHandler, options)
    : values.udp
      ? new UDPServer(address, DatagramEchoHandler, options)
      : values.unix !== undefined
        ? new UnixStreamServer(passed === undefined ? values.unix : { fd: passed.fd }, Handler, options)
        : new TCPServer(address, Handler, options);

try {
  await server.listen();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
// An adopted Unix socket's path is the service manager's, and not known here.
const where = formatAddress(server.serverAddress) || `the socket passed as descriptor ${passed?.fd ?? '?'}`;
console.log(`echo server listening on ${where} (${server.concurrency.name})`);

// Ctrl-C or SIGTERM: stop accepting, give requests 5 s to finish, abort the rest.
const report = await server.serveUntilSignal({ timeout: 5_000 });
console.log(`stopped: ${report.completed} requests completed, ${report.aborted} aborted`);
