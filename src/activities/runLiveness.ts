/**
 * R42–R45 on the database side: gather a finished run's issue, evidence and texts in one query and
 * classify them (pure, `domain/liveness.ts`); the finalize pipeline persists the result with the
 * run's terminal write.
 */
import type { Prisma } from '../store/db.ts';
import { asObject } from '../store/json.ts';
import { classifyRunLiveness, NO_LIVENESS_EVIDENCE, type LivenessEvidence } from '../domain/liveness.ts';

type Tx = Prisma.TransactionClient;

/**
 * Bookkeeping, not progress (R27, R43); output events are Vigil's `log` type (docs/decisions.md),
 * and what a CLI agent said (`agent.message`) is not an action it took.
 */
const NON_EVIDENCE_EVENT_TYPES = ['lifecycle', 'adapter.invoke', 'error', 'log', 'agent.message'];
const NON_EVIDENCE_ACTIONS = ['environment.lease_acquired', 'environment.lease_released'];
const CONTINUATION_SUMMARY_KEY = 'continuation-summary';

interface EvidenceRow {
  issue_found: boolean;
  issue_status: string | null;
  issue_title: string | null;
  issue_description: string | null;
  comments: number;
  comment_at: Date | null;
  recent_comments: string[] | null;
  revisions: number;
  plan_revisions: number;
  revision_at: Date | null;
  activity: number;
  activity_at: Date | null;
  tool_events: number;
  tool_event_at: Date | null;
  continuation_summary: string | null;
}

interface Gathered {
  issue: IssueFacts | null;
  evidence: LivenessEvidence;
  recentComments: string[];
  continuationSummary: string | null;
}
type IssueFacts = { status: string; title: string; description: string | null };

/** The issue, and (`withEvidence`: a succeeded run) the run's evidence, in one statement. */
async function gatherEvidence(tx: Tx, runId: string, issueId: string | null, withEvidence: boolean): Promise<Gathered> {
  if (!withEvidence) {
    const issue = issueId ? await tx.issue.findUnique({ where: { id: issueId }, select: { status: true, title: true, description: true } }) : null;
    return { issue, evidence: NO_LIVENESS_EVIDENCE, recentComments: [], continuationSummary: null };
  }
  const rows = await tx.$queryRaw<EvidenceRow[]>`
    SELECT
      i.id IS NOT NULL AS issue_found, i.status::text AS issue_status, i.title AS issue_title, i.description AS issue_description,
      (SELECT count(*)::int FROM issue_comments c WHERE c.issue_id = ${issueId}::uuid AND c.created_by_run_id = ${runId}::uuid) AS comments,
      (SELECT max(c.created_at) FROM issue_comments c WHERE c.issue_id = ${issueId}::uuid AND c.created_by_run_id = ${runId}::uuid) AS comment_at,
      (SELECT array_agg(body ORDER BY created_at) FROM (
         SELECT c.body, c.created_at FROM issue_comments c
         WHERE c.issue_id = ${issueId}::uuid AND c.created_by_run_id = ${runId}::uuid
         ORDER BY c.created_at DESC LIMIT 5) recent) AS recent_comments,
      (SELECT count(*)::int FROM document_revisions r JOIN issue_documents d ON d.document_id = r.document_id
        WHERE d.issue_id = ${issueId}::uuid AND d.key <> ${CONTINUATION_SUMMARY_KEY} AND r.created_by_run_id = ${runId}::uuid) AS revisions,
      (SELECT count(*)::int FROM document_revisions r JOIN issue_documents d ON d.document_id = r.document_id
        WHERE d.issue_id = ${issueId}::uuid AND d.key = 'plan' AND r.created_by_run_id = ${runId}::uuid) AS plan_revisions,
      (SELECT max(r.created_at) FROM document_revisions r JOIN issue_documents d ON d.document_id = r.document_id
        WHERE d.issue_id = ${issueId}::uuid AND d.key <> ${CONTINUATION_SUMMARY_KEY} AND r.created_by_run_id = ${runId}::uuid) AS revision_at,
      (SELECT count(*)::int FROM activity_log a WHERE a.run_id = ${runId}::uuid AND a.action <> ALL(${NON_EVIDENCE_ACTIONS}::text[])) AS activity,
      (SELECT max(a.created_at) FROM activity_log a WHERE a.run_id = ${runId}::uuid AND a.action <> ALL(${NON_EVIDENCE_ACTIONS}::text[])) AS activity_at,
      (SELECT count(*)::int FROM heartbeat_run_events e WHERE e.run_id = ${runId}::uuid AND e.event_type <> ALL(${NON_EVIDENCE_EVENT_TYPES}::text[])) AS tool_events,
      (SELECT max(e.created_at) FROM heartbeat_run_events e WHERE e.run_id = ${runId}::uuid AND e.event_type <> ALL(${NON_EVIDENCE_EVENT_TYPES}::text[])) AS tool_event_at,
      (SELECT doc.latest_body FROM issue_documents d JOIN documents doc ON doc.id = d.document_id
        WHERE d.issue_id = ${issueId}::uuid AND d.key = ${CONTINUATION_SUMMARY_KEY}) AS continuation_summary
    FROM (SELECT 1) AS one LEFT JOIN issues i ON i.id = ${issueId}::uuid`;
  const row = rows[0];
  const times = [row.comment_at, row.revision_at, row.activity_at, row.tool_event_at].filter((t): t is Date => t !== null);
  return {
    issue: row.issue_found ? { status: row.issue_status!, title: row.issue_title!, description: row.issue_description } : null,
    evidence: {
      issueComments: row.comments,
      documentRevisions: row.revisions,
      planRevisions: row.plan_revisions,
      // Vigil has no work products or workspace operations yet (docs/decisions.md).
      workProducts: 0,
      workspaceOperations: 0,
      activity: row.activity,
      toolEvents: row.tool_events,
      lastEvidenceAt: times.length > 0 ? new Date(Math.max(...times.map((t) => t.getTime()))) : null,
    },
    recentComments: row.recent_comments ?? [],
    continuationSummary: row.continuation_summary,
  };
}

export interface ClassifiableRun {
  id: string;
  status: string;
  errorCode: string | null;
  error: string | null;
  resultJson: unknown;
  stdoutExcerpt: string | null;
  stderrExcerpt: string | null;
}

/** R42: the liveness fields of a run about to be written terminal. Issue-scoped evidence needs an issue-bound run. */
export async function classifyFinishedRun(tx: Tx, run: ClassifiableRun, issueId: string | null) {
  const gathered = await gatherEvidence(tx, run.id, issueId, run.status === 'succeeded');
  const classification = classifyRunLiveness({
    runStatus: run.status,
    errorCode: run.errorCode,
    issue: gathered.issue,
    evidence: gathered.evidence,
    recentComments: gathered.recentComments,
    resultJson: run.resultJson ? asObject(run.resultJson) : null,
    stdoutExcerpt: run.stdoutExcerpt,
    stderrExcerpt: run.stderrExcerpt,
    error: run.error,
    continuationSummary: gathered.continuationSummary,
  });
  return {
    livenessState: classification.livenessState,
    livenessReason: classification.livenessReason,
    nextAction: classification.nextAction,
    lastUsefulActionAt: classification.lastUsefulActionAt,
  };
}
