/**
 * `isWorker`: whether this process is a worker of a `WorkerPoolStrategy`.
 *
 * @module
 */
import { poolWorker } from '@sockserve/core/internal';
import { CONFIG_ENV } from './_protocol.js';

/**
 * True in a worker process of a `WorkerPoolStrategy`, false elsewhere. Workers import the handler
 * module, so a program that keeps its handler class and the code that starts its server in one
 * file guards the latter with it; otherwise every worker would start a server (sockserve refuses
 * that with `ServerInWorkerError`).
 *
 * @example
 * ```ts
 * import { isWorker, StreamRequestHandler, TCPServer, WorkerPoolStrategy } from 'sockserve';
 *
 * export class HashHandler extends StreamRequestHandler {
 *   override async handle() { ... }
 * }
 *
 * if (!isWorker) {
 *   const server = new TCPServer({ host: '::', port: 8000 }, HashHandler, {
 *     concurrency: new WorkerPoolStrategy({ module: import.meta.url }),
 *   });
 *   await server.serveUntilSignal();
 * }
 * ```
 */
export const isWorker: boolean =
  poolWorker() !== undefined || (process.env[CONFIG_ENV] !== undefined && typeof process.send === 'function');
