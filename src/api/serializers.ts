/**
 * Response shapes. Prisma rows go out as JSON with bigint columns as numbers; anything that may
 * hold a secret (adapter env, run output) is redacted on the way out.
 */
import { REDACTED, redactJson, redactSecrets } from '../domain/redaction.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';
import { sessionParamsOf } from '../store/taskSessions.ts';

/** Express `json replacer`: bigint → number. */
export function jsonReplacer(_key: string, value: unknown) {
  return typeof value === 'bigint' ? Number(value) : value;
}

/**
 * An agent as the API shows it: every value of its config's `env` hidden (an agent's environment
 * carries its provider keys, whatever their names), other secret-looking values redacted.
 */
export function agentView<T extends { adapterConfig: unknown }>(agent: T) {
  const config = redactJson(agent.adapterConfig);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return { ...agent, adapterConfig: config };
  const env = (config as { env?: unknown }).env;
  const hiddenEnv = env !== null && typeof env === 'object' && !Array.isArray(env) ? Object.fromEntries(Object.keys(env).map((key) => [key, REDACTED])) : env;
  return { ...agent, adapterConfig: env === undefined ? config : { ...config, env: hiddenEnv } };
}

export function runView<T extends { id: string; resultJson: unknown; contextSnapshot: unknown }>(
  run: T,
  temporal: { namespace: string; uiUrl: string | null },
) {
  const workflowId = runWorkflowId(run.id);
  return {
    ...run,
    resultJson: redactJson(run.resultJson),
    contextSnapshot: redactJson(run.contextSnapshot),
    workflowId,
    temporalUiUrl: temporal.uiUrl
      ? `${temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`
      : null,
  };
}

/** A cost event with its exact dollars (`costUsd`: from micro-dollars when known, else from cents). */
export function costEventView<T extends { costCents: number; costUsdMicros: bigint | null }>(event: T) {
  return { ...event, costUsd: event.costUsdMicros !== null ? Number(event.costUsdMicros) / 1_000_000 : event.costCents / 100 };
}

/** A task session: its params cut down to `{ sessionId, cwd, model }`, so no env or secret it might hold leaves. */
export function taskSessionView<T extends { sessionParamsJson: unknown; lastError: string | null }>(session: T) {
  return { ...session, sessionParamsJson: sessionParamsOf(session.sessionParamsJson), lastError: session.lastError === null ? null : redactSecrets(session.lastError) };
}

interface RuntimeStateRow {
  agentId: string;
  companyId: string;
  adapterType: string;
  sessionId: string | null;
  stateJson: unknown;
  lastRunId: string | null;
  lastRunStatus: string | null;
  totalInputTokens: bigint;
  totalOutputTokens: bigint;
  totalCachedInputTokens: bigint;
  totalCostCents: bigint;
  totalCostUsdMicros: bigint;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * An agent's runtime state plus its most recently updated task session. An agent no run has
 * finished for has no row yet: it is shown zeroed (timestamps null), not written by a read.
 */
export function runtimeStateView(
  agent: { id: string; companyId: string; adapterType: string },
  state: RuntimeStateRow | null,
  latestSession: { sessionParamsJson: unknown; sessionDisplayId: string | null } | null,
) {
  const row = state ?? {
    agentId: agent.id,
    companyId: agent.companyId,
    adapterType: agent.adapterType,
    sessionId: null,
    stateJson: {},
    lastRunId: null,
    lastRunStatus: null,
    totalInputTokens: 0n,
    totalOutputTokens: 0n,
    totalCachedInputTokens: 0n,
    totalCostCents: 0n,
    totalCostUsdMicros: 0n,
    lastError: null,
    createdAt: null,
    updatedAt: null,
  };
  return {
    ...row,
    stateJson: redactJson(row.stateJson),
    lastError: row.lastError === null ? null : redactSecrets(row.lastError),
    sessionDisplayId: latestSession?.sessionDisplayId ?? null,
    sessionParamsJson: latestSession ? sessionParamsOf(latestSession.sessionParamsJson) : null,
  };
}
