/**
 * §12 of RECOVERY.md: when automatic recovery is exhausted, block the issue and hand it to a
 * person or a manager agent through exactly one open recovery issue.
 *
 * - R56: block a source issue: its blockers become the unresolved ones plus the recovery issue.
 * - R57/R59: find the open recovery issue of the source, or create it for the first invokable
 *   owner with budget; the partial unique index `issues_active_stranded_issue_recovery_uq` makes
 *   concurrent creators converge on one row (R65).
 * - R62: a recovery issue that stalls is blocked in place — never a nested recovery issue.
 * - R64: issue text never quotes a run's error or error code.
 *
 * One path for one issue or many: `escalateStrandedIssues` writes a batch of escalations in one
 * transaction, one statement per kind of row (store/*Batch.ts); the after-run path (R32) escalates
 * a batch of one. Every write re-checks the issues' status under their row locks (taken in id
 * order), so a retried activity or racing sweeps block an issue, and comment on it, once.
 */
import { BATCH_TRANSACTION_OPTIONS, type Agent, type Issue, type Prisma } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { asObject, stringOrNull } from '../store/json.ts';
import { enrichWakeContext, type WakeRequest } from '../store/wakeups.ts';
import { lockIssueStatuses } from '../store/issueLockBatch.ts';
import { blockIssues, insertRecoveryIssues, openRecoveryIssues, type RecoveryIssueRow } from '../store/recoveryIssueBatch.ts';
import { allocateIssueNumbers } from '../store/issues.ts';
import { openBlockersOf, replaceBlockerSets } from '../store/blockerBatch.ts';
import { assertNoBlockerCycles } from '../store/issueRelations.ts';
import { insertSystemActivities, insertSystemComments, type SystemActivity } from '../store/issueThreadBatch.ts';
import { insertQueuedRuns, insertSkippedWakes, type QueuedRunBatchInput, type SkippedWakeInput } from '../store/wakeBatch.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { admitByAgentGates } from '../domain/wakeAdmission.ts';
import { STRANDED_ISSUE_RECOVERY } from '../domain/recoveryKinds.ts';
import {
  immediateEscalationLead,
  inPlaceRecoveryComment,
  recoveryIssueDescription,
  recoveryIssueTitle,
  recoveryLines,
  sweepEscalationLead,
  type RecoveryRunFacts,
} from '../domain/recoveryTexts.ts';
import { decisionLine, withDecisionReference, type RecoveryDecisionDraft } from '../domain/recoveryDecision.ts';
import { newDecisionId, recordDecisionOnce, recordRecoveryDecisions, viewOfDecision } from '../store/recoveryDecisions.ts';
import type { EscalationRequest } from './releaseAndPromote.ts';
import { BudgetVerdicts } from './strandedSweep/budgetVerdicts.ts';
import { selectRecoveryOwners } from './strandedSweep/recoveryOwners.ts';

type Tx = Prisma.TransactionClient;

export interface EscalationOutcome {
  /** `skipped`: the issue was no longer in `previousStatus` (already escalated, or moved on). */
  outcome: 'escalated' | 'skipped';
  recoveryIssueId: string | null;
  /** The recovery issue's dispatch run, when one was created (R57.6). */
  followUpRunIds: string[];
  /** How an escalation blocked the issue: with a new or the open recovery issue, without one (R61), or in place (R62). */
  recoveryIssue?: 'created' | 'reused' | 'none' | 'in_place';
  /** V8: the escalation's recovery decision in one line (the run workflow's memo). */
  decisionLine?: string;
}

const SKIPPED: EscalationOutcome = { outcome: 'skipped', recoveryIssueId: null, followUpRunIds: [] };

const ESCALATION_ACTIONS = {
  created: 'escalation_recovery_issue_created',
  reused: 'escalation_recovery_issue_reused',
  none: 'escalation_without_owner',
  in_place: 'escalation_blocked_in_place',
} as const;


