/**
 * What the company live channel carries (DATA-MODEL §4.6). The `live_events` migration's triggers
 * build these payloads in SQL; this module names them for TypeScript readers (their shapes:
 * liveEventSchemas.ts), and is the one place that decides what a payload may show a board.
 *
 * Timestamps are ISO-8601 strings in UTC with milliseconds, like the REST API's JSON.
 */
import type { z } from 'zod';
import type * as schemas from './liveEventSchemas.ts';
import { redactJson, redactSecrets } from '../domain/redaction.ts';

export const LIVE_EVENT_TYPES = [
  'heartbeat.run.queued',
  'heartbeat.run.status',
  'heartbeat.run.event',
  'heartbeat.run.log',
  'agent.status',
  'issue.updated',
  'activity.logged',
] as const;

export type LiveEventType = (typeof LIVE_EVENT_TYPES)[number];

// The payloads' shapes are described once, as zod schemas (liveEventSchemas.ts), which the
// OpenAPI document also shows; these are their TypeScript types.
export type RunQueuedPayload = z.infer<typeof schemas.RunQueuedPayload>;
export type RunStatusPayload = z.infer<typeof schemas.RunStatusPayload>;
export type RunEventPayload = z.infer<typeof schemas.RunEventPayload>;
export type RunLogPayload = z.infer<typeof schemas.RunLogPayload>;
export type AgentStatusPayload = z.infer<typeof schemas.AgentStatusPayload>;
export type IssueUpdatedPayload = z.infer<typeof schemas.IssueUpdatedPayload>;
export type ActivityLoggedPayload = z.infer<typeof schemas.ActivityLoggedPayload>;

export type LiveEventPayloads = { [K in LiveEventType]: z.infer<(typeof schemas.LIVE_EVENT_PAYLOADS)[K]> };

/** A `live_events` row. `id` is what SSE sends as `id:` and takes back as `Last-Event-ID`. */
export interface LiveEvent {
  id: number;
  companyId: string;
  type: string;
  payload: Record<string, unknown>;
}

/**
 * The payload as a board may see it. Error texts and event messages are stored redacted already;
 * they are redacted once more here (redaction is idempotent) so that no writer can leak a secret
 * into the channel. Log chunks are left alone: they are cut from redacted output at arbitrary
 * points, and redacting a fragment could change text that reassembles to the stored log.
 */
export function boardPayload(event: LiveEvent): Record<string, unknown> {
  const payload = event.payload;
  switch (event.type) {
    case 'heartbeat.run.status':
      return { ...payload, error: typeof payload.error === 'string' ? redactSecrets(payload.error) : payload.error ?? null };
    case 'heartbeat.run.event':
      return {
        ...payload,
        message: typeof payload.message === 'string' ? redactSecrets(payload.message) : payload.message ?? null,
        payload: redactJson(payload.payload ?? null),
      };
    default:
      return payload;
  }
}
