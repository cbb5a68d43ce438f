/**
 * Starts HAProxy in front of N sockserve backends, all on loopback:
 *
 *   node dist/run.js [--backends 3] [--port 8000]
 *
 * Then `nc 127.0.0.1 8000` and type `1 hello`: the reply names the backend's view of you (your own
 * address, through HAProxy). `kill -TERM <pid of a backend>` drains it: HAProxy stops sending it
 * connections, it finishes what it has and exits 0; this script starts it again. Ctrl-C stops all.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { haproxyConfig, type Backend } from './config.js';

const { values } = parseArgs({ options: { backends: { type: 'string', default: '3' }, port: { type: 'string', default: '8000' } } });
const port = Number(values.port);
const backends: Backend[] = Array.from({ length: Number(values.backends) }, (_, i) => ({ name: `app${i + 1}`, port: 7001 + i, agentPort: 7101 + i }));
const dir = mkdtempSync(join(tmpdir(), 'sockserve-haproxy-'));
const config = join(dir, 'haproxy.cfg');
writeFileSync(config, haproxyConfig(port, backends));

let stopping = false;
const children = new Set<ChildProcess>();

/** Starts a backend, and starts it again whenever it exits (a rolling restart). */
function startBackend(backend: Backend): void {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./backend.js', import.meta.url)), '--port', String(backend.port), '--agent-port', String(backend.agentPort)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  console.log(`${backend.name}: pid ${child.pid}, port ${backend.port}`);
  child.once('exit', () => {
    children.delete(child);
    if (!stopping) startBackend(backend);
  });
}

for (const backend of backends) startBackend(backend);
const haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'inherit', 'inherit'] });
children.add(haproxy);
haproxy.once('error', (error) => {
  console.error(`haproxy could not start (${error.message}); install it with apt-get install haproxy`);
  process.exit(1);
});
console.log(`haproxy listening on 127.0.0.1:${port}; Ctrl-C stops everything`);

process.once('SIGINT', () => {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 3_000).unref();
});
