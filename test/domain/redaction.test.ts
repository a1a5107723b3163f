import { describe, expect, it } from 'vitest';
import { isSensitiveKey, redactJson, redactSecrets, REDACTED } from '../../src/domain/redaction.ts';

const RUN_TOKEN = 'vgr_123e4567-e89b-12d3-a456-426614174000.Zm9vYmFyLXNpZ25hdHVyZS1oZXJl';

describe('redactSecrets', () => {
  it.each([
    ['Authorization: Bearer abc123def456', 'Authorization: Bearer [REDACTED]'],
    ['curl -H "authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"', 'curl -H "authorization: bearer [REDACTED]"'],
    [`token ${RUN_TOKEN} used`, 'token [REDACTED] used'],
    ['board vgb_AAAABBBBCCCCdddd_-99 admin vga_zzzzzzzzzzzzzzzz', 'board [REDACTED] admin [REDACTED]'],
    ['key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-xyz', 'key [REDACTED]'],
    ['OPENAI sk-proj-abcdefghijklmnop1234', 'OPENAI [REDACTED]'],
    ['stripe sk_live_51HabcDEF123ghi and rk_test_abcdef0123456', 'stripe [REDACTED] and [REDACTED]'],
    ['upstream said: Bearer sk-live-4f9c2b7e1d8a6035 rejected', 'upstream said: Bearer [REDACTED] rejected'],
    ['VIGIL_API_KEY=vgr_0123456789abcdef.sig', 'VIGIL_API_KEY=[REDACTED]'],
    ['x-api-key: 0123abcd4567ef', 'x-api-key: [REDACTED]'],
    ['gh ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'gh [REDACTED]'],
    ['slack xoxb-1234567890-0987654321-abcdef and xoxp-1234567890-abc', 'slack [REDACTED] and [REDACTED]'],
    ['aws AKIAIOSFODNN7EXAMPLE', 'aws [REDACTED]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N', 'jwt [REDACTED]'],
    ['https://api.example.com/x?api_key=abc123&page=2', 'https://api.example.com/x?api_key=[REDACTED]&page=2'],
    ['token=xyz password=hunter2', 'token=[REDACTED] password=[REDACTED]'],
    ['apiKey: AbC123xYz', 'apiKey: [REDACTED]'],
    ['GITHUB_TOKEN=foo ANTHROPIC_API_KEY=bar', 'GITHUB_TOKEN=[REDACTED] ANTHROPIC_API_KEY=[REDACTED]'],
    ['{"password": "two words", "api_key":"k"}', '{"password": "[REDACTED]", "api_key":"[REDACTED]"}'],
    ['VIGIL_CONTEXT={\\"token\\":\\"abc def\\"}', 'VIGIL_CONTEXT={\\"token\\":\\"[REDACTED]\\"}'],
    ["secret: 'single quoted'", "secret: '[REDACTED]'"],
    ['{"token": "cut off by the end of a read', '{"token": "[REDACTED]'],
    ['token: "cut at the line end\nnext "line"', 'token: "[REDACTED]\nnext "line"'],
    ['{"token": "with \\"escaped\\" quotes", "n": 1}', '{"token": "[REDACTED]", "n": 1}'],
    ['agent --token abc123 --api-key=zzz --verbose', 'agent --token [REDACTED] --api-key=[REDACTED] --verbose'],
    ['postgres://vigil:s3cret@localhost:5432/vigil', 'postgres://vigil:[REDACTED]@localhost:5432/vigil'],
    ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic [REDACTED]'],
    [
      '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----',
      '-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----',
    ],
  ])('redacts %s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it.each([
    'the token bucket refills every second',
    'skip the flaky test; ask the bearer of bad news',
    'Bearer authentication is configured in the gateway',
    'input_tokens=1234 output_tokens: 99 max_tokens=4096',
    'Set a password: choose wisely. Token: expired.',
    'risk-assessment and task-management are done',
    'sk-learn is a library',
    'ghp is short; AKIA is a prefix',
    'see https://example.com/path for the docs',
    'the secret sauce: patience',
    'Fixed 3 issues in src/auth/tokens.ts',
  ])('leaves prose alone: %s', (text) => {
    expect(redactSecrets(text)).toBe(text);
  });

  it('replaces every exact extra secret of 8 characters or more, longest first', () => {
    const text = 'a plainsecret and plainsecret-extended and short';
    expect(redactSecrets(text, ['plainsecret', 'plainsecret-extended', 'short'])).toBe('a [REDACTED] and [REDACTED] and short');
  });

  it('is idempotent', () => {
    const once = redactSecrets(`Authorization: Bearer ${RUN_TOKEN} token=abc password: "x y"`);
    expect(redactSecrets(once)).toBe(once);
    expect(once).not.toContain('abc');
  });

  it('handles empty and odd input', () => {
    expect(redactSecrets('')).toBe('');
    expect(redactSecrets('token=', [])).toBe('token=');
    expect(redactSecrets('token=null')).toBe('token=null');
  });
});

describe('redactJson', () => {
  it('redacts strings deeply and drops the values of secret-named keys', () => {
    const value = {
      summary: `used ${RUN_TOKEN}`,
      nested: [{ text: 'Bearer abcdefgh1234' }, 42, null, true],
      accessToken: 'opaque',
      client_secret: { any: 'shape' },
      Authorization: 'Basic x',
      password: 1234,
      VIGIL_API_KEY: 'whatever',
      usage: { input_tokens: 10, output_tokens: 20, tokenCount: 30 },
      hasSecret: false,
      token: null,
    };
    expect(redactJson(value)).toEqual({
      summary: 'used [REDACTED]',
      nested: [{ text: 'Bearer [REDACTED]' }, 42, null, true],
      accessToken: REDACTED,
      client_secret: REDACTED,
      Authorization: REDACTED,
      password: REDACTED,
      VIGIL_API_KEY: REDACTED,
      usage: { input_tokens: 10, output_tokens: 20, tokenCount: 30 },
      hasSecret: false,
      token: null,
    });
  });

  it('uses the extra secrets and does not mutate its input', () => {
    const input = { note: 'my-exact-secret-1' };
    expect(redactJson(input, ['my-exact-secret-1'])).toEqual({ note: REDACTED });
    expect(input.note).toBe('my-exact-secret-1');
    expect(redactJson('plain')).toBe('plain');
    expect(redactJson(null)).toBeNull();
  });

  it('names sensitive keys precisely', () => {
    for (const key of ['token', 'apiKey', 'api_key', 'x-api-key', 'refresh_token', 'password', 'cookie', 'credentials']) {
      expect(isSensitiveKey(key)).toBe(true);
    }
    for (const key of ['input_tokens', 'tokenizer', 'tokenCount', 'secretName', 'summary', 'keyboard']) {
      expect(isSensitiveKey(key)).toBe(false);
    }
  });
});
