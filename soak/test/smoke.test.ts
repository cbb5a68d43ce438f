/** The soak harness at smoke scale: every scenario, every check, in under 30 seconds. */
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { runScript } from '../../test/helpers/spawn.js';

const run = fileURLToPath(new URL('../run.js', import.meta.url));

test('pnpm soak --smoke: every scenario passes all its checks', async () => {
  const { code, out, err } = await runScript(run, ['--smoke']);
  expect(code, `${out}\n${err}`).toBe(0);
  const verdicts = [...out.matchAll(/^(PASS|FAIL) (\S+)/gm)].map(([, verdict, id]) => `${verdict} ${id}`);
  expect(verdicts).toEqual(
    ['echo-faults-tcp', 'echo-faults-unix', 'idle-horde', 'pool-fire', 'graceful-close', 'udp-flood', 'hostile-peers'].map((id) => `PASS ${id}`),
  );
  expect(out).toMatch(/^7 scenarios passed, 0 failed/m);
}, 120_000);
