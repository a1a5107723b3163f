/**
 * Why a coding-agent CLI's run failed, as the run's `errorCode` (`claude_…` / `codex_…`), its
 * retry family and what happens to its session. Pure: the stream report, the exit code, the
 * output tails and the clock come in; nothing is read or spawned here.
 *
 * Structured fields first (the HTTP status, Claude's result subtype / `terminal_reason` / error
 * category / `api_error_type`, a refusal stop), the CLI's words second. The words were taken from
 * the real CLIs (test/fixtures/transcripts/, and the strings in Claude Code 2.1.328 / Codex 0.171.0).
 *
 * | code                  | family             | session          | what Vigil does                                   |
 * |-----------------------|--------------------|------------------|---------------------------------------------------|
 * | *_session_rejected    | null               | rejected+cleared | runs again at once with a fresh session (R72)     |
 * | claude_max_turns      | null               | cleared          | fails; the next run starts fresh                  |
 * | *_refusal             | null               | kept             | fails; a person reads it                          |
 * | *_model_not_found     | null               | kept             | fails; fix the agent's `model`                    |
 * | *_auth_required       | null               | kept             | fails; fix the agent's login or key               |
 * | *_usage_limit         | provider_quota     | kept             | one retry parked until the reset (providerQuota)  |
 * | *_transient_upstream  | transient_upstream | kept             | the transient ladder (R35–R37)                    |
 * | *_failed              | null               | kept             | fails (billing walls land here too)               |
 */
import type { AgentStreamReport } from '../adapters/agentStream.ts';
import { mentionsTransientUpstream } from '../adapters/processOutput.ts';
import { agentFailureTexts, oneLineDetail } from './agentFailureTexts.ts';
import { parseResetTime } from './resetTime.ts';

export type AgentCliName = 'claude' | 'codex';

export type AgentFailureKind =
  | 'session_rejected'
  | 'max_turns'
  | 'refusal'
  | 'model_not_found'
  | 'auth_required'
  | 'usage_limit'
  | 'transient_upstream'
  | 'failed';

export interface AgentFailure {
  /** `<cli>_<kind>`, the run's `errorCode`. */
  errorCode: string;
  errorFamily: 'transient_upstream' | 'provider_quota' | null;
  /** ISO instant before which a retry is pointless (a usage limit's reset, a Retry-After). */
  retryNotBefore: string | null;
  /** The CLI refused to resume the session it was given. */
  sessionRejected: boolean;
  /** The saved session must not be resumed again. */
  clearSession: boolean;
  /** One line for people: why, and the CLI's own words. */
  message: string;
}

export interface AgentFailureFacts {
  report: AgentStreamReport;
  exitCode: number | null;
  stderrTail: string;
  stdoutTail: string;
  now: Date;
  /**
   * The zone of the host the CLI ran on: Codex prints "try again at 4:23 PM" in local time without
   * naming the zone. Default UTC.
   */
  localTimeZone?: string;
}

export function agentErrorCode(cli: AgentCliName, kind: AgentFailureKind): string {
  return `${cli}_${kind}`;
}

