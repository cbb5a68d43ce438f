// RESP (Redis protocol) servers under test. Usage: node resp_servers.js sockserve|await|raw
// Prints "READY <port> <pid>" once listening.
//   sockserve: examples/resp, written the idiomatic way: a frame decoder of try-reads, every
//              buffered command taken by tryReadFrame() without an await, its reply queue()d while
//              more commands are buffered, the last one of a chunk awaited with write().
//   await:     the same server with the simplest handler: an awaited readline()/readExactly()
//              per frame (what the decoder saves).
//   raw:       raw Node, the best a Node expert writes by hand: a 'data' listener, an incremental
//              parser working on byte offsets, and one write per input chunk.
import net from 'node:net';
import { IncompleteReadError } from 'sockserve';
import { RespHandler, RespServer } from '../examples/resp/dist/resp_server.js';

const [kind] = process.argv.slice(2);

/** The RESP handler with an await per frame: `*N` line, then `$N` line and data per argument. */
class AwaitRespHandler extends RespHandler {
  async handle() {
    for (;;) {
      const line = await this.rfile.readline();
      if (line.length === 0) return;
      if (line[0] !== 0x2a) throw new Error('inline commands are not used by redis-benchmark');
      const count = Number(line.toString('latin1', 1, line.length - 2));
      const args = new Array(count);
      for (let i = 0; i < count; i++) {
        const bulk = await this.rfile.readline();
        if (bulk.length === 0) throw new IncompleteReadError(bulk, null);
        const length = Number(bulk.toString('latin1', 1, bulk.length - 2));
        args[i] = (await this.rfile.readExactly(length + 2)).subarray(0, length);
      }
      await this.wfile.write(this.server.execute(args));
    }
  }
}

async function sockserve(awaitPerFrame) {
  const server = new RespServer({ host: '127.0.0.1', port: 0 }, { logger: false }, awaitPerFrame ? AwaitRespHandler : RespHandler);
  await server.listen();
  void server.serveForever();
  return server.serverAddress.port;
}

const OK = Buffer.from('+OK\r\n');
const PONG = Buffer.from('+PONG\r\n');
const NIL = Buffer.from('$-1\r\n');
const CRLF = Buffer.from('\r\n');

function raw() {
  const store = new Map();
  const execute = (args, out) => {
    const name = args[0].toString('latin1').toLowerCase();
    switch (name) {
      case 'ping':
        out.push(PONG);
        break;
      case 'set':
        store.set(args[1].toString('latin1'), Buffer.from(args[2]));
        out.push(OK);
        break;
      case 'get': {
        const value = store.get(args[1].toString('latin1'));
        if (value === undefined) out.push(NIL);
        else out.push(Buffer.from(`$${value.length}\r\n`), value, CRLF);
        break;
      }
      case 'incr': {
        const key = args[1].toString('latin1');
        const next = String(Number(store.get(key)?.toString('latin1') ?? '0') + 1);
        store.set(key, Buffer.from(next));
        out.push(Buffer.from(`:${next}\r\n`));
        break;
      }
      case 'mset':
        for (let i = 1; i < args.length; i += 2) store.set(args[i].toString('latin1'), Buffer.from(args[i + 1]));
        out.push(OK);
        break;
      case 'config':
        out.push(Buffer.from(args[2]?.toString('latin1').toLowerCase() === 'save' ? '*2\r\n$4\r\nsave\r\n$0\r\n\r\n' : '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n'));
        break;
      default:
        out.push(Buffer.from(`-ERR unknown command '${args[0].toString('latin1')}'\r\n`));
    }
  };
  /** A decimal number in buf[start, end). */
  const number = (buf, start, end) => {
    let n = 0;
    for (let i = start; i < end; i++) n = n * 10 + buf[i] - 48;
    return n;
  };
  const server = net.createServer({ noDelay: true }, (socket) => {
    let pending = null;
    socket.on('data', (chunk) => {
      const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      const out = [];
      let pos = 0;
      parse: while (pos < buf.length) {
        const start = pos;
        if (buf[pos] !== 42 /* '*' */) {
          const eol = buf.indexOf(10, pos);
          if (eol === -1) break;
          const words = buf.toString('latin1', pos, eol).trim().split(' ').filter(Boolean).map((w) => Buffer.from(w, 'latin1'));
          pos = eol + 1;
          if (words.length > 0) execute(words, out);
          continue;
        }
        let eol = buf.indexOf(13, pos);
        if (eol === -1 || eol + 1 >= buf.length) break;
        const count = number(buf, pos + 1, eol);
        pos = eol + 2;
        const args = new Array(count);
        for (let i = 0; i < count; i++) {
          eol = buf.indexOf(13, pos);
          if (eol === -1 || eol + 1 >= buf.length) {
            pos = start;
            break parse;
          }
          const length = number(buf, pos + 1, eol);
          pos = eol + 2;
          if (pos + length + 2 > buf.length) {
            pos = start;
            break parse;
          }
          args[i] = buf.subarray(pos, pos + length);
          pos += length + 2;
        }
        execute(args, out);
      }
      pending = pos < buf.length ? buf.subarray(pos) : null;
      if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const port = await (kind === 'raw' ? raw() : sockserve(kind === 'await'));
console.log(`READY ${port} ${process.pid}`);
// Ends cleanly on SIGTERM (the harness stops servers so): a profile taken with --cpu-prof is written.
process.on('SIGTERM', () => process.exit(0));
