/**
 * Typed events: the `EventEmitter` interface of the `typed-emitter` package (MIT, by Andy
 * Wermke), kept here as a type so that installing sockserve does not install that package's
 * optional runtime dependency (rxjs) for a type.
 *
 * @module
 */

/**
 * An event map: event names to listener signatures.
 *
 * @example
 * ```ts
 * type ChatEvents = { message: (from: string, text: string) => void };
 * const map: EventMap = {} as ChatEvents;
 * ```
 */
export type EventMap = { [event: string]: (...args: never[]) => void };

/**
 * An `EventEmitter` whose methods know the events of `Events`, their listeners and arguments.
 * Every sockserve server is one.
 *
 * @example
 * ```ts
 * import { EventEmitter } from 'node:events';
 *
 * type ChatEvents = { message: (from: string, text: string) => void };
 * const chat = new EventEmitter() as unknown as TypedEmitter<ChatEvents>;
 * chat.on('message', (from, text) => console.log(from, text));
 * chat.emit('message', 'ada', 'hello'); // chat.emit('message', 1) does not compile
 * ```
 */
export interface TypedEmitter<Events extends EventMap> {
  addListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  on<E extends keyof Events>(event: E, listener: Events[E]): this;
  once<E extends keyof Events>(event: E, listener: Events[E]): this;
  prependListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  prependOnceListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  off<E extends keyof Events>(event: E, listener: Events[E]): this;
  removeAllListeners<E extends keyof Events>(event?: E): this;
  removeListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): boolean;
  eventNames(): Array<keyof Events | string | symbol>;
  rawListeners<E extends keyof Events>(event: E): Array<Events[E]>;
  listeners<E extends keyof Events>(event: E): Array<Events[E]>;
  listenerCount<E extends keyof Events>(event: E): number;
  getMaxListeners(): number;
  setMaxListeners(maxListeners: number): this;
}
