/**
 * What a coding-agent CLI run needs before it starts: its prompt (the issue, the wake, whether the
 * run resumes earlier work) and the session it resumes (R72). Reads only; the run's ending saves
 * or clears the session (`finalizeRun` → `src/store/taskSessions.ts`).
 */
import path from 'node:path';
import type { ActivityDeps } from './deps.ts';
import type { AgentCliConfig } from '../adapters/agentCli.ts';
import { renderAgentPrompt, resumeNoteFor } from '../domain/agentPrompt.ts';
import { decideSessionResume, forceFreshSessionOf, taskKeyOf, type SessionResumeDecision } from '../domain/sessionResume.ts';
import { readTaskSession } from '../store/taskSessions.ts';
import { asObject, boundIssueId, stringOrNull } from '../store/json.ts';
import type { SessionUsageTotals } from '../domain/sessionUsage.ts';

export interface AgentCliPreparation {
  prompt: string;
  resumeSessionId: string | null;
  /** The resumed session's usage totals so far (null for a fresh session). */
  sessionUsageBaseline: SessionUsageTotals | null;
  session: SessionResumeDecision;
}

export async function prepareAgentCliRun(
  deps: ActivityDeps,
  run: { id: string; contextSnapshot: unknown; wakeupRequestId: string | null },
  agent: { id: string; name: string; role: string; adapterType: string },
  config: AgentCliConfig,
): Promise<AgentCliPreparation> {
  const context = asObject(run.contextSnapshot);
  const issueId = boundIssueId(context);
  const wakeReason = stringOrNull(context.wakeReason) ?? 'on_demand';
  const issue = issueId
    ? await deps.prisma.issue.findUnique({ where: { id: issueId }, select: { id: true, identifier: true, title: true, description: true } })
    : null;
  const wake = run.wakeupRequestId
    ? await deps.prisma.agentWakeupRequest.findUnique({ where: { id: run.wakeupRequestId }, select: { payload: true } })
    : null;
  const saved = await readTaskSession(deps.prisma, { agentId: agent.id, adapterType: agent.adapterType, taskKey: taskKeyOf(context) });
  // R37: the later codex transient-retry modes give up on the session.
  const fallbackMode = stringOrNull(context.codexTransientFallbackMode);
  const session = decideSessionResume({
    wakeReason,
    forceFreshSession: forceFreshSessionOf(context) || (fallbackMode?.startsWith('fresh_session') ?? false),
    saved,
    next: { cwd: path.resolve(config.cwd ?? process.cwd()), model: config.model ?? null },
  });
  const prompt = renderAgentPrompt(
    {
      agent: { name: agent.name, role: agent.role },
      issue,
      wake: { reason: wakeReason, payload: asObject(wake?.payload) },
      resumes: resumeNoteFor(wakeReason),
      api: { url: deps.apiUrl },
    },
    config.promptTemplate ?? null,
  );
  return { prompt, resumeSessionId: session.resumeSessionId, sessionUsageBaseline: session.resumeSessionId !== null ? saved?.usageTotals ?? null : null, session };
}
