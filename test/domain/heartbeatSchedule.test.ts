/**
 * R70 as pure rules: the schedule an agent should have (policy + status), the one change that
 * brings Temporal's schedule to it, and the timer tick's elapsed check.
 */
import { describe, expect, it } from 'vitest';
import { agentIdOfHeartbeatSchedule, catchupWindowMs, desiredHeartbeatSchedule, heartbeatScheduleChange, heartbeatScheduleId, type ObservedHeartbeatSchedule } from '../../src/domain/heartbeatSchedule.ts';
import { decideTimerTick, timerWakeRequest } from '../../src/domain/timerTick.ts';

const AGENT_ID = '8f1b7a52-3c1e-4d8e-9a57-0b5c3f1e2d4a';
const agent = (heartbeat: Record<string, unknown> | undefined, status = 'idle') => ({ id: AGENT_ID, status, runtimeConfig: heartbeat ? { heartbeat } : {} });
const TARGET = { workflowType: 'heartbeatTimerWorkflow', taskQueue: 'vigil-runs', summary: 'Timer heartbeat · Builder · every 60 s' };

describe('the schedule an agent should have', () => {
  it('has one when the timer is enabled with an interval, and none otherwise', () => {
    expect(desiredHeartbeatSchedule(agent({ enabled: true, intervalSec: 60 }))).toMatchObject({ kind: 'present', intervalSec: 60, paused: false });
    expect(desiredHeartbeatSchedule(agent({ enabled: true, intervalSec: 0 }))).toEqual({ kind: 'absent' });
    expect(desiredHeartbeatSchedule(agent({ enabled: true }))).toEqual({ kind: 'absent' });
    expect(desiredHeartbeatSchedule(agent({ enabled: false, intervalSec: 60 }))).toEqual({ kind: 'absent' });
    expect(desiredHeartbeatSchedule(agent(undefined))).toEqual({ kind: 'absent' });
  });

  it('is paused while the agent is paused or pending approval, and gone once it is terminated', () => {
    const heartbeat = { enabled: true, intervalSec: 60 };
    for (const status of ['idle', 'active', 'running', 'error']) expect(desiredHeartbeatSchedule(agent(heartbeat, status))).toMatchObject({ kind: 'present', paused: false });
    for (const status of ['paused', 'pending_approval']) expect(desiredHeartbeatSchedule(agent(heartbeat, status))).toMatchObject({ kind: 'present', paused: true });
    expect(desiredHeartbeatSchedule(agent(heartbeat, 'terminated'))).toEqual({ kind: 'absent' });
  });

  it('ticks at a stable offset inside its interval, so agents with one interval do not all wake in the same second', () => {
    const offsets = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const desired = desiredHeartbeatSchedule({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, status: 'idle', runtimeConfig: { heartbeat: { enabled: true, intervalSec: 3600 } } });
      if (desired.kind !== 'present') throw new Error('expected a schedule');
      expect(desired.offsetSec).toBeGreaterThanOrEqual(0);
      expect(desired.offsetSec).toBeLessThan(3600);
      offsets.add(desired.offsetSec);
    }
    expect(offsets.size).toBeGreaterThan(40);
    expect(desiredHeartbeatSchedule(agent({ enabled: true, intervalSec: 3600 }))).toEqual(desiredHeartbeatSchedule(agent({ enabled: true, intervalSec: 3600 })));
  });

  it('is named vigil-heartbeat-<agentId>, and only such ids name an agent', () => {
    expect(heartbeatScheduleId('vigil-', AGENT_ID)).toBe(`vigil-heartbeat-${AGENT_ID}`);
    expect(agentIdOfHeartbeatSchedule('vigil-', `vigil-heartbeat-${AGENT_ID}`)).toBe(AGENT_ID);
    expect(agentIdOfHeartbeatSchedule('vigil-', 'vigil-reap-orphaned-runs')).toBeNull();
    expect(agentIdOfHeartbeatSchedule('vigil-', 'vigil-heartbeat-')).toBeNull();
    expect(agentIdOfHeartbeatSchedule('test-', `vigil-heartbeat-${AGENT_ID}`)).toBeNull();
  });

  it('catches up at most one missed tick, and never under Temporal’s 10 s floor', () => {
    expect(catchupWindowMs(1)).toBe(10_000);
    expect(catchupWindowMs(3600)).toBe(3_600_000);
  });
});

