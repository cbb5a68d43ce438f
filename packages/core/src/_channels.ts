/**
 * The diagnostics channel objects sockserve publishes on (names in `diagnostics.ts`), made once.
 *
 * @module
 */
import dc from 'node:diagnostics_channel';
import { channels, tracingChannels, type RequestTraceContext } from './diagnostics.js';

export const requestStart = dc.channel(channels.requestStart);
export const requestEnd = dc.channel(channels.requestEnd);
export const requestError = dc.channel(channels.requestError);
export const connectionDropped = dc.channel(channels.connectionDropped);
export const tlsClientError = dc.channel(channels.tlsClientError);

/** The request's tracing channel (start/end/asyncStart/asyncEnd/error), around its handler. */
export const requestTrace = dc.tracingChannel<unknown, RequestTraceContext & object>(tracingChannels.request);

/** Whether anyone listens on the request's tracing channel (`hasSubscribers` is Node 20.13+). */
export function requestTraced(): boolean {
  const trace = requestTrace as typeof requestTrace & { hasSubscribers?: boolean };
  if (trace.hasSubscribers !== undefined) return trace.hasSubscribers;
  return trace.start.hasSubscribers || trace.end.hasSubscribers || trace.asyncStart.hasSubscribers || trace.asyncEnd.hasSubscribers || trace.error.hasSubscribers;
}
