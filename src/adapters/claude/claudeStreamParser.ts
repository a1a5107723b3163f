/**
 * Claude Code's `--print --output-format stream-json --verbose` stdout, line by line (as recorded
 * from the real CLI in test/fixtures/transcripts/claude-*.ndjson):
 *
 * - `system/init`: the session id and model. `system/api_retry`: one line per retried upstream call
 *   (`attempt`, `max_retries`, `error_status`, `error`), shown as a system event.
 * - `assistant`: content blocks (`text`, `tool_use`, `thinking`), shown as they come. A failed API
 *   call is a synthetic assistant line (`is_api_error_message`, `error`: the CLI's category such as
 *   `rate_limit`/`authentication_failed`/`model_not_found`, `api_error_status`, `api_error_type`).
 * - `user`: tool results, not shown (the tool call was).
 * - `result`: the ending. `is_error` decides, not `subtype`: an API error ends with `subtype:"success"`,
 *   `is_error:true`. A resume of an unknown session ends with ONLY a result (`error_during_execution`,
 *   `errors:["No conversation found with session ID: …"]`, `num_turns:0`).
 *
 * Usage (provider `anthropic`) is the result's: `usage` counts this invocation; `total_cost_usd`
 * counts the whole session (a resumed run's cost is reduced to the run by src/domain/sessionUsage.ts).
 * inputTokens = `input_tokens + cache_creation_input_tokens` (cache writes are billed as input),
 * cachedInputTokens = `cache_read_input_tokens`.
 *
 * Memory: only the report's fields are kept, the answer capped at 64 KiB. Lines that are not JSON,
 * and types this parser does not know, are ignored; nothing here throws.
 */
import {
  capText,
  emptyStreamReport,
  ERROR_MESSAGE_MAX_BYTES,
  FINAL_ANSWER_MAX_BYTES,
  jsonObjectOfLine,
  STREAM_MESSAGE_MAX_BYTES,
  type AgentStreamMessage,
  type AgentStreamParser,
  type AgentStreamReport,
  type AgentUsage,
} from '../agentStream.ts';
import { agentStreamTexts } from '../../domain/agentFailureTexts.ts';

type Json = Record<string, unknown>;

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const obj = (value: unknown): Json | null => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null);
const tokens = (value: unknown): number => Math.max(0, Math.round(num(value) ?? 0));

/** The model Claude Code names for its own error messages: not a model that ran. */
const SYNTHETIC_MODEL = '<synthetic>';

/** The input field that says what a tool call does, for the common tools. */
const TOOL_SUBJECT_KEYS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt'];
const TOOL_SUBJECT_MAX_CHARS = 300;

function describeToolUse(name: string, input: unknown): string {
  const fields = obj(input);
  if (!fields) return name;
  for (const key of TOOL_SUBJECT_KEYS) {
    const value = str(fields[key]);
    if (value) return `${name} ${value.length > TOOL_SUBJECT_MAX_CHARS ? `${value.slice(0, TOOL_SUBJECT_MAX_CHARS - 1)}…` : value}`;
  }
  const json = JSON.stringify(fields);
  return `${name} ${json.length > TOOL_SUBJECT_MAX_CHARS ? `${json.slice(0, TOOL_SUBJECT_MAX_CHARS - 1)}…` : json}`;
}

export class ClaudeStreamParser implements AgentStreamParser {
  private readonly state: AgentStreamReport = emptyStreamReport();
  /** An init or assistant line was seen: the session exists (a rejected resume prints neither). */
  private conversationStarted = false;
  /** The last synthetic error line, for a stream that ends without a result. */
  private lastApiError: { httpStatus: number | null; type: string | null; category: string | null; text: string | null } | null = null;
  private refused = false;

  line(line: string): AgentStreamMessage[] {
    const event = jsonObjectOfLine(line);
    if (!event) return [];
    switch (event.type) {
      case 'system':
        return this.system(event);
      case 'assistant':
        return this.assistant(event);
      case 'result':
        this.result(event);
        return [];
      default:
        // `user` (tool results), `stream_event`, and whatever a later CLI adds.
        return [];
    }
  }

  report(): AgentStreamReport {
    const report: AgentStreamReport = { ...this.state, error: { ...this.state.error } };
    if (this.refused) report.error.refusal = true;
    // No result line (the CLI died or was stopped): what the last failed call said is all there is.
    if (report.error.message === null && this.lastApiError) {
      report.error.httpStatus ??= this.lastApiError.httpStatus;
      report.error.type ??= this.lastApiError.type;
      report.error.category ??= this.lastApiError.category;
      report.error.message = this.lastApiError.text;
    }
    return report;
  }

