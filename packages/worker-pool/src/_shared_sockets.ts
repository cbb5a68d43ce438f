/**
 * The parent's side of `datagrams: 'shared'` and `connections: 'shared'`: workers read the
 * server's datagram socket, or accept on its listener, themselves. Hands the socket to workers
 * (UDP sockets and listeners: as a handle; Unix datagram sockets: inherited at fork), lends a copy
 * to workers started later, and turns what workers report (requests seen, failures, drops) into
 * the server's events and handleError() calls.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import net from 'node:net';
import { WorkerStartError, inetAddress, type SharedDatagramSocket, type SharedListener, type StrategyHost } from '@sockserve/core';
import type { Logger } from 'pino';
import { SHARED_FD, fromWire, type FromWorker, type ToWorker, type WorkerConfig } from './_protocol.js';

/** What shared mode needs of a pool worker. */
export interface SharingWorker {
  readonly id: number;
  readonly child: ChildProcess;
  /** The worker reads the shared socket (or accepts on the shared listener). */
  sharing: boolean;
}

/** What is shared: a datagram socket, or a stream server's listener. */
export type Shared = { requests: 'datagram'; share: SharedDatagramSocket } | { requests: 'stream'; share: SharedListener };

/**
 * What travels to a worker: a UDP socket, or a listener's raw handle. A listener travels as its
 * raw handle, not as a `net.Server`: Node rebuilds a received Unix `net.Server` on a second handle
 * of the same descriptor and leaves the first open, so the parent, which never accepts on a
 * borrowed listener, passes the raw handle on as it came.
 */
type Handle = dgram.Socket | RawHandle;
/** A raw libuv handle (TCP or pipe). */
interface RawHandle {
  close(callback?: () => void): void;
}

/** The raw handle of a listening server. */
function rawHandle(server: net.Server): RawHandle {
  return (server as unknown as { _handle: RawHandle })._handle;
}

export class SharedMode {
  /** Whether the server has 'request' listeners (then workers report the requests they read). */
  #requestEvents = false;
  /** Answers to `lend-socket`, by loan number. */
  readonly #loans = new Map<number, (handle: Handle | undefined) => void>();
  #nextLoan = 1;

  constructor(
    readonly shared: Shared,
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

  /** Whether the socket travels as a handle (UDP, listeners), rather than inherited at fork (Unix datagrams). */
  get #handOver(): boolean {
    return this.shared.requests === 'stream' || this.shared.share.kind === 'udp';
  }

  /** What a new worker is told about the socket. */
  config(): Pick<WorkerConfig, 'datagrams' | 'connections'> {
    const requestEvents = this.#requestEvents;
    if (this.shared.requests === 'stream') {
      const { kind, options } = this.shared.share;
      return { connections: { kind, ...options, requestEvents } };
    }
    const { kind, maxDatagramSize, options } = this.shared.share;
    return { datagrams: { kind, maxDatagramSize, ...options, requestEvents, ...(kind === 'unix' ? { fd: SHARED_FD } : {}) } };
  }

  /** The stdio of a new worker: a Unix datagram socket is inherited at SHARED_FD (stdio index 4). */
  stdio(): Array<'ignore' | 'inherit' | 'ipc' | number> {
    const inherit = this.shared.requests === 'datagram' && this.shared.share.kind === 'unix';
    return inherit ? ['ignore', 'inherit', 'inherit', 'ipc', (this.shared.share as SharedDatagramSocket).fd!] : ['ignore', 'inherit', 'inherit', 'ipc'];
  }

