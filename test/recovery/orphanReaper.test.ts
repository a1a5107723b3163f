/**
 * The orphan reaper and the live recovery path behind it (RECOVERY.md §6–§10, §12): the
 * reference suite's scenarios 1–11 (`heartbeat-process-recovery`, same titles), then an agent
 * killed from outside three times in a row, and a check that a failed run's secret never reaches
 * an issue thread. Real PostgreSQL and Temporal, real agent processes; an orphan is a seeded
 * `running` row without a workflow.
 *
 * `POST /api/recovery/reap` is instance-wide by default (R16), and other files seed orphans of
 * their own (test/recovery/recoverySweeps.test.ts), so each reap here is scoped to the test's
 * company (`companyId`): its `reaped`/`runIds` are exactly this test's orphans, and no other
 * file's orphan is reaped from under it.
 */
import { agentHosting, workerAgents } from '../../src/adapters/supervisor/agentHosting.ts';
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually, givenAgent, givenCompany, givenIssue, isPidAlive, waitForRunStatus } from '../support/fixtures.ts';
import {
  DEAD_PID,
  seedActiveLease,
  seedAgent,
  seedBlocks,
  seedClaimedRunningRun,
  seedCompany,
  seedExhaustedRetry,
  seedIssue,
  seedOrphanedRun,
  seedPauseHold,
  type SeededAgent,
  type SeededCompany,
  type SeededIssue,
} from '../support/recoverySeeds.ts';
import { loadRunTokenSecret, mintRunToken } from '../../src/auth/tokens.ts';
import type { HeartbeatRun, PrismaClient } from '../../src/store/db.ts';
import { randomUUID } from 'node:crypto';
import type { ActivityDeps } from '../../src/activities/deps.ts';
import { reapOrphanedRuns } from '../../src/activities/reaper.ts';
import { endRun } from '../../src/activities/finalizeRun.ts';
import { createRunExecutions } from '../../src/temporal/runExecutions.ts';
import { RunLogStore } from '../../src/store/runLogStore.ts';
import { createLogger } from '../../src/logger.ts';
import { orphanSettlementOf, type OrphanFacts } from '../../src/domain/orphanSettlement.ts';

import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
const LIVE = ['queued', 'running', 'scheduled_retry'] as const;
const WITHHELD = 'Latest retry failure details were withheld from the issue thread';

let vigil: TestVigil;
let prisma: PrismaClient;
/** Companies whose work is stopped after each test. */
const companies = new Set<string>();
/** Processes this file spawned itself (live pids, orphaned descendants). */
const spawnedPids = new Set<number>();

beforeAll(async () => {
  vigil = await startTestVigil();
  prisma = vigil.vigil.prisma;
});

