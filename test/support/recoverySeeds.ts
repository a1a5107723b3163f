/**
 * Rows that no API call produces, for the recovery scenarios: a run the database says is `running`
 * although nothing executes it (an orphan, RECOVERY.md §6), a run that already failed after its
 * one automatic retry (§11), a pause hold, an environment lease. Written with Prisma the way the
 * reference suite's `seedRunFixture` writes them with Drizzle. Seeded runs have no Temporal
 * workflow, so the reaper treats every seeded `running` row as an orphan.
 *
 * Seeded agents are local-child agents (`codex_local` unless told otherwise) whose command is one of
 * test/fixtures/agents: a run the recovery path queues for them really executes it.
 */
import { randomBytes } from 'node:crypto';
import type { Prisma, PrismaClient } from '../../src/store/db.ts';
import { agentScript } from './fixtures.ts';

/** A pid no process has (above Linux's pid_max): the recorded child is dead (R21). */
export const DEAD_PID = 999_999_999;

const SEEDED_AT = () => new Date(Date.now() - 10 * 60_000);

export interface SeededCompany {
  id: string;
  issuePrefix: string;
}

export interface SeededAgent {
  id: string;
  companyId: string;
  name: string;
}

export interface SeededIssue {
  id: string;
  identifier: string;
}

export async function seedCompany(prisma: PrismaClient): Promise<SeededCompany> {
  const issuePrefix = `T${randomBytes(4).toString('hex').toUpperCase()}`;
  const company = await prisma.company.create({ data: { name: `Recovery ${issuePrefix}`, issuePrefix } });
  return { id: company.id, issuePrefix };
}

export async function seedAgent(
  prisma: PrismaClient,
  company: SeededCompany,
  options: {
    adapterType?: string;
    /** A script of test/fixtures/agents, run if a recovery path queues a run for this agent. */
    script?: string;
    env?: Record<string, string>;
    status?: 'paused' | 'idle' | 'running' | 'active' | 'error';
    role?: 'engineer' | 'cto' | 'ceo' | 'general';
    name?: string;
  } = {},
): Promise<SeededAgent> {
  const status = options.status ?? 'paused';
  const agent = await prisma.agent.create({
    data: {
      companyId: company.id,
      name: options.name ?? `CodexCoder ${randomBytes(2).toString('hex')}`,
      role: options.role ?? 'engineer',
      status,
      adapterType: options.adapterType ?? 'codex_local',
      adapterConfig: { command: agentScript(options.script ?? 'fail.sh'), ...(options.env ? { env: options.env } : {}) },
      ...(status === 'paused' ? { pausedAt: new Date(), pauseReason: 'manual' } : {}),
    },
  });
  return { id: agent.id, companyId: company.id, name: agent.name };
}

/** An issue with the company's next number (`PREFIX-N`), like the API would number it. */
export async function seedIssue(
  prisma: PrismaClient,
  company: SeededCompany,
  fields: Omit<Prisma.IssueUncheckedCreateInput, 'companyId' | 'issueNumber' | 'identifier' | 'title'> & { title?: string } = {},
): Promise<SeededIssue> {
  const number = (await prisma.issue.count({ where: { companyId: company.id } })) + 1;
  const identifier = `${company.issuePrefix}-${number}`;
  const issue = await prisma.issue.create({
    data: { title: 'Recover local adapter after lost process', priority: 'medium', ...fields, companyId: company.id, issueNumber: number, identifier },
  });
  await prisma.company.update({ where: { id: company.id }, data: { issueCounter: number } });
  return { id: issue.id, identifier };
}

export interface OrphanedRunOptions {
  adapterType?: string;
  script?: string;
  agentStatus?: 'paused' | 'idle' | 'running';
  processPid?: number | null;
  processGroupId?: number | null;
  processLossRetryCount?: number;
  /** Bind the run to an `in_progress` issue it checked out (default true). */
  includeIssue?: boolean;
  errorCode?: string | null;
  error?: string | null;
  /** Seed into this company instead of a new one. */
  company?: SeededCompany;
}

export interface OrphanedRun {
  company: SeededCompany;
  agent: SeededAgent;
  runId: string;
  wakeupRequestId: string;
  /** The `in_progress` issue the run holds (checkout and execution lock); null with `includeIssue: false`. */
  issue: SeededIssue | null;
}

/**
 * A `running` run whose wake was claimed and whose issue it checked out, with nothing executing it:
 * the reference's `seedRunFixture`. The agent is paused unless told otherwise, so a retry the
 * reaper queues stays `queued` (its workflow waits for the agent).
 */
export async function seedOrphanedRun(prisma: PrismaClient, options: OrphanedRunOptions = {}): Promise<OrphanedRun> {
  const company = options.company ?? (await seedCompany(prisma));
  const agent = await seedAgent(prisma, company, { adapterType: options.adapterType, script: options.script, status: options.agentStatus ?? 'paused' });
  const includeIssue = options.includeIssue ?? true;
  const issue = includeIssue ? await seedIssue(prisma, company, { status: 'in_progress', assigneeAgentId: agent.id, startedAt: SEEDED_AT() }) : null;
  const startedAt = SEEDED_AT();
  const { runId, wakeupRequestId } = await seedClaimedRunningRun(prisma, {
    company,
    agent,
    issue,
    startedAt,
    run: {
      processPid: options.processPid ?? null,
      processGroupId: options.processGroupId ?? null,
      processLossRetryCount: options.processLossRetryCount ?? 0,
      errorCode: options.errorCode ?? null,
      error: options.error ?? null,
    },
  });
  return { company, agent, runId, wakeupRequestId, issue };
}

