/** The soak harness at smoke scale: every scenario, every check, in under 30 seconds. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const run = fileURLToPath(new URL('../run.js', import.meta.url));

test('pnpm soak --smoke: every scenario passes all its checks', async () => {
  const child = spawn(process.execPath, [run, '--smoke'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code, `${out}\n${err}`).toBe(0);
  const verdicts = [...out.matchAll(/^(PASS|FAIL) (\S+)/gm)].map(([, verdict, id]) => `${verdict} ${id}`);
  expect(verdicts).toEqual(
    ['echo-faults-tcp', 'echo-faults-unix', 'idle-horde', 'pool-fire', 'graceful-close', 'udp-flood', 'hostile-peers'].map((id) => `PASS ${id}`),
  );
  expect(out).toMatch(/^7 scenarios passed, 0 failed/m);
}, 120_000);