/** The after-run path (R32): one escalation, the batch path with one issue. */
export async function escalateStrandedIssue(deps: ActivityDeps, request: EscalationRequest): Promise<EscalationOutcome> {
  const [outcome] = await escalateStrandedIssues(deps, [request]);
  if (outcome.outcome === 'escalated') return outcome;
  // V8: the issue moved on before R32 could block it (a person acted, or a retried activity
  // already escalated it); recorded once per run, so a retry adds nothing.
  const earlier = await deps.prisma.recoveryDecision.findFirst({ where: { issueId: request.issueId, runId: request.latestRunId, decision: { in: ['escalation', 'block_in_place'] } } });
  if (earlier) return { ...outcome, decisionLine: viewOfDecision(earlier).summary };
  const run = await deps.prisma.heartbeatRun.findUnique({ where: { id: request.latestRunId }, select: { companyId: true, agentId: true, status: true, errorCode: true } });
  if (!run) return outcome;
  const draft: RecoveryDecisionDraft = {
    id: newDecisionId(),
    companyId: run.companyId,
    issueId: request.issueId,
    runId: request.latestRunId,
    agentId: run.agentId,
    source: request.path === 'immediate' ? 'run_ending' : 'stranded_sweep',
    decision: 'none',
    rule: request.path === 'immediate' ? 'R32' : 'R56',
    reason: 'issue_moved_on',
    evidence: { previousStatus: request.previousStatus, runStatus: run.status, errorCode: run.errorCode },
    createdRunId: null,
    createdIssueId: null,
  };
  const recorded = await recordDecisionOnce(deps.prisma, draft, `escalation-skipped:${request.issueId}:${request.latestRunId}`);
  return { ...outcome, decisionLine: recorded.line };
}

/**
 * R56/R62 for many issues in one transaction; outcomes in request order. Throws when the batch
 * cannot be written (nothing of it is then written); the sweep retries such a batch per issue.
 * `budget` shares R74 verdicts with the caller's other reads (the sweep's pre-checks).
 */
export async function escalateStrandedIssues(deps: ActivityDeps, requests: readonly EscalationRequest[], budget = new BudgetVerdicts(deps.prisma)): Promise<EscalationOutcome[]> {
  const outcomes = await escalate(deps, requests, budget);
  requests.forEach((request, i) => {
    const outcome = outcomes[i];
    if (outcome.outcome === 'escalated' && outcome.recoveryIssue) {
      deps.metrics.recoveryAction(ESCALATION_ACTIONS[outcome.recoveryIssue]);
      deps.logger.info('issue escalated', { issueId: request.issueId, path: request.path, recoveryIssue: outcome.recoveryIssue, recoveryIssueId: outcome.recoveryIssueId, latestRunId: request.latestRunId });
    }
  });
  return outcomes;
}

/** One escalation as the batch carries it: the source read before the lock, and what was decided from it. */
interface Escalation {
  request: EscalationRequest;
  issue: Issue;
  latestRun: RecoveryRunFacts | null;
  /** R62: the issue is itself a recovery issue, blocked in place. */
  inPlace: boolean;
  /** R59's choice (null: none qualifies, R61); unused in place. */
  owner: Agent | null;
  /** V8: the id of the decision this escalation records, named by its comment and recovery issue. */
  decisionId: string;
}

async function escalate(deps: ActivityDeps, requests: readonly EscalationRequest[], budget: BudgetVerdicts): Promise<EscalationOutcome[]> {
  const { prisma } = deps;
  if (requests.length === 0) return [];
  const issueIds = [...new Set(requests.map((request) => request.issueId))];
  const runIds = [...new Set(requests.map((request) => request.latestRunId))];
  const [issues, runs] = await Promise.all([
    prisma.issue.findMany({ where: { id: { in: issueIds } } }),
    prisma.heartbeatRun.findMany({ where: { id: { in: runIds } }, select: { id: true, agentId: true, status: true, contextSnapshot: true, error: true, errorCode: true } }),
  ]);
  const issueById = new Map(issues.map((issue) => [issue.id, issue]));
  const runById = new Map(
    runs.map((run): [string, RecoveryRunFacts] => [
      run.id,
      { id: run.id, agentId: run.agentId, status: run.status, retryReason: stringOrNull(asObject(run.contextSnapshot).retryReason), error: run.error, errorCode: run.errorCode },
    ]),
  );
  // R56/R62 (the update returns nothing): an issue no longer in `previousStatus` is skipped.
  const seen = new Set<string>();
  const candidates = requests.flatMap((request) => {
    const issue = issueById.get(request.issueId);
    if (!issue || issue.status !== request.previousStatus || seen.has(issue.id)) return [];
    seen.add(issue.id);
    return [{ request, issue, latestRun: runById.get(request.latestRunId) ?? null, inPlace: issue.originKind === STRANDED_ISSUE_RECOVERY }];
  });
  // R59, before the transaction: owners are read, not locked.
  const owners = await selectRecoveryOwners(prisma, candidates.filter((c) => !c.inPlace).map((c) => c.issue), budget);
  const escalations: Escalation[] = candidates.map((c) => ({ ...c, owner: owners.get(c.issue.id) ?? null, decisionId: newDecisionId() }));
  const written = escalations.length > 0 ? await prisma.$transaction((tx) => writeEscalations(tx, escalations), BATCH_TRANSACTION_OPTIONS) : new Map<string, EscalationOutcome>();
  // Each issue is escalated once even if requested twice: later duplicates are skipped.
  const answered = new Set<string>();
  return requests.map((request) => {
    const outcome = written.get(request.issueId);
    if (!outcome || answered.has(request.issueId)) return SKIPPED;
    answered.add(request.issueId);
    return outcome;
  });
}

