/**
 * One backend behind HAProxy: a line protocol (`<id> <text>` is answered `<id> <TEXT>` plus the
 * client's address as the backend sees it), the PROXY protocol from the balancer, and an HAProxy
 * agent port that says `drain` while the backend is about to stop.
 *
 *   node dist/backend.js --port 7001 --agent-port 7101 [--drain-delay 1500] [--timeout 5000]
 *
 * On SIGTERM (a rolling restart): the agent says `drain` at once, so HAProxy sends no new
 * connection; the backend goes on serving for `--drain-delay` ms, then stops accepting, lets the
 * requests in flight finish within `--timeout` ms, and exits 0.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { StreamRequestHandler, TCPServer, formatAddress, type InetAddress } from 'sockserve';

/**
 * Answers each line `<id> <text>` with `<id> <TEXT> <client>`, until the client closes.
 *
 * @example
 * ```ts
 * new TCPServer({ host: '127.0.0.1', port: 7001 }, UpperHandler, { proxyProtocol: { trusted: ['127.0.0.1'] } });
 * ```
 */
export class UpperHandler extends StreamRequestHandler<InetAddress> {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines({ limit: 4096 })) {
      const text = line.toString('utf8').trimEnd();
      const space = text.indexOf(' ');
      const id = space === -1 ? text : text.slice(0, space);
      const body = space === -1 ? '' : text.slice(space + 1);
      await this.wfile.write(`${id} ${body.toUpperCase()} ${formatAddress(this.clientAddress)}\n`);
    }
  }
}

/**
 * HAProxy's agent check: one line on each connection, `drain` while the backend drains, `up ready`
 * otherwise.
 *
 * @example
 * ```ts
 * new TCPServer({ host: '127.0.0.1', port: 7101 }, AgentHandler);
 * ```
 */
export class AgentHandler extends StreamRequestHandler {
  /** The server whose state the agent reports. */
  static backend: TCPServer | undefined;

  override async handle(): Promise<void> {
    await this.wfile.write(AgentHandler.backend?.draining === true ? 'drain\n' : 'up ready\n');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '7001' },
      'agent-port': { type: 'string', default: '7101' },
      'drain-delay': { type: 'string', default: '1500' },
      timeout: { type: 'string', default: '5000' },
      trusted: { type: 'string', default: '127.0.0.1,::1' },
    },
  });
  const host = values.host;
  const backend = new TCPServer({ host, port: Number(values.port) }, UpperHandler, {
    proxyProtocol: { trusted: values.trusted.split(',') },
  });
  const agent = new TCPServer({ host, port: Number(values['agent-port']) }, AgentHandler, { logger: false });
  AgentHandler.backend = backend;
  try {
    await backend.listen();
    await agent.listen();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  void agent.serveForever();
  console.log(`backend listening on ${formatAddress(backend.serverAddress)}, agent on ${formatAddress(agent.serverAddress)}`);
  const report = await backend.serveUntilSignal({ timeout: Number(values.timeout), drainDelay: Number(values['drain-delay']) });
  await agent.serverClose();
  console.log(`backend stopped (${report.signal ?? 'shutdown'}): ${report.completed} completed, ${report.aborted} aborted`);
}
