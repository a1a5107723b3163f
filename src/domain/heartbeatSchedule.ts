/**
 * R70's timer as one Temporal Schedule per agent: the schedule an agent should have, given its
 * heartbeat policy and status, and how a schedule Temporal holds differs from it. Pure, so the
 * sync (`temporal/heartbeatSchedules.ts`), the API and the tests share one definition.
 */
import { heartbeatPolicyOf } from './heartbeatPolicy.ts';

/** `<idPrefix>heartbeat-<agentId>`; `npm start` uses the prefix `vigil-`. */
export function heartbeatScheduleId(idPrefix: string, agentId: string): string {
  return `${idPrefix}heartbeat-${agentId}`;
}

/** The agent a schedule id names, or null when the id is not one of these schedules. */
export function agentIdOfHeartbeatSchedule(idPrefix: string, scheduleId: string): string | null {
  const prefix = heartbeatScheduleId(idPrefix, '');
  return scheduleId.startsWith(prefix) && scheduleId.length > prefix.length ? scheduleId.slice(prefix.length) : null;
}

export interface AgentForSchedule {
  id: string;
  status: string;
  runtimeConfig: unknown;
}

export type DesiredHeartbeatSchedule =
  | { kind: 'absent' }
  | {
      kind: 'present';
      intervalSec: number;
      /**
       * Where in each interval the tick falls (seconds after the interval's epoch-aligned start),
       * derived from the agent id: a thousand agents with the same interval do not all wake in
       * the same second, and the value is stable, so a restart's reconcile finds nothing to change.
       */
      offsetSec: number;
      /** A paused or pending-approval agent keeps its schedule, paused (R70: only invokable agents tick). */
      paused: boolean;
    };

/** R70: a timer exists for agents with `enabled` and `intervalSec > 0` that are not terminated. */
export function desiredHeartbeatSchedule(agent: AgentForSchedule): DesiredHeartbeatSchedule {
  const policy = heartbeatPolicyOf(agent.runtimeConfig);
  if (!policy.enabled || policy.intervalSec <= 0 || agent.status === 'terminated') return { kind: 'absent' };
  return {
    kind: 'present',
    intervalSec: policy.intervalSec,
    offsetSec: stableOffset(agent.id, policy.intervalSec),
    paused: agent.status === 'paused' || agent.status === 'pending_approval',
  };
}

/** FNV-1a of the id, modulo the interval. */
function stableOffset(agentId: string, intervalSec: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    hash ^= agentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % intervalSec;
}

/** What Vigil compares of a schedule Temporal holds (read by `describe`). */
export interface ObservedHeartbeatSchedule {
  intervalMs: number | null;
  offsetMs: number | null;
  overlap: string;
  workflowType: string;
  taskQueue: string;
  summary: string | null;
  paused: boolean;
}

/** What the schedule must say besides the policy: where its ticks run and how Temporal UI names them. */
export interface HeartbeatScheduleTarget {
  workflowType: string;
  taskQueue: string;
  summary: string;
}

export type HeartbeatScheduleChange = 'create' | 'update' | 'pause' | 'unpause' | 'delete' | 'none';

/**
 * The one call that brings Temporal to the desired state. `update` rewrites spec, action,
 * policies and the paused state in one go; `pause` / `unpause` only flip the state.
 */
export function heartbeatScheduleChange(desired: DesiredHeartbeatSchedule, observed: ObservedHeartbeatSchedule | null, target: HeartbeatScheduleTarget): HeartbeatScheduleChange {
  if (desired.kind === 'absent') return observed ? 'delete' : 'none';
  if (!observed) return 'create';
  const same =
    observed.intervalMs === desired.intervalSec * 1000 &&
    (observed.offsetMs ?? 0) === desired.offsetSec * 1000 &&
    observed.overlap === 'SKIP' &&
    observed.workflowType === target.workflowType &&
    observed.taskQueue === target.taskQueue &&
    observed.summary === target.summary;
  if (!same) return 'update';
  if (observed.paused === desired.paused) return 'none';
  return desired.paused ? 'pause' : 'unpause';
}

/**
 * A tick Temporal missed (the server was down) is taken late only within one interval, and never
 * as a backlog of ticks; Temporal's floor for the window is 10 s.
 */
export function catchupWindowMs(intervalSec: number): number {
  return Math.max(10_000, intervalSec * 1000);
}
