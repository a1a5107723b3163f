/**
 * Seeds for the stranded-work sweep scenarios (RECOVERY.md §11–§13): state the sweep finds in the
 * database — agents, assigned issues, the terminal run that left an issue stranded, pause holds —
 * written with Prisma, because no API call leaves an issue in that state on purpose.
 *
 * Seeded agents are real `process` agents: the runs the sweep queues execute their script.
 */
import type { LivenessState, PrismaClient } from '../../src/store/db.ts';
import { expect } from 'vitest';
import { agentScript, type CompanyFixture } from './fixtures.ts';

export interface SeedCompany {
  id: string;
  issuePrefix: string;
}

/** The last run "finished" well before any test started. */
const RUN_STARTED_AT = new Date('2026-03-19T00:00:00.000Z');
const RUN_FINISHED_AT = new Date('2026-03-19T00:05:00.000Z');

export async function givenSeededAgent(
  prisma: PrismaClient,
  company: SeedCompany,
  options: { name?: string; status?: 'idle' | 'paused'; script?: string } = {},
) {
  return prisma.agent.create({
    data: {
      companyId: company.id,
      name: options.name ?? 'CodexCoder',
      role: 'engineer',
      status: options.status ?? 'idle',
      ...(options.status === 'paused' ? { pauseReason: 'manual', pausedAt: new Date() } : {}),
      adapterType: 'process',
      adapterConfig: { command: agentScript(options.script ?? 'succeed.sh') },
    },
  });
}

/** An issue with the company's next `PREFIX-N` identifier. */
export async function givenSeededIssue(
  prisma: PrismaClient,
  company: SeedCompany,
  data: {
    title: string;
    status: 'todo' | 'in_progress' | 'blocked';
    priority?: 'high' | 'medium';
    parentId?: string | null;
    assigneeAgentId?: string | null;
    assigneeUserId?: string | null;
    createdByAgentId?: string | null;
    checkoutRunId?: string | null;
    startedAt?: Date | null;
  },
) {
  const last = await prisma.issue.aggregate({ where: { companyId: company.id }, _max: { issueNumber: true } });
  const issueNumber = (last._max.issueNumber ?? 0) + 1;
  return prisma.issue.create({
    data: {
      companyId: company.id,
      priority: 'medium',
      ...data,
      issueNumber,
      identifier: `${company.issuePrefix}-${issueNumber}`,
    },
  });
}

/** An agent-assigned `todo` issue that never got a heartbeat (R50a). */
export async function givenAssignedTodoWithoutRun(
  prisma: PrismaClient,
  company: SeedCompany,
  options: { agentStatus?: 'idle' | 'paused'; agentName?: string } = {},
) {
  const agent = await givenSeededAgent(prisma, company, { status: options.agentStatus, name: options.agentName });
  const issue = await givenSeededIssue(prisma, company, {
    title: 'Assigned todo work that never received a heartbeat',
    status: 'todo',
    assigneeAgentId: agent.id,
  });
  return { agentId: agent.id, issueId: issue.id, identifier: issue.identifier! };
}

export interface StrandedIssueOptions {
  status: 'todo' | 'in_progress';
  runStatus: 'failed' | 'timed_out' | 'cancelled' | 'succeeded';
  /** The kind of automatic retry the last run already was (R50c/R51c). */
  retryReason?: 'assignment_recovery' | 'issue_continuation_needed';
  assignToUser?: boolean;
  /** Makes the issue a child of a root held by an active pause hold (R66). */
  activePauseHold?: boolean;
  livenessState?: LivenessState | null;
  /** Defaults: `process_lost` (`cancelled` for a cancelled run), none for a succeeded run. */
  runErrorCode?: string | null;
  /** Default: "run failed before issue advanced"; none for a succeeded run. */
  runError?: string | null;
  /** The agent's script, run by whatever the sweep queues. Default `succeed.sh`. */
  script?: string;
}

