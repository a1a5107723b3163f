/**
 * R70's timer heartbeats as Temporal Schedules: one per agent, `<prefix>heartbeat-<agentId>`, each
 * starting `heartbeatTimerWorkflow({ agentId })` every `intervalSec` on Vigil's task queue, overlap
 * SKIP. The database is the truth: `desiredHeartbeatSchedule` (domain/heartbeatSchedule.ts) says
 * what an agent's row asks for, and this module brings Temporal to it.
 *
 * - `afterAgentChange`: the API, once an agent is created, updated, paused or resumed. The agent
 *   is already saved; a Temporal error is logged as a warning and the route still succeeds
 *   (docs/decisions.md, issue 10). Each call is bounded by a deadline.
 * - `reconcile`: every Vigil start, in the background. Every agent whose policy asks for a timer
 *   and every `<prefix>heartbeat-*` schedule Temporal lists are brought in line (create missing,
 *   update drifted, pause/unpause, delete orphans), 16 at a time, each failure counted and logged.
 *
 * Every change re-reads the agent's row first, and changes to one agent are serialized within this
 * process, so the last writer applies the latest row. Idempotent: "already exists" and "not found"
 * are the states asked for.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleHandle, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { PrismaClient } from '../store/db.ts';
import type { Logger } from '../logger.ts';
import { heartbeatTimerWorkflow } from '../workflows/heartbeatTimer.ts';
import {
  agentIdOfHeartbeatSchedule,
  catchupWindowMs,
  desiredHeartbeatSchedule,
  heartbeatScheduleChange,
  heartbeatScheduleId,
  type AgentForSchedule,
  type HeartbeatScheduleChange,
  type ObservedHeartbeatSchedule,
} from '../domain/heartbeatSchedule.ts';
import { timerHeartbeatTexts } from '../domain/texts.ts';
import { mapBounded } from '../platform/concurrency.ts';

export interface HeartbeatScheduleOptions {
  /** Where the ticks run: the task queue of this Vigil's worker. */
  taskQueue: string;
  /** Prefix of the schedule ids (`vigil-` for `npm start`). */
  idPrefix: string;
  /** Only this company's agents and schedules (tests share one database and namespace); default all. */
  companyId?: string;
}

export interface HeartbeatScheduleReconcile {
  /** Agents looked at: those whose policy asks for a timer, plus those with a listed schedule. */
  checked: number;
  changes: Record<HeartbeatScheduleChange, number>;
  failed: number;
  /** Agents whose schedule was changed (created, updated, paused, unpaused or deleted). */
  changedAgentIds: string[];
  failedAgentIds: string[];
}

/** Parallel calls to the Temporal frontend at a start-up reconcile. */
const RECONCILE_CONCURRENCY = 16;
/** How long one agent's sync may take before it gives up (the next start's reconcile repairs it). */
const SYNC_DEADLINE_MS = 30_000;
/** How long an API route waits for the sync before it answers anyway (the agent is saved; the sync goes on). */
const ROUTE_WAIT_MS = 5_000;
/** A tick that found no worker for this long gives way to the next (overlap SKIP would skip them all). */
const TICK_EXECUTION_TIMEOUT = '10 minutes';

const AGENT_FIELDS = { id: true, companyId: true, name: true, status: true, runtimeConfig: true } as const;
type AgentRow = AgentForSchedule & { companyId: string; name: string };

