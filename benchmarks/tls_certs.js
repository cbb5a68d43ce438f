// A throwaway self-signed certificate for the TLS benchmarks, made with openssl once per run.
// The paths go to the servers in BENCH_TLS_KEY and BENCH_TLS_CERT.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** Makes the certificate (ECDSA P-256, like most servers today) and sets the environment. */
export function benchCerts() {
  if (process.env.BENCH_TLS_KEY !== undefined) return { key: process.env.BENCH_TLS_KEY, cert: process.env.BENCH_TLS_CERT };
  const dir = mkdtempSync(join(tmpdir(), 'sockserve-bench-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2',
  ], { stdio: 'ignore' });
  process.env.BENCH_TLS_KEY = key;
  process.env.BENCH_TLS_CERT = cert;
  return { key, cert };
}
