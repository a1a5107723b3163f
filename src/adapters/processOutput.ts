/**
 * What the process adapter makes of a child's output: redaction that survives chunk boundaries,
 * bounded tails, the `"type":"result"` line, the transient-upstream family, and the final
 * `AdapterResult` (spec/API.md "The `process` adapter", RECOVERY.md R5, R35).
 *
 * Memory stays bounded however much a child prints: only tails and one capped line are kept;
 * the full stream goes to `onOutput` and is not retained here.
 */
import { redactJson } from '../domain/redaction.ts';
import { processTexts } from '../domain/texts.ts';
import type { AdapterResult } from '../domain/adapterResult.ts';

export const EXCERPT_MAX_BYTES = 8 * 1024;
export const SUMMARY_MAX_BYTES = 4 * 1024;
/** `resultJson.stdout` / `resultJson.stderr`: raw text for liveness classification (R44). */
export const RESULT_JSON_TAIL_BYTES = 4 * 1024;
/** A result line longer than this is not parsed (its tail still counts as summary text). */
export const MAX_RESULT_LINE_CHARS = 256 * 1024;
/** A partial line is held back for redaction up to this size, then cut at whitespace. */
export const MAX_PENDING_LINE_CHARS = 16 * 1024;
/** A partial line (a prompt, a progress bar) is delivered after this much silence... */
export const IDLE_FLUSH_MS = 50;
/** ...except its last word, which may be the first half of a token still being written. */
export const TRAILING_WORD_FLUSH_MS = 1_000;

/** The last `maxBytes` bytes of `text` in UTF-8, starting on a character boundary. */
export function tailUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}

/** Keeps the end of a growing text; never more than about twice `maxBytes` characters. */
export class TextTail {
  private value = '';
  private dropped = false;

  constructor(private readonly maxBytes: number) {}

  append(text: string): void {
    this.value += text;
    if (this.value.length > 2 * this.maxBytes) {
      this.value = this.value.slice(-this.maxBytes);
      this.dropped = true;
    }
  }

  /** The last `maxBytes` (or fewer) bytes. */
  text(maxBytes = this.maxBytes): string {
    return tailUtf8(this.value, Math.min(maxBytes, this.maxBytes));
  }

  get truncated(): boolean {
    return this.dropped || Buffer.byteLength(this.value, 'utf8') > this.maxBytes;
  }
}

function lastWhitespaceBefore(text: string, end: number): number {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 9 || code === 10 || code === 13) return i;
  }
  return -1;
}

export interface RedactingLineBufferOptions {
  /** Silence after which a partial line goes out, up to its last whitespace. */
  idleFlushMs?: number;
  /** Silence after which a partial line's last word goes out too. */
  trailingWordFlushMs?: number;
  maxPendingChars?: number;
}

/**
 * Redacts a stream line by line, so a secret split across two reads is still one match.
 * Complete lines go out at once. A partial line (a prompt, a progress bar) goes out after a short
 * silence, but its last word waits longer: a token written in two pieces is never shown half.
 * A partial line past `maxPendingChars` is cut at its last whitespace (credentials hold none).
 */
export class RedactingLineBuffer {
  private pending = '';
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly idleFlushMs: number;
  private readonly trailingWordFlushMs: number;
  private readonly maxPendingChars: number;

  constructor(
    private readonly redact: (text: string) => string,
    private readonly emit: (text: string) => void,
    options: RedactingLineBufferOptions = {},
  ) {
    this.idleFlushMs = options.idleFlushMs ?? IDLE_FLUSH_MS;
    this.trailingWordFlushMs = options.trailingWordFlushMs ?? TRAILING_WORD_FLUSH_MS;
    this.maxPendingChars = options.maxPendingChars ?? MAX_PENDING_LINE_CHARS;
  }

  push(text: string): void {
    if (text === '') return;
    this.pending += text;
    const lastNewline = this.pending.lastIndexOf('\n');
    if (lastNewline >= 0) this.emitUpTo(lastNewline + 1);
    while (this.pending.length > this.maxPendingChars) {
      const space = lastWhitespaceBefore(this.pending, this.maxPendingChars);
      this.emitUpTo(space > 0 ? space + 1 : this.maxPendingChars);
    }
    this.schedule(this.idleFlushMs, () => this.flushUpToLastWord());
  }

  /** Emits everything held (the stream ended). */
  flush(): void {
    this.clearTimer();
    this.emitUpTo(this.pending.length);
  }

  private flushUpToLastWord(): void {
    const space = lastWhitespaceBefore(this.pending, this.pending.length);
    if (space >= 0) this.emitUpTo(space + 1);
    this.schedule(this.trailingWordFlushMs, () => this.flush());
  }

  private emitUpTo(end: number): void {
    if (end <= 0) return;
    const text = this.pending.slice(0, end);
    this.pending = this.pending.slice(end);
    this.emit(this.redact(text));
  }