export class HeartbeatSchedules {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: { client: Client; prisma: PrismaClient; logger: Logger },
    readonly options: HeartbeatScheduleOptions,
  ) {}

  scheduleId(agentId: string): string {
    return heartbeatScheduleId(this.options.idPrefix, agentId);
  }

  /**
   * After the API saved a change to an agent (`before` is its row before, null when created). No
   * Temporal call when neither row asks for a timer. Never throws: a failure is a warning, and
   * the next start's reconcile repairs the schedule.
   */
  async afterAgentChange(before: AgentForSchedule | null, after: AgentForSchedule): Promise<void> {
    if (desiredHeartbeatSchedule(after).kind === 'absent' && (!before || desiredHeartbeatSchedule(before).kind === 'absent')) return;
    const synced = this.deps.client.withDeadline(Date.now() + SYNC_DEADLINE_MS, () => this.sync(after.id)).catch((error: unknown) => {
      this.deps.logger.warn(timerHeartbeatTexts.syncFailed, { agentId: after.id, scheduleId: this.scheduleId(after.id), error: error instanceof Error ? error.message : String(error) });
    });
    // A slow Temporal delays the answer by at most ROUTE_WAIT_MS; the sync itself is not cut short.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([synced, new Promise<void>((resolve) => (timer = setTimeout(resolve, ROUTE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Brings one agent's schedule to what its row says now; returns the change made. */
  sync(agentId: string): Promise<HeartbeatScheduleChange> {
    return this.serialized(agentId, async () => {
      const agent = await this.deps.prisma.agent.findUnique({ where: { id: agentId }, select: AGENT_FIELDS });
      return this.apply(agentId, agent);
    });
  }

  /**
   * Every agent's desired schedule against Temporal's list of `<prefix>heartbeat-*` schedules.
   * `signal` (Vigil stopping) cancels the calls in flight and ends the reconcile with an error.
   */
  reconcile(options: { signal?: AbortSignal } = {}): Promise<HeartbeatScheduleReconcile> {
    const signal = options.signal;
    return signal ? this.deps.client.withAbortSignal(signal, () => this.reconcileAll(signal)) : this.reconcileAll();
  }

  private async reconcileAll(signal?: AbortSignal): Promise<HeartbeatScheduleReconcile> {
    const scope = this.options.companyId;
    const listed: string[] = [];
    for await (const schedule of this.deps.client.schedule.list()) {
      const agentId = agentIdOfHeartbeatSchedule(this.options.idPrefix, schedule.scheduleId);
      if (agentId && (!scope || schedule.memo?.companyId === scope)) listed.push(agentId);
    }
    // Only agents whose policy enables the timer can want a schedule.
    const candidates = await this.deps.prisma.agent.findMany({
      where: { ...(scope ? { companyId: scope } : {}), runtimeConfig: { path: ['heartbeat', 'enabled'], equals: true } },
      select: { id: true, status: true, runtimeConfig: true },
    });
    const wanted = candidates.filter((agent) => desiredHeartbeatSchedule(agent).kind === 'present').map((agent) => agent.id);
    const agentIds = [...new Set([...wanted, ...listed])];

    const result: HeartbeatScheduleReconcile = {
      checked: agentIds.length,
      changes: { create: 0, update: 0, pause: 0, unpause: 0, delete: 0, none: 0 },
      failed: 0,
      changedAgentIds: [],
      failedAgentIds: [],
    };
    await mapBounded(agentIds, RECONCILE_CONCURRENCY, async (agentId) => {
      signal?.throwIfAborted();
      try {
        const change = await this.deps.client.withDeadline(Date.now() + SYNC_DEADLINE_MS, () => this.sync(agentId));
        result.changes[change]++;
        if (change !== 'none') result.changedAgentIds.push(agentId);
      } catch (error) {
        signal?.throwIfAborted();
        result.failed++;
        result.failedAgentIds.push(agentId);
        this.deps.logger.warn(timerHeartbeatTexts.syncFailed, { agentId, scheduleId: this.scheduleId(agentId), error: error instanceof Error ? error.message : String(error) });
      }
    });
    return result;
  }

  private async apply(agentId: string, agent: AgentRow | null): Promise<HeartbeatScheduleChange> {
    const handle = this.deps.client.schedule.getHandle(this.scheduleId(agentId));
    const desired = agent ? desiredHeartbeatSchedule(agent) : ({ kind: 'absent' } as const);
    const observed = await observe(handle);
    if (desired.kind === 'absent' || !agent) {
      if (!observed) return 'none';
      await handle.delete().catch(ignore(ScheduleNotFoundError));
      return 'delete';
    }
    const summary = timerHeartbeatTexts.tickSummary(agent.name, desired.intervalSec);
    const change = heartbeatScheduleChange(desired, observed, { workflowType: heartbeatTimerWorkflow.name, taskQueue: this.options.taskQueue, summary });
    const note = timerHeartbeatTexts.note(agent, desired.paused);
    const spec = { intervals: [{ every: desired.intervalSec * 1000, offset: desired.offsetSec * 1000 }] };
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: catchupWindowMs(desired.intervalSec) };
    const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
      type: 'startWorkflow',
      workflowType: heartbeatTimerWorkflow.name,
      // Temporal appends each tick's time: `<prefix>heartbeat-<agentId>-2026-11-21T12:00:00Z`.
      workflowId: this.scheduleId(agentId),
      taskQueue: this.options.taskQueue,
      args: [{ agentId }],
      workflowExecutionTimeout: TICK_EXECUTION_TIMEOUT,
      staticSummary: summary,
      searchAttributes: { VigilCompanyId: [agent.companyId], VigilAgentId: [agentId] },
    };
    const update = () => handle.update((previous) => ({ ...previous, spec, policies, action, state: { paused: desired.paused, note } }));
    switch (change) {
      case 'create':
        try {
          await this.deps.client.schedule.create({
            scheduleId: this.scheduleId(agentId),
            spec,
            policies,
            action,
            memo: { agentId, companyId: agent.companyId },
            searchAttributes: { VigilCompanyId: [agent.companyId], VigilAgentId: [agentId] },
            state: { paused: desired.paused, note },
          });
        } catch (error) {
          // Another Vigil created it a moment ago: make it ours.
          if (!(error instanceof ScheduleAlreadyRunning)) throw error;
          await update();
        }
        break;
      case 'update':
        await update();
        break;
      case 'pause':
        await handle.pause(note);
        break;
      case 'unpause':
        await handle.unpause(note);
        break;
    }
    return change;
  }

  /** Runs `work` after every earlier change to the same agent in this process has settled. */
  private serialized<T>(agentId: string, work: () => Promise<T>): Promise<T> {
    const next = (this.inFlight.get(agentId) ?? Promise.resolve()).then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(agentId, settled);
    void settled.then(() => {
      if (this.inFlight.get(agentId) === settled) this.inFlight.delete(agentId);
    });
    return next;
  }
}

async function observe(handle: ScheduleHandle): Promise<ObservedHeartbeatSchedule | null> {
  try {
    const described = await handle.describe();
    const intervals = described.spec.intervals ?? [];
    const single = intervals.length === 1 && (described.spec.calendars ?? []).length === 0 ? intervals[0] : null;
    return {
      intervalMs: single?.every ?? null,
      offsetMs: single?.offset ?? null,
      overlap: described.policies.overlap ?? '',
      workflowType: described.action.workflowType,
      taskQueue: described.action.taskQueue ?? '',
      summary: described.action.staticSummary ?? null,
      paused: described.state.paused,
    };
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return null;
    throw error;
  }
}

function ignore(kind: new (...args: never[]) => Error) {
  return (error: unknown) => {
    if (!(error instanceof kind)) throw error;
  };
}