afterEach(async () => {
  for (const pid of spawnedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnedPids.clear();
  for (const companyId of companies) await stopAllWorkOf(companyId);
  companies.clear();
});

afterAll(async () => {
  await vigil?.stop();
});

// --- helpers -------------------------------------------------------------------------------------

function track<T extends { company: SeededCompany } | SeededCompany>(seeded: T): T {
  companies.add('company' in seeded ? seeded.company.id : seeded.id);
  return seeded;
}

/**
 * Pausing an agent cancels its live runs without immediate recovery (R15), so no follow-up is
 * queued behind the cleanup; whatever is still live is then cancelled directly.
 */
async function stopAllWorkOf(companyId: string) {
  await eventually(
    async () => {
      const agents = await prisma.agent.findMany({ where: { companyId }, select: { id: true } });
      for (const agent of agents) await vigil.admin.post(`/api/agents/${agent.id}/pause`, {});
      const live = await prisma.heartbeatRun.findMany({ where: { companyId, status: { in: [...LIVE] } }, select: { id: true } });
      for (const run of live) await vigil.admin.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
      return (await prisma.heartbeatRun.count({ where: { companyId, status: { in: [...LIVE] } } })) === 0;
    },
    60_000,
    `the runs of company ${companyId} to stop`,
  );
}

/** Waits until the company has no queued, running or scheduled run left of its own accord. */
function untilQuiet(companyId: string, timeoutMs = 45_000) {
  return eventually(
    async () => (await prisma.heartbeatRun.count({ where: { companyId, status: { in: [...LIVE] } } })) === 0,
    timeoutMs,
    `company ${companyId} to have no live runs`,
  );
}

/** The orphan reaper over one company's runs (the scenario's own). */
async function reap(company: { id: string }): Promise<{ reaped: number; runIds: string[] }> {
  const response = await vigil.admin.post('/api/recovery/reap', { companyId: company.id });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

function runsOfAgent(agentId: string) {
  return prisma.heartbeatRun.findMany({ where: { agentId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/** The runs bound to the issue (`contextSnapshot.issueId`), oldest first. */
function runsOfIssue(issueId: string) {
  return prisma.heartbeatRun.findMany({ where: { contextSnapshot: { path: ['issueId'], equals: issueId } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

function issueRow(issueId: string) {
  return prisma.issue.findUniqueOrThrow({ where: { id: issueId } });
}

function waitForIssueStatus(issueId: string, status: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const issue = await issueRow(issueId);
    return issue.status === status ? issue : null;
  }, timeoutMs, `issue ${issueId} to be ${status}`);
}

/** The ids of the issues that block `issueId`. */
async function blockersOf(issueId: string): Promise<string[]> {
  const relations = await prisma.issueRelation.findMany({ where: { relatedIssueId: issueId, type: 'blocks' } });
  return relations.map((relation) => relation.issueId);
}

function commentsOn(issueId: string) {
  return prisma.issueComment.findMany({ where: { issueId }, orderBy: { createdAt: 'asc' } });
}

function recoveryIssuesOf(companyId: string, sourceIssueId: string) {
  return prisma.issue.findMany({ where: { companyId, originKind: 'stranded_issue_recovery', originId: sourceIssueId } });
}

/** Turns a seeded in-progress issue into the recovery issue of `source`. */
async function makeRecoveryIssueOf(issue: SeededIssue, source: SeededIssue) {
  await prisma.issue.update({
    where: { id: issue.id },
    data: { title: `Recover stalled issue ${source.identifier}`, originKind: 'stranded_issue_recovery', originId: source.id },
  });
}

/** A process that runs until killed, standing in for an agent child whose handle was lost. */
function spawnAliveProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not spawn a live process');
  spawnedPids.add(child.pid);
  return child.pid;
}

/**
 * A process group whose leader has exited while a descendant lives on (R19): the leader starts
 * in its own group, starts a long-lived child (same group), reports its pid and exits.
 */
async function spawnGroupWithOrphanedDescendant(): Promise<{ leaderPid: number; descendantPid: number }> {
  const leaderScript = `
    const { spawn } = require('node:child_process');
    const descendant = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    process.stdout.write(String(descendant.pid), () => process.exit(0));`;
  const leader = spawn(process.execPath, ['-e', leaderScript], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  leader.stdout!.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    leader.once('error', reject);
    leader.once('exit', () => resolve());
  });
  const descendantPid = Number.parseInt(output.trim(), 10);
  if (!Number.isInteger(descendantPid) || descendantPid <= 0 || leader.pid === undefined) throw new Error(`no descendant pid from the leader: "${output}"`);
  spawnedPids.add(descendantPid);
  return { leaderPid: leader.pid, descendantPid };
}

/** R57/R58: the recovery issue of `sourceIssueId`, created for `latestRunId`, and its dispatch (R57.6). */
async function expectRecoveryIssue(input: {
  companyId: string;
  agentId: string;
  sourceIssueId: string;
  latestRunId: string;
  previousStatus: 'todo' | 'in_progress';
  retryReason: 'assignment_recovery' | 'issue_continuation_needed';
}) {
  const recoveries = await recoveryIssuesOf(input.companyId, input.sourceIssueId);
  expect(recoveries).toHaveLength(1);
  const recovery = recoveries[0];
  expect(recovery).toMatchObject({
    parentId: input.sourceIssueId,
    assigneeAgentId: input.agentId,
    originRunId: input.latestRunId,
    originFingerprint: `stranded_issue_recovery:${input.companyId}:${input.sourceIssueId}:${input.latestRunId}`,
    priority: 'medium',
  });
  expect(recovery.title).toContain('Recover stalled issue');
  expect(recovery.description).toContain(`Previous source status: \`${input.previousStatus}\``);
  expect(recovery.description).toContain(`Retry reason: \`${input.retryReason}\``);
  expect(recovery.description).toContain('Fix the runtime/adapter problem');
  expect(recovery.description).toContain(`- Failure: ${WITHHELD}`);
  expect(await blockersOf(input.sourceIssueId)).toEqual([recovery.id]);

  const wakes = await prisma.agentWakeupRequest.findMany({ where: { agentId: input.agentId, payload: { path: ['issueId'], equals: recovery.id } } });
  expect(wakes).toHaveLength(1);
  expect(wakes[0]).toMatchObject({ companyId: input.companyId, reason: 'issue_assigned', source: 'assignment' });
  expect(wakes[0].payload).toMatchObject({ sourceIssueId: input.sourceIssueId, strandedRunId: input.latestRunId });
  const dispatch = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: wakes[0].runId! } });
  expect(dispatch.contextSnapshot).toMatchObject({
    issueId: recovery.id,
    taskId: recovery.id,
    source: 'stranded_issue_recovery',
    sourceIssueId: input.sourceIssueId,
    strandedRunId: input.latestRunId,
  });
  return recovery;
}

// --- §6 orphan reaping -----------------------------------------------------------------------------

describe('orphan reaping (R16–R27)', () => {
  it('keeps a local run active when the recorded pid is still alive', async () => {
    const pid = spawnAliveProcess();
    const orphan = track(await seedOrphanedRun(prisma, { processPid: pid, includeIssue: false }));

    expect(await reap(orphan.company)).toEqual({ reaped: 0, runIds: [] });

    const run = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: orphan.runId } });
    expect(run).toMatchObject({ status: 'running', errorCode: 'process_detached' });
    expect(run.error).toBe(`Lost in-memory process handle, but child pid ${pid} is still alive`);
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: orphan.wakeupRequestId } })).status).toBe('claimed');

    // Idempotent: a run already flagged is left as it is, and warned about once.
    expect(await reap(orphan.company)).toEqual({ reaped: 0, runIds: [] });
    const again = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: orphan.runId } });
    expect(again.updatedAt).toEqual(run.updatedAt);
    const warnings = await prisma.heartbeatRunEvent.findMany({ where: { runId: orphan.runId, level: 'warn' }, select: { message: true, payload: true } });
    expect(warnings).toEqual([{ message: run.error, payload: { processPid: pid } }]);
  });

  it('queues exactly one retry when the recorded local pid is dead', async () => {
    const orphan = track(await seedOrphanedRun(prisma, { processPid: DEAD_PID }));

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });

    const runs = await runsOfAgent(orphan.agent.id);
    expect(runs).toHaveLength(2);
    const failed = runs.find((run) => run.id === orphan.runId)!;
    const retry = runs.find((run) => run.id !== orphan.runId)!;
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'process_lost', livenessState: 'failed' });
    expect(failed.error).toBe(`Process lost -- child pid ${DEAD_PID} is no longer running; retrying once`);
    expect(failed.livenessReason).toContain('process_lost');
    expect(failed.resultJson).toMatchObject({ stopReason: 'process_lost', timeoutConfigured: false, timeoutFired: false });
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: orphan.wakeupRequestId } })).status).toBe('failed');
    expect(retry).toMatchObject({ status: 'queued', retryOfRunId: orphan.runId, processLossRetryCount: 1 });
    expect(retry.contextSnapshot).toMatchObject({ issueId: orphan.issue!.id, retryOfRunId: orphan.runId, wakeReason: 'process_lost_retry', retryReason: 'process_lost' });

    const issue = await issueRow(orphan.issue!.id);
    expect(issue.executionRunId).toBe(retry.id);
    expect(issue.checkoutRunId).toBe(orphan.runId);

    // The agent is paused: the retry's workflow waits for it, and the run stays queued.
    await eventually(async () => {
      const state = await vigil.vigil.temporal.workflow.getHandle(`run-${retry.id}`).query<{ phase: string }>('runState');
      return state.phase === 'waiting_for_slot';
    }, 10_000, 'the retry to wait for its paused agent');
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: retry.id } })).status).toBe('queued');
  });

  it('releases active environment leases when an orphaned run is reaped', async () => {
    const orphan = track(await seedOrphanedRun(prisma, { processPid: DEAD_PID }));
    const { leaseId } = await seedActiveLease(prisma, orphan.company, orphan.runId, orphan.issue);

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });

    const lease = await prisma.environmentLease.findUniqueOrThrow({ where: { id: leaseId } });
    expect(lease.status).toBe('failed');
    expect(lease.releasedAt).not.toBeNull();
    const logged = await prisma.activityLog.findMany({ where: { runId: orphan.runId, action: 'environment.lease_released' } });
    expect(logged).toHaveLength(1);
    expect(logged[0].details).toMatchObject({ status: 'failed', driver: 'local' });
  });

  it('reaps orphaned descendant process groups when the parent pid is already gone', async () => {
    const group = await spawnGroupWithOrphanedDescendant();
    expect(await isPidAlive(group.descendantPid)).toBe(true);
    const orphan = track(await seedOrphanedRun(prisma, { processPid: group.leaderPid, processGroupId: group.leaderPid }));

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });
    await eventually(async () => !(await isPidAlive(group.descendantPid)), 20_000, 'the descendant to be terminated');

    const runs = await runsOfAgent(orphan.agent.id);
    expect(runs).toHaveLength(2);
    const failed = runs.find((run) => run.id === orphan.runId)!;
    const retry = runs.find((run) => run.id !== orphan.runId)!;
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    expect(failed.error).toContain('descendant process group');
    expect(failed.error).toBe(
      `Process lost -- parent pid ${group.leaderPid} exited, but descendant process group ${group.leaderPid} was still alive and was terminated; retrying once`,
    );
    expect(retry).toMatchObject({ status: 'queued', retryOfRunId: orphan.runId, processLossRetryCount: 1 });
    expect((await issueRow(orphan.issue!.id)).executionRunId).toBe(retry.id);
  });
});

