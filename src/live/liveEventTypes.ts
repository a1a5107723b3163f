/**
 * What the company live channel carries (DATA-MODEL §4.6). The `live_events` migration's triggers
 * build these payloads in SQL; this module names them for TypeScript readers and the API docs,
 * and is the one place that decides what a payload may show a board.
 *
 * Timestamps are ISO-8601 strings in UTC with milliseconds, like the REST API's JSON.
 */
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

/** A new run (`status` is `queued`, or `scheduled_retry` for a bounded transient retry). */
export interface RunQueuedPayload {
  runId: string;
  agentId: string;
  invocationSource: string;
  triggerDetail: string | null;
  wakeupRequestId: string | null;
  status: string;
  issueId: string | null;
}

/** A run's status changed. `error` is the redacted text (never a secret). */
export interface RunStatusPayload {
  runId: string;
  agentId: string;
  status: string;
  invocationSource: string;
  triggerDetail: string | null;
  error: string | null;
  errorCode: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  issueId: string | null;
}

/** A `heartbeat_run_events` row other than output (`lifecycle`, `error`, adapter events, …). */
export interface RunEventPayload {
  id: number;
  runId: string;
  agentId: string;
  seq: number;
  eventType: string;
  stream: string | null;
  level: string | null;
  color: string | null;
  message: string | null;
  payload: unknown;
  createdAt: string;
}

/**
 * Run output, at most 8 KiB of UTF-8 per chunk: a longer `log` event is split into several
 * consecutive chunks with the same `seq`, which concatenate to it. `truncated` is always false:
 * Vigil splits output, it never drops any.
 */
export interface RunLogPayload {
  runId: string;
  agentId: string;
  /** The `seq` of the `heartbeat_run_events` row the chunk comes from. */
  seq: number;
  ts: string;
  stream: string;
  chunk: string;
  truncated: boolean;
}

/** An agent's status changed, or one of its runs was finalized (R10); `outcome` is that run's status. */
export interface AgentStatusPayload {
  agentId: string;
  status: string;
  lastHeartbeatAt: string | null;
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'timed_out' | null;
}

/** An issue was created, or a field a board lists changed. Fetch the issue for everything else. */
export interface IssueUpdatedPayload {
  issueId: string;
  identifier: string | null;
  change: 'created' | 'updated';
  title: string;
  status: string;
  priority: string;
  parentId: string | null;
  assigneeAgentId: string | null;
  assigneeUserId: string | null;
  executionRunId: string | null;
  checkoutRunId: string | null;
  originKind: string;
  hiddenAt: string | null;
  updatedAt: string;
}

/** An activity_log row, without its details (GET the activity feed for those). */
export interface ActivityLoggedPayload {
  id: string;
  actorType: string;
  actorId: string;
  action: string;
  entityType: string;
  entityId: string;
  agentId: string | null;
  runId: string | null;
  createdAt: string;
}

export interface LiveEventPayloads {
  'heartbeat.run.queued': RunQueuedPayload;
  'heartbeat.run.status': RunStatusPayload;
  'heartbeat.run.event': RunEventPayload;
  'heartbeat.run.log': RunLogPayload;
  'agent.status': AgentStatusPayload;
  'issue.updated': IssueUpdatedPayload;
  'activity.logged': ActivityLoggedPayload;
}

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
