/**
 * R42/R45: run liveness classification. Step 1 of R45 — every non-succeeded run is `failed` —
 * needs no evidence; the evidence-based steps for succeeded runs arrive with the recovery work.
 */
const MAX_REASON = 500;

export function truncateReason(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 3)}...`;
}

export function classifyFailedRun(status: string, errorCode: string | null): { livenessState?: 'failed'; livenessReason?: string } {
  if (status === 'succeeded') return {};
  return {
    livenessState: 'failed',
    livenessReason: truncateReason(errorCode ? `Run ended with ${status} (${errorCode})` : `Run ended with ${status}`),
  };
}
