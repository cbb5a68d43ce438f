/**
 * Throwaway certificates for TLS tests, made with `openssl` once per test process: a CA, a server
 * certificate for localhost (and 127.0.0.1, ::1), one for `b.example` (SNI), a second server
 * certificate for localhost (rotation), a client certificate from the CA, and one from another CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  key: Buffer;
  cert: Buffer;
  /** Paths of the PEM files, for command-line peers. */
  keyFile: string;
  certFile: string;
}

export interface TestCerts {
  ca: Buffer;
  caFile: string;
  server: KeyPair;
  /** Another certificate for localhost, from the same CA (certificate rotation). */
  rotated: KeyPair;
  /** For the server name b.example (SNI). */
  sniB: KeyPair;
  /** A client certificate the CA signed (mutual TLS). */
  client: KeyPair;
  /** A client certificate from another CA: refused. */
  stranger: KeyPair;
  dir: string;
}

let made: TestCerts | undefined;

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): KeyPair {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), keyFile, certFile };
}

/** Makes a key and a certificate signed by `ca` (a name in `dir`) with the given CN and SANs. */
function issue(dir: string, name: string, cn: string, ca: string, san: string | undefined): void {
  openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, san === undefined ? 'extendedKeyUsage=clientAuth\n' : `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext);
}

/** The test certificates (made on first use; the directory is removed when the process exits). */
export function testCerts(): TestCerts {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), 'sockserve-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=sockserve test ${ca}`, '-days', '2');
  }
  issue(dir, 'server', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1,IP:::1');
  issue(dir, 'rotated', 'localhost rotated', 'ca', 'DNS:localhost,IP:127.0.0.1,IP:::1');
  issue(dir, 'sni-b', 'b.example', 'ca', 'DNS:b.example');
  issue(dir, 'client', 'alice', 'ca', undefined);
  issue(dir, 'stranger', 'mallory', 'other-ca', undefined);
  made = {
    ca: readFileSync(join(dir, 'ca.crt')),
    caFile: join(dir, 'ca.crt'),
    server: pair(dir, 'server'),
    rotated: pair(dir, 'rotated'),
    sniB: pair(dir, 'sni-b'),
    client: pair(dir, 'client'),
    stranger: pair(dir, 'stranger'),
    dir,
  };
  return made;
}
