/**
 * What a coding-agent CLI's output stream says, as its adapter's parser reads it line by line
 * (Claude Code's `stream-json`, Codex's `exec --json`). The spawn-and-supervise core feeds every
 * complete (already redacted) stdout line to the parser; the parser turns the lines it knows into
 * agent messages for the run's events and keeps what the run's ending needs: the session, the final
 * answer, the usage and the structured error fields the failure classifier reads first.
 */

/** Tokens and money one run spent, as the CLI reported them (or as Vigil estimated them). */
export interface AgentUsage {
  provider: string;
  model: string | null;
  /**
   * Input tokens as the provider counts them. OpenAI (Codex): every input token, the cached ones
   * included. Anthropic (Claude Code): `input_tokens + cache_creation_input_tokens` — cache writes
   * are billed as input (at a premium) — and NOT the cache reads, which are `cachedInputTokens`.
   */
  inputTokens: number;
  /** Input read from the prompt cache: part of `inputTokens` for OpenAI, in addition to it for Anthropic. */
  cachedInputTokens: number;
  outputTokens: number;
  /** Null when the CLI reports no money (Codex): the cost is then estimated from the tokens. */
  costUsd: number | null;
}

/** One thing the agent said or did, shown as a run event while the run streams. */
export interface AgentStreamMessage {
  kind: 'assistant_text' | 'tool_use' | 'reasoning' | 'system' | 'error';
  text: string;
}

/** Everything a parser has learnt once the stream ended. */
export interface AgentStreamReport {
  /**
   * Claude's `session_id`, Codex's `thread_id`: only ids the CLI itself printed for a session that
   * exists (the lone result line of a rejected Claude resume names the id it was asked for: null).
   */
  sessionId: string | null;
  /** The model the CLI named (Codex names none: null; its usage carries the configured/default one). */
  model: string | null;
  /** The final answer (Claude's `result`, Codex's last agent message). */
  finalAnswer: string | null;
  usage: AgentUsage | null;
  /** Claude's `num_turns`; Codex: the turns completed in this run. */
  numTurns: number | null;
  /** The stream ended with an error result (`is_error`, `turn.failed`, a terminal `error`). */
  isError: boolean;
  /** Structured error fields, for the classifier: Claude's `subtype`, `api_error_status`, `terminal_reason`… */
  error: {
    /** HTTP status the CLI reported for the upstream call (Claude's `api_error_status`, or one parsed from a Codex error). */
    httpStatus: number | null;
    /** Claude's result `subtype` (`error_max_turns`, … — `success` on an API error) or Codex's ending event (`turn.failed`, `error`): Codex prints no error type. */
    subtype: string | null;
    /** The error text the CLI printed (Claude's error `result`, Codex's `turn.failed.error.message`). */
    message: string | null;
    /** The provider's error type as the CLI relayed it (Claude's `api_error_type`: `overloaded_error`, `rate_limit_error`, …). */
    type?: string | null;
    /**
     * The CLI's own category for the failed call (Claude's assistant `error`: `authentication_failed`,
     * `rate_limit`, `overloaded`, `model_not_found`, `billing_error`, `server_error`, …).
     */
    category?: string | null;
    /** Why the CLI's loop ended (Claude's `terminal_reason`: `completed`, `api_error`, `max_turns`, …). */
    terminalReason?: string | null;
    /** The model refused (Claude: `stop_reason: "refusal"`, `model_refusal_no_fallback`). */
    refusal?: boolean;
  };
}

export interface AgentStreamParser {
  /** One complete stdout line (without its newline); returns what to show as run events. */
  line(line: string): AgentStreamMessage[];
  report(): AgentStreamReport;
}

export function emptyStreamReport(): AgentStreamReport {
  return {
    sessionId: null,
    model: null,
    finalAnswer: null,
    usage: null,
    numTurns: null,
    isError: false,
    error: { httpStatus: null, subtype: null, message: null },
  };
}

/** The final answer a report keeps (the head: the answer's opening says what was done). */
export const FINAL_ANSWER_MAX_BYTES = 64 * 1024;
/** The error text a report keeps. */
export const ERROR_MESSAGE_MAX_BYTES = 8 * 1024;
/** One streamed message (an assistant text, a tool call) shown as a run event. */
export const STREAM_MESSAGE_MAX_BYTES = 16 * 1024;

/** The first `maxBytes` bytes of `text` in UTF-8 (on a character boundary), marked when cut. */
export function capText(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  let end = maxBytes - 3; // room for the ellipsis
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}…`;
}

/** The JSON object a stdout line holds, or null (not JSON, not an object). Never throws. */
export function jsonObjectOfLine(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return null;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
