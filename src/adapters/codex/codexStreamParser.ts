/**
 * Codex's `exec --json` stdout, line by line (as recorded from the real CLI in
 * test/fixtures/transcripts/codex-*.ndjson):
 *
 * - `thread.started` (`thread_id`: the session), `turn.started`;
 * - `item.started` / `item.updated` / `item.completed` with an `item` of type `agent_message`,
 *   `reasoning`, `command_execution`, `file_change`, `mcp_tool_call`, `web_search`, `todo_list` or
 *   `error`. Items are shown once, when they complete (a command also when it starts: it may run
 *   long). The last agent message is the final answer. An `error` ITEM is a warning (e.g. "Model
 *   metadata for `x` not found. Defaulting to fallback metadata"), never the run's failure;
 * - `turn.completed` with `usage`: the THREAD's totals so far (after `exec resume` they include
 *   the earlier runs' turns), so the last one wins — they are not added up;
 * - `turn.failed` (`error.message`) and top-level `error` (`message`). "Reconnecting... n/m (…)" is
 *   Codex retrying on its own, shown but not terminal. Any other `error` not followed by a completed
 *   turn is terminal. An HTTP status in the text ("unexpected status 429 Too Many Requests: …",
 *   "exceeded retry limit, last status: 503 …") becomes `httpStatus`.
 *
 * Codex names no model in the stream and reports no money: the model is the configured one, else
 * Codex's built-in default; `costUsd` is null (Vigil estimates it, src/domain/modelPrices.ts).
 * `output_tokens` already includes `reasoning_output_tokens`; `cache_write_input_tokens` are part
 * of `input_tokens`.
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
} from '../agentStream.ts';
import { httpStatusInText } from '../../domain/agentFailure.ts';
import { agentStreamTexts } from '../../domain/agentFailureTexts.ts';

/**
 * The model `codex exec` 0.171.0 runs when none is configured (its header: `model: gpt-6.2-sol`).
 * A `model` in the agent's CODEX_HOME/config.toml would override it; Vigil writes none.
 */
export const CODEX_DEFAULT_MODEL = 'gpt-6.2-sol';

type Json = Record<string, unknown>;

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const obj = (value: unknown): Json | null => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null);
const tokens = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.round(value)) : 0);

/** Codex's own retry notice: not an ending. */
const RECONNECTING = /^\s*Reconnecting\.\.\./i;
const SUBJECT_MAX_CHARS = 300;
const short = (text: string) => (text.length > SUBJECT_MAX_CHARS ? `${text.slice(0, SUBJECT_MAX_CHARS - 1)}…` : text);

export interface CodexStreamParserOptions {
  /** The agent's configured model (`--model`); null = Codex's default. */
  model: string | null;
}

export class CodexStreamParser implements AgentStreamParser {
  private readonly state: AgentStreamReport = emptyStreamReport();
  private readonly usageModel: string;
  /** Commands shown when they started, not shown again when they complete. */
  private readonly shownAtStart = new Set<string>();
  private completedTurns = 0;
  /** A top-level `error` that no completed turn has followed yet. */
  private pendingError: string | null = null;
  /** The last "Reconnecting..." notice: the only clue when Codex is stopped while retrying. */
  private lastReconnect: string | null = null;

  constructor(options: CodexStreamParserOptions) {
    this.usageModel = options.model ?? CODEX_DEFAULT_MODEL;
  }

  line(line: string): AgentStreamMessage[] {
    const event = jsonObjectOfLine(line);
    if (!event) return [];
    switch (event.type) {
      case 'thread.started': {
        const threadId = str(event.thread_id);
        if (!threadId) return [];
        this.state.sessionId = threadId;
        return [{ kind: 'system', text: agentStreamTexts.codexThreadStarted(threadId) }];
      }
      case 'item.started':
        return this.itemStarted(obj(event.item));
      case 'item.completed':
        return this.itemCompleted(obj(event.item));
      case 'turn.completed':
        this.turnCompleted(obj(event.usage));
        return [];
      case 'turn.failed':
        return this.fail(str(obj(event.error)?.message) ?? 'turn failed');
      case 'error':
        return this.error(str(event.message) ?? 'error');
      default:
        // `turn.started`, `item.updated` (partial text, shown once complete), and whatever a later CLI adds.
        return [];
    }
  }

  report(): AgentStreamReport {
    const report: AgentStreamReport = { ...this.state, error: { ...this.state.error } };
    if (!report.isError && this.pendingError !== null) {
      report.isError = true;
      report.error = { httpStatus: httpStatusInText(this.pendingError), subtype: 'error', message: capText(this.pendingError, ERROR_MESSAGE_MAX_BYTES) };
    } else if (!report.isError && report.error.message === null && this.lastReconnect !== null && this.completedTurns === 0) {
      // Not an error result: the classifier reads it only if the process failed.
      report.error = { httpStatus: httpStatusInText(this.lastReconnect), subtype: null, message: capText(this.lastReconnect, ERROR_MESSAGE_MAX_BYTES) };
    }
    report.numTurns = this.completedTurns > 0 ? this.completedTurns : null;
    return report;
  }

