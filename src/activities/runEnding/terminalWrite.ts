/**
 * R8 steps 1–5, the first stage of a run's ending (finalizeRun.ts owns the order): the terminal
 * write with its liveness classification, what a coding-agent CLI reported, the wake's status,
 * the lifecycle event and the success comment. Inside finalize's transaction.
 */
import type { Prisma } from '../../store/db.ts';
import { terminalWriteFor, type ExecutionOutcome, type TerminalWrite } from '../../domain/runOutcome.ts';
import { endedExcerpts, runFinishedEvent, storedRunError, terminalColumnsOf } from '../../domain/runEndingFields.ts';
import { postRunSummaryComment, writeRunTerminal } from '../../store/runEndingWrites.ts';
import { asObject, boundIssueId, stringOrNull } from '../../store/json.ts';
import { classifyFinishedRun } from '../runLiveness.ts';
import { processLossRetryAllowed } from '../processLossRetry.ts';
import { recordAgentCliRun, usageOf } from '../agentCliBookkeeping.ts';

type Tx = Prisma.TransactionClient;
export type RunRow = NonNullable<Awaited<ReturnType<Tx['heartbeatRun']['findUnique']>>>;
export type AgentRow = NonNullable<Awaited<ReturnType<Tx['agent']['findUnique']>>>;

/** The run as it ended, what the later stages decide from. */
export interface EndedRun {
  /** The row before the terminal write, and after it. */
  before: RunRow;
  updated: RunRow;
  write: TerminalWrite;
  /** The stored error: the base text, plus R20's "; retrying once" when a retry is due. */
  error: string | null;
  baseError: string | null;
  /** R22: the lost process gets its one retry (decided before the write, which says so). */
  retryOnce: boolean;
  processLost: boolean;
  issueId: string | null;
  livenessState: string | null;
  now: Date;
  /** A cost event was written for the run (R15's hard stop looks at its scope after the commit). */
  costRecorded: boolean;
}

/** R20/R21: the terminal fields of a run that ended with `outcome` (also the orphan reaper's batches). */
export function terminalWriteOfRun(run: RunRow, agent: Pick<AgentRow, 'adapterType' | 'adapterConfig'> | null, outcome: ExecutionOutcome): TerminalWrite {
  return terminalWriteFor(
    {
      adapterType: agent?.adapterType ?? 'process',
      adapterConfig: asObject(agent?.adapterConfig),
      priorResultJson: run.resultJson ? asObject(run.resultJson) : null,
      processPid: run.processPid,
      processGroupId: run.processGroupId,
    },
    outcome,
  );
}

/** R22: a lost process gets its one retry — decided before the write, whose stored error says so (R20). */
export function retriesOnce(run: RunRow, agent: Pick<AgentRow, 'adapterType'> | null, write: TerminalWrite): boolean {
  return write.errorCode === 'process_lost' && agent !== null && processLossRetryAllowed(run, agent.adapterType);
}

export async function writeTerminalStatus(tx: Tx, run: RunRow, agent: AgentRow | null, outcome: ExecutionOutcome): Promise<EndedRun> {
  const write = terminalWriteOfRun(run, agent, outcome);
  const now = new Date();
  const processLost = write.errorCode === 'process_lost';
  const retryOnce = retriesOnce(run, agent, write);
  const baseError = write.error;
  const error = storedRunError(baseError, retryOnce);
  const issueId = boundIssueId(run.contextSnapshot);
  const { stdoutExcerpt, stderrExcerpt } = endedExcerpts(run, write);
  // R8 step 2 (R42): liveness is classified on every path except cancellation (R14); it is
  // computed first so that step 1 and step 2 are one write.
  const liveness = outcome.kind === 'cancelled'
    ? null
    : await classifyFinishedRun(tx, { id: run.id, status: write.status, errorCode: write.errorCode, error, resultJson: write.resultJson, stdoutExcerpt, stderrExcerpt }, issueId);
  // What a coding-agent CLI reported: its session (R72) and usage, written with the terminal status.
  const cliReport = outcome.kind === 'adapter_result' ? outcome.result.agentCli ?? null : null;
  const usage = cliReport ? usageOf(cliReport) : null;
  // R8 steps 1–3 (R5): the terminal write, the wake's status and the lifecycle event, in one statement.
  const updated = await writeRunTerminal(tx, {
    ...terminalColumnsOf(run, write, {
      error,
      liveness,
      session: cliReport ? { sessionIdBefore: cliReport.sessionIdBefore, sessionIdAfter: cliReport.sessionIdAfter } : null,
      usage,
    }),
    event: { companyId: run.companyId, runId: run.id, agentId: run.agentId, ...runFinishedEvent(write) },
    now,
  });
  let costRecorded = false;
  if (cliReport && agent) {
    const { cost } = await recordAgentCliRun(tx, run, agent, cliReport, { error, finishedAt: now });
    costRecorded = cost?.recorded === true;
  }
  // R8 step 5.
  if (write.status === 'succeeded' && issueId) await postSuccessComment(tx, run, issueId, write.resultJson);
  return { before: run, updated, write, error, baseError, retryOnce, processLost, issueId, livenessState: liveness?.livenessState ?? null, now, costRecorded };
}

/** R8 step 5: a succeeded issue-bound run posts its summary once, authored by the agent. */
async function postSuccessComment(tx: Tx, run: { id: string; companyId: string; agentId: string }, issueId: string, resultJson: Record<string, unknown>) {
  const body = [resultJson.summary, resultJson.result, resultJson.message].map(stringOrNull).find((text) => text !== null);
  if (!body) return;
  await postRunSummaryComment(tx, { runId: run.id, companyId: run.companyId, agentId: run.agentId, issueId, body });
}
