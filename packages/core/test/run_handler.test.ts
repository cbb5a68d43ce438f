import type net from 'node:net';
import { describe, expect, test } from 'vitest';
import { StreamRequestHandler, TCPServer, type RequestHandler } from 'sockserve';
import { runHandler } from '@sockserve/core/internal';
import { exchange } from '../../../test/helpers/net.js';

const local = { host: '127.0.0.1', port: 0 };

type Step = 'ok' | 'throw' | 'reject' | 'async';

/** What a hook does: return nothing, throw, return a rejected promise, or resolve a tick later. */
function hook(name: string, step: Step, calls: string[]): () => void | Promise<void> {
  return () => {
    calls.push(name);
    if (step === 'throw') throw new Error(`${name} threw`);
    if (step === 'reject') return Promise.reject(new Error(`${name} rejected`));
    if (step === 'async') return new Promise<void>((resolve) => setImmediate(resolve));
  };
}

/** The lifecycle cases, as in `try { await setup } ...; try { await handle } finally { await finish }`. */
const cases: Array<{ setup: Step; handle: Step; finish: Step; calls: string[]; error: string | null }> = [
  { setup: 'ok', handle: 'ok', finish: 'ok', calls: ['setup', 'handle', 'finish'], error: null },
  { setup: 'async', handle: 'async', finish: 'async', calls: ['setup', 'handle', 'finish'], error: null },
  { setup: 'throw', handle: 'ok', finish: 'ok', calls: ['setup'], error: 'setup threw' },
  { setup: 'reject', handle: 'ok', finish: 'ok', calls: ['setup'], error: 'setup rejected' },
  { setup: 'ok', handle: 'throw', finish: 'ok', calls: ['setup', 'handle', 'finish'], error: 'handle threw' },
  { setup: 'async', handle: 'reject', finish: 'async', calls: ['setup', 'handle', 'finish'], error: 'handle rejected' },
  { setup: 'ok', handle: 'throw', finish: 'throw', calls: ['setup', 'handle', 'finish'], error: 'finish threw' },
  { setup: 'ok', handle: 'reject', finish: 'reject', calls: ['setup', 'handle', 'finish'], error: 'finish rejected' },
  { setup: 'ok', handle: 'ok', finish: 'reject', calls: ['setup', 'handle', 'finish'], error: 'finish rejected' },
];

const name = (c: (typeof cases)[number]) => `setup ${c.setup}, handle ${c.handle}, finish ${c.finish}`;

describe('runHandler()', () => {
  test.each(cases)('$setup / $handle / $finish', async (c) => {
    const calls: string[] = [];
    const handler: RequestHandler = {
      setup: hook('setup', c.setup, calls),
      handle: hook('handle', c.handle, calls),
      finish: hook('finish', c.finish, calls),
    };
    const outcome = await runHandler(handler).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(outcome).toBe(c.error);
    expect(calls).toEqual(c.calls);
  });

  test('waits for an async finish() before it resolves', async () => {
    let finished = false;
    await runHandler({
      handle() {},
      finish: () => new Promise<void>((resolve) => setTimeout(() => resolve(void (finished = true)), 20)),
    });
    expect(finished).toBe(true);
  });

  test('a handler with only handle() runs', async () => {
    const calls: string[] = [];
    await runHandler({ handle: () => void calls.push('handle') });
    expect(calls).toEqual(['handle']);
  });
});

describe('a server runs the same lifecycle', () => {
  for (const overridden of [false, true]) {
    // The default finishRequest() runs the handler inline; an override goes through runHandler().
    test.each(cases)(`${overridden ? 'with' : 'without'} a finishRequest() override: %#`, async (c) => {
      const calls: string[] = [];
      const errors: string[] = [];
      class Handler extends StreamRequestHandler {
        override setup = hook('setup', c.setup, calls);
        override handle = hook('handle', c.handle, calls);
        override finish = hook('finish', c.finish, calls);
      }
      class Server extends TCPServer {
        override handleError(_socket: net.Socket, _client: unknown, error: unknown) {
          errors.push((error as Error).message);
        }
      }
      class Overriding extends Server {
        override async finishRequest(socket: net.Socket, client: Parameters<TCPServer['finishRequest']>[1]) {
          calls.push('finishRequest');
          await super.finishRequest(socket, client);
        }
      }
      await using server = new (overridden ? Overriding : Server)(local, Handler, { logger: false });
      await server.listen();
      void server.serveForever();
      // The server closes the connection after finish() and handleError(): all is recorded by then.
      expect((await exchange(server, 'x')).length).toBe(0);
      expect(calls, name(c)).toEqual(overridden ? ['finishRequest', ...c.calls] : c.calls);
      expect(errors, name(c)).toEqual(c.error === null ? [] : [c.error]);
    });
  }
});