  private system(event: Json): AgentStreamMessage[] {
    switch (event.subtype) {
      case 'init': {
        const sessionId = str(event.session_id);
        const model = str(event.model);
        if (sessionId) this.state.sessionId = sessionId;
        if (model) this.state.model = model;
        this.conversationStarted = true;
        return sessionId ? [{ kind: 'system', text: agentStreamTexts.claudeSessionStarted(sessionId, model) }] : [];
      }
      case 'api_retry':
        return [
          {
            kind: 'system',
            text: agentStreamTexts.upstreamRetry(num(event.error_status), str(event.error), num(event.attempt), num(event.max_retries)),
          },
        ];
      case 'model_refusal_no_fallback':
        this.refused = true;
        return [{ kind: 'error', text: agentStreamTexts.refusalNoFallback }];
      default:
        return [];
    }
  }

  private assistant(event: Json): AgentStreamMessage[] {
    this.conversationStarted = true;
    this.state.sessionId ??= str(event.session_id);
    const message = obj(event.message);
    const model = str(message?.model);
    if (model && model !== SYNTHETIC_MODEL) this.state.model ??= model;
    if (message?.stop_reason === 'refusal') this.refused = true;

    const isApiError = event.is_api_error_message === true || str(event.error) !== null;
    const texts: string[] = [];
    const messages: AgentStreamMessage[] = [];
    const content = Array.isArray(message?.content) ? message.content : [];
    for (const raw of content) {
      const block = obj(raw);
      if (!block) continue;
      if (block.type === 'text') {
        const text = str(block.text);
        if (!text) continue;
        texts.push(text);
        messages.push({ kind: isApiError ? 'error' : 'assistant_text', text: capText(text, STREAM_MESSAGE_MAX_BYTES) });
      } else if (block.type === 'tool_use') {
        messages.push({ kind: 'tool_use', text: describeToolUse(str(block.name) ?? 'tool', block.input) });
      } else if (block.type === 'thinking') {
        const thinking = str(block.thinking);
        if (thinking) messages.push({ kind: 'reasoning', text: capText(thinking, STREAM_MESSAGE_MAX_BYTES) });
      }
    }
    if (isApiError) {
      this.lastApiError = {
        httpStatus: num(event.api_error_status),
        type: str(event.api_error_type),
        category: str(event.error),
        text: texts.length > 0 ? capText(texts.join('\n'), ERROR_MESSAGE_MAX_BYTES) : null,
      };
    }
    return messages;
  }

  private result(event: Json): void {
    const state = this.state;
    const numTurns = num(event.num_turns);
    // A result alone (no init, no turn) names the session the CLI was asked for, not one it has.
    if (this.conversationStarted || (numTurns ?? 0) > 0) state.sessionId ??= str(event.session_id);
    state.numTurns = numTurns;

    const subtype = str(event.subtype);
    const isError = event.is_error === true || (subtype !== null && subtype !== 'success');
    state.isError = isError;
    const resultText = typeof event.result === 'string' ? event.result : null;
    const errors = Array.isArray(event.errors) ? event.errors.filter((e): e is string => typeof e === 'string' && e !== '') : [];
    if (isError) {
      state.finalAnswer = null;
      const message = resultText && resultText.trim() !== '' ? resultText : errors.length > 0 ? errors.join('; ') : this.lastApiError?.text ?? null;
      state.error = {
        httpStatus: num(event.api_error_status) ?? this.lastApiError?.httpStatus ?? null,
        subtype,
        message: message !== null ? capText(message, ERROR_MESSAGE_MAX_BYTES) : null,
        type: str(event.api_error_type) ?? this.lastApiError?.type ?? null,
        category: this.lastApiError?.category ?? null,
        terminalReason: str(event.terminal_reason),
      };
    } else {
      state.finalAnswer = resultText !== null && resultText.trim() !== '' ? capText(resultText, FINAL_ANSWER_MAX_BYTES) : null;
      state.error = { httpStatus: null, subtype, message: null, terminalReason: str(event.terminal_reason) };
      this.lastApiError = null;
    }
    if (event.stop_reason === 'refusal') this.refused = true;

    const modelUsage = obj(event.modelUsage);
    const modelFromUsage = modelUsage ? Object.keys(modelUsage).find((name) => name !== SYNTHETIC_MODEL) ?? null : null;
    state.model ??= modelFromUsage;
    const usage = obj(event.usage);
    if (usage) state.usage = this.usageOf(usage, event.total_cost_usd);
  }

  private usageOf(usage: Json, totalCostUsd: unknown): AgentUsage {
    return {
      provider: 'anthropic',
      model: this.state.model,
      inputTokens: tokens(usage.input_tokens) + tokens(usage.cache_creation_input_tokens),
      cachedInputTokens: tokens(usage.cache_read_input_tokens),
      outputTokens: tokens(usage.output_tokens),
      costUsd: num(totalCostUsd),
    };
  }
}

export function createClaudeStreamParser(): ClaudeStreamParser {
  return new ClaudeStreamParser();
}