/**
 * A `running` run of `agent` whose `issue_assigned` wake was claimed at `startedAt`, and which
 * checked out its issue and holds its execution lock (`lockRunId` names another holder).
 */
export async function seedClaimedRunningRun(
  prisma: PrismaClient,
  input: {
    company: SeededCompany;
    agent: SeededAgent;
    issue: SeededIssue | null;
    startedAt: Date;
    run: { processPid: number | null; processGroupId: number | null; processLossRetryCount: number; errorCode?: string | null; error?: string | null; stdoutExcerpt?: string | null };
    lockRunId?: string;
  },
): Promise<{ runId: string; wakeupRequestId: string }> {
  const { company, agent, issue, startedAt } = input;
  const wake = await prisma.agentWakeupRequest.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      source: 'assignment',
      triggerDetail: 'system',
      reason: 'issue_assigned',
      payload: issue ? { issueId: issue.id } : {},
      status: 'claimed',
      claimedAt: startedAt,
    },
  });
  const run = await prisma.heartbeatRun.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      invocationSource: 'assignment',
      triggerDetail: 'system',
      status: 'running',
      wakeupRequestId: wake.id,
      contextSnapshot: issue ? { issueId: issue.id, taskId: issue.id, wakeReason: 'issue_assigned' } : {},
      ...input.run,
      startedAt,
    },
  });
  await prisma.agentWakeupRequest.update({ where: { id: wake.id }, data: { runId: run.id } });
  if (issue) {
    await prisma.issue.update({
      where: { id: issue.id },
      data: { checkoutRunId: run.id, executionRunId: input.lockRunId ?? run.id, executionAgentNameKey: agent.name.trim().toLowerCase(), executionLockedAt: startedAt },
    });
  }
  return { runId: run.id, wakeupRequestId: wake.id };
}

/**
 * An agent-assigned `todo`/`in_progress` issue whose latest run ended unsuccessfully after the one
 * automatic retry of its kind (`retryReason`), with no live execution path: the stranded sweep
 * escalates it (R50c, R51c). The reference's `seedStrandedIssueFixture`.
 */
export async function seedExhaustedRetry(
  prisma: PrismaClient,
  company: SeededCompany,
  agent: SeededAgent,
  options: { status: 'todo' | 'in_progress'; error: string | null; errorCode: string | null },
): Promise<{ issue: SeededIssue; runId: string }> {
  const retryReason = options.status === 'todo' ? 'assignment_recovery' : 'issue_continuation_needed';
  const wakeReason = options.status === 'todo' ? 'issue_assignment_recovery' : 'issue_continuation_needed';
  const issue = await seedIssue(prisma, company, { title: 'Recover stranded assigned work', status: options.status, assigneeAgentId: agent.id });
  const startedAt = SEEDED_AT();
  const finishedAt = new Date(startedAt.getTime() + 5 * 60_000);
  const wake = await prisma.agentWakeupRequest.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      source: 'automation',
      triggerDetail: 'system',
      reason: wakeReason,
      payload: { issueId: issue.id },
      status: 'failed',
      claimedAt: startedAt,
      finishedAt,
      error: options.error,
    },
  });
  const run = await prisma.heartbeatRun.create({
    data: {
      companyId: company.id,
      agentId: agent.id,
      invocationSource: 'automation',
      triggerDetail: 'system',
      status: 'failed',
      wakeupRequestId: wake.id,
      contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason, retryReason },
      errorCode: options.errorCode,
      error: options.error,
      startedAt,
      finishedAt,
    },
  });
  await prisma.agentWakeupRequest.update({ where: { id: wake.id }, data: { runId: run.id } });
  if (options.status === 'in_progress') await prisma.issue.update({ where: { id: issue.id }, data: { checkoutRunId: run.id, startedAt } });
  return { issue, runId: run.id };
}

/** `blocker` blocks `blocked` (an `issue_relations` row of type `blocks`). */
export async function seedBlocks(prisma: PrismaClient, company: SeededCompany, blocker: SeededIssue, blocked: SeededIssue): Promise<void> {
  await prisma.issueRelation.create({ data: { companyId: company.id, issueId: blocker.id, relatedIssueId: blocked.id, type: 'blocks' } });
}

/** An active pause hold rooted at `root` (R66). */
export async function seedPauseHold(prisma: PrismaClient, company: SeededCompany, root: SeededIssue): Promise<void> {
  await prisma.issueTreeHold.create({
    data: { companyId: company.id, rootIssueId: root.id, mode: 'pause', status: 'active', reason: 'pause immediate recovery subtree', releasePolicy: { strategy: 'manual' } },
  });
}

/** The company's local environment and an active lease on it held by `runId` (R27). */
export async function seedActiveLease(prisma: PrismaClient, company: SeededCompany, runId: string, issue: SeededIssue | null): Promise<{ leaseId: string }> {
  const environment = await prisma.environment.create({ data: { companyId: company.id, name: 'Local test environment', driver: 'local', status: 'active' } });
  const lease = await prisma.environmentLease.create({
    data: {
      companyId: company.id,
      environmentId: environment.id,
      issueId: issue?.id ?? null,
      heartbeatRunId: runId,
      status: 'active',
      leasePolicy: 'ephemeral',
      provider: 'local',
      metadata: { driver: 'local' },
    },
  });
  return { leaseId: lease.id };
}
