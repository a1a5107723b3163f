/**
 * Reads a recorded history (the Temporal CLI's proto3 JSON) into the few facts a scenario is
 * recognised by: its event types, the activities it scheduled, the local activities (claim,
 * finalize, ...) recorded as markers, how the adapter activity ended, updates, signals, and its result.
 */
import type { HistoryJson } from '../../scripts/histories/exportHistory.ts';

export type Attributes = Record<string, any>;
interface JsonPayload {
  metadata?: { encoding?: string };
  data?: string;
}

export interface HistoryFacts {
  workflowType: string;
  /** `EVENT_TYPE_TIMER_FIRED` → `TIMER_FIRED`, workflow tasks left out. */
  events: string[];
  scheduledActivities: Array<{ type: string; heartbeatTimeout: string | null; summary: unknown }>;
  localActivities: Array<{ type: string; result: unknown }>;
  activityTimeouts: string[];
  activityFailures: Array<{ message: string; type: string | null }>;
  updates: string[];
  signals: string[];
  result: unknown;
}

/** JSON payloads (`json/plain`) decoded; anything else (binary/null) as undefined. */
function decode(payload: JsonPayload | undefined): unknown {
  if (!payload?.data || Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString() !== 'json/plain') return undefined;
  return JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8'));
}

export function attributesOf(event: Attributes): Attributes {
  const key = Object.keys(event).find((name) => name.endsWith('EventAttributes'));
  return key ? event[key] : {};
}

export function factsOf(history: HistoryJson): HistoryFacts {
  const facts: HistoryFacts = {
    workflowType: attributesOf(history.events[0]).workflowType?.name ?? '',
    events: [],
    scheduledActivities: [],
    localActivities: [],
    activityTimeouts: [],
    activityFailures: [],
    updates: [],
    signals: [],
    result: undefined,
  };
  for (const event of history.events) {
    const type = event.eventType.replace(/^EVENT_TYPE_/, '');
    if (type.startsWith('WORKFLOW_TASK_')) continue;
    facts.events.push(type);
    const attributes = attributesOf(event);
    switch (type) {
      case 'ACTIVITY_TASK_SCHEDULED':
        facts.scheduledActivities.push({
          type: attributes.activityType.name,
          heartbeatTimeout: attributes.heartbeatTimeout && attributes.heartbeatTimeout !== '0s' ? attributes.heartbeatTimeout : null,
          summary: decode((event as Attributes).userMetadata?.summary),
        });
        break;
      case 'MARKER_RECORDED': {
        // Local activities are markers: `data` says which activity, `result` what it returned.
        const marker = decode(attributes.details?.data?.payloads?.[0]) as { activity_type?: string } | undefined;
        if (marker?.activity_type) facts.localActivities.push({ type: marker.activity_type, result: decode(attributes.details?.result?.payloads?.[0]) });
        break;
      }
      case 'ACTIVITY_TASK_TIMED_OUT':
        facts.activityTimeouts.push(attributes.failure?.timeoutFailureInfo?.timeoutType ?? '');
        break;
      case 'ACTIVITY_TASK_FAILED':
        facts.activityFailures.push({ message: attributes.failure?.message ?? '', type: attributes.failure?.applicationFailureInfo?.type ?? null });
        break;
      case 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED':
        facts.updates.push(attributes.acceptedRequest?.input?.name ?? '');
        break;
      case 'WORKFLOW_EXECUTION_SIGNALED':
        facts.signals.push(attributes.signalName ?? '');
        break;
      case 'WORKFLOW_EXECUTION_COMPLETED':
        facts.result = decode(attributes.result?.payloads?.[0]);
        break;
    }
  }
  return facts;
}

/** The local activities' types, in order. */
export const localActivityTypes = (facts: HistoryFacts) => facts.localActivities.map((activity) => activity.type);

/** What a local activity returned (the first of that type). */
export function localActivityResult(facts: HistoryFacts, type: string): any {
  return facts.localActivities.find((activity) => activity.type === type)?.result;
}

/**
 * Issue 13: each activity the workflow scheduled, on which task queue, within which
 * schedule-to-start bound, and how it ended (`COMPLETED`, `TIMED_OUT:<type>`, `FAILED:<type>`, …).
 */
export function activityAttempts(history: HistoryJson) {
  const attempts = new Map<string, { type: string; summary: unknown; taskQueue: string; scheduleToStartTimeout: string; ended: string | null }>();
  for (const event of history.events as Attributes[]) {
    const type = event.eventType.replace(/^EVENT_TYPE_/, '');
    const attributes = attributesOf(event);
    if (type === 'ACTIVITY_TASK_SCHEDULED') {
      attempts.set(event.eventId, {
        type: attributes.activityType.name,
        summary: decode(event.userMetadata?.summary),
        taskQueue: attributes.taskQueue.name,
        scheduleToStartTimeout: attributes.scheduleToStartTimeout ?? '0s',
        ended: null,
      });
    } else if (type.startsWith('ACTIVITY_TASK_') && attempts.has(attributes.scheduledEventId)) {
      const how = type.replace(/^ACTIVITY_TASK_/, '');
      if (how === 'STARTED' || how === 'CANCEL_REQUESTED') continue;
      const detail = attributes.failure?.timeoutFailureInfo?.timeoutType ?? attributes.failure?.applicationFailureInfo?.type;
      attempts.get(attributes.scheduledEventId)!.ended = detail ? `${how}:${detail}` : how;
    }
  }
  return [...attempts.values()];
}

/** The patches (`patched(id)`) the workflow recorded, in order. */
export const patchesOf = (history: HistoryJson): string[] =>
  (history.events as Attributes[])
    .filter((event) => event.eventType === 'EVENT_TYPE_MARKER_RECORDED' && attributesOf(event).markerName === 'core_patch')
    .map((event) => (decode(attributesOf(event).details?.['patch-data']?.payloads?.[0]) as { id?: string } | undefined)?.id ?? '');

/** The run workflow's input: the reattach window a run was started with. */
export const runInputOf = (history: HistoryJson): { reattachWindowMs?: number } => decode(attributesOf(history.events[0] as Attributes).input?.payloads?.[0]) as { reattachWindowMs?: number };

