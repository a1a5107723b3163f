/**
 * The sentences Vigil writes about a coding-agent CLI's run: why it failed (the run's `error`, after
 * the exit code), and the notices its stream parser shows as run events. In one place so wording
 * and redaction are reviewed together (src/domain/texts.ts holds the rest).
 */

const CLI_NAMES = { claude: 'Claude Code', codex: 'Codex' } as const;
type Cli = keyof typeof CLI_NAMES;

/** The CLI's own words, on one line and short enough for a run's error. */
export function oneLineDetail(text: string | null | undefined, maxChars = 300): string | null {
  if (!text) return null;
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return null;
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

const withDetail = (sentence: string, detail: string | null) => (detail ? `${sentence}: ${detail}` : sentence);

/** One-line reasons, one per error code of src/domain/agentFailure.ts. */
export const agentFailureTexts = {
  authRequired: (cli: Cli, detail: string | null) =>
    withDetail(`${CLI_NAMES[cli]} is not signed in or its credentials were rejected; fix the agent's login or API key`, detail),
  modelNotFound: (cli: Cli, detail: string | null) =>
    withDetail(`${CLI_NAMES[cli]} was asked for a model the provider does not have (or this account may not use)`, detail),
  maxTurns: (detail: string | null) =>
    withDetail('Claude Code stopped at its turn limit (--max-turns); the next run starts a fresh session', detail),
  refusal: (cli: Cli, detail: string | null) => withDetail(`The model behind ${CLI_NAMES[cli]} refused the request`, detail),
  transientUpstream: (cli: Cli, httpStatus: number | null, detail: string | null) =>
    withDetail(
      `${CLI_NAMES[cli]}'s provider is overloaded or unreachable${httpStatus !== null ? ` (HTTP ${httpStatus})` : ''}; the run is retried later`,
      detail,
    ),
  usageLimit: (cli: Cli, resetsAt: string, detail: string | null) =>
    withDetail(`${CLI_NAMES[cli]} hit its provider's usage limit; it resets at ${resetsAt}, and the run is retried then`, detail),
  sessionRejected: (cli: Cli, detail: string | null) =>
    withDetail(`${CLI_NAMES[cli]} refused to resume the saved session (unknown or expired)`, detail),
  failed: (cli: Cli, detail: string | null) => withDetail(`${CLI_NAMES[cli]} failed`, detail),
} as const;

/** What the stream parsers show as `system` run events. */
export const agentStreamTexts = {
  claudeSessionStarted: (sessionId: string, model: string | null) =>
    `Claude Code session ${sessionId} started${model ? ` (model ${model})` : ''}`,
  /** "upstream returned 529 (overloaded), retry 1/10" */
  upstreamRetry: (httpStatus: number | null, error: string | null, attempt: number | null, maxRetries: number | null) => {
    const what = httpStatus !== null ? `upstream returned ${httpStatus}${error ? ` (${error})` : ''}` : `upstream call failed${error ? ` (${error})` : ''}`;
    const which = attempt !== null ? `, retry ${attempt}${maxRetries !== null ? `/${maxRetries}` : ''}` : ', retrying';
    return `${what}${which}`;
  },
  refusalNoFallback: 'The model refused the request and no fallback model was tried',
  codexThreadStarted: (threadId: string) => `Codex thread ${threadId} started`,
  codexTurnFailed: (message: string) => `Codex turn failed: ${message}`,
} as const;