/**
 * R56/R57/R62 under the sources' row locks: reuse or create the recovery issues, wake their new
 * owners, replace the sources' blockers, block them and say why — one statement per kind of row.
 * Racing escalations of a source queue behind its lock and find it already blocked.
 */
async function writeEscalations(tx: Tx, batch: readonly Escalation[]): Promise<Map<string, EscalationOutcome>> {
  const now = new Date();
  const locked = await lockIssueStatuses(tx, batch.map((e) => e.issue.id));
  const live = batch.filter((e) => locked.get(e.issue.id)?.status === e.request.previousStatus);
  const withRecovery = live.filter((e) => !e.inPlace);
  const recoveries = await ensureRecoveryIssues(tx, withRecovery, now);

  // R56.3: unresolved blockers stay, resolved ones (done or cancelled) are dropped; the recovery issue joins them.
  const current = await openBlockersOf(tx, withRecovery.map((e) => e.issue.id));
  const blockerSets = withRecovery.map((e) => {
    const existing = current.get(e.issue.id) ?? [];
    const recovery = recoveries.get(e.issue.id);
    return { companyId: e.issue.companyId, issueId: e.issue.id, blockerIds: [...new Set([...existing, ...(recovery ? [recovery.id] : [])])], existing };
  });
  // R56.4: no self-block, no cycle. Kept blockers already block the source; only a reused recovery issue can be new to it.
  const fresh = withRecovery.flatMap((e, i) => {
    const recovery = recoveries.get(e.issue.id);
    return recovery && !recovery.created && !blockerSets[i].existing.includes(recovery.id) ? [{ issueId: e.issue.id, blockerId: recovery.id }] : [];
  });
  if (fresh.some((edge) => edge.issueId === edge.blockerId)) throw new Error('An issue cannot block itself');
  await assertNoBlockerCycles(tx, fresh);
  await replaceBlockerSets(tx, blockerSets);

  // R56.4/R62.1, R56.5/R62.3, R56.6/R62.4: blocked, one system comment, one activity entry each.
  await blockIssues(tx, live.map((e) => e.issue.id), now);
  const blockerIdsOf = new Map(blockerSets.map((set) => [set.issueId, set.blockerIds]));
  const threads = live.map((e) => threadRows(e, recoveries.get(e.issue.id) ?? null, blockerIdsOf.get(e.issue.id) ?? []));
  await insertSystemComments(tx, threads.map((t) => t.comment), now);
  await insertSystemActivities(tx, threads.map((t) => t.activity), now);
  // V8: each escalation's decision, named by the comment above (and a new recovery issue's description).
  const decisions = live.map((e) => escalationDecision(e, recoveries.get(e.issue.id) ?? null));
  await recordRecoveryDecisions(tx, decisions, now);

  return new Map(
    live.map((e, i): [string, EscalationOutcome] => {
      const line = decisionLine(decisions[i]);
      if (e.inPlace) return [e.issue.id, { outcome: 'escalated', recoveryIssueId: null, followUpRunIds: [], recoveryIssue: 'in_place', decisionLine: line }];
      const recovery = recoveries.get(e.issue.id) ?? null;
      return [
        e.issue.id,
        {
          outcome: 'escalated',
          recoveryIssueId: recovery?.id ?? null,
          followUpRunIds: recovery?.dispatchRunId ? [recovery.dispatchRunId] : [],
          recoveryIssue: recovery ? (recovery.created ? 'created' : 'reused') : 'none',
          decisionLine: line,
        },
      ];
    }),
  );
}

