/** The benchmark harness, run for a fraction of a second per server so that it cannot rot. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { runScript } from '../../test/helpers/spawn.js';

const run = fileURLToPath(new URL('../run.js', import.meta.url));

test('pnpm bench --smoke runs every scenario and verifies every byte', async () => {
  const { code, out, err } = await runScript(run, ['--smoke']);
  expect(code, `${out}\n${err}`).toBe(0);
  const report = JSON.parse(readFileSync(fileURLToPath(new URL('../results/latest.json', import.meta.url)), 'utf8')) as {
    results: Array<{ id: string; rows: Array<{ server: string; requests?: number; rps: number; errors: number }> }>;
    memory: { count: number };
  };
  expect(report.results.map((scenario) => scenario.id)).toEqual(['tcp-1k', 'tcp-16k', 'tcp-64b', 'unix-1k', 'lines-1k', 'tls-1k', 'udp-64', 'cpu', 'cpu-connect', 'echo-connect', 'tls-handshakes']);
  // A failed TLS handshake (openssl s_time stops at its first) names its reason on stderr.
  const reasons = err.split('\n').filter((line) => line.startsWith('openssl s_time stopped')).join('; ');
  for (const scenario of report.results) {
    for (const row of scenario.rows) {
      expect(row.rps, `${scenario.id} ${row.server}`).toBeGreaterThan(0);
      expect(row.errors, `${scenario.id} ${row.server} ${reasons}`).toBe(0);
    }
  }
  expect(report.memory.count).toBeGreaterThan(0);
  expect(out).toContain('Targets');
}, 180_000);