describe('the one change that brings Temporal to it', () => {
  const desired = desiredHeartbeatSchedule(agent({ enabled: true, intervalSec: 60 }));
  if (desired.kind !== 'present') throw new Error('expected a schedule');
  const inStep: ObservedHeartbeatSchedule = { intervalMs: 60_000, offsetMs: desired.offsetSec * 1000, overlap: 'SKIP', ...TARGET, paused: false };

  it('creates a missing schedule, deletes an unwanted one, and leaves one in step alone', () => {
    expect(heartbeatScheduleChange(desired, null, TARGET)).toBe('create');
    expect(heartbeatScheduleChange({ kind: 'absent' }, inStep, TARGET)).toBe('delete');
    expect(heartbeatScheduleChange({ kind: 'absent' }, null, TARGET)).toBe('none');
    expect(heartbeatScheduleChange(desired, inStep, TARGET)).toBe('none');
  });

  it('updates a schedule whose interval, offset, overlap policy, workflow, task queue or summary drifted', () => {
    for (const drift of [{ intervalMs: 30_000 }, { intervalMs: null }, { offsetMs: desired.offsetSec * 1000 + 1000 }, { overlap: 'ALLOW_ALL' }, { workflowType: 'other' }, { taskQueue: 'old-queue' }, { summary: 'Timer heartbeat · Old name · every 60 s' }]) {
      expect(heartbeatScheduleChange(desired, { ...inStep, ...drift }, TARGET), JSON.stringify(drift)).toBe('update');
    }
  });

  it('pauses or unpauses when only the agent’s status changed', () => {
    expect(heartbeatScheduleChange({ ...desired, paused: true }, inStep, TARGET)).toBe('pause');
    expect(heartbeatScheduleChange(desired, { ...inStep, paused: true }, TARGET)).toBe('unpause');
  });
});

describe('R70: the timer tick', () => {
  const createdAt = new Date('2026-11-21T10:00:00Z');
  const at = (iso: string) => new Date(iso);

  it('is due at the tick nearest intervalSec after the last heartbeat, else after the agent was created', () => {
    expect(decideTimerTick({ intervalSec: 60, lastHeartbeatAt: null, createdAt, now: at('2026-11-21T10:00:29Z') })).toEqual({ kind: 'skip', reason: 'interval_not_elapsed', elapsedSec: 29 });
    expect(decideTimerTick({ intervalSec: 60, lastHeartbeatAt: null, createdAt, now: at('2026-11-21T10:01:00Z') })).toEqual({ kind: 'enqueue' });
    // A run that just happened counts, whatever woke it: the next tick half an interval or more away waits.
    expect(decideTimerTick({ intervalSec: 60, lastHeartbeatAt: at('2026-11-21T11:00:40Z'), createdAt, now: at('2026-11-21T11:01:00Z') })).toMatchObject({ kind: 'skip', reason: 'interval_not_elapsed' });
    expect(decideTimerTick({ intervalSec: 60, lastHeartbeatAt: at('2026-11-21T11:00:00Z'), createdAt, now: at('2026-11-21T11:01:00Z') })).toEqual({ kind: 'enqueue' });
  });

  it("fires on every tick for an agent woken only by its timer, though each run ends a little after its tick", () => {
    // Ticks at :00 every hour; the 10:00 run ended at 10:07, so at 11:00 only 53 minutes have passed.
    expect(decideTimerTick({ intervalSec: 3600, lastHeartbeatAt: at('2026-11-21T10:07:00Z'), createdAt, now: at('2026-11-21T11:00:00Z') })).toEqual({ kind: 'enqueue' });
  });

  it('never enqueues for an interval of 0', () => {
    expect(decideTimerTick({ intervalSec: 0, lastHeartbeatAt: null, createdAt, now: at('2030-01-01T00:00:00Z') })).toEqual({ kind: 'skip', reason: 'no_interval' });
  });

  it('asks for the timer wake exactly as R70 words it', () => {
    const now = at('2026-11-21T11:01:00Z');
    expect(timerWakeRequest(now, 'vigil-heartbeat-x-2026-11-21T11:01:00Z')).toEqual({
      source: 'timer',
      triggerDetail: 'system',
      reason: 'heartbeat_timer',
      requestedByActorType: 'system',
      requestedByActorId: 'heartbeat_scheduler',
      contextSnapshot: { source: 'scheduler', reason: 'interval_elapsed', now: '2026-11-21T11:01:00.000Z' },
      idempotencyKey: 'vigil-heartbeat-x-2026-11-21T11:01:00Z',
    });
  });
});
