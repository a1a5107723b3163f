/**
 * Secret redaction for every text Vigil stores or shows: run output, error text, result JSON.
 * Pure (no Node imports), so workflows may import it too.
 *
 * Invariant (ARCHITECTURE.md): no run token, `Bearer …` credential or API key reaches issue text,
 * comments, events, logs or search attributes. Patterns lean towards redacting too much inside
 * credential-shaped text and never touch ordinary prose ("the token bucket", "skip").
 */

export const REDACTED = '[REDACTED]';

/** Shorter exact secrets would erase ordinary words from the output. */
export const MIN_EXACT_SECRET_LENGTH = 8;

type Replacer = (match: string, ...groups: string[]) => string;

interface RedactionRule {
  name: string;
  pattern: RegExp;
  replace: string | Replacer;
}

/** A bearer-ish value is a credential when it is long and not a plain word ("Bearer instrument"). */
function looksLikeCredential(value: string): boolean {
  if (value.length < 8) return false;
  return /[0-9._~+/=-]/.test(value) || value.length >= 20;
}

/** Values after `key:` that are ordinary words stay; `key=` always hides its value. */
function shouldRedactAssignedValue(separator: string, quoted: boolean, value: string): boolean {
  if (value === '' || value === REDACTED) return false;
  if (/^(?:null|undefined|none|true|false)$/i.test(value)) return false;
  if (separator === '=' || quoted) return true;
  return /[^A-Za-z]/.test(value) || value.length >= 12;
}

const SECRET_KEY_WORD = String.raw`(?:api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|secret|token|password|passwd|passphrase)`;

const RULES: RedactionRule[] = [
  {
    name: 'pem-private-key',
    pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g,
    replace: (_m, kind) => `-----BEGIN ${kind}PRIVATE KEY-----${REDACTED}-----END ${kind}PRIVATE KEY-----`,
  },
  {
    // postgres://user:password@host — keep the user and host, hide the password.
    name: 'url-userinfo',
    pattern: /\b([a-z][a-z0-9+.-]{0,30}:\/\/[^\s:@/]{1,256}:)([^\s@/]{1,256})@/gi,
    replace: (m, prefix, password) => (password === REDACTED ? m : `${prefix}${REDACTED}@`),
  },
  {
    name: 'authorization-basic',
    pattern: /\b(authorization["']?\s*[:=]\s*["']?)(basic|token)(\s+)([A-Za-z0-9+/=._~-]+)/gi,
    replace: (_m, prefix, scheme, space) => `${prefix}${scheme}${space}${REDACTED}`,
  },
  {
    name: 'bearer',
    pattern: /\b(bearer)(\s+)([\w.~+/-]+=*)/gi,
    replace: (m, word, space, token) => (looksLikeCredential(token) ? `${word}${space}${REDACTED}` : m),
  },
  // Vigil's own credentials: run tokens vgr_<runId>.<hmac>, board keys vgb_…, the admin token vga_….
  { name: 'vigil-token', pattern: /\bvg[rba]_[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+)*/g, replace: REDACTED },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replace: REDACTED },
  // OpenAI / Anthropic (sk-ant-…) keys.
  { name: 'sk-key', pattern: /\bsk-[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  // Stripe-style secret and restricted keys (sk_live_…, rk_test_…); publishable pk_ keys are public.
  { name: 'live-test-key', pattern: /\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}/g, replace: REDACTED },
  { name: 'github-token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, replace: REDACTED },
  { name: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, replace: REDACTED },
  { name: 'aws-access-key-id', pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, replace: REDACTED },
  { name: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g, replace: REDACTED },
  {
    // --token abc, --api-key abc (the `--token=abc` form is a key-value pair below).
    name: 'cli-flag',
    pattern: new RegExp(String.raw`(?<=--[\w-]{0,64})(${SECRET_KEY_WORD})(\s+)(?!-)([^\s"']+)`, 'gi'),
    replace: (m, key, space, value) => (value.startsWith(REDACTED) ? m : `${key}${space}${REDACTED}`),
  },
  // The key-value rules match from the key word on (a prefix such as GITHUB_ or client_ stays
  // as it is): anchoring on a literal word keeps them linear on long dotted or dashed lines.
  {
    // "password": "two words", 'token': '…', JSON inside JSON strings (\"token\":\"…\"), and a
    // quoted value cut off by the end of the text.
    name: 'key-quoted-value',
    pattern: new RegExp(
      String.raw`(${SECRET_KEY_WORD})(\\?["']?)(\s*)([:=])(\s*)(?:(")((?:[^"\\\n]|\\.)*)("|$)|(\\")((?:[^"\\\n]|\\(?!"))*)(\\"|$)|(')([^'\n]*)('|$))`,
      'gim',
    ),
    replace: (m, key, keyQuote, space1, separator, space2, ...quoted: string[]) => {
      // Three alternatives of (open, value, close): "…", \"…\" (JSON inside a JSON string), '…'.
      const at = [0, 3, 6].find((i) => quoted[i] !== undefined) ?? 0;
      const [open, value, close] = [quoted[at], quoted[at + 1], quoted[at + 2]];
      return shouldRedactAssignedValue(separator, true, value)
        ? `${key}${keyQuote}${space1}${separator}${space2}${open}${REDACTED}${close}`
        : m;
    },
  },
  {
    // api_key=…, GITHUB_TOKEN=…, apiKey: … — keep the key, hide the value.
    name: 'key-value',
    pattern: new RegExp(
      String.raw`(${SECRET_KEY_WORD})(\\?["']?)(\s*)([:=])(\s*)(?!\\?["'])([^\s"'\\&,;<>]*)`,
      'gi',
    ),
    replace: (m, key, keyQuote, space1, separator, space2, value) => {
      // Sentence punctuation is not part of the value: "Token: expired." is prose.
      if (value.startsWith(REDACTED)) return m;
      const core = value.replace(/[.!?:)\]}]+$/, '');
      return shouldRedactAssignedValue(separator, false, core)
        ? `${key}${keyQuote}${space1}${separator}${space2}${REDACTED}${value.slice(core.length)}`
        : m;
    },
  },
];