// --- §8 immediate terminal-run recovery after reaping ---------------------------------------------

describe('immediate recovery of a reaped run without a retry (R24, R28–R34, §12)', () => {
  it('blocks the issue when process-loss retry is exhausted and the immediate continuation recovery also fails', async () => {
    // The continuation recovery run really executes the agent's command, which fails.
    const orphan = track(await seedOrphanedRun(prisma, { agentStatus: 'idle', script: 'fail.sh', processPid: DEAD_PID, processLossRetryCount: 1 }));
    const source = orphan.issue!;
    const prerequisite = await seedIssue(prisma, orphan.company, { title: 'Already completed prerequisite', status: 'done' });
    await seedBlocks(prisma, orphan.company, prerequisite, source);

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });

    // Right after reaping, as the reference counts them, the agent's runs: the lost run and exactly
    // one continuation recovery run. (Its workflow already runs; a recovery issue it may have led to
    // by now gets its own dispatch run, checked below, so those are set apart here.)
    const forSource = (run: { contextSnapshot: unknown }) => (run.contextSnapshot as Record<string, unknown>).issueId === source.id;
    const runs = (await runsOfAgent(orphan.agent.id)).filter(forSource);
    expect(runs.map((run) => run.id)).toHaveLength(2);
    expect(runs[0]).toMatchObject({ id: orphan.runId, status: 'failed', errorCode: 'process_lost' });
    const continuation = runs[1];
    expect(continuation.retryOfRunId).toBe(orphan.runId);
    expect(continuation.contextSnapshot).toMatchObject({ retryReason: 'issue_continuation_needed', retryOfRunId: orphan.runId });

    // The continuation fails too, so the issue is blocked (asynchronously, in its workflow).
    const blocked = await waitForIssueStatus(source.id, 'blocked');
    expect(blocked.executionRunId).toBeNull();
    expect(blocked.checkoutRunId).toBeNull();
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: continuation.id } })).status).toBe('failed');
    const recovery = await expectRecoveryIssue({
      companyId: orphan.company.id,
      agentId: orphan.agent.id,
      sourceIssueId: source.id,
      latestRunId: continuation.id,
      previousStatus: 'in_progress',
      retryReason: 'issue_continuation_needed',
    });
    // The done prerequisite was dropped from the blockers; only the recovery issue blocks it now.
    expect(await blockersOf(source.id)).toEqual([recovery.id]);

    // The recovery issue's own dispatch fails as well (same agent) and is blocked in place; let it settle.
    await untilQuiet(orphan.company.id);
    const comments = await commentsOn(source.id);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('retried continuation');
    expect(comments[0].body).toContain('during terminal run recovery');
    expect(comments[0].body).toContain(`Recovery issue: [${recovery.identifier}]`);
    // Every run of the agent: the lost one, the continuation, and the recovery issue's one dispatch (R57.6).
    const agentRuns = await runsOfAgent(orphan.agent.id);
    expect(agentRuns.map((run) => [run.id, (run.contextSnapshot as Record<string, unknown>).issueId])).toEqual([
      [orphan.runId, source.id],
      [continuation.id, source.id],
      [expect.any(String), recovery.id],
    ]);
  });

  it('blocks failed recovery work in place during immediate terminal-run cleanup', async () => {
    const secret = 'sk-test-recovery-secret';
    const orphan = track(
      await seedOrphanedRun(prisma, {
        agentStatus: 'idle',
        processPid: DEAD_PID,
        processLossRetryCount: 1,
        errorCode: 'process_lost',
        error: `Authorization: Bearer ${secret}`,
      }),
    );
    const source = await seedIssue(prisma, orphan.company, { title: 'Original stranded source', status: 'blocked' });
    const recoveryIssue = orphan.issue!;
    await makeRecoveryIssueOf(recoveryIssue, source);
    await seedBlocks(prisma, orphan.company, recoveryIssue, source);

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });

    // No process-loss retry, no recovery run: the one lost run only.
    const runs = await runsOfAgent(orphan.agent.id);
    expect(runs.map((run) => [run.id, run.status])).toEqual([[orphan.runId, 'failed']]);

    const blocked = await waitForIssueStatus(recoveryIssue.id, 'blocked');
    expect(blocked).toMatchObject({
      assigneeAgentId: orphan.agent.id,
      originKind: 'stranded_issue_recovery',
      originId: source.id,
      executionRunId: null,
      title: `Recover stalled issue ${source.identifier}`,
    });
    expect(await recoveryIssuesOf(orphan.company.id, recoveryIssue.id)).toHaveLength(0);

    const comments = await commentsOn(recoveryIssue.id);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('stopped automatic stranded-work recovery');
    expect(comments[0].body).toContain('recovery issues do not create nested `stranded_issue_recovery` issues');
    expect(comments[0].body).toContain(WITHHELD);
    expect(comments[0].body).not.toContain(secret);
    expect(await blockersOf(source.id)).toEqual([recoveryIssue.id]);
    expect(await runsOfAgent(orphan.agent.id)).toHaveLength(1);
  });

  it('does not block paused-tree work when immediate continuation recovery is suppressed by the hold', async () => {
    const orphan = track(await seedOrphanedRun(prisma, { agentStatus: 'idle', processPid: DEAD_PID, processLossRetryCount: 1 }));
    await seedPauseHold(prisma, orphan.company, orphan.issue!);

    expect(await reap(orphan.company)).toEqual({ reaped: 1, runIds: [orphan.runId] });

    const runs = await runsOfAgent(orphan.agent.id);
    expect(runs.map((run) => [run.id, run.status])).toEqual([[orphan.runId, 'failed']]);
    const issue = await issueRow(orphan.issue!.id);
    expect(issue).toMatchObject({ status: 'in_progress', executionRunId: null, checkoutRunId: orphan.runId });
    expect(await prisma.issue.count({ where: { companyId: orphan.company.id, originKind: 'stranded_issue_recovery' } })).toBe(0);
    expect(await commentsOn(orphan.issue!.id)).toHaveLength(0);
  });
});

