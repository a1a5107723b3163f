/**
 * What a coding-agent CLI's run leaves behind, written in finalize's transaction (R8): the
 * session it reported for its task (R72: saved, or cleared when the CLI refused it or the run
 * exhausted its turns) and its usage as the run's one cost event (estimated from the tokens when
 * the CLI reports no money). Returns the run columns that go with the terminal write.
 */
import type { Prisma } from '../store/db.ts';
import type { AgentCliReport } from '../domain/adapterResult.ts';
import { clearTaskSession, saveTaskSession } from '../store/taskSessions.ts';
import { recordRunUsage, type RecordRunUsageResult } from '../store/runCosts.ts';
import { taskKeyOf } from '../domain/sessionResume.ts';
import { estimateCostUsd } from '../domain/modelPrices.ts';
import { boundIssueId } from '../store/json.ts';

type Tx = Prisma.TransactionClient;

interface FinishedRun {
  id: string;
  companyId: string;
  agentId: string;
  contextSnapshot: unknown;
}

/** The usage a run reported, as stored in `heartbeat_runs.usage_json` and its cost event. */
export function usageOf(report: AgentCliReport) {
  const usage = report.usage;
  if (!usage) return null;
  const priced = usage.costUsd !== null ? { costUsd: usage.costUsd, estimated: false } : estimateCostUsd(usage);
  return {
    provider: usage.provider,
    model: usage.model ?? report.model,
    inputTokens: usage.inputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    outputTokens: usage.outputTokens,
    costUsd: priced.costUsd,
    estimated: priced.estimated,
    ...(report.numTurns !== null ? { numTurns: report.numTurns } : {}),
  };
}

export async function recordAgentCliRun(
  tx: Tx,
  run: FinishedRun,
  agent: { id: string; adapterType: string },
  report: AgentCliReport,
  outcome: { error: string | null; finishedAt: Date },
): Promise<{ cost: RecordRunUsageResult | null }> {
  const key = { agentId: agent.id, adapterType: agent.adapterType, taskKey: taskKeyOf(run.contextSnapshot) };
  // R72: a refused id is dropped (only that id: a newer session saved meanwhile survives).
  if (report.rejectedSessionId !== null) await clearTaskSession(tx, { ...key, sessionId: report.rejectedSessionId });
  if (report.clearSession && report.rejectedSessionId === null) {
    await clearTaskSession(tx, key);
  } else if (report.sessionIdAfter !== null) {
    await saveTaskSession(tx, {
      ...key,
      companyId: run.companyId,
      sessionId: report.sessionIdAfter,
      cwd: report.cwd,
      model: report.configuredModel,
      runId: run.id,
      lastError: outcome.error,
      usageTotals: report.sessionUsageTotals,
    });
  }
  const usage = usageOf(report);
  if (!usage) return { cost: null };
  const cost = await recordRunUsage(tx, {
    run: { id: run.id, companyId: run.companyId, agentId: run.agentId, issueId: boundIssueId(run.contextSnapshot) },
    usage,
    occurredAt: outcome.finishedAt,
  });
  return { cost };
}