  private schedule(ms: number, action: () => void): void {
    this.clearTimer();
    if (this.pending === '') return;
    this.timer = setTimeout(action, ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The object of a stdout line that parses as JSON with `"type": "result"`, else null. */
export function parseResultLine(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}') || !trimmed.includes('result')) return null;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    return (parsed as Record<string, unknown>).type === 'result' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Follows redacted stdout line by line: remembers the last result line, and the tail of every
 * other line as the fallback summary text. Each complete line also goes to `onLine` (an adapter's
 * stream parser); a line past `MAX_RESULT_LINE_CHARS` is not passed on.
 */
export class StdoutResultTracker {
  constructor(private readonly onLine?: (line: string) => void) {}

  private line = '';
  private lineOverflowed = false;
  private lastResult: Record<string, unknown> | null = null;
  private readonly plainText = new TextTail(EXCERPT_MAX_BYTES);

  push(text: string): void {
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) {
        this.appendToLine(text.slice(start));
        return;
      }
      this.appendToLine(text.slice(start, newline));
      this.finishLine();
      start = newline + 1;
    }
  }

  end(): void {
    if (this.line !== '' || this.lineOverflowed) this.finishLine();
  }

  get resultLine(): Record<string, unknown> | null {
    return this.lastResult;
  }

  /** The last non-empty stdout text outside result lines, at most `SUMMARY_MAX_BYTES`. */
  fallbackSummary(): string | null {
    const text = this.plainText.text().trim();
    if (text === '') return null;
    const tail = tailUtf8(text, SUMMARY_MAX_BYTES);
    if (tail === text) return text;
    // Cut: start at a line boundary when one is near, so the summary does not open mid-word.
    const newline = tail.indexOf('\n');
    const fromLine = newline >= 0 && newline < tail.length / 2 ? tail.slice(newline + 1).trim() : '';
    return fromLine !== '' ? fromLine : tail.trim();
  }

  private appendToLine(part: string): void {
    if (part === '') return;
    this.line += part;
    const limit = this.lineOverflowed ? 2 * EXCERPT_MAX_BYTES : MAX_RESULT_LINE_CHARS;
    if (this.line.length > limit) {
      this.line = this.line.slice(-EXCERPT_MAX_BYTES);
      this.lineOverflowed = true;
    }
  }

  private finishLine(): void {
    const line = this.line.replace(/\r$/, '');
    const overflowed = this.lineOverflowed;
    this.line = '';
    this.lineOverflowed = false;
    if (!overflowed && this.onLine) {
      try {
        this.onLine(line);
      } catch {
        // A parser's bug must not cost the run its output or its result.
      }
    }
    const result = overflowed ? null : parseResultLine(line);
    if (result) this.lastResult = result;
    else this.plainText.append(`${line}\n`);
  }
}

const TRANSIENT_UPSTREAM_PATTERNS: RegExp[] = [
  /\bhigh demand\b/i,
  /\boverloaded(?:_error)?\b/i,
  /\brate[\s_-]?limit(?:ed|s|ing|_error|_exceeded)?\b/i,
  /\btoo many requests\b/i,
  /\bresource[\s_]exhausted\b/i,
  /\bservice unavailable\b/i,
  /\bbad gateway\b/i,
  // A bare "429" could be a count; an HTTP status needs its context word.
  /\b(?:https?(?:\/\d(?:\.\d)?)?|status(?:[\s_-]?code)?|error|code)\s*[:=]?\s*(?:429|502|503)\b/i,
];

/** Whether the text says the upstream model is overloaded or rate-limited (R35's family). */
export function mentionsTransientUpstream(text: string): boolean {
  return TRANSIENT_UPSTREAM_PATTERNS.some((pattern) => pattern.test(text));
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function isoOrNull(value: unknown): string | null {
  const text = nonEmptyString(value);
  if (!text) return null;
  const time = Date.parse(text);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

function lastNonEmptyLine(text: string): string | null {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line !== '') return line.length > 1000 ? `${line.slice(0, 997)}...` : line;
  }
  return null;
}

/** Everything the adapter observed about one finished child; all text already redacted. */
export interface ProcessOutcomeFacts {
  pid: number | null;
  processGroupId: number | null;
  exitCode: number | null;
  signal: string | null;
  /** Why Vigil signalled the group while the leader lived, if it did (the first reason wins). */
  killReason: 'timeout' | 'cancel' | null;
  timedOut: boolean;
  cancelled: boolean;
  timeoutSec: number;
  graceSec: number;
  /** SIGTERM was not enough; the group got SIGKILL. */
  killEscalated: boolean;
  /** The leader exited on its own but left processes in its group, which were terminated. */
  descendantsKilled: boolean;
  /** Some process of the group survived even SIGKILL (stuck in the kernel). */
  processGroupSurvived: boolean;
  /** A process outside the group (it called setsid) still held the output pipes; they were closed. */
  outputStreamsForceClosed: boolean;
  /** Set when the child never started; the message says why. */
  startFailure: string | null;
  stdout: TextTail;
  stderr: TextTail;
  results: StdoutResultTracker;
  /** For the deep redaction of the result line's values. */
  secrets: string[];
  startedAt: Date;
  finishedAt: Date;
}

/** The facts of a process not started yet: nothing seen, nothing signalled. */
export function initialOutcomeFacts(input: { timeoutSec: number; graceSec: number; secrets: string[]; onStdoutLine?: (line: string) => void }): ProcessOutcomeFacts {
  const now = new Date();
  return {
    pid: null,
    processGroupId: null,
    exitCode: null,
    signal: null,
    killReason: null,
    timedOut: false,
    cancelled: false,
    timeoutSec: input.timeoutSec,
    graceSec: input.graceSec,
    killEscalated: false,
    descendantsKilled: false,
    processGroupSurvived: false,
    outputStreamsForceClosed: false,
    startFailure: null,
    stdout: new TextTail(EXCERPT_MAX_BYTES),
    stderr: new TextTail(EXCERPT_MAX_BYTES),
    results: new StdoutResultTracker(input.onStdoutLine),
    secrets: input.secrets,
    startedAt: now,
    finishedAt: now,
  };
}

/** Maps what happened to the `AdapterResult` the caller turns into a run status (R5). */
export function buildAdapterResult(facts: ProcessOutcomeFacts): AdapterResult {
  const rawResultLine = facts.results.resultLine;
  const resultLine = rawResultLine ? redactJson(rawResultLine, facts.secrets) : null;
  const stdoutExcerpt = facts.stdout.text(EXCERPT_MAX_BYTES);
  const stderrExcerpt = facts.stderr.text(EXCERPT_MAX_BYTES);

  const processLost = facts.startFailure === null && facts.killReason === null && facts.signal !== null;
  const exitedNonZero = facts.exitCode !== null && facts.exitCode !== 0;
  const plainFailure = facts.killReason === null && !processLost && (exitedNonZero || facts.startFailure !== null);

  let errorMessage: string | null = null;
  if (facts.startFailure !== null) {
    errorMessage = facts.startFailure;
  } else if (facts.killReason === 'timeout') {
    errorMessage = processTexts.timedOut(facts.timeoutSec);
    if (facts.killEscalated) {
      errorMessage += processTexts.timedOutEscalated(facts.processGroupId, facts.graceSec);
    }
  } else if (facts.killReason === 'cancel') {
    errorMessage = processTexts.cancelled(facts.processGroupId);
    if (facts.killEscalated) errorMessage += processTexts.cancelledEscalated(facts.graceSec);
  } else if (processLost) {
    errorMessage = processTexts.killedBySignal(facts.pid, facts.signal!);
  } else if (exitedNonZero) {
    const detail =
      nonEmptyString(resultLine?.errorMessage) ??
      nonEmptyString(resultLine?.error) ??
      lastNonEmptyLine(stderrExcerpt) ??
      lastNonEmptyLine(stdoutExcerpt);
    errorMessage = processTexts.exitedNonZero(facts.exitCode!, detail);
  }

  let errorFamily: AdapterResult['errorFamily'] = null;
  if (plainFailure && facts.startFailure === null) {
    const explicit = resultLine?.errorFamily === 'transient_upstream';
    const said = [stderrExcerpt, stdoutExcerpt, resultLine?.errorMessage, resultLine?.error, resultLine?.message]
      .filter((text): text is string => typeof text === 'string')
      .some(mentionsTransientUpstream);
    if (explicit || said) errorFamily = 'transient_upstream';
  }

  const resultJson: Record<string, unknown> = {};
  if (resultLine) {
    for (const [key, value] of Object.entries(resultLine)) {
      if (key !== 'type' && key !== 'summary') resultJson[key] = value;
    }
  }
  resultJson.stdout = facts.stdout.text(RESULT_JSON_TAIL_BYTES);
  resultJson.stderr = facts.stderr.text(RESULT_JSON_TAIL_BYTES);
  if (facts.stdout.truncated || facts.stderr.truncated) resultJson.outputTruncated = true;
  if (facts.descendantsKilled) resultJson.descendantsKilled = true;
  if (facts.killEscalated) resultJson.killEscalatedToSigkill = true;
  if (facts.processGroupSurvived) resultJson.processGroupSurvived = true;
  if (facts.outputStreamsForceClosed) resultJson.outputStreamsForceClosed = true;

  return {
    exitCode: facts.exitCode,
    signal: facts.signal,
    timedOut: facts.timedOut,
    cancelled: facts.cancelled,
    processLost,
    summary: nonEmptyString(resultLine?.summary) ?? facts.results.fallbackSummary(),
    resultJson,
    errorMessage,
    errorCode: processLost ? 'process_lost' : plainFailure ? nonEmptyString(resultLine?.errorCode) : null,
    errorFamily,
    retryNotBefore: plainFailure
      ? isoOrNull(resultLine?.retryNotBefore) ?? isoOrNull(resultLine?.transientRetryNotBefore)
      : null,
    stdoutExcerpt,
    stderrExcerpt,
    agentCli: null,
    startedAt: facts.startedAt,
    finishedAt: facts.finishedAt,
  };
}