// --- §9 bounded transient retry ------------------------------------------------------------------

describe('bounded transient-upstream retry (R35–R38)', () => {
  it('schedules a bounded retry for codex transient upstream failures instead of blocking the issue immediately', async () => {
    const acme = await givenCompany(vigil.admin);
    companies.add(acme.company.id);
    const created = await acme.board.post(`/api/companies/${acme.company.id}/agents`, {
      name: 'CodexCoder',
      role: 'engineer',
      adapterType: 'codex_local',
      adapterConfig: { command: agentScript('overloaded.sh') },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const agentId: string = created.body.id;
    const issue = await givenIssue(acme, { title: 'Retry transient Codex failure without blocking', status: 'todo', assigneeAgentId: agentId });

    // The failed run and its scheduled retry are written in one transaction.
    const runs = await eventually(async () => {
      const rows = await runsOfAgent(agentId);
      return rows.length >= 2 && TERMINAL.includes(rows[0].status) ? rows : null;
    }, 30_000, 'the transient failure and its scheduled retry');
    expect(runs).toHaveLength(2);
    const [failed, retry] = runs;
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'adapter_failed' });
    expect((failed.resultJson as Record<string, unknown>).errorFamily).toBe('transient_upstream');
    expect(retry).toMatchObject({ status: 'scheduled_retry', scheduledRetryReason: 'transient_failure', scheduledRetryAttempt: 1, retryOfRunId: failed.id });
    expect((retry.contextSnapshot as Record<string, unknown>).codexTransientFallbackMode).toBe('same_session');

    const after = await issueRow(issue.id);
    expect(after.status).toBe('in_progress');
    expect(after.executionRunId).toBe(retry.id);
    expect(await commentsOn(issue.id)).toHaveLength(0);

    // Stop the scheduled retry (pausing the agent cancels it without queuing recovery work).
    expect((await acme.board.post(`/api/agents/${agentId}/pause`, {})).status).toBe(200);
    expect((await waitForRunStatus(prisma, retry.id, TERMINAL)).status).toBe('cancelled');
    expect(await runsOfAgent(agentId)).toHaveLength(2);
  });
});

// --- R26, R14, R10/R11, R12 ------------------------------------------------------------------------

describe('activity reports and manual cancellation (R26, R14, R11, R12)', () => {
  it('clears the detached warning when the run reports activity again', async () => {
    const orphan = track(
      await seedOrphanedRun(prisma, {
        includeIssue: false,
        errorCode: 'process_detached',
        error: 'Lost in-memory process handle, but child pid 123 is still alive',
      }),
    );
    const notes = await seedIssue(prisma, orphan.company, { title: 'Progress notes' });
    const asRun = new ApiClient(vigil.apiUrl, mintRunToken(await loadRunTokenSecret(prisma, null), orphan.runId));

    const commented = await asRun.post(`/api/issues/${notes.id}/comments`, { body: 'Still working on it' });
    expect(commented.status, JSON.stringify(commented.body)).toBe(201);

    const run = await vigil.admin.get(`/api/heartbeat-runs/${orphan.runId}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'running', errorCode: null, error: null });
    const cleared = await prisma.heartbeatRunEvent.findMany({
      where: { runId: orphan.runId, message: 'Detached child process reported activity; cleared detached warning' },
    });
    expect(cleared).toHaveLength(1);

    // A second report finds nothing to clear.
    expect((await asRun.post(`/api/issues/${notes.id}/comments`, { body: 'Still working' })).status).toBe(201);
    expect(await prisma.heartbeatRunEvent.count({ where: { runId: orphan.runId, message: cleared[0].message } })).toBe(1);

    expect((await vigil.admin.post(`/api/heartbeat-runs/${orphan.runId}/cancel`, {})).body.status).toBe('cancelled');
  });

  it('tracks the first heartbeat with the agent role instead of adapter type', async () => {
    const orphan = track(await seedOrphanedRun(prisma, { agentStatus: 'running', includeIssue: false }));

    const cancelled = await vigil.admin.post(`/api/heartbeat-runs/${orphan.runId}/cancel`, {});
    expect(cancelled.status).toBe(200);

    const telemetry = await prisma.activityLog.findMany({ where: { agentId: orphan.agent.id, action: 'telemetry.agent_first_heartbeat' } });
    expect(telemetry).toHaveLength(1);
    expect(telemetry[0].details).toEqual({ agentRole: 'engineer', agentId: orphan.agent.id });
    const agent = await prisma.agent.findUniqueOrThrow({ where: { id: orphan.agent.id } });
    expect(agent.status).toBe('idle');
    expect(agent.lastHeartbeatAt).not.toBeNull();
  });

  it('records manual cancellation stop metadata', async () => {
    const orphan = track(await seedOrphanedRun(prisma, { agentStatus: 'running', includeIssue: false }));

    const cancelled = await vigil.admin.post(`/api/heartbeat-runs/${orphan.runId}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: orphan.runId, status: 'cancelled', errorCode: 'cancelled', error: 'Cancelled by control plane' });
    expect(cancelled.body.resultJson).toMatchObject({ stopReason: 'cancelled', effectiveTimeoutSec: 0, timeoutConfigured: false, timeoutFired: false });
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: orphan.wakeupRequestId } })).status).toBe('cancelled');
  });
});

// --- beyond the reference --------------------------------------------------------------------------

