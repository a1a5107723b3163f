/**
 * §6 of RECOVERY.md, the orphan reaper: runs the database says are `running` although nothing
 * executes them. On Temporal, a run is held while its workflow runs (a dead worker is noticed by
 * the adapter activity's heartbeat timeout, which finalizes the run itself); the reaper covers
 * the rest — a terminated workflow, a lost history, rows restored or written by hand.
 *
 * - R18: a live recorded pid keeps the run `running`, flagged `process_detached` (once).
 * - R19: a dead pid whose process group survives: the group is terminated first.
 * - R21–R25: the run fails as `process_lost`, queues the single process-loss retry (R22/R23) or
 *   applies immediate recovery (R24), ends its leases `failed` (R27) and finalizes the agent. The
 *   common shapes are settled in batches with set-based statements (reaper/settleOrphanBatch.ts);
 *   the rest go through the one per-run ending (`endRun`). `domain/orphanSettlement.ts` decides.
 * Pids are probed one run at a time (cheap, local), and only on the host that spawned them
 * (`processHost`; unknown = this host): elsewhere they would name other processes.
 */
import type { ActivityDeps } from './deps.ts';
import { endRun } from './finalizeRun.ts';
import { settleOrphanBatch, type ProbedOrphan } from './reaper/settleOrphanBatch.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { tracksLocalChild } from '../domain/runStatus.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { isProcessGroupAlive, spawnedOnThisHost, terminateProcessGroup } from '../adapters/processGroup.ts';
import { isRecordedProcessAlive } from '../adapters/supervisor/processStart.ts';
import { claimableQueuedRunIdsOfAgents } from '../store/reapSettlement.ts';
import { mapBounded } from '../platform/concurrency.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { runLogFields } from '../runLogContext.ts';

export interface ReapOptions {
  /** R16: skip runs updated within this many ms (0 = none; at startup every orphan counts). */
  staleThresholdMs?: number;
  /** Only this company's runs (an operator's targeted reap); default: every company (R16). */
  companyId?: string;
}

export interface ReapResult {
  reaped: number;
  /** Reaped runs, in processing order (R25); detached runs are not listed. */
  runIds: string[];
  /** Runs created by the reaping (retries, recovery runs); their workflows are started. */
  followUpRunIds: string[];
}

interface Candidate {
  id: string;
  company_id: string;
  agent_id: string;
  process_pid: number | null;
  process_group_id: number | null;
  process_start_ticks: bigint | null;
  process_host: string | null;
  error_code: string | null;
  adapter_type: string;
}

/** How many orphans are probed, or settled one by one, at once (descendant cleanup waits up to 2 s). */
const CONCURRENCY = 8;
/** How many orphans one batch transaction settles (R21–R27). */
const BATCH_SIZE = 200;
/** R19: SIGTERM, then SIGKILL after 2 s. */
const DESCENDANT_GRACE_MS = 2_000;

export function reapOrphanedRuns(deps: ActivityDeps, options: ReapOptions = {}): Promise<ReapResult> {
  return deps.metrics.timeSweep('orphan_reaper', async () => {
    const result = await reap(deps, options);
    deps.metrics.sweepItems('orphan_reaper', 'reaped', result.reaped);
    deps.metrics.sweepItems('orphan_reaper', 'follow_up_runs', result.followUpRunIds.length);
    return result;
  });
}

