/**
 * Issue 14 §3: the stem of the `Idempotency-Key`s an agent sends (`VIGIL_IDEMPOTENCY_PREFIX`, and
 * the prompt's `{{run.idempotencyPrefix}}`). It names the issue and the run that started the
 * lineage — the run reached by following `retryOfRunId` back to a run that retries nothing.
 * Every run that picks up that run's work links back to it: a process-loss retry (R22), a
 * scheduled or transient retry, a quota retry, a liveness or issue continuation (R46), the
 * missing-comment follow-up (R73), a stranded redispatch. So a retry that repeats what its
 * predecessor already did sends the same keys and writes nothing new, while a fresh wake (a new
 * assignment, a new comment, a timer) starts a lineage of its own and a new prefix. A reattach
 * (issue 13) keeps the run, hence the prefix. Pure.
 */
export function idempotencyPrefix(lineage: { issueId: string | null; rootRunId: string }): string {
  return `vigil:${lineage.issueId ?? 'no-issue'}:${lineage.rootRunId}`;
}