describe('recovery end to end', () => {
  it('ends an issue blocked with exactly one recovery issue when its agent is killed from outside three times in a row', async () => {
    const acme = await givenCompany(vigil.admin);
    companies.add(acme.company.id);
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '60' } });
    const source = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });

    const killed: HeartbeatRun[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const running = await eventually(
        () =>
          prisma.heartbeatRun.findFirst({
            where: { contextSnapshot: { path: ['issueId'], equals: source.id }, status: 'running', processPid: { not: null }, id: { notIn: killed.map((run) => run.id) } },
          }),
        30_000,
        `run ${attempt} of the issue to be running`,
      );
      process.kill(running.processPid!, 'SIGKILL');
      killed.push(await waitForRunStatus(prisma, running.id, TERMINAL, 30_000));
    }
    const [first, second, third] = killed;
    // Run 1: lost, and retried once for process loss (R22/R23).
    expect(first).toMatchObject({ status: 'failed', errorCode: 'process_lost', processLossRetryCount: 0 });
    expect(first.error).toBe(`Process lost -- child pid ${first.processPid} is no longer running; retrying once`);
    // Run 2, the retry: lost again, no second process-loss retry but one continuation (R24, R33).
    expect(second).toMatchObject({ status: 'failed', errorCode: 'process_lost', retryOfRunId: first.id, processLossRetryCount: 1 });
    expect(second.contextSnapshot).toMatchObject({ retryReason: 'process_lost', retryOfRunId: first.id });
    expect(second.error).not.toContain('retrying once');
    // Run 3, the continuation: lost too, so the issue is blocked (R32).
    expect(third).toMatchObject({ status: 'failed', errorCode: 'process_lost', retryOfRunId: second.id });
    expect(third.contextSnapshot).toMatchObject({ retryReason: 'issue_continuation_needed', wakeReason: 'issue_continuation_needed', retryOfRunId: second.id });

    const blocked = await waitForIssueStatus(source.id, 'blocked');
    expect(blocked).toMatchObject({ executionRunId: null, checkoutRunId: null });
    const recoveries = await recoveryIssuesOf(acme.company.id, source.id);
    expect(recoveries).toHaveLength(1);
    const recovery = recoveries[0];
    expect(recovery).toMatchObject({ parentId: source.id, assigneeAgentId: agent.id, originRunId: third.id });
    expect(await blockersOf(source.id)).toEqual([recovery.id]);
    const comments = await commentsOn(source.id);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('retried continuation');
    expect(comments[0].body).toContain(`Recovery issue: [${recovery.identifier}]`);
    expect((await runsOfIssue(source.id)).map((run) => run.id)).toEqual(killed.map((run) => run.id));

    // The recovery issue's dispatch runs sleep.sh too: cancel it so nothing lingers.
    const dispatch = await eventually(async () => (await runsOfIssue(recovery.id))[0], 10_000, 'the recovery dispatch run');
    const cancelled = await acme.board.post(`/api/heartbeat-runs/${dispatch.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await untilQuiet(acme.company.id);
    expect(await runsOfIssue(source.id)).toHaveLength(3);
    expect(await recoveryIssuesOf(acme.company.id, source.id)).toHaveLength(1);
  });

  it("never writes a run's secret error text into any recovery comment, description or event", async () => {
    const secret = 'sk-test-recovery-secret-123';
    const leaked = `Authorization: Bearer ${secret}`;
    const company = track(await seedCompany(prisma));
    // §8, in place: a recovery issue whose run was lost after its retry (scenario 6's shape).
    const inPlace = await seedOrphanedRun(prisma, { company, agentStatus: 'idle', processPid: DEAD_PID, processLossRetryCount: 1, errorCode: 'process_lost', error: leaked });
    const inPlaceSource = await seedIssue(prisma, company, { title: 'Original stranded source', status: 'blocked' });
    await makeRecoveryIssueOf(inPlace.issue!, inPlaceSource);
    await seedBlocks(prisma, company, inPlace.issue!, inPlaceSource);
    // §8 then §12: a lost run after its retry whose continuation fails too (scenario 5's shape).
    const continued = await seedOrphanedRun(prisma, { company, agentStatus: 'idle', processPid: DEAD_PID, processLossRetryCount: 1, errorCode: 'adapter_failed', error: leaked });
    // §11 then §12: the sweep escalates work whose one automatic retry already failed.
    const sweepAgent = await seedAgent(prisma, company, { status: 'idle' });
    const dispatchUsed = await seedExhaustedRetry(prisma, company, sweepAgent, { status: 'todo', error: leaked, errorCode: 'adapter_failed' });
    const continuationUsed = await seedExhaustedRetry(prisma, company, sweepAgent, { status: 'in_progress', error: `${leaked}\n{"message":"${leaked}"}`, errorCode: 'adapter_failed' });

    // The sweep first (the orphans' running rows are live paths it skips), then the reaper.
    const swept = await vigil.admin.post(`/api/companies/${company.id}/recovery/reconcile`, {});
    expect(swept.status, JSON.stringify(swept.body)).toBe(200);
    expect(swept.body).toMatchObject({ escalated: 2, issueIds: [dispatchUsed.issue.id, continuationUsed.issue.id] });
    const reaped = await reap(company);
    expect(reaped.reaped).toBe(2);
    expect([...reaped.runIds].sort()).toEqual([inPlace.runId, continued.runId].sort());

    // Every source ends blocked; every recovery issue's own dispatch fails and is blocked in place
    // (after its run's terminal write, so wait for the issues, not merely for the runs).
    for (const issue of [continued.issue!, dispatchUsed.issue, continuationUsed.issue]) await waitForIssueStatus(issue.id, 'blocked');
    const recoveries = await eventually(async () => {
      const rows = await prisma.issue.findMany({ where: { companyId: company.id, originKind: 'stranded_issue_recovery' } });
      return rows.length === 4 && rows.every((row) => row.status === 'blocked') ? rows : null;
    }, 45_000, 'the four recovery issues to be blocked');
    expect(recoveries.map((issue) => issue.originId).sort()).toEqual([inPlaceSource.id, continued.issue!.id, dispatchUsed.issue.id, continuationUsed.issue.id].sort());
    await untilQuiet(company.id);

    // The secret was there to leak: the sweep's seeded runs still carry it.
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: dispatchUsed.runId } })).error).toContain(secret);

    const comments = await prisma.issueComment.findMany({ where: { companyId: company.id }, select: { issueId: true, body: true } });
    const issues = await prisma.issue.findMany({ where: { companyId: company.id }, select: { id: true, title: true, description: true } });
    const events = await prisma.heartbeatRunEvent.findMany({ where: { companyId: company.id }, select: { runId: true, message: true, payload: true } });
    const activity = await prisma.activityLog.findMany({ where: { companyId: company.id }, select: { action: true, details: true } });
    // One escalation comment on each of the three blocked sources, one in-place comment on each of
    // the four recovery issues (the seeded one and the three created here): all withhold the failure.
    const escalationComments = comments.filter((comment) => comment.body.includes('Moving it to `blocked`') || comment.body.includes('stopped automatic stranded-work recovery'));
    expect(escalationComments).toHaveLength(7);
    expect(comments).toHaveLength(7);
    for (const comment of escalationComments) expect(comment.body).toContain(WITHHELD);
    for (const rows of [comments, issues, events, activity]) {
      expect(rows.length).toBeGreaterThan(0);
      const text = JSON.stringify(rows);
      expect(text).not.toContain(secret);
      expect(text).not.toContain('Bearer sk-');
    }
  });
});

// --- issue 12: the reaper's batches ----------------------------------------------------------------

/**
 * The reaper's activity itself, so its `followUpRunIds` can be checked; their workflows are not
 * started, so every row stays as the reaping wrote it (the test cancels the retries when done).
 */
function directReapDeps(): ActivityDeps {
  return {
    prisma,
    logStore: new RunLogStore(prisma),
    runTokenSecret: 'orphan-reaper-test',
    apiUrl: vigil.apiUrl,
    workerId: 'orphan-reaper-test',
    telemetry: { agentFirstHeartbeat: () => undefined },
    logger: createLogger('error'),
    executions: createRunExecutions(vigil.vigil.temporal, prisma, { taskQueue: `reaper-idle-${randomUUID()}`, adapterHeartbeatTimeoutMs: 10_000 }),
    metrics: vigil.vigil.metrics,
    agents: workerAgents('unused', agentHosting()),
  };
}

/** One orphan's shape: its agent (by letter), whether it is bound to an issue, its pid and retry count. */
interface OrphanShape {
  agent: 'A' | 'B' | 'C' | 'D' | 'E';
  issue: null | { status: 'in_progress' | 'in_review'; lock: 'self' | 'other' };
  processPid: number | null;
  processGroupId: number | null;
  processLossRetryCount: number;
  lease: boolean;
}

/**
 * 250 orphans over five agents, interleaved so the reaper's batches (200) mix agents and one agent
 * spans two batches:
 * - A (paused, codex_local): bound to an in-progress issue it holds, first loss → retry, the lock
 *   follows it (R22/R23); every fourth holds an environment lease (R27);
 * - B (idle, never heartbeated, codex_local): no issue, pid and group recorded → retry; the agent
 *   ends `error` and its first heartbeat is recorded once (R10/R11);
 * - C (running, never heartbeated, process): no issue, retry already used → no retry, nothing to
 *   release (R24, R28.2);
 * - D (paused, codex_local): no pid or group recorded → no retry (R22), bound to an `in_review`
 *   issue it holds → the lock is released, no immediate recovery (R28.4, R30): the per-run path;
 * - E (idle, http — not a local child, R17): pid ignored → no retry, its issue's lock held by
 *   another run (R28.3).
 */
function batchShapes(): OrphanShape[] {
  const of = (agent: OrphanShape['agent'], count: number, shape: (i: number) => Omit<OrphanShape, 'agent'>) =>
    Array.from({ length: count }, (_, i) => ({ agent, ...shape(i) }));
  const groups = [
    of('A', 80, (i) => ({ issue: { status: 'in_progress', lock: 'self' }, processPid: DEAD_PID, processGroupId: null, processLossRetryCount: 0, lease: i % 4 === 0 })),
    of('B', 60, (i) => ({ issue: null, processPid: DEAD_PID, processGroupId: DEAD_PID, processLossRetryCount: 0, lease: i % 10 === 0 })),
    of('C', 40, () => ({ issue: null, processPid: DEAD_PID, processGroupId: null, processLossRetryCount: 1, lease: false })),
    of('D', 40, (i) => ({ issue: { status: 'in_review', lock: 'self' }, processPid: null, processGroupId: null, processLossRetryCount: 0, lease: i % 8 === 0 })),
    of('E', 30, () => ({ issue: { status: 'in_progress', lock: 'other' }, processPid: DEAD_PID, processGroupId: null, processLossRetryCount: 0, lease: false })),
  ];
  // Round-robin over the groups: the candidate order (started_at) interleaves the agents.
  const shapes: OrphanShape[] = [];
  for (let i = 0; shapes.length < 250; i++) for (const group of groups) if (i < group.length) shapes.push(group[i]);
  return shapes;
}

interface SeededWorld {
  company: SeededCompany;
  agents: Record<OrphanShape['agent'], SeededAgent>;
  /** The orphans in candidate order (R16's order: started_at). */
  orphans: Array<{ shape: OrphanShape; runId: string; wakeupRequestId: string; issueId: string | null; leaseId: string | null }>;
  /** The run holding E's issues' locks. */
  holderRunId: string;
}

/** The shapes as rows: a claimed wake, a `running` run, its issue and lease, with distinct start times. */
async function seedBatchWorld(): Promise<SeededWorld> {
  const company = track(await seedCompany(prisma));
  const agents = {
    A: await seedAgent(prisma, company, { name: 'Agent A', status: 'paused' }),
    B: await seedAgent(prisma, company, { name: 'Agent B', status: 'idle' }),
    C: await seedAgent(prisma, company, { name: 'Agent C', status: 'running', adapterType: 'process' }),
    D: await seedAgent(prisma, company, { name: 'Agent D', status: 'paused' }),
    E: await seedAgent(prisma, company, { name: 'Agent E', status: 'idle', adapterType: 'http' }),
  };
  // E's issues are locked by a run of another agent that is not part of the reap (a queued run).
  const holder = await prisma.heartbeatRun.create({
    data: { companyId: company.id, agentId: agents.A.id, invocationSource: 'assignment', triggerDetail: 'system', status: 'queued', contextSnapshot: {} },
  });
  const base = Date.now() - 60 * 60_000;
  // One local environment per company (R27), leased by some of the orphans.
  const environmentId = (await prisma.environment.create({ data: { companyId: company.id, name: 'Local test environment', driver: 'local', status: 'active' } })).id;
  const orphans: SeededWorld['orphans'] = [];
  for (const [n, shape] of batchShapes().entries()) {
    const agent = agents[shape.agent];
    const issue = shape.issue ? await seedIssue(prisma, company, { status: shape.issue.status, assigneeAgentId: agent.id, title: `Orphan ${n}` }) : null;
    const startedAt = new Date(base + n * 1000);
    const { runId, wakeupRequestId } = await seedClaimedRunningRun(prisma, {
      company,
      agent,
      issue,
      startedAt,
      run: {
        processPid: shape.processPid,
        processGroupId: shape.processGroupId,
        processLossRetryCount: shape.processLossRetryCount,
        stdoutExcerpt: n % 3 === 0 ? `working on ${n}` : null,
      },
      lockRunId: shape.issue?.lock === 'self' ? undefined : holder.id,
    });
    const leaseId = shape.lease ? (await activeLease(company, environmentId, runId, issue)) : null;
    orphans.push({ shape, runId, wakeupRequestId, issueId: issue?.id ?? null, leaseId });
  }
  return { company, agents, orphans, holderRunId: holder.id };
}

/** An active lease held by `runId` on the company's environment (as `seedActiveLease` writes it). */
async function activeLease(company: SeededCompany, environmentId: string, runId: string, issue: SeededIssue | null): Promise<string> {
  const lease = await prisma.environmentLease.create({
    data: { companyId: company.id, environmentId, issueId: issue?.id ?? null, heartbeatRunId: runId, status: 'active', leasePolicy: 'ephemeral', provider: 'local', metadata: { driver: 'local' } },
  });
  return lease.id;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Every row the reaping could have written in the world's company, with ids replaced by names that
 * say what they are (`orphan 12`, `retry of orphan 12`, …) and timestamps by whether they are set,
 * so two worlds seeded alike compare equal exactly when they were written alike.
 */
async function worldRows(world: SeededWorld) {
  const companyId = world.company.id;
  const names = new Map<string, string>([[companyId, 'company'], [world.holderRunId, 'holder run']]);
  for (const [letter, agent] of Object.entries(world.agents)) names.set(agent.id, `agent ${letter}`);
  world.orphans.forEach((orphan, n) => {
    names.set(orphan.runId, `orphan ${n}`);
    names.set(orphan.wakeupRequestId, `wake of orphan ${n}`);
    if (orphan.issueId) names.set(orphan.issueId, `issue of orphan ${n}`);
    if (orphan.leaseId) names.set(orphan.leaseId, `lease of orphan ${n}`);
  });
  const runs = await prisma.heartbeatRun.findMany({ where: { companyId } });
  for (const run of runs) if (!names.has(run.id) && run.retryOfRunId) names.set(run.id, `retry of ${names.get(run.retryOfRunId)}`);
  const wakes = await prisma.agentWakeupRequest.findMany({ where: { companyId } });
  for (const wake of wakes) if (!names.has(wake.id) && wake.runId) names.set(wake.id, `wake of ${names.get(wake.runId)}`);
  const leases = await prisma.environmentLease.findMany({ where: { companyId } });
  for (const lease of leases) names.set(lease.environmentId, 'environment');
  const prefix = new RegExp(world.company.issuePrefix, 'g');
  const normal = (value: unknown, key = ''): unknown => {
    if (value instanceof Date) return 'set';
    if (typeof value === 'bigint') return key === 'id' ? 'id' : String(value);
    if (typeof value === 'string') {
      return value.replace(UUID, (id) => names.get(id) ?? `unknown ${key}`).replace(prefix, 'PREFIX');
    }
    if (Array.isArray(value)) return value.map((v) => normal(v, key));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v, k)]));
    }
    return value;
  };
  const sorted = (rows: unknown[]) => rows.map((row) => normal(row)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const agentIds = Object.values(world.agents).map((a) => a.id);
  return {
    runs: sorted(runs),
    wakes: sorted(wakes),
    events: sorted(await prisma.heartbeatRunEvent.findMany({ where: { companyId }, omit: { id: true } })),
    issues: sorted(await prisma.issue.findMany({ where: { companyId } })),
    leases: sorted(leases),
    activity: sorted(await prisma.activityLog.findMany({ where: { companyId }, omit: { id: true } })),
    agents: sorted(await prisma.agent.findMany({ where: { companyId } })),
    runtimeStates: sorted(await prisma.agentRuntimeState.findMany({ where: { agentId: { in: agentIds } } })),
    comments: sorted(await prisma.issueComment.findMany({ where: { companyId } })),
  };
}

describe('batched orphan reaping (issue 12)', () => {
  it('settles 250 orphans across several agents in batches, writing the rows the per-run ending writes', async () => {
    const batched = await seedBatchWorld();
    const oneByOne = await seedBatchWorld();
    const deps = directReapDeps();

    const result = await reapOrphanedRuns(deps, { companyId: batched.company.id });
    // Today's per-run path on the twin world: each orphan through `endRun`, in the same order (the
    // per-run shapes, agent D's, have an agent to themselves, so no agent's runs are split).
    for (const orphan of oneByOne.orphans) {
      await endRun(deps, { runId: orphan.runId, outcome: { kind: 'reaped', descendantOnly: false }, findNextQueued: false });
    }

    expect(result.reaped).toBe(250);
    expect(result.runIds).toEqual(batched.orphans.map((o) => o.runId));
    const rows = await worldRows(batched);
    expect(rows).toEqual(await worldRows(oneByOne));
    expect(JSON.stringify(rows)).not.toContain('unknown');

    // What those rows are, shape by shape.
    const runs = new Map((await prisma.heartbeatRun.findMany({ where: { companyId: batched.company.id } })).map((r) => [r.id, r]));
    const retries = new Map([...runs.values()].filter((r) => r.retryOfRunId).map((r) => [r.retryOfRunId!, r]));
    expect(new Set(result.followUpRunIds)).toEqual(new Set([...retries.values()].map((r) => r.id)));
    expect(retries.size).toBe(140); // A and B
    for (const [n, orphan] of batched.orphans.entries()) {
      const { shape } = orphan;
      const run = runs.get(orphan.runId)!;
      const retry = retries.get(orphan.runId) ?? null;
      // R20: E's pid is not trusted (R17) but still named; D recorded none.
      const base = shape.processPid !== null ? `Process lost -- child pid ${DEAD_PID} is no longer running` : 'Process lost -- server may have restarted';
      const retried = shape.agent === 'A' || shape.agent === 'B';
      expect(run, `orphan ${n}`).toMatchObject({ status: 'failed', errorCode: 'process_lost', livenessState: 'failed', exitCode: null, signal: null });
      expect(run.error).toBe(retried ? `${base}; retrying once` : base);
      expect(run.livenessReason).toBe('Run ended with failed (process_lost)');
      expect(run.resultJson).toMatchObject({ stopReason: 'process_lost', timeoutFired: false });
      expect(run.stdoutExcerpt).toBe(n % 3 === 0 ? `working on ${n}` : null);
      expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: orphan.wakeupRequestId } })).status).toBe('failed');
      const events = await prisma.heartbeatRunEvent.findMany({ where: { runId: run.id }, orderBy: { seq: 'asc' }, select: { seq: true, eventType: true, level: true, message: true, payload: true } });
      expect(events).toEqual([
        { seq: 1, eventType: 'lifecycle', level: 'error', message: 'run failed', payload: { status: 'failed', errorCode: 'process_lost', exitCode: null, signal: null } },
        {
          seq: 2,
          eventType: 'error',
          level: 'error',
          message: retry ? `${base}; queued retry ${retry.id}` : base,
          payload: { processPid: shape.processPid, processGroupId: shape.processGroupId, ...(retry ? { retryRunId: retry.id } : {}) },
        },
      ]);
      expect(retry !== null).toBe(retried);
      if (retry) {
        expect(retry).toMatchObject({ status: 'queued', invocationSource: 'automation', triggerDetail: 'system', processLossRetryCount: 1 });
        expect(retry.contextSnapshot).toEqual({ ...(run.contextSnapshot as object), retryOfRunId: run.id, wakeReason: 'process_lost_retry', retryReason: 'process_lost' });
        const wake = await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: retry.wakeupRequestId! } });
        expect(wake).toMatchObject({ status: 'queued', source: 'automation', reason: 'process_lost_retry', runId: retry.id, requestedByActorType: 'system' });
        expect(wake.payload).toEqual({ ...(orphan.issueId ? { issueId: orphan.issueId } : {}), retryOfRunId: run.id });
        const retryEvents = await prisma.heartbeatRunEvent.findMany({ where: { runId: retry.id }, select: { seq: true, level: true, message: true, payload: true } });
        expect(retryEvents).toEqual([{ seq: 1, level: 'warn', message: 'Queued automatic retry after orphaned child process was confirmed dead', payload: { retryOfRunId: run.id } }]);
      }
      if (orphan.issueId) {
        const issue = await issueRow(orphan.issueId);
        expect(issue.checkoutRunId).toBe(run.id);
        // A: the lock follows the retry (R23); D: released (R28.4); E: another run's, untouched (R28.3).
        expect(issue.executionRunId).toBe(shape.agent === 'A' ? retry!.id : shape.agent === 'D' ? null : batched.holderRunId);
        expect(issue.status).toBe(shape.issue!.status);
      }
      if (orphan.leaseId) {
        expect((await prisma.environmentLease.findUniqueOrThrow({ where: { id: orphan.leaseId } })).status).toBe('failed');
        const logged = await prisma.activityLog.findMany({ where: { runId: run.id, action: 'environment.lease_released' } });
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatchObject({ actorType: 'agent', actorId: run.agentId, entityId: orphan.leaseId });
        expect(logged[0].details).toMatchObject({ status: 'failed', cleanupStatus: 'success', driver: 'local', issueId: orphan.issueId });
      }
    }
    // R10/R11: paused agents stay as they are; the others end `error`, their first heartbeat recorded once.
    const agents = new Map((await prisma.agent.findMany({ where: { companyId: batched.company.id } })).map((a) => [a.id, a]));
    expect(agents.get(batched.agents.A.id)).toMatchObject({ status: 'paused', lastHeartbeatAt: null });
    expect(agents.get(batched.agents.D.id)).toMatchObject({ status: 'paused', lastHeartbeatAt: null });
    for (const letter of ['B', 'C', 'E'] as const) {
      const agent = agents.get(batched.agents[letter].id)!;
      expect(agent.status, `agent ${letter}`).toBe('error');
      expect(agent.lastHeartbeatAt).not.toBeNull();
      const telemetry = await prisma.activityLog.findMany({ where: { agentId: agent.id, action: 'telemetry.agent_first_heartbeat' } });
      expect(telemetry.map((t) => t.details)).toEqual([{ agentRole: 'engineer', agentId: agent.id }]);
    }
    // R8 step 10: each agent's runtime state names its last orphan in processing order.
    for (const letter of ['A', 'B', 'C', 'D', 'E'] as const) {
      const last = batched.orphans.filter((o) => o.shape.agent === letter).at(-1)!;
      const state = await prisma.agentRuntimeState.findUniqueOrThrow({ where: { agentId: batched.agents[letter].id } });
      expect(state, `agent ${letter}`).toMatchObject({ lastRunId: last.runId, lastRunStatus: 'failed', lastError: runs.get(last.runId)!.error });
    }

    // A second reap finds nothing left to do.
    expect(await reapOrphanedRuns(deps, { companyId: batched.company.id })).toEqual({ reaped: 0, runIds: [], followUpRunIds: [] });
    // The retries have no workflow here: end them so the afterEach has nothing to cancel one by one.
    for (const world of [batched, oneByOne]) {
      await prisma.heartbeatRun.updateMany({ where: { companyId: world.company.id, status: 'queued' }, data: { status: 'cancelled', finishedAt: new Date() } });
    }
  });
});

describe('which orphans a batch settles and which the per-run ending takes (orphanSettlementOf)', () => {
  const facts = (over: Partial<OrphanFacts> = {}): OrphanFacts => ({
    runId: 'run-1',
    runStatus: 'running',
    agentFound: true,
    retryOnce: true,
    resultJson: { stopReason: 'process_lost' },
    errorCode: 'process_lost',
    issueId: 'issue-1',
    wakeReason: 'issue_assigned',
    targetIssue: { executionRunId: 'run-1' },
    ...over,
  });

  it('settles the one process-loss retry in the batch, with or without an issue (R22/R23)', () => {
    expect(orphanSettlementOf(facts())).toEqual({ kind: 'retry' });
    expect(orphanSettlementOf(facts({ issueId: null, targetIssue: null }))).toEqual({ kind: 'retry' });
  });

  it('settles a lost run without a retry in the batch only when it has no execution lock to give up (R28.2, R28.3)', () => {
    expect(orphanSettlementOf(facts({ retryOnce: false, issueId: null, targetIssue: null }))).toEqual({ kind: 'no_recovery' });
    expect(orphanSettlementOf(facts({ retryOnce: false, targetIssue: { executionRunId: 'another-run' } }))).toEqual({ kind: 'no_recovery' });
    // R28.4, R29, R30–R34: the release and immediate recovery stay with the per-run ending.
    expect(orphanSettlementOf(facts({ retryOnce: false }))).toEqual({ kind: 'per_run', why: 'execution_lock' });
    expect(orphanSettlementOf(facts({ retryOnce: false, targetIssue: { executionRunId: null } }))).toEqual({ kind: 'per_run', why: 'execution_lock' });
  });

  it('leaves races and the other recovery families to the per-run ending', () => {
    expect(orphanSettlementOf(facts({ runStatus: 'succeeded' }))).toEqual({ kind: 'per_run', why: 'not_running' });
    expect(orphanSettlementOf(facts({ agentFound: false }))).toEqual({ kind: 'per_run', why: 'no_agent' });
    expect(orphanSettlementOf(facts({ resultJson: { errorFamily: 'provider_quota' } }))).toEqual({ kind: 'per_run', why: 'retry_family' });
    expect(orphanSettlementOf(facts({ resultJson: { errorFamily: 'transient_upstream' } }))).toEqual({ kind: 'per_run', why: 'retry_family' });
  });
});