  private itemStarted(item: Json | null): AgentStreamMessage[] {
    if (!item || item.type !== 'command_execution') return [];
    const command = str(item.command);
    const id = str(item.id);
    if (!command) return [];
    if (id) this.shownAtStart.add(id);
    return [{ kind: 'tool_use', text: `$ ${short(command)}` }];
  }

  private itemCompleted(item: Json | null): AgentStreamMessage[] {
    if (!item) return [];
    const id = str(item.id);
    switch (item.type) {
      case 'agent_message': {
        const text = str(item.text);
        if (!text) return [];
        this.state.finalAnswer = capText(text, FINAL_ANSWER_MAX_BYTES);
        return [{ kind: 'assistant_text', text: capText(text, STREAM_MESSAGE_MAX_BYTES) }];
      }
      case 'reasoning': {
        const text = str(item.text);
        return text ? [{ kind: 'reasoning', text: capText(text, STREAM_MESSAGE_MAX_BYTES) }] : [];
      }
      case 'command_execution': {
        const wasShown = id !== null && this.shownAtStart.delete(id);
        const command = str(item.command);
        const exitCode = typeof item.exit_code === 'number' ? item.exit_code : null;
        if (wasShown && (exitCode === null || exitCode === 0)) return [];
        if (!command) return [];
        return [{ kind: 'tool_use', text: `$ ${short(command)}${exitCode !== null && exitCode !== 0 ? ` (exit ${exitCode})` : ''}` }];
      }
      case 'file_change': {
        const changes = Array.isArray(item.changes) ? item.changes.map(obj).filter((c): c is Json => c !== null) : [];
        const paths = changes.map((change) => `${str(change.kind) ?? 'change'} ${str(change.path) ?? '?'}`);
        return [{ kind: 'tool_use', text: short(`files: ${paths.join(', ') || 'changed'}`) }];
      }
      case 'mcp_tool_call': {
        const name = [str(item.server), str(item.tool)].filter(Boolean).join('.');
        return [{ kind: 'tool_use', text: short(`mcp ${name || 'tool call'}`) }];
      }
      case 'web_search': {
        return [{ kind: 'tool_use', text: short(`web search ${str(item.query) ?? ''}`.trim()) }];
      }
      case 'todo_list': {
        const entries = Array.isArray(item.items) ? item.items.map(obj).filter((e): e is Json => e !== null) : [];
        const list = entries.map((entry) => `[${entry.completed === true ? 'x' : ' '}] ${str(entry.text) ?? ''}`).join('; ');
        return list ? [{ kind: 'tool_use', text: short(`plan: ${list}`) }] : [];
      }
      case 'error': {
        // A warning item: shown, never the run's ending.
        const message = str(item.message);
        return message ? [{ kind: 'error', text: capText(message, STREAM_MESSAGE_MAX_BYTES) }] : [];
      }
      default:
        return [];
    }
  }

  private turnCompleted(usage: Json | null): void {
    this.completedTurns++;
    this.pendingError = null;
    this.lastReconnect = null;
    if (!usage) return;
    this.state.usage = {
      provider: 'openai',
      model: this.usageModel,
      inputTokens: tokens(usage.input_tokens),
      cachedInputTokens: tokens(usage.cached_input_tokens),
      outputTokens: tokens(usage.output_tokens),
      costUsd: null,
    };
  }

  private error(message: string): AgentStreamMessage[] {
    if (RECONNECTING.test(message)) {
      this.lastReconnect = message;
      return [{ kind: 'system', text: capText(message, STREAM_MESSAGE_MAX_BYTES) }];
    }
    this.pendingError = message;
    return [{ kind: 'error', text: capText(message, STREAM_MESSAGE_MAX_BYTES) }];
  }

  private fail(message: string): AgentStreamMessage[] {
    // Codex prints the same text as an `error` first; shown once.
    const alreadyShown = this.pendingError === message;
    this.state.isError = true;
    this.pendingError = null;
    this.state.error = { httpStatus: httpStatusInText(message), subtype: 'turn.failed', message: capText(message, ERROR_MESSAGE_MAX_BYTES) };
    return alreadyShown ? [] : [{ kind: 'error', text: capText(agentStreamTexts.codexTurnFailed(message), STREAM_MESSAGE_MAX_BYTES) }];
  }
}

export function createCodexStreamParser(options: CodexStreamParserOptions = { model: null }): CodexStreamParser {
  return new CodexStreamParser(options);
}
