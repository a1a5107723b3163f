/**
 * Response shapes. Prisma rows go out as JSON with bigint columns as numbers; anything that may
 * hold a secret (adapter env, run output) is redacted on the way out.
 */
import { redactJson } from '../domain/redaction.ts';
import { runWorkflowId } from '../workflows/heartbeatRun.ts';

/** Express `json replacer`: bigint → number. */
export function jsonReplacer(_key: string, value: unknown) {
  return typeof value === 'bigint' ? Number(value) : value;
}

export function agentView<T extends { adapterConfig: unknown }>(agent: T) {
  return { ...agent, adapterConfig: redactJson(agent.adapterConfig) };
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
