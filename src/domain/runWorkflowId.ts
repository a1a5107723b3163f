/**
 * One heartbeat run = one Temporal workflow, id `run-<runId>` (what Temporal UI searches by).
 * Both directions live here, in `src/domain`, so the API, the Temporal client code, the log
 * context and the workflow itself name runs the same way without importing each other.
 * Pure and dependency-free so workflows may import it.
 */
const PREFIX = 'run-';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function runWorkflowId(runId: string): string {
  return `${PREFIX}${runId}`;
}

/** The run a workflow id belongs to (`run-<uuid>`), or null for other workflows (the sweeps). */
export function runIdOfWorkflowId(workflowId: unknown): string | null {
  if (typeof workflowId !== 'string' || !workflowId.startsWith(PREFIX)) return null;
  const runId = workflowId.slice(PREFIX.length);
  return UUID.test(runId) && runWorkflowId(runId) === workflowId ? runId : null;
}
