/**
 * V8 for a run's ending: the decisions `chooseRecovery` takes, each with the ended run's evidence
 * (status, error code, liveness, last useful action, retry kind), recorded in finalize's
 * transaction with one statement — so a decision exists exactly when its effect committed.
 */
import type { Prisma } from '../../store/db.ts';
import { asObject, stringOrNull } from '../../store/json.ts';
import { newDecisionId, recordRecoveryDecisions } from '../../store/recoveryDecisions.ts';
import { decisionLine, type RecoveryDecisionDraft, type RecoveryDecisionKind, type RecoveryEvidence, type RecoveryReason } from '../../domain/recoveryDecision.ts';
import type { EndedRun } from './terminalWrite.ts';

type Tx = Prisma.TransactionClient;

/** What an ended run contributes to every decision taken after it. */
export function endedRunEvidence(ended: Pick<EndedRun, 'updated' | 'write' | 'livenessState'>): RecoveryEvidence {
  return {
    runStatus: ended.write.status,
    errorCode: ended.write.errorCode,
    livenessState: ended.livenessState,
    lastUsefulActionAt: ended.updated.lastUsefulActionAt?.toISOString() ?? null,
    retryReason: stringOrNull(asObject(ended.updated.contextSnapshot).retryReason),
  };
}

export class RunEndingDecisions {
  private readonly drafts: RecoveryDecisionDraft[] = [];

  constructor(private readonly ended: EndedRun) {}

  add(decision: RecoveryDecisionKind, rule: string, reason: RecoveryReason, evidence: RecoveryEvidence = {}, createdRunId: string | null = null): void {
    const run = this.ended.updated;
    this.drafts.push({
      id: newDecisionId(),
      companyId: run.companyId,
      issueId: this.ended.issueId,
      runId: run.id,
      agentId: run.agentId,
      source: 'run_ending',
      decision,
      rule,
      reason,
      evidence: { ...endedRunEvidence(this.ended), ...evidence },
      createdRunId,
      createdIssueId: null,
    });
  }

  isEmpty(): boolean {
    return this.drafts.length === 0;
  }

  /** Writes the decisions (one statement) and returns their one-line summaries. */
  async record(tx: Tx): Promise<string[]> {
    await recordRecoveryDecisions(tx, this.drafts, this.ended.now);
    return this.drafts.map(decisionLine);
  }
}
