/**
 * What the in-memory servers share: client addresses made up for connections and datagrams that
 * name none, and the strategies they cannot run.
 *
 * @module
 */
import { InvalidArgumentError, type ConcurrencyStrategy, type InetAddress } from '@sockserve/core';

/** Throws for a worker pool: its workers take connections and sockets as descriptors. */
export function refuseWorkerPool(strategy: ConcurrencyStrategy): void {
  if (strategy.name === 'worker-pool') {
    throw new InvalidArgumentError(
      'In-memory servers cannot run a WorkerPoolStrategy (its workers take real sockets); test the handler under EventLoopStrategy or SequentialStrategy, and the pool with a TCP or Unix server',
    );
  }
}

let nextPort = 40_000;

/** Loopback, and a new port each time (as an ephemeral port would be). */
export function madeUpAddress(): InetAddress {
  nextPort = nextPort >= 65_535 ? 40_000 : nextPort + 1;
  return { host: '127.0.0.1', port: nextPort, family: 'IPv4' };
}
