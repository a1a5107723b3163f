/**
 * The payload of every event on the company live channel (DATA-MODEL §4.6), as zod schemas: the
 * one description of what each event carries. The `live_events` migration's triggers build these
 * payloads in SQL; liveEventTypes.ts takes its TypeScript types from here, and the OpenAPI
 * document (`GET /api/companies/{companyId}/events`) its event schemas, which the fuzzing test
 * checks real streams against.
 *
 * Timestamps are ISO-8601 strings in UTC with milliseconds, like the REST API's JSON.
 */
import { z } from 'zod';
import type { LiveEventType } from './liveEventTypes.ts';

const id = z.uuid();
const timestamp = z.iso.datetime();
/** `contextSnapshot.issueId` of the run, as the run's context has it. */
const boundIssueId = z.string().nullable().meta({ description: 'The issue the run works on (`contextSnapshot.issueId`), if any' });

export const RunQueuedPayload = z
  .object({
    runId: id,
    agentId: id,
    invocationSource: z.string(),
    triggerDetail: z.string().nullable(),
    wakeupRequestId: id.nullable(),
    status: z.string(),
    issueId: boundIssueId,
  })
  .meta({ description: 'A new run (`status` is `queued`, or `scheduled_retry` for a bounded transient retry)' });

export const RunStatusPayload = z
  .object({
    runId: id,
    agentId: id,
    status: z.string(),
    invocationSource: z.string(),
    triggerDetail: z.string().nullable(),
    error: z.string().nullable().meta({ description: 'The redacted error text (never a secret)' }),
    errorCode: z.string().nullable(),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    issueId: boundIssueId,
  })
  .meta({ description: "A run's status changed" });

export const RunEventPayload = z
  .object({
    id: z.int().min(1).meta({ format: 'int64' }),
    runId: id,
    agentId: id,
    seq: z.int32(),
    eventType: z.string(),
    stream: z.string().nullable(),
    level: z.string().nullable(),
    color: z.string().nullable(),
    message: z.string().nullable(),
    payload: z.unknown().meta({ description: 'Any JSON value, redacted' }),
    createdAt: timestamp,
  })
  .meta({ description: 'A `heartbeat_run_events` row other than output (`lifecycle`, `error`, adapter events, …)' });

export const RunLogPayload = z
  .object({
    runId: id,
    agentId: id,
    seq: z.int32().meta({ description: 'The `seq` of the `heartbeat_run_events` row the chunk comes from' }),
    ts: timestamp,
    stream: z.string(),
    chunk: z.string(),
    truncated: z.boolean().meta({ description: 'Always false: Vigil splits output, it never drops any' }),
  })
  .meta({
    description:
      'Run output, at most 8 KiB of UTF-8 per chunk: a longer `log` event is split into several consecutive chunks with the same `seq`, which concatenate to it',
  });

export const AgentStatusPayload = z
  .object({
    agentId: id,
    status: z.string(),
    lastHeartbeatAt: timestamp.nullable(),
    outcome: z.enum(['succeeded', 'failed', 'cancelled', 'timed_out']).nullable().meta({ description: 'The status of the run just finalized, if that is what changed (R10)' }),
  })
  .meta({ description: "An agent's status changed, or one of its runs was finalized" });

export const IssueUpdatedPayload = z
  .object({
    issueId: id,
    identifier: z.string().nullable(),
    change: z.enum(['created', 'updated']),
    title: z.string(),
    status: z.string(),
    priority: z.string(),
    parentId: id.nullable(),
    assigneeAgentId: id.nullable(),
    assigneeUserId: z.string().nullable(),
    executionRunId: id.nullable(),
    checkoutRunId: id.nullable(),
    originKind: z.string(),
    hiddenAt: timestamp.nullable(),
    updatedAt: timestamp,
  })
  .meta({ description: 'An issue was created, or a field a board lists changed. Fetch the issue for everything else.' });

export const ActivityLoggedPayload = z
  .object({
    id,
    actorType: z.string(),
    actorId: z.string(),
    action: z.string(),
    entityType: z.string(),
    entityId: z.string(),
    agentId: id.nullable(),
    runId: id.nullable(),
    createdAt: timestamp,
  })
  .meta({ description: 'An activity_log row, without its details (GET the activity feed for those)' });

/** Every numbered event (its SSE `id:` is the `live_events` id), by name. */
export const LIVE_EVENT_PAYLOADS = {
  'heartbeat.run.queued': RunQueuedPayload,
  'heartbeat.run.status': RunStatusPayload,
  'heartbeat.run.event': RunEventPayload,
  'heartbeat.run.log': RunLogPayload,
  'agent.status': AgentStatusPayload,
  'issue.updated': IssueUpdatedPayload,
  'activity.logged': ActivityLoggedPayload,
} satisfies { [K in LiveEventType]: z.ZodType };

/** The one event without an `id:`: sent first on a resume whose `Last-Event-ID` predates retention. */
export const LIVE_RESYNC_EVENT = 'live.resync';
export const LiveResyncPayload = z
  .object({
    reason: z.string(),
    oldestRetainedId: z.int().min(1).meta({ format: 'int64' }).nullable().meta({ description: 'The oldest event still kept, or null when none is' }),
  })
  .meta({ description: 'Events after `Last-Event-ID` may have been pruned: refetch from the REST API, then follow the stream' });
