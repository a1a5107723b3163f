/**
 * Structured JSON logs, one object per line, with secrets redacted from every field.
 *
 * Fields may hold anything: errors become `{ name, message, code?, stack?, cause? }`, class
 * instances their own fields, bigints strings, cycles `[Circular]` — then every string goes
 * through `redactJson` (secret-named keys lose their values whole), so a secret in a nested
 * object, an error's message or its stack never reaches a line. A logger never throws.
 */
import { redactJson, redactSecrets } from './domain/redaction.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Whether a line at this level would be written (lets a wrapper skip work for dropped lines). */
  enabled?(level: LogLevel): boolean;
}

const MAX_DEPTH = 16;
const MAX_STACK_CHARS = 4_000;

/** A JSON-shaped copy of a log field value (before redaction). */
function loggable(value: unknown, ancestors: object[], depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.includes(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  const inner = [...ancestors, value];
  const next = (item: unknown) => loggable(item, inner, depth + 1);
  if (Array.isArray(value)) return value.map(next);
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [String(key), next(item)]));
  if (value instanceof Set) return [...value].map(next);
  const out: Record<string, unknown> = {};
  if (value instanceof Error) {
    out.name = value.name;
    out.message = value.message;
    if (value.stack) out.stack = value.stack.slice(0, MAX_STACK_CHARS);
    if (value.cause !== undefined) out.cause = next(value.cause);
  }
  for (const [key, item] of Object.entries(value)) {
    const copied = next(item);
    if (copied !== undefined) out[key] = copied;
  }
  return out;
}

/** Log fields as plain JSON with every secret redacted. */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  return redactJson(loggable(fields, [], 0) as Record<string, unknown>);
}

export function createLogger(
  level: LogLevel = 'info',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const safeBase = redactLogFields(base);
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    try {
      const entry = { ts: new Date().toISOString(), level: at, msg: redactSecrets(String(message)), ...safeBase, ...(fields ? redactLogFields(fields) : {}) };
      write(JSON.stringify(entry));
    } catch {
      // Logging must never take the caller down (a closed stream, a getter that throws).
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
    enabled: (at) => ORDER[at] >= ORDER[level],
  };
}
