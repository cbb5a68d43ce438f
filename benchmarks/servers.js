// Echo servers under test. Usage: node servers.js <kind>; prints "PORT <n>" once listening.
import net from 'node:net';
import { StreamRequestHandler, TCPServer } from 'sockserve';

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

const kinds = {
  'raw-data': () => {
    const server = net.createServer((socket) => {
      socket.on('data', (data) => socket.write(data));
      socket.on('error', () => {});
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  },
  'raw-for-await': () => {
    const server = net.createServer(async (socket) => {
      socket.on('error', () => {});
      try {
        for await (const chunk of socket) socket.write(chunk);
      } catch {}
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  },
  'sockserve-iter': async () => serve(IterEcho),
  'sockserve-pipe': async () => serve(PipeEcho),
};

async function serve(Handler) {
  const server = new TCPServer({ host: '127.0.0.1', port: 0 }, Handler, { logger: false });
  await server.listen();
  void server.serveForever();
  return server.serverAddress.port;
}

const kind = process.argv[2];
if (!(kind in kinds)) {
  console.error(`unknown server kind ${kind}; one of ${Object.keys(kinds).join(', ')}`);
  process.exit(2);
}
console.log(`PORT ${await kinds[kind]()}`);
