// Servers under test. Usage: node servers.js <kind> [--unix PATH] [--udp]
// Prints "READY <port-or-path> <pid>" once listening.
import { AsyncLocalStorage } from 'node:async_hooks';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import dc from 'node:diagnostics_channel';
import { DatagramRequestHandler, StreamRequestHandler, TCPServer, TLSServer, UDPServer, UnixStreamServer, channels, tracingChannels } from 'sockserve';

/** The benchmark's certificate (tls_certs.js), for the TLS servers. */
const tlsOptions = () => ({ key: readFileSync(process.env.BENCH_TLS_KEY), cert: readFileSync(process.env.BENCH_TLS_CERT) });

const { positionals, values } = parseArgs({ allowPositionals: true, options: { unix: { type: 'string' } } });
const [kind] = positionals;

class IterEcho extends StreamRequestHandler {
  async handle() {
    for await (const chunk of this.rfile) await this.wfile.write(chunk);
  }
}

class PipeEcho extends StreamRequestHandler {
  async handle() {
    await this.wfile.pipeFrom(this.rfile);
  }
}

class LineEcho extends StreamRequestHandler {
  async handle() {
    for await (const line of this.rfile.lines()) await this.wfile.write(line);
  }
}

class DatagramEcho extends DatagramRequestHandler {
  async handle() {
    await this.wfile.write(this.packet);
  }
}

function rawListen(onConnection) {
  const server = net.createServer(onConnection);
  return new Promise((resolve) =>
    values.unix ? server.listen(values.unix, () => resolve(values.unix)) : server.listen(0, '127.0.0.1', () => resolve(server.address().port)),
  );
}

async function sockserve(Handler, extra = {}) {
  const options = { logger: false, ...extra };
  const server = values.unix ? new UnixStreamServer(values.unix, Handler, options) : new TCPServer({ host: '127.0.0.1', port: 0 }, Handler, options);
  await server.listen();
  void server.serveForever();
  return values.unix ?? server.serverAddress.port;
}

async function sockserveTls(Handler) {
  const server = new TLSServer({ host: '127.0.0.1', port: 0 }, Handler, { logger: false, tls: tlsOptions() });
  await server.listen();
  void server.serveForever();
  return server.serverAddress.port;
}

const kinds = {
  // Raw Node TLS: tls.createServer and a 'data' listener writing back what it gets.
  'raw-tls': () =>
    new Promise((resolve) => {
      const server = tls.createServer({ ...tlsOptions(), noDelay: true }, (socket) => {
        socket.on('data', (data) => socket.write(data));
        socket.on('error', () => {});
      });
      server.on('tlsClientError', () => {});
      server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    }),
  'sockserve-tls-iter': () => sockserveTls(IterEcho),
  'sockserve-tls-pipe': () => sockserveTls(PipeEcho),
  // Raw Node: a 'data' listener writing back what it gets.
  'raw-data': () =>
    rawListen((socket) => {
      socket.on('data', (data) => socket.write(data));
      socket.on('error', () => {});
    }),
  // Raw Node: for await over the socket.
  'raw-for-await': () =>
    rawListen(async (socket) => {
      socket.on('error', () => {});
      try {
        for await (const chunk of socket) socket.write(chunk);
      } catch {}
    }),
  // Raw Node line echo: splits lines itself, keeping the partial tail.
  // (Both line servers set TCP_NODELAY: many small writes otherwise meet Nagle's algorithm.)
  'raw-lines': () =>
    rawListen((socket) => {
      socket.setNoDelay?.(true);
      let tail = null;
      socket.on('data', (data) => {
        let chunk = tail === null ? data : Buffer.concat([tail, data]);
        let start = 0;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
          socket.write(chunk.subarray(start, i + 1));
          start = i + 1;
        }
        tail = start === chunk.length ? null : chunk.subarray(start);
      });
      socket.on('error', () => {});
    }),
  'sockserve-iter': () => sockserve(IterEcho),
  // The same with a subscriber on every diagnostics channel: what tracing costs when it is on.
  'sockserve-iter-traced': () => {
    // Every channel and the request's tracing channel, with a store bound as an APM would.
    for (const name of Object.values(channels)) dc.subscribe(name, () => {});
    const trace = dc.tracingChannel(tracingChannels.request);
    const noop = () => {};
    trace.subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
    trace.start.bindStore(new AsyncLocalStorage(), (context) => context);
    return sockserve(IterEcho);
  },
  'sockserve-pipe': () => sockserve(PipeEcho),
  'sockserve-lines': () => sockserve(LineEcho, { noDelay: true }),
  'raw-dgram': () =>
    new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (data, remote) => socket.send(data, remote.port, remote.address));
      socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
    }),
  'sockserve-udp': async () => {
    const server = new UDPServer({ host: '127.0.0.1', port: 0 }, DatagramEcho, { logger: false });
    await server.listen();
    void server.serveForever();
    return server.serverAddress.port;
  },
};

if (!(kind in kinds)) {
  console.error(`unknown server kind ${kind}; one of ${Object.keys(kinds).join(', ')}`);
  process.exit(2);
}
const address = await kinds[kind]();
console.log(`READY ${address} ${process.pid}`);
process.on('SIGTERM', () => process.exit(0));
