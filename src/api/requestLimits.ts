/**
 * What the API accepts of any request, whatever the route: the body size, no NUL characters in
 * any text, the integer range of a PostgreSQL `integer` column, and the bounds of free-form JSON.
 * Route schemas import these; the route layer (src/api/openapi/route.ts) applies the NUL check to
 * every request part, so no field can forget it.
 */

/** express.json's limit (API.md: bodies over 1 MiB get 413). */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/**
 * Free-form JSON (an agent's `adapterConfig`, a wakeup `payload`, an environment `config`) nests
 * at most this deep: `{}` is one level, `{"a":[1]}` two. Real configs and payloads are a handful of
 * levels; the bound keeps every recursive walk over stored JSON (redaction, serialization) far
 * from the stack's limit.
 */
export const FREE_FORM_JSON_MAX_DEPTH = 32;

/**
 * …and serializes to at most this many bytes (UTF-8). Configs and payloads are a few hundred
 * bytes; 64 KiB leaves room for a long `env` or `args`, while every read of an agent, every run
 * context and every live event carries these values again, so they stay small.
 */
export const FREE_FORM_JSON_MAX_BYTES = 64 * 1024;

/** PostgreSQL `integer` (int4), the type of every integer column a request writes or compares. */
export const INT4_MIN = -2_147_483_648;
export const INT4_MAX = 2_147_483_647;

export type JsonPath = Array<string | number>;

export const NUL_MESSAGE = 'must not contain NUL (U+0000) characters';
export const LONE_SURROGATE_MESSAGE = 'must be valid Unicode: it holds half of a surrogate pair (an escape such as \\ud800 alone)';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why PostgreSQL could not store this text as sent, or null: it refuses NUL, and UTF-8 has no lone surrogates (they would be stored altered). */
function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return NUL_MESSAGE;
  if (LONE_SURROGATE.test(text)) return LONE_SURROGATE_MESSAGE;
  return null;
}

/**
 * The first string (value or object key) of a parsed request part that could not be stored as
 * sent — a NUL character, or a lone surrogate from a JSON escape — with where it sits, or null.
 * Walks iteratively: a request part may nest as deep as its size allows.
 */
export function findUnstorableText(value: unknown): { path: JsonPath; message: string } | null {
  const stack: Array<{ value: unknown; path: JsonPath }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      const message = textProblem(current);
      if (message) return { path, message };
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], path: [...path, index] });
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current);
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, item] = entries[index];
        const message = textProblem(key);
        if (message) return { path: [...path, key], message };
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return null;
}

/** How deep a JSON value nests (scalars 0, `{}` and `[]` 1), counted without recursion, up to `stopAbove + 1`. */
export function jsonDepth(value: unknown, stopAbove: number): number {
  let deepest = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > stopAbove) return deepest;
    for (const item of Object.values(current)) stack.push({ value: item, depth: level });
  }
  return deepest;
}

/** Why a free-form JSON value is out of bounds, or null when it is within them. */
export function freeFormJsonProblem(value: unknown): string | null {
  if (jsonDepth(value, FREE_FORM_JSON_MAX_DEPTH) > FREE_FORM_JSON_MAX_DEPTH) return `must not nest deeper than ${FREE_FORM_JSON_MAX_DEPTH} levels`;
  if (Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') > FREE_FORM_JSON_MAX_BYTES) return `must not be larger than ${FREE_FORM_JSON_MAX_BYTES / 1024} KiB as JSON`;
  return null;
}
