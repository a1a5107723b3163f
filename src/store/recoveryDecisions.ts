/**
 * Issue 14 §2 (V8): the recovery decisions table. Writers record decisions in the transaction
 * that carries them out (one statement for any number), so a decision is recorded exactly when
 * its effect is; readers list them newest first for an issue or a run, within one company.
 */
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient, type RecoveryDecision } from './db.ts';
import { redactJson } from '../domain/redaction.ts';
import { decisionLine, type RecoveryDecisionDraft, type RecoveryDecisionKind, type RecoveryEvidence, type RecoveryReason } from '../domain/recoveryDecision.ts';

type Db = Prisma.TransactionClient | PrismaClient;

/** A fresh decision id, for texts that must name the decision before it is written. */
export function newDecisionId(): string {
  return randomUUID();
}

/**
 * Writes the drafts in one statement. With a `dedupeKey` per draft, a key already recorded writes
 * nothing; returns the ids that were written.
 */
export async function recordRecoveryDecisions(db: Db, drafts: readonly (RecoveryDecisionDraft & { dedupeKey?: string | null })[], now = new Date()): Promise<Set<string>> {
  if (drafts.length === 0) return new Set();
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    INSERT INTO recovery_decisions (id, company_id, issue_id, run_id, agent_id, source, decision, rule, reason, evidence, created_run_id, created_issue_id, dedupe_key, created_at)
    SELECT d.id, d.company_id, d.issue_id, d.run_id, d.agent_id, d.source, d.decision, d.rule, d.reason, d.evidence::jsonb, d.created_run_id, d.created_issue_id, d.dedupe_key, ${now}
    FROM unnest(
      ${drafts.map((d) => d.id)}::uuid[], ${drafts.map((d) => d.companyId)}::uuid[], ${drafts.map((d) => d.issueId)}::uuid[],
      ${drafts.map((d) => d.runId)}::uuid[], ${drafts.map((d) => d.agentId)}::uuid[], ${drafts.map((d) => d.source)}::text[],
      ${drafts.map((d) => d.decision)}::text[], ${drafts.map((d) => d.rule)}::text[], ${drafts.map((d) => d.reason)}::text[],
      ${drafts.map((d) => JSON.stringify(redactJson(d.evidence)))}::text[], ${drafts.map((d) => d.createdRunId)}::uuid[],
      ${drafts.map((d) => d.createdIssueId)}::uuid[], ${drafts.map((d) => d.dedupeKey ?? null)}::text[]
    ) AS d(id, company_id, issue_id, run_id, agent_id, source, decision, rule, reason, evidence, created_run_id, created_issue_id, dedupe_key)
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id`;
  return new Set(rows.map((row) => row.id));
}

/**
 * Records a decision once under `dedupeKey`, for writers outside one transaction (an after-commit
 * step a retried activity repeats): the first one recorded under the key stands, and its id and
 * line are what every attempt answers.
 */
export async function recordDecisionOnce(db: Db, draft: RecoveryDecisionDraft, dedupeKey: string): Promise<{ id: string; line: string }> {
  const written = await recordRecoveryDecisions(db, [{ ...draft, dedupeKey }]);
  if (written.has(draft.id)) return { id: draft.id, line: decisionLine(draft) };
  const first = await db.recoveryDecision.findUnique({ where: { dedupeKey } });
  if (!first) throw new Error(`recovery decision ${dedupeKey} conflicted, and none was found`);
  return { id: first.id, line: viewOfDecision(first).summary };
}

/** The API's shape of a decision (OpenAPI `RecoveryDecision`). */
export interface RecoveryDecisionView {
  id: string;
  companyId: string;
  issueId: string | null;
  runId: string | null;
  agentId: string | null;
  source: string;
  decision: string;
  rule: string;
  reason: string;
  summary: string;
  evidence: RecoveryEvidence;
  createdRunId: string | null;
  createdIssueId: string | null;
  createdAt: string;
}

export function viewOfDecision(row: RecoveryDecision): RecoveryDecisionView {
  const evidence = redactJson(row.evidence ?? {}) as RecoveryEvidence;
  const draftish = { ...row, decision: row.decision as RecoveryDecisionKind, reason: row.reason as RecoveryReason, evidence };
  return {
    id: row.id,
    companyId: row.companyId,
    issueId: row.issueId,
    runId: row.runId,
    agentId: row.agentId,
    source: row.source,
    decision: row.decision,
    rule: row.rule,
    reason: row.reason,
    summary: decisionLine(draftish),
    evidence,
    createdRunId: row.createdRunId,
    createdIssueId: row.createdIssueId,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Newest first (ties by id, so pages are stable), at most `limit`, within one company. */
export async function listRecoveryDecisions(
  db: Db,
  where: { companyId: string } & ({ issueId: string } | { runId: string }),
  limit: number,
): Promise<RecoveryDecisionView[]> {
  const rows = await db.recoveryDecision.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit });
  return rows.map(viewOfDecision);
}
