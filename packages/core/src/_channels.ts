/**
 * The diagnostics channel objects sockserve publishes on (names in `diagnostics.ts`), made once.
 *
 * @module
 */
import dc from 'node:diagnostics_channel';
import { channels } from './diagnostics.js';

export const requestStart = dc.channel(channels.requestStart);
export const requestEnd = dc.channel(channels.requestEnd);
export const requestError = dc.channel(channels.requestError);
export const connectionDropped = dc.channel(channels.connectionDropped);
export const tlsClientError = dc.channel(channels.tlsClientError);