/** V8: R32 (after a run) or R56 (the sweep) escalated the issue with a recovery issue, or R62 blocked a recovery issue in place. */
function escalationDecision(e: Escalation, recovery: EnsuredRecovery | null): RecoveryDecisionDraft {
  const { issue, request, latestRun } = e;
  const evidence = {
    previousStatus: request.previousStatus,
    runStatus: latestRun?.status,
    errorCode: latestRun?.errorCode ?? null,
    retryReason: latestRun?.retryReason ?? null,
    ...(e.inPlace ? {} : { recoveryIssue: recovery ? (recovery.created ? 'created' as const : 'reused' as const) : 'none' as const, recoveryIssueId: recovery?.id ?? null }),
  };
  return {
    id: e.decisionId,
    companyId: issue.companyId,
    issueId: issue.id,
    runId: latestRun?.id ?? null,
    agentId: issue.assigneeAgentId,
    source: request.path === 'immediate' ? 'run_ending' : 'stranded_sweep',
    decision: e.inPlace ? 'block_in_place' : 'escalation',
    rule: e.inPlace ? 'R62' : request.path === 'immediate' ? 'R32' : 'R56',
    reason: e.inPlace ? 'recovery_issue_stalled' : request.reason ?? 'retry_already_used',
    evidence,
    createdRunId: recovery?.dispatchRunId ?? null,
    createdIssueId: recovery?.created ? recovery.id : null,
  };
}

/** The comment and activity entry of one escalation (R56.5/R56.6 with R60; R62.3/R62.4). */
function threadRows(e: Escalation, recovery: EnsuredRecovery | null, blockerIds: readonly string[]): { comment: { companyId: string; issueId: string; body: string }; activity: SystemActivity } {
  const { issue, request, latestRun } = e;
  const text = e.inPlace
    ? inPlaceRecoveryComment({ recoveryIssue: { identifier: issue.identifier ?? issue.id }, previousStatus: request.previousStatus, latestRun })
    : `${request.path === 'sweep' ? sweepEscalationLead(request.previousStatus, latestRun) : immediateEscalationLead(request.previousStatus, latestRun)}${recoveryLines(recovery?.identifier ? { identifier: recovery.identifier } : null)}`;
  const body = withDecisionReference(text, e.decisionId);
  const details = e.inPlace
    ? { source: 'recovery.reconcile_stranded_recovery_issue', originKind: issue.originKind, originId: issue.originId }
    : { source: 'recovery.reconcile_stranded_assigned_issue', recoveryIssueId: recovery?.id ?? null, blockerIssueIds: [...blockerIds] };
  return {
    comment: { companyId: issue.companyId, issueId: issue.id, body },
    activity: {
      companyId: issue.companyId,
      action: 'issue.updated',
      entityType: 'issue',
      entityId: issue.id,
      details: {
        identifier: issue.identifier,
        status: 'blocked',
        previousStatus: request.previousStatus,
        latestRunId: latestRun?.id ?? null,
        latestRunStatus: latestRun?.status ?? null,
        latestRunErrorCode: latestRun?.errorCode ?? null,
        ...details,
      },
    },
  };
}

interface EnsuredRecovery {
  id: string;
  identifier: string | null;
  created: boolean;
  /** R57.6: the new recovery issue's dispatch run, if its owner accepts wakes. */
  dispatchRunId: string | null;
}

/**
 * R57 for the batch's sources: reuse each open recovery issue, or create one for the R59 owner
 * (none: R61) and wake that owner in the same transaction, so no other sweep ever sees a recovery
 * issue without its dispatch run. R57.5/R65: a source another writer gave an open recovery issue
 * meanwhile reuses that one.
 */
async function ensureRecoveryIssues(tx: Tx, sources: readonly Escalation[], now: Date): Promise<Map<string, EnsuredRecovery>> {
  const ensured = new Map<string, EnsuredRecovery>();
  const open = await openRecoveryIssues(tx, sources.map((e) => ({ id: e.issue.id, companyId: e.issue.companyId })));
  for (const [sourceId, issue] of open) ensured.set(sourceId, { id: issue.id, identifier: issue.identifier, created: false, dispatchRunId: null });
  const toCreate = sources.filter((e) => !open.has(e.issue.id) && e.owner !== null);
  if (toCreate.length === 0) return ensured;

  // R57.4: numbers from the company counter, one statement per company (in id order, as its lock goes).
  const rows: RecoveryIssueRow[] = [];
  const byCompany = new Map<string, Escalation[]>();
  for (const e of toCreate) {
    const group = byCompany.get(e.issue.companyId);
    if (group) group.push(e);
    else byCompany.set(e.issue.companyId, [e]);
  }
  for (const companyId of [...byCompany.keys()].sort()) {
    const group = byCompany.get(companyId)!;
    const { first, issuePrefix } = await allocateIssueNumbers(tx, companyId, group.length);
    group.forEach((e, i) => rows.push(recoveryIssueRow(e, issuePrefix, first + i)));
  }
  const inserted = await insertRecoveryIssues(tx, rows, now);
  const raced = toCreate.filter((e) => !inserted.has(e.issue.id));
  const winners = await openRecoveryIssues(tx, raced.map((e) => ({ id: e.issue.id, companyId: e.issue.companyId })));
  for (const e of raced) {
    const winner = winners.get(e.issue.id);
    if (!winner) throw new Error(`recovery issue insert for ${e.issue.id} conflicted, and no open recovery issue was found`);
    ensured.set(e.issue.id, { id: winner.id, identifier: winner.identifier, created: false, dispatchRunId: null });
  }
  const created = toCreate.filter((e) => inserted.has(e.issue.id));
  const dispatchRunIds = await wakeRecoveryOwners(tx, created.map((e) => ({ escalation: e, recoveryId: inserted.get(e.issue.id)!.id })), now);
  created.forEach((e, i) => {
    const issue = inserted.get(e.issue.id)!;
    ensured.set(e.issue.id, { id: issue.id, identifier: issue.identifier, created: true, dispatchRunId: dispatchRunIds[i] });
  });
  return ensured;
}

