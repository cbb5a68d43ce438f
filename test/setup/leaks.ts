/**
 * Fails a test that leaves a socket, server, child process or timer behind.
 *
 * Handles are counted by type before each test and must be back to that count (after letting
 * pending closes finish) when it ends. Timers are tracked individually: every `setTimeout` and
 * `setInterval` made during the test must have fired or been cleared by its end.
 */
import { afterEach, beforeEach, expect } from 'vitest';

const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'PipeServerWrap', 'UDPWrap', 'ProcessWrap']);

const timers = new Set<NodeJS.Timeout>();
const { setTimeout: realSetTimeout, setInterval: realSetInterval, clearTimeout: realClearTimeout, clearInterval: realClearInterval } = globalThis;

globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = realSetTimeout(
    (...callArgs: unknown[]) => {
      timers.delete(timer);
      callback(...callArgs);
    },
    ms,
    ...args,
  );
  timers.add(timer);
  return timer;
}) as typeof setTimeout;
globalThis.setInterval = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = realSetInterval(callback, ms, ...args);
  timers.add(timer);
  return timer;
}) as typeof setInterval;
globalThis.clearTimeout = ((timer?: NodeJS.Timeout | string | number) => {
  timers.delete(timer as NodeJS.Timeout);
  realClearTimeout(timer);
}) as typeof clearTimeout;
globalThis.clearInterval = ((timer?: NodeJS.Timeout | string | number) => {
  timers.delete(timer as NodeJS.Timeout);
  realClearInterval(timer);
}) as typeof clearInterval;

function count(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

function leaks(baseline: Map<string, number>): string[] {
  const found: string[] = [];
  for (const [type, n] of count()) {
    const before = baseline.get(type) ?? 0;
    if (n > before) found.push(`${n - before} ${type}`);
  }
  const liveTimers = [...timers].filter((timer) => timer.hasRef());
  if (liveTimers.length > 0) found.push(`${liveTimers.length} timer(s)`);
  return found;
}

let baseline = new Map<string, number>();

beforeEach(() => {
  for (const timer of timers) realClearTimeout(timer);
  timers.clear();
  baseline = count();
});

afterEach(async () => {
  // Closing handles need a few turns of the event loop to go away.
  let found = leaks(baseline);
  for (let i = 0; i < 150 && found.length > 0; i++) {
    await new Promise<void>((resolve) => realSetTimeout(resolve, 20));
    found = leaks(baseline);
  }
  for (const timer of timers) realClearTimeout(timer);
  timers.clear();
  expect(found, 'resources leaked by this test').toEqual([]);
});
