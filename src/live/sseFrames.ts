/**
 * Server-Sent Events framing (WHATWG HTML §9.2). Data is one line of JSON: JSON.stringify escapes
 * every CR and LF inside strings, so a payload can never end a field or an event early.
 */
import { boardPayload, type LiveEvent } from './liveEventTypes.ts';

/** `id:` is the `live_events` id a board sends back as `Last-Event-ID` when it reconnects. */
export function liveEventFrame(event: LiveEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(boardPayload(event))}\n\n`;
}

/** An event without `id:`: it leaves the board's Last-Event-ID as it was. */
export function unnumberedFrame(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How long a board's EventSource waits before reconnecting. */
export function retryFrame(ms: number): string {
  return `retry: ${ms}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies and load balancers from closing an idle stream. */
export function commentFrame(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}
