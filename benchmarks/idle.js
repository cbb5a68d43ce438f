// Opens <count> idle connections to a TCP port, prints "OPEN" when all are connected, and keeps
// them until stdin closes. Usage: node idle.js <port> <count>
import net from 'node:net';

const [port, count] = process.argv.slice(2).map(Number);
const sockets = [];
let open = 0;
await new Promise((resolve, reject) => {
  let started = 0;
  const next = () => {
    // Connect in batches so the listen backlog never overflows.
    while (started < count && started - open < 200) {
      started++;
      const socket = net.connect(port, '127.0.0.1', () => {
        open++;
        if (open === count) resolve();
        else next();
      });
      socket.on('error', reject);
      sockets.push(socket);
    }
  };
  next();
});
console.log('OPEN');
process.stdin.resume();
process.stdin.on('end', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
