/**
 * The parent's side of `datagrams: 'shared'`: workers read the server's datagram socket
 * themselves. Hands the socket to workers (UDP: as a handle; Unix: inherited at fork), lends a
 * copy to workers started later, and turns what workers report (requests seen, failures, drops)
 * into the server's events and handleError() calls.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import { WorkerStartError, inetAddress, type SharedDatagramSocket, type StrategyHost } from '@sockserve/core';
import type { Logger } from 'pino';
import { SHARED_FD, fromWire, type FromWorker, type SharedDatagrams, type ToWorker } from './_protocol.js';

/** What shared mode needs of a pool worker. */
export interface SharingWorker {
  readonly id: number;
  readonly child: ChildProcess;
  /** The worker reads the shared socket. */
  sharing: boolean;
}

export class SharedDatagramMode {
  /** Whether the server has 'request' listeners (then workers report the requests they read). */
  #requestEvents = false;
  /** Answers to `lend-socket`, by loan number. */
  readonly #loans = new Map<number, (socket: dgram.Socket | undefined) => void>();
  #nextLoan = 1;

  constructor(
    readonly share: SharedDatagramSocket,
    readonly host: StrategyHost,
    readonly log: Logger,
    /** Sends to every worker. */
    broadcast: (message: ToWorker) => void,
  ) {
    host.remote.watchRequestListeners((wanted) => {
      if (wanted === this.#requestEvents) return;
      this.#requestEvents = wanted;
      broadcast({ type: 'request-events', wanted });
    });
  }

  /** What a new worker is told about the socket. */
  config(): SharedDatagrams {
    const { kind, maxDatagramSize, options } = this.share;
    return { kind, maxDatagramSize, ...options, requestEvents: this.#requestEvents, ...(kind === 'unix' ? { fd: SHARED_FD } : {}) };
  }

  /** The stdio of a new worker: a Unix socket is inherited at SHARED_FD (stdio index 4). */
  stdio(): Array<'ignore' | 'inherit' | 'ipc' | number> {
    return this.share.kind === 'unix' ? ['ignore', 'inherit', 'inherit', 'ipc', this.share.fd!] : ['ignore', 'inherit', 'inherit', 'ipc'];
  }

  /** A Unix worker reads the inherited descriptor as soon as it is ready. */
  readyToRead(worker: SharingWorker): void {
    if (this.share.kind === 'unix') worker.sharing = true;
  }

  /** Hands the socket to the first workers; from then on they read it and the server does not. */
  async start(workers: SharingWorker[]): Promise<void> {
    if (this.share.kind === 'udp') await Promise.all(workers.map((worker) => this.#give(worker, this.share.socket as dgram.Socket)));
    await this.share.release();
  }

  /** A replacement worker gets the socket too. */
  async replaced(worker: SharingWorker, others: readonly SharingWorker[], closing: () => boolean): Promise<void> {
    if (this.share.kind === 'udp') await this.#resupply(worker, others, closing);
  }

  /** Handles a message about shared reading; false when the message is not one. */
  onMessage(worker: SharingWorker, message: FromWorker, handle: unknown): boolean {
    switch (message.type) {
      case 'lent-socket': {
        const answer = this.#loans.get(message.loan);
        // A late answer (the loan timed out): close the copy, or it would swallow datagrams.
        if (answer === undefined) (handle as dgram.Socket | undefined)?.close();
        else answer(handle as dgram.Socket);
        return true;
      }
      case 'requests-seen':
        if (this.#requestEvents) this.host.remote.seen(message.clients);
        return true;
      case 'shared-request-failed': {
        const { packet } = message;
        const request = [Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), this.share.socket];
        void this.host.remote.failed(request, message.clientAddress, fromWire(message.error, worker.id));
        return true;
      }
      case 'dropped': {
        const { reason, clientAddress, size } = message;
        this.host.remote.dropped({ reason, clientAddress, size }, message.message);
        return true;
      }
      default:
        return false;
    }
  }

  /** The pool is closing: loans in progress end. */
  close(): void {
    for (const answer of this.#loans.values()) answer(undefined);
  }

  /** Sends the shared UDP socket to a worker, which reads it from then on. */
  #give(worker: SharingWorker, socket: dgram.Socket): Promise<void> {
    return new Promise((resolve, reject) => {
      worker.child.send({ type: 'share-socket' } satisfies ToWorker, socket, {}, (error) => {
        if (error === null) {
          worker.sharing = true;
          resolve();
        } else {
          reject(new WorkerStartError(`Could not hand the shared socket to worker ${worker.id}: ${error.message}`));
        }
      });
    });
  }

  /**
   * Gives a worker started after the server released its UDP socket a copy: borrowed from a
   * worker that reads it, or, when none is left, bound anew at the same address. Datagrams that
   * arrive on the parent's copy meanwhile are handed to a worker, not lost.
   */
  async #resupply(worker: SharingWorker, others: readonly SharingWorker[], closing: () => boolean): Promise<void> {
    const donor = others.find((other) => other !== worker && other.sharing && other.child.connected);
    let socket = donor === undefined ? undefined : await this.#borrow(donor);
    socket ??= (await this.share.rebind()) as dgram.Socket;
    if (closing()) {
      socket.close();
      return;
    }
    socket.on('message', (packet, remote) => {
      const target = others.find((other) => other.sharing && other.child.connected) ?? worker;
      const clientAddress = inetAddress(remote.address, remote.port, remote.family);
      if (target.child.connected) target.child.send({ type: 'forward-datagram', clientAddress, packet } satisfies ToWorker, undefined, {}, () => {});
    });
    try {
      await this.#give(worker, socket);
    } finally {
      socket.close();
    }
  }

  /** Asks a worker for its copy of the shared UDP socket; `undefined` when it does not answer. */
  #borrow(donor: SharingWorker): Promise<dgram.Socket | undefined> {
    const loan = this.#nextLoan++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(undefined), 1_000);
      const answer = (socket: dgram.Socket | undefined): void => {
        clearTimeout(timer);
        donor.child.off('exit', gone);
        this.#loans.delete(loan);
        resolve(socket);
      };
      const gone = (): void => answer(undefined);
      this.#loans.set(loan, answer);
      donor.child.once('exit', gone);
      if (donor.child.connected) donor.child.send({ type: 'lend-socket', loan } satisfies ToWorker, undefined, {}, () => {});
    });
  }
}