/** R57.4: the recovery issue of one source, as R57/R58 describe it. */
function recoveryIssueRow(e: Escalation, issuePrefix: string, issueNumber: number): RecoveryIssueRow {
  const { issue: source, latestRun } = e;
  return {
    companyId: source.companyId,
    title: recoveryIssueTitle(source),
    description: withDecisionReference(recoveryIssueDescription({ issuePrefix, source, previousStatus: e.request.previousStatus, latestRun }), e.decisionId),
    priority: source.priority,
    sourceId: source.id,
    projectId: source.projectId,
    goalId: source.goalId,
    billingCode: source.billingCode,
    executionWorkspaceId: source.executionWorkspaceId,
    assigneeAgentId: e.owner!.id,
    originRunId: latestRun?.id ?? null,
    originFingerprint: `${STRANDED_ISSUE_RECOVERY}:${source.companyId}:${source.id}:${latestRun?.id ?? 'no-run'}`,
    issueNumber,
    identifier: `${issuePrefix}-${issueNumber}`,
  };
}

/**
 * R57.6: each new recovery issue's `issue_assigned` wake for its owner. It is what R71 would do
 * for a brand-new `todo` issue with no run and no blockers, written here in the creating
 * transaction; the owner was just chosen as invokable with budget (R59), so of R71's gates only
 * its heartbeat policy (R71.5) is left to ask. Run ids (null: a skipped wake) in input order.
 */
async function wakeRecoveryOwners(tx: Tx, created: ReadonlyArray<{ escalation: Escalation; recoveryId: string }>, now: Date): Promise<Array<string | null>> {
  const skipped: SkippedWakeInput[] = [];
  const queued: QueuedRunBatchInput[] = [];
  const queuedAt: number[] = [];
  created.forEach(({ escalation: e, recoveryId }, i) => {
    const owner = e.owner!;
    const request = recoveryOwnerWake(recoveryId, e.issue.id, e.latestRun?.id ?? null);
    const columns = {
      companyId: e.issue.companyId, agentId: owner.id, source: request.source, triggerDetail: request.triggerDetail ?? null, reason: request.reason ?? null,
      payload: request.payload ?? {}, requestedByActorType: request.requestedByActorType ?? null, requestedByActorId: null,
    };
    const gate = admitByAgentGates({ source: request.source, agentStatus: owner.status, policy: heartbeatPolicyOf(owner.runtimeConfig), budgetBlock: null });
    if (gate.kind === 'skip') skipped.push({ ...columns, skipReason: gate.reason, message: gate.message });
    else if (gate.kind === 'admit') {
      queued.push({ ...columns, contextSnapshot: enrichWakeContext(request), retryOfRunId: null });
      queuedAt.push(i);
    }
  });
  await insertSkippedWakes(tx, skipped, now);
  const runIds = await insertQueuedRuns(tx, queued, now);
  const byIndex: Array<string | null> = created.map(() => null);
  queuedAt.forEach((index, k) => (byIndex[index] = runIds[k]));
  return byIndex;
}

/** R57.6: the owner's wake request. */
function recoveryOwnerWake(recoveryId: string, sourceId: string, strandedRunId: string | null): WakeRequest {
  return {
    source: 'assignment',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    requestedByActorType: 'system',
    payload: { issueId: recoveryId, sourceIssueId: sourceId, strandedRunId },
    contextSnapshot: {
      issueId: recoveryId,
      taskId: recoveryId,
      wakeReason: 'issue_assigned',
      source: STRANDED_ISSUE_RECOVERY,
      sourceIssueId: sourceId,
      strandedRunId,
    },
  };
}