async function reap(deps: ActivityDeps, options: ReapOptions): Promise<ReapResult> {
  const threshold = options.staleThresholdMs ?? 0;
  const companyId = options.companyId ?? null;
  const candidates = await deps.prisma.$queryRaw<Candidate[]>`
    SELECT r.id, r.company_id, r.agent_id, r.process_pid, r.process_group_id, r.process_start_ticks, r.process_host, r.error_code, a.adapter_type
    FROM heartbeat_runs r JOIN agents a ON a.id = r.agent_id
    WHERE r.status = 'running' AND (${companyId}::uuid IS NULL OR r.company_id = ${companyId}::uuid)
      AND (${threshold}::int = 0 OR r.updated_at < now() - make_interval(secs => ${threshold}::int / 1000.0))
    ORDER BY r.started_at NULLS FIRST, r.id`;
  if (candidates.length === 0) return { reaped: 0, runIds: [], followUpRunIds: [] };
  const held = await deps.executions.held(candidates.map((c) => c.id));
  const orphans = candidates.filter((c) => !held.has(c.id));

  // R18/R19: probe each run's pid (and terminate a surviving group) before anything is settled.
  const probed = await mapBounded(orphans, CONCURRENCY, (orphan) => probeOrphan(deps, orphan));
  const dead = probed.filter((p): p is ProbedOrphan => p !== null);
  const reapedIds = new Set<string>();
  const followUpRunIds = new Set<string>();
  const perRun: ProbedOrphan[] = [];
  for (let i = 0; i < dead.length; i += BATCH_SIZE) {
    const batch = await settleOrphanBatch(deps, dead.slice(i, i + BATCH_SIZE));
    for (const id of batch.reapedRunIds) reapedIds.add(id);
    for (const id of batch.followUpRunIds) followUpRunIds.add(id);
    perRun.push(...batch.perRun);
  }
  // The shapes the batch leaves alone (R24's release and immediate recovery, races): one run at a time.
  const outcomes = await mapBounded(perRun, CONCURRENCY, (orphan) => endRun(deps, { runId: orphan.id, outcome: { kind: 'reaped', descendantOnly: orphan.descendantOnly }, findNextQueued: false }));
  perRun.forEach((orphan, i) => {
    if (!outcomes[i].result.alreadyTerminal) reapedIds.add(orphan.id);
    for (const id of outcomes[i].followUpRunIds) followUpRunIds.add(id);
  });
  // R25: runIds in processing order (the candidates' order); detached runs are not listed.
  const reaped = orphans.filter((c) => reapedIds.has(c.id));
  // R25 "try to start the agent's next queued run": once per agent whose runs were reaped.
  for (const runId of await queuedRunsWithFreeSlot(deps, [...new Set(reaped.map((c) => c.agent_id))])) followUpRunIds.add(runId);
  return { reaped: reaped.length, runIds: reaped.map((c) => c.id), followUpRunIds: [...followUpRunIds] };
}

/**
 * R17–R19: a live trusted pid flags the run detached (null: not reaped); a dead pid whose group
 * survives has the group terminated first (descendant-only cleanup).
 */
async function probeOrphan(deps: ActivityDeps, run: Candidate): Promise<ProbedOrphan | null> {
  const local = spawnedOnThisHost(run.process_host);
  // R17: only local-child adapters' pids are trusted.
  const trustPids = tracksLocalChild(run.adapter_type) && local;
  // A pid is trusted with its start time, when recorded (issue 13): a reused pid is not the agent.
  if (trustPids && run.process_pid !== null && (await isRecordedProcessAlive(run.process_pid, run.process_start_ticks))) {
    await markDetached(deps, run, run.process_pid);
    return null;
  }
  const descendantOnly = trustPids && run.process_group_id !== null && (await isProcessGroupAlive(run.process_group_id));
  if (descendantOnly) await terminateProcessGroup(run.process_group_id!, { graceMs: DESCENDANT_GRACE_MS });
  return { id: run.id, companyId: run.company_id, agentId: run.agent_id, descendantOnly };
}

/** R25/R69: the queued runs of these agents that a free slot lets start, in one statement. */
async function queuedRunsWithFreeSlot(deps: ActivityDeps, agentIds: string[]): Promise<string[]> {
  if (agentIds.length === 0) return [];
  const agents = await deps.prisma.agent.findMany({ where: { id: { in: agentIds } }, select: { id: true, runtimeConfig: true } });
  const byId = new Map(agents.map((a) => [a.id, a]));
  const slots = agentIds.flatMap((id) => {
    const agent = byId.get(id);
    return agent ? [{ agentId: id, maxConcurrentRuns: heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns }] : [];
  });
  return claimableQueuedRunIdsOfAgents(deps.prisma, slots);
}

/** R18: one conditional write, so a run already flagged is left as it is (updatedAt untouched). */
async function markDetached(deps: ActivityDeps, run: Candidate, pid: number) {
  const message = recoveryEventTexts.detached(pid);
  const flagged = await deps.prisma.heartbeatRun.updateMany({
    where: { id: run.id, status: 'running', OR: [{ errorCode: null }, { errorCode: { not: 'process_detached' } }] },
    data: { errorCode: 'process_detached', error: message },
  });
  if (flagged.count === 0) return;
  deps.metrics.sweepItems('orphan_reaper', 'process_detached');
  deps.logger.warn('running run flagged process_detached', { ...runLogFields({ id: run.id, companyId: run.company_id }), processPid: pid });
  await appendRunEvent(deps.prisma, {
    companyId: run.company_id,
    runId: run.id,
    agentId: run.agent_id,
    eventType: 'lifecycle',
    level: 'warn',
    message,
    payload: { processPid: pid },
  });
}