  /** A Unix datagram worker reads the inherited descriptor as soon as it is ready. */
  readyToRead(worker: SharingWorker): void {
    if (!this.#handOver) worker.sharing = true;
  }

  /** Hands the socket to the first workers; from then on they read it and the server does not. */
  async start(workers: SharingWorker[]): Promise<void> {
    if (this.#handOver) {
      const handle = this.shared.requests === 'stream' ? rawHandle(this.shared.share.listener as net.Server) : (this.shared.share.socket as dgram.Socket);
      // The parent's copy stays open until release() closes it (as its own listener).
      await Promise.all(workers.map((worker) => this.#give(worker, handle, true)));
    }
    await this.shared.share.release();
  }

  /** A replacement worker gets the socket too. */
  async replaced(worker: SharingWorker, others: readonly SharingWorker[], closing: () => boolean): Promise<void> {
    if (this.#handOver) await this.#resupply(worker, others, closing);
  }

  /** Handles a message about shared reading; false when the message is not one. */
  onMessage(worker: SharingWorker, message: FromWorker, handle: unknown): boolean {
    switch (message.type) {
      case 'lent-socket': {
        const answer = this.#loans.get(message.loan);
        // A late answer (the loan timed out): close the copy, or it would swallow requests.
        if (answer === undefined) (handle as Handle | undefined)?.close();
        else answer(handle as Handle);
        return true;
      }
      case 'requests-seen':
        if (this.#requestEvents) this.host.remote.seen(message.clients);
        return true;
      case 'shared-request-failed': {
        const { packet } = message;
        // A connection lives in the worker: handleError() gets a socket that is not connected.
        const request =
          packet === undefined
            ? new net.Socket()
            : [Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), (this.shared.share as SharedDatagramSocket).socket];
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

  /**
   * Sends the shared UDP socket or listener to a worker, which reads or accepts on it from then on.
   * Unless `keepOpen`, this process's copy (a raw handle) is closed once sent: Node does not close
   * the raw handles it sends, so it is done here.
   */
  #give(worker: SharingWorker, handle: Handle, keepOpen: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      worker.child.send({ type: 'share-socket' } satisfies ToWorker, handle as dgram.Socket, { keepOpen }, (error) => {
        // Once written, the descriptor travels in the message: this copy is no longer needed.
        if (!keepOpen) (handle as RawHandle).close();
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
   * Gives a worker started after the server released its socket a copy: borrowed from a worker
   * that reads it, or, when none is left, bound anew at the same address. Datagrams and
   * connections that arrive on the parent's copy meanwhile are handed to a worker, not lost.
   */
  async #resupply(worker: SharingWorker, others: readonly SharingWorker[], closing: () => boolean): Promise<void> {
    const donor = others.find((other) => other !== worker && other.sharing && other.child.connected);
    const borrowed = donor === undefined ? undefined : await this.#borrow(donor);
    if (borrowed !== undefined && this.shared.requests === 'stream') {
      // A listener's raw handle, never accepted on here: passed on as it came, and closed once sent.
      if (closing()) (borrowed as RawHandle).close();
      else await this.#give(worker, borrowed, false);
      return;
    }
    let handle: Handle;
    let release: () => Promise<void>;
    if (borrowed !== undefined) {
      const socket = borrowed as dgram.Socket;
      handle = socket;
      release = () => new Promise<void>((resolve) => socket.close(() => resolve()));
    } else if (this.shared.requests === 'stream') {
      const rebound = await this.shared.share.rebind();
      const listener = rebound.listener as net.Server;
      // Bound here, so it accepts here until released: forward what it accepts.
      listener.on('connection', (socket: net.Socket) => this.#forward(socket, others, worker));
      handle = rawHandle(listener);
      release = () => rebound.release();
    } else {
      const socket = (await this.shared.share.rebind()) as dgram.Socket;
      handle = socket;
      release = () => new Promise<void>((resolve) => socket.close(() => resolve()));
    }
    if (closing()) {
      await release();
      return;
    }
    if (!(handle instanceof net.Server) && this.shared.requests === 'datagram') {
      (handle as dgram.Socket).on('message', (packet, remote) => {
        const to = others.find((other) => other.sharing && other.child.connected) ?? worker;
        const clientAddress = inetAddress(remote.address, remote.port, remote.family);
        if (to.child.connected) to.child.send({ type: 'forward-datagram', clientAddress, packet } satisfies ToWorker, undefined, {}, () => {});
      });
    }
    try {
      await this.#give(worker, handle, true);
    } finally {
      await release();
    }
  }

  /** Hands a connection accepted on a listener held here for a moment to a worker. */
  #forward(socket: net.Socket, others: readonly SharingWorker[], fallback: SharingWorker): void {
    const to = others.find((other) => other.sharing && other.child.connected) ?? fallback;
    const clientAddress = this.shared.share.kind === 'tcp' ? inetAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, socket.remoteFamily) : { path: null };
    // The raw handle travels, not the socket (see the handoff in WorkerPoolStrategy): Node would
    // otherwise track it for this listener, whose close() would wait on the worker.
    const raw = (socket as unknown as { _handle?: object | null })._handle;
    if (!to.child.connected || raw == null) {
      socket.destroy();
      return;
    }
    to.child.send({ type: 'forward-connection', clientAddress } satisfies ToWorker, raw as net.Server, {}, () => socket.destroy());
  }

  /** Asks a worker for its copy of the shared UDP socket or listener; `undefined` when it does not answer. */
  #borrow(donor: SharingWorker): Promise<Handle | undefined> {
    const loan = this.#nextLoan++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(undefined), 1_000);
      const answer = (handle: Handle | undefined): void => {
        clearTimeout(timer);
        donor.child.off('exit', gone);
        this.#loans.delete(loan);
        resolve(handle);
      };
      const gone = (): void => answer(undefined);
      this.#loans.set(loan, answer);
      donor.child.once('exit', gone);
      if (donor.child.connected) donor.child.send({ type: 'lend-socket', loan } satisfies ToWorker, undefined, {}, () => {});
    });
  }
}
