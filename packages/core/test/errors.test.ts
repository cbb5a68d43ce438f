import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as core from '@sockserve/core';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...doc.matchAll(/^\| `(ERR_SOCKSERVE[A-Z_]*)` \| `(\w+)` \|/gm)].map((match) => [match[1]!, match[2]!]),
);

describe('error codes and docs/errors.md stay in step', () => {
  test('every code in ErrorCodes has a row, and every row is a real code', () => {
    expect([...documented.keys()].sort()).toEqual(Object.values(core.ErrorCodes).sort());
  });

  test('each row names the class that raises the code', () => {
    for (const [code, className] of documented) {
      const ErrorClass = (core as Record<string, unknown>)[className] as new (...args: never[]) => core.SockserveError;
      expect(typeof ErrorClass, `${className} is exported`).toBe('function');
      const instance = Reflect.construct(ErrorClass, errorArgs(className)) as core.SockserveError;
      expect(instance.code, className).toBe(code);
      expect(instance).toBeInstanceOf(core.SockserveError);
      expect(instance.name).toBe(className);
    }
  });

  test('instanceof works for errors from another copy of the module', () => {
    const foreign = Object.create(Error.prototype, { [Symbol.for('sockserve.error')]: { value: true } });
    expect(foreign instanceof core.SockserveError).toBe(true);
    expect(new Error('plain') instanceof core.SockserveError).toBe(false);
    expect(new core.TimeoutError(5) instanceof core.LimitExceededError).toBe(false);
  });
});

function errorArgs(className: string): unknown[] {
  switch (className) {
    case 'SockserveError':
    case 'InvalidArgumentError':
    case 'InvalidStateError':
    case 'WorkerStartError':
    case 'WorkerCrashedError':
      return ['message'];
    case 'LimitExceededError':
    case 'TimeoutError':
      return [10];
    case 'AddonUnavailableError':
      return ['UnixDatagramServer', { cause: new Error('no binary') }];
    case 'IncompleteReadError':
      return [Buffer.alloc(0), 4];
    default:
      return [];
  }
}