/**
 * An agent-assigned issue whose last run is terminal and which has no live execution path
 * (no queued/running run, no deferred wake): the sweep's candidate (R48, R49).
 */
export async function givenStrandedIssue(prisma: PrismaClient, company: SeedCompany, options: StrandedIssueOptions) {
  const agent = await givenSeededAgent(prisma, company, { script: options.script });
  const succeeded = options.runStatus === 'succeeded';
  const errorCode = succeeded ? null : options.runErrorCode !== undefined ? options.runErrorCode : options.runStatus === 'cancelled' ? 'cancelled' : 'process_lost';
  const error = succeeded ? null : options.runError !== undefined ? options.runError : 'run failed before issue advanced';
  const wakeReason = options.retryReason === 'assignment_recovery' ? 'issue_assignment_recovery' : options.retryReason ?? 'issue_assigned';

  const root = options.activePauseHold
    ? await givenSeededIssue(prisma, company, { title: 'Paused recovery root', status: 'todo' })
    : null;
  // The issue first, so the run can be bound to it; the checkout pointer follows the run.
  const issue = await givenSeededIssue(prisma, company, {
    title: 'Recover stranded assigned work',
    status: options.status,
    parentId: root?.id ?? null,
    assigneeAgentId: options.assignToUser ? null : agent.id,
    assigneeUserId: options.assignToUser ? 'user-1' : null,
    startedAt: options.status === 'in_progress' ? RUN_STARTED_AT : null,
  });
  const wake = await prisma.agentWakeupRequest.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      source: options.retryReason ? 'automation' : 'assignment',
      triggerDetail: 'system',
      reason: wakeReason,
      payload: { issueId: issue.id },
      status: succeeded ? 'completed' : options.runStatus === 'cancelled' ? 'cancelled' : 'failed',
      claimedAt: RUN_STARTED_AT,
      finishedAt: RUN_FINISHED_AT,
      error,
    },
  });
  const run = await prisma.heartbeatRun.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      invocationSource: options.retryReason ? 'automation' : 'assignment',
      triggerDetail: 'system',
      status: options.runStatus,
      wakeupRequestId: wake.id,
      contextSnapshot: {
        issueId: issue.id,
        taskId: issue.id,
        wakeReason,
        ...(options.retryReason ? { retryReason: options.retryReason } : {}),
      },
      startedAt: RUN_STARTED_AT,
      finishedAt: RUN_FINISHED_AT,
      errorCode,
      error,
      livenessState: options.livenessState ?? null,
    },
  });
  await prisma.agentWakeupRequest.update({ where: { id: wake.id }, data: { runId: run.id } });
  if (options.status === 'in_progress') {
    await prisma.issue.update({ where: { id: issue.id }, data: { checkoutRunId: run.id } });
  }
  if (root) {
    await prisma.issueTreeHold.create({
      data: {
        companyId: company.id,
        rootIssueId: root.id,
        mode: 'pause',
        status: 'active',
        reason: 'pause recovery subtree',
        releasePolicy: { strategy: 'manual' },
      },
    });
  }
  return {
    agentId: agent.id,
    runId: run.id,
    wakeupRequestId: wake.id,
    issueId: issue.id,
    identifier: issue.identifier!,
    rootIssueId: root?.id ?? null,
  };
}

/** R74: a hard-stop agent budget of 1 cent, spent on the issue, so the agent's invocations are blocked. */
export async function givenSpentAgentBudget(fixture: Pick<CompanyFixture, 'board' | 'company'>, agentId: string, issueId: string) {
  const policy = await fixture.board.post(`/api/companies/${fixture.company.id}/budget-policies`, {
    scopeType: 'agent',
    scopeId: agentId,
    windowKind: 'calendar_month_utc',
    amount: 1,
    hardStopEnabled: true,
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  const cost = await fixture.board.post(`/api/companies/${fixture.company.id}/cost-events`, { agentId, issueId, provider: 'test', model: 'test-model', costCents: 1 });
  expect(cost.status, JSON.stringify(cost.body)).toBe(201);
}