function normalizeSecrets(extraSecrets: readonly string[] | undefined): string[] {
  if (!extraSecrets || extraSecrets.length === 0) return [];
  const unique = new Set<string>();
  for (const secret of extraSecrets) {
    if (typeof secret === 'string' && secret.length >= MIN_EXACT_SECRET_LENGTH) unique.add(secret);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...unique].sort((a, b) => b.length - a.length);
}

/**
 * Replaces credentials in free text: every exact string in `extraSecrets` (at least 8 characters),
 * `Bearer <token>` (the word stays), Vigil tokens, common API-key shapes, and the values of
 * secret-named key-value pairs (the key stays). Idempotent.
 */
export function redactSecrets(text: string, extraSecrets?: readonly string[]): string {
  if (typeof text !== 'string' || text === '') return text;
  let out = text;
  for (const secret of normalizeSecrets(extraSecrets)) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const rule of RULES) {
    rule.pattern.lastIndex = 0;
    out = typeof rule.replace === 'string'
      ? out.replace(rule.pattern, rule.replace)
      : out.replace(rule.pattern, rule.replace as (substring: string, ...args: any[]) => string);
  }
  return out;
}

/**
 * Keys whose values are dropped whole in JSON: `token`, `accessToken`, `client_secret`, `apiKey`,
 * `authorization`, `password`, … but not counters such as `input_tokens` or `tokenCount`.
 */
const SENSITIVE_JSON_KEY = /(?:api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|secret|token|password|passwd|passphrase|authorization|cookie|credentials?)$/i;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_JSON_KEY.test(key);
}

const MAX_JSON_DEPTH = 64;

function redactValue(value: unknown, secrets: string[], depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // Date and friends: not JSON text
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const safeKey = redactSecrets(key, secrets);
    const keepsNoSecret = item === null || item === undefined || typeof item === 'boolean';
    out[safeKey] = isSensitiveKey(key) && !keepsNoSecret ? REDACTED : redactValue(item, secrets, depth + 1);
  }
  return out;
}

/**
 * Deep-redacts a JSON value: every string goes through `redactSecrets`, and the values of
 * secret-named keys are replaced by `[REDACTED]` (null and booleans stay: they hold no secret).
 */
export function redactJson<T>(value: T, extraSecrets?: readonly string[]): T {
  return redactValue(value, normalizeSecrets(extraSecrets), 0) as T;
}
