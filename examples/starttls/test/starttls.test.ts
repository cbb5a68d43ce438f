/**
 * The STARTTLS example, run as a process, driven by Python's ssl module (openssl s_client has no
 * -starttls mode for a custom protocol).
 */
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { testCerts } from '../../../test/helpers/certs.js';
import { readLine } from '../../../test/helpers/net.js';
import { hasPythonSsl, runExample, runPython } from '../../../test/helpers/spawn.js';

const READY = /listening on 127\.0\.0\.1:(\d+)/;
if (!hasPythonSsl) console.warn('python3 with ssl is not installed (apt-get install python3): the STARTTLS example tests are skipped');

async function start() {
  const { server } = testCerts();
  const example = await runExample('starttls', ['--port', '0', '--key', server.keyFile, '--cert', server.certFile], READY);
  return { example, port: Number(example.banner[1]) };
}


/** A Python client: plaintext greeting, STARTTLS, then notes over TLS; prints every reply line. */
const CLIENT = `
import socket, ssl, sys
port, ca, inject = int(sys.argv[1]), sys.argv[2], sys.argv[3] == 'inject'
raw = socket.create_connection(('127.0.0.1', port))
reader = raw.makefile('rb', buffering=0)
def line(f):
    data = b''
    while not data.endswith(b'\\n'):
        byte = f.read(1)
        if not byte:
            break
        data += byte
    return data.decode()
out = [line(reader)]
raw.sendall(b'NOTE in the clear\\n')
out.append(line(reader))
raw.sendall(b'STARTTLS\\n' + (b'NOTE injected\\n' if inject else b''))
out.append(line(reader))
s = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname='localhost')
f = s.makefile('rb', buffering=0)
s.sendall(b'NOTE over TLS\\nLIST\\nQUIT\\n')
for _ in range(5):
    out.append(line(f))
print(''.join(out), end='')
`;

describe.skipIf(!hasPythonSsl)('examples/starttls', () => {
  test('greets in plaintext, refuses notes until STARTTLS, then serves over TLS and says BYE', async () => {
    const { example, port } = await start();
    await using _ = example;
    const out = await runPython(CLIENT, [String(port), testCerts().caFile, 'plain']);
    expect(out).toBe(
      ['OK notes ready; STARTTLS available', 'ERR TLS required', 'OK begin TLS', 'OK 1', 'over TLS', '.', 'BYE', ''].join('\n'),
    );
  });

  test('a command injected after STARTTLS in plaintext is discarded, never run', async () => {
    const { example, port } = await start();
    await using _ = example;
    const out = await runPython(CLIENT, [String(port), testCerts().caFile, 'inject']);
    // Only the note sent over TLS is stored: LIST shows one note.
    expect(out).toBe(
      ['OK notes ready; STARTTLS available', 'ERR TLS required', 'OK begin TLS', 'OK 1', 'over TLS', '.', 'BYE', ''].join('\n'),
    );
    expect(example.stdout() + example.stderr()).toMatch(/discarded/i);
  });

  test('a client that does not handshake after STARTTLS is closed; the server goes on', async () => {
    const { example, port } = await start();
    await using _ = example;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    expect(await readLine(socket)).toBe('OK notes ready; STARTTLS available\n');
    socket.write('STARTTLS\n');
    expect(await readLine(socket)).toBe('OK begin TLS\n');
    socket.write('garbage, not a ClientHello\n');
    await new Promise((resolve) => socket.once('close', resolve));
    const out = await runPython(CLIENT, [String(port), testCerts().caFile, 'plain']);
    expect(out).toContain('BYE');
  });
});