const HTTP_STATUS_PATTERNS: RegExp[] = [
  // "unexpected status 401 Unauthorized", "last status: 503", "status code 429", "HTTP 529", "API Error: 529", "Request rejected (429)"
  /\b(?:unexpected status|last status|status(?:[ _]code)?|https?(?:\/\d(?:\.\d)?)?|api error|request rejected)\s*[:=]?\s*\(?([45]\d{2})\b/i,
  /\b([45]\d{2})\s+(?:Unauthorized|Forbidden|Not Found|Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|Overloaded|Payment Required|Request Timeout)\b/i,
];

/** An HTTP status (4xx/5xx) the text reports with its context word, else null. A bare "429" is not one. */
export function httpStatusInText(text: string | null | undefined): number | null {
  if (!text) return null;
  for (const pattern of HTTP_STATUS_PATTERNS) {
    const m = pattern.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}

const SESSION_REJECTED = [
  /No conversation found with session ID/i, // Claude Code
  /No conversation found to continue/i,
  /Failed to resume session/i,
  /no rollout found for (?:thread|conversation) id/i, // Codex: "thread/resume failed: no rollout found for thread id …"
  /thread\/resume failed/i,
  /\b(?:thread|conversation) not found\b/i,
];

const MAX_TURNS = [/Reached maximum number of turns/i, /Reached max turns/i];

const REFUSAL = [
  /violates? (?:our|Anthropic['’]s) Usage Polic/i,
  /unable to respond to this request/i,
  /Invalid prompt: we['’]ve limited access to this content for safety reasons/i, // Codex
  /flagged for possible \w+ risk/i,
  /\b(?:content_policy_violation|cyber_policy|bio_policy)\b/,
];

const MODEL_NOT_FOUND = [
  /\bmodel_not_found\b/i,
  /\bmodel\b[^.\n]{0,100}\b(?:does not exist|do(?:es)? not have access)/i, // "The model `gpt-nope` does not exist or you do not have access to it."
  /issue with the selected model/i, // Claude Code
  /\bnot_found_error\b[^\n]{0,80}\bmodel\b/i,
  /\bmodel\b[^.\n]{0,60}\bnot (?:found|supported)\b/i,
  /\b(?:unknown|invalid|unsupported) model\b/i,
];

const AUTH_CATEGORIES = new Set(['authentication_failed', 'oauth_org_not_allowed', 'cloud_credential_error', 'verification_required', 'account_on_hold']);
const AUTH_TYPES = new Set(['authentication_error', 'permission_error']);
const AUTH = [
  /invalid x-api-key/i,
  /\bauthentication_error\b/i,
  /\binvalid[ _]api[ _]key\b/i,
  /incorrect api key/i,
  /\bnot (?:logged|signed) in\b/i,
  /please run \/login/i,
  /\bsign in again\b/i,
  /\blog(?:in)? (?:is )?required\b|authentication required/i,
  /access token could not be refreshed/i,
  /oauth token (?:has )?(?:expired|been revoked)/i,
  /failed to authenticate/i,
  /missing environment variable/i, // Codex: the provider's `env_key` is unset
  /\b40[13] (?:Unauthorized|Forbidden)\b/i,
];

/** A wall that waiting for the transient ladder does not lift: money, not load. */
const BILLING_CATEGORIES = new Set(['billing_error']);
const BILLING = [/credit balance (?:is )?too low/i, /\binsufficient_quota\b/i, /check your plan and billing/i, /out of credits/i, /spend limit/i];

/** A quota, as opposed to load: it lifts at a time the provider names. */
const QUOTA = [/usage limit/i, /\bhit your (?:[\w-]+ ){0,3}limit\b/i, /\blimit reached\b/i, /\bquota\b/i, /\busage_limit_reached\b/i, /\brate_limit_reached\b/i];

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504, 529]);
const TRANSIENT_CATEGORIES = new Set(['rate_limit', 'overloaded', 'server_error']);
const TRANSIENT_TYPES = new Set(['overloaded_error', 'rate_limit_error', 'api_error', 'timeout_error']);
const TRANSIENT = [
  /\bECONN(?:REFUSED|RESET|ABORTED)\b|\bETIMEDOUT\b|\bEAI_AGAIN\b|\bEPIPE\b/,
  /\bconnection (?:refused|reset|failed|closed)\b/i,
  /error sending request/i,
  /stream disconnected/i,
  /^\s*Reconnecting\.\.\./im,
  /\bsocket hang up\b/i,
  /\bat capacity\b/i,
  /\btemporarily unavailable\b|\btry again later\b/i,
  /\bserver[_ ]error\b|\binternal server error\b/i,
];

const matchesAny = (patterns: RegExp[], text: string) => patterns.some((pattern) => pattern.test(text));

/** Stdout lines that are not the CLI's JSON events: a crash's own words, never the agent's. */
function plainStdout(stdoutTail: string): string {
  return stdoutTail
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('{'))
    .join('\n');
}

function firstErrorLine(text: string): string | null {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines.find((line) => /error|fail|denied|not found|invalid|refused/i.test(line)) ?? lines.at(-1) ?? null;
}

/** The run's failure, or null when it did not fail (exit 0 and no error result). */
export function classifyAgentFailure(cli: AgentCliName, facts: AgentFailureFacts): AgentFailure | null {
  const { report } = facts;
  if (facts.exitCode === 0 && !report.isError) return null;

  const error = report.error;
  const stdoutWords = plainStdout(facts.stdoutTail);
  // Only an error result's text, stderr and non-JSON stdout: the agent's own answer may say "429".
  const words = [error.message, facts.stderrTail, stdoutWords].filter((text): text is string => !!text && text.trim() !== '').join('\n');
  const httpStatus = error.httpStatus ?? httpStatusInText(words);
  const category = error.category ?? null;
  const type = error.type ?? null;
  const detail = oneLineDetail(error.message ?? firstErrorLine(facts.stderrTail) ?? firstErrorLine(stdoutWords));
  // The error result's own words first: a log line on stderr may carry times of its own.
  const resetOf = () => {
    for (const text of [error.message, facts.stderrTail, stdoutWords]) {
      const resetsAt = text ? parseResetTime(text, facts.now, { defaultTimeZone: facts.localTimeZone }) : null;
      if (resetsAt) return resetsAt;
    }
    return null;
  };

  const failure = (kind: AgentFailureKind, message: string, extra: Partial<AgentFailure> = {}): AgentFailure => ({
    errorCode: agentErrorCode(cli, kind),
    errorFamily: null,
    retryNotBefore: null,
    sessionRejected: false,
    clearSession: false,
    message,
    ...extra,
  });

  // A resume the CLI refuses happens before any model call: nothing else in the run can explain it.
  if (matchesAny(SESSION_REJECTED, words)) {
    return failure('session_rejected', agentFailureTexts.sessionRejected(cli, detail), { sessionRejected: true, clearSession: true });
  }
  // R72: a session that exhausted its turns is not resumed: its next run would stop at once.
  if (cli === 'claude' && (error.subtype === 'error_max_turns' || error.terminalReason === 'max_turns' || matchesAny(MAX_TURNS, words))) {
    return failure('max_turns', agentFailureTexts.maxTurns(detail), { clearSession: true });
  }
  if (error.refusal === true || matchesAny(REFUSAL, words)) {
    return failure('refusal', agentFailureTexts.refusal(cli, detail));
  }
  if (category === 'model_not_found' || ((httpStatus === 404 || type === 'not_found_error') && /\bmodel\b/i.test(words)) || matchesAny(MODEL_NOT_FOUND, words)) {
    return failure('model_not_found', agentFailureTexts.modelNotFound(cli, detail));
  }
  if (httpStatus === 401 || httpStatus === 403 || (category !== null && AUTH_CATEGORIES.has(category)) || (type !== null && AUTH_TYPES.has(type)) || matchesAny(AUTH, words)) {
    return failure('auth_required', agentFailureTexts.authRequired(cli, detail));
  }
  const billing = (category !== null && BILLING_CATEGORIES.has(category)) || matchesAny(BILLING, words);
  const quotaWords = billing || matchesAny(QUOTA, words);
  const rateLimited = httpStatus === 429 || category === 'rate_limit' || type === 'rate_limit_error';
  const resetsAt = quotaWords || rateLimited ? resetOf() : null;
  // A usage limit that names its reset: one retry, parked until then (src/domain/providerQuota.ts
  // keeps a reset just passed or seconds away at least its minimum wait).
  if (quotaWords && resetsAt !== null) {
    const iso = resetsAt.toISOString();
    return failure('usage_limit', agentFailureTexts.usageLimit(cli, iso, detail), { errorFamily: 'provider_quota', retryNotBefore: iso });
  }
  // Out of money with no reset: no amount of waiting helps.
  if (billing) return failure('failed', agentFailureTexts.failed(cli, detail));
  if (quotaWords || rateLimited) {
    // R35: a rate limit without a reset is load: the transient ladder.
    return failure('transient_upstream', agentFailureTexts.transientUpstream(cli, httpStatus, detail), {
      errorFamily: 'transient_upstream',
      retryNotBefore: resetsAt?.toISOString() ?? null,
    });
  }

  const transient =
    (httpStatus !== null && TRANSIENT_STATUSES.has(httpStatus)) ||
    (category !== null && TRANSIENT_CATEGORIES.has(category)) ||
    (type !== null && TRANSIENT_TYPES.has(type)) ||
    mentionsTransientUpstream(words) ||
    matchesAny(TRANSIENT, words);
  if (transient) {
    return failure('transient_upstream', agentFailureTexts.transientUpstream(cli, httpStatus, detail), {
      errorFamily: 'transient_upstream',
      retryNotBefore: resetOf()?.toISOString() ?? null,
    });
  }
  return failure('failed', agentFailureTexts.failed(cli, detail));
}
