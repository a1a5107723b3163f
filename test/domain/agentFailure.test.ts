import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createClaudeStreamParser } from '../../src/adapters/claude/claudeStreamParser.ts';
import { createCodexStreamParser } from '../../src/adapters/codex/codexStreamParser.ts';
import { emptyStreamReport, type AgentStreamReport } from '../../src/adapters/agentStream.ts';
import { classifyAgentFailure, httpStatusInText, type AgentCliName, type AgentFailure } from '../../src/domain/agentFailure.ts';

const TRANSCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/transcripts');
/** The recordings were made around 15:23 UTC on 2026-12-05. */
const RECORDED_AT = new Date('2026-12-05T15:23:40Z');

interface Meta {
  exitCode: number | null;
  stderr: string;
  scriptedReplies: Array<{ details?: { resets_at?: number } }>;
}

/** A recorded run of the real CLI, parsed and classified as the adapter does. */
function classifyRecorded(cli: AgentCliName, scenario: string, now = RECORDED_AT, localTimeZone?: string) {
  const stdout = readFileSync(path.join(TRANSCRIPTS, `${cli}-${scenario}.ndjson`), 'utf8');
  const meta = JSON.parse(readFileSync(path.join(TRANSCRIPTS, `${cli}-${scenario}.meta.json`), 'utf8')) as Meta;
  const parser = cli === 'claude' ? createClaudeStreamParser() : createCodexStreamParser({ model: null });
  for (const line of stdout.split('\n')) parser.line(line);
  const failure = classifyAgentFailure(cli, { report: parser.report(), exitCode: meta.exitCode, stderrTail: meta.stderr, stdoutTail: stdout, now, localTimeZone });
  return { failure, meta };
}

type ReportOverrides = Omit<Partial<AgentStreamReport>, 'error'> & { error?: Partial<AgentStreamReport['error']> };

function givenReport(overrides: ReportOverrides = {}): AgentStreamReport {
  const base = emptyStreamReport();
  return { ...base, ...overrides, error: { ...base.error, ...overrides.error } };
}

function classify(cli: AgentCliName, facts: { report?: AgentStreamReport; exitCode?: number | null; stderr?: string; stdout?: string; now?: Date }): AgentFailure | null {
  return classifyAgentFailure(cli, {
    report: facts.report ?? givenReport(),
    exitCode: facts.exitCode === undefined ? 1 : facts.exitCode,
    stderrTail: facts.stderr ?? '',
    stdoutTail: facts.stdout ?? '',
    now: facts.now ?? RECORDED_AT,
  });
}

describe('the recorded runs of the real CLIs, classified', () => {
  it.each([
    ['claude', 'success'],
    ['claude', 'resume'],
    ['claude', 'overloaded-then-answer'],
    ['codex', 'success'],
    ['codex', 'resume'],
    ['codex', 'resume-unknown-name'],
  ] as const)('%s %s did not fail', (cli, scenario) => {
    expect(classifyRecorded(cli, scenario).failure).toBeNull();
  });

  it.each([
    ['claude', 'overloaded', 'claude_transient_upstream', 'transient_upstream'],
    ['claude', 'auth-rejected', 'claude_auth_required', null],
    ['claude', 'model-not-found', 'claude_model_not_found', null],
    ['codex', 'overloaded', 'codex_transient_upstream', 'transient_upstream'],
    ['codex', 'server-error', 'codex_transient_upstream', 'transient_upstream'],
    ['codex', 'rate-limit', 'codex_transient_upstream', 'transient_upstream'],
    ['codex', 'auth-rejected', 'codex_auth_required', null],
    ['codex', 'model-not-found', 'codex_model_not_found', null],
  ] as const)('%s %s is %s (family %s), keeps its session and names no reset', (cli, scenario, errorCode, errorFamily) => {
    expect(classifyRecorded(cli, scenario).failure).toMatchObject({ errorCode, errorFamily, retryNotBefore: null, sessionRejected: false, clearSession: false });
  });

  it.each([['claude'], ['codex']] as const)('a resume %s refuses is session_rejected: the session is dropped and a fresh one started', (cli) => {
    expect(classifyRecorded(cli, 'resume-rejected').failure).toMatchObject({ errorCode: `${cli}_session_rejected`, errorFamily: null, sessionRejected: true, clearSession: true });
  });

  it('a run stopped by --max-turns clears its session, so the next run does not stop at once', () => {
    expect(classifyRecorded('claude', 'max-turns').failure).toMatchObject({ errorCode: 'claude_max_turns', errorFamily: null, sessionRejected: false, clearSession: true });
  });

  it('a usage limit with a reset time parks one retry at the reset, in the zone the message names', () => {
    const { failure } = classifyRecorded('claude', 'usage-limit');
    expect(failure).toMatchObject({ errorCode: 'claude_usage_limit', errorFamily: 'provider_quota', retryNotBefore: '2026-12-05T16:35:00.000Z', clearSession: false });
    expect(failure?.message).toContain('2026-12-05T16:35:00.000Z');
  });

  it("a Codex usage limit is reset at the time it printed in the host's local time (UTC on the recording host)", () => {
    const { meta } = classifyRecorded('codex', 'usage-limit');
    const resetsAt = meta.scriptedReplies[0].details!.resets_at!;
    // The fake said "in an hour"; Codex printed that time to the minute.
    const { failure } = classifyRecorded('codex', 'usage-limit', new Date((resetsAt - 3600) * 1000), 'UTC');
    expect(failure).toMatchObject({ errorCode: 'codex_usage_limit', errorFamily: 'provider_quota' });
    expect(failure?.retryNotBefore).toBe(new Date(Math.floor(resetsAt / 60) * 60_000).toISOString());
  });

  it('every message is one line and carries the CLI\'s own words', () => {
    for (const [cli, scenario] of [['claude', 'overloaded'], ['codex', 'resume-rejected'], ['codex', 'usage-limit']] as const) {
      const message = classifyRecorded(cli, scenario).failure!.message;
      expect(message).not.toContain('\n');
      expect(message.length).toBeLessThan(600);
    }
    expect(classifyRecorded('codex', 'resume-rejected').failure!.message).toContain('no rollout found for thread id');
  });
});

describe('structured fields first, words second', () => {
  it('a clean exit without an error result did not fail; an error result fails even with exit 0', () => {
    expect(classify('claude', { exitCode: 0 })).toBeNull();
    expect(classify('claude', { exitCode: 0, report: givenReport({ isError: true, error: { httpStatus: 529, message: 'API Error: 529 Overloaded' } }) })?.errorCode).toBe('claude_transient_upstream');
  });

  it('the result subtype decides max turns before any text', () => {
    expect(classify('claude', { report: givenReport({ isError: true, error: { subtype: 'error_max_turns', message: null } }) })?.errorCode).toBe('claude_max_turns');
  });

  it('a refusal stop is a refusal, whatever the status', () => {
    const report = givenReport({ isError: true, error: { httpStatus: 400, message: 'API Error: the model declined', refusal: true } });
    expect(classify('claude', { report })).toMatchObject({ errorCode: 'claude_refusal', errorFamily: null, clearSession: false });
  });

  it("Codex's refusal wording is a refusal", () => {
    const report = givenReport({ isError: true, error: { message: 'Invalid prompt: we’ve limited access to this content for safety reasons.' } });
    expect(classify('codex', { report })?.errorCode).toBe('codex_refusal');
  });

  it('the CLI category decides when the status is missing: authentication_failed, model_not_found, overloaded', () => {
    expect(classify('claude', { report: givenReport({ isError: true, error: { category: 'authentication_failed', message: 'x' } }) })?.errorCode).toBe('claude_auth_required');
    expect(classify('claude', { report: givenReport({ isError: true, error: { category: 'model_not_found', message: 'x' } }) })?.errorCode).toBe('claude_model_not_found');
    expect(classify('claude', { report: givenReport({ isError: true, error: { category: 'overloaded', message: 'x' } }) })?.errorCode).toBe('claude_transient_upstream');
  });

  it('a 404 that is not about a model is a plain failure, not model_not_found', () => {
    expect(classify('claude', { report: givenReport({ isError: true, error: { httpStatus: 404, message: 'API Error: 404 page not found' } }) })?.errorCode).toBe('claude_failed');
  });

  it('a 429 without a reset time is transient; a 429 that only says when to retry is transient, and not before then', () => {
    expect(classify('codex', { report: givenReport({ isError: true, error: { httpStatus: 429, message: 'unexpected status 429 Too Many Requests: slow down' } }) })).toMatchObject({
      errorCode: 'codex_transient_upstream',
      errorFamily: 'transient_upstream',
      retryNotBefore: null,
    });
    const backOff = classify('claude', { report: givenReport({ isError: true, error: { httpStatus: 429, message: 'API Error: Request rejected (429) · too many requests, retry-after: 20' } }) });
    expect(backOff).toMatchObject({ errorCode: 'claude_transient_upstream', retryNotBefore: new Date(RECORDED_AT.getTime() + 20_000).toISOString() });
  });

  it('a quota wall a few seconds from lifting is still a usage limit (the parked retry keeps its minimum wait)', () => {
    const soon = classify('codex', { report: givenReport({ isError: true, error: { message: 'Rate limit reached for gpt-6.2-sol on tokens per min. Please try again in 20s.' } }) });
    expect(soon).toMatchObject({ errorCode: 'codex_usage_limit', errorFamily: 'provider_quota', retryNotBefore: new Date(RECORDED_AT.getTime() + 20_000).toISOString() });
  });

  it('a usage limit that names no reset is left to the transient ladder, not parked', () => {
    expect(classify('codex', { report: givenReport({ isError: true, error: { message: 'You’ve hit your usage limit. Upgrade to Pro to continue.' } }) })?.errorFamily).toBe('transient_upstream');
  });

  it('a spend limit that names its reset is parked like a usage limit; an empty credit balance is a plain failure', () => {
    expect(classify('claude', { report: givenReport({ isError: true, error: { message: "You've hit your monthly spend limit · resets Jan 1, 12am (UTC)" } }) })).toMatchObject({
      errorCode: 'claude_usage_limit',
      retryNotBefore: '2027-01-01T00:00:00.000Z',
    });
    expect(classify('claude', { report: givenReport({ isError: true, error: { httpStatus: 400, category: 'billing_error', message: 'Credit balance is too low' } }) })).toMatchObject({
      errorCode: 'claude_failed',
      errorFamily: null,
    });
  });
});

describe('when the CLI died before its stream said anything', () => {
  it('"Not logged in · Please run /login" on stderr is auth_required', () => {
    expect(classify('claude', { stderr: 'Error: Not logged in · Please run /login' })?.errorCode).toBe('claude_auth_required');
  });

  it("Codex's unset key variable is auth_required", () => {
    expect(classify('codex', { stderr: 'Error: Missing environment variable: `OPENAI_API_KEY`.' })?.errorCode).toBe('codex_auth_required');
  });

  it('a refused connection is transient', () => {
    expect(classify('codex', { stderr: 'Error: connect ECONNREFUSED 127.0.0.1:443' })?.errorCode).toBe('codex_transient_upstream');
    expect(classify('codex', { stdout: '{"type":"thread.started","thread_id":"t"}\nReconnecting... waiting for network (Connection failed: error sending request)' })?.errorCode).toBe('codex_transient_upstream');
  });

  it("the agent's own words in the JSON stream never make a failure transient", () => {
    const stdout = JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: 'The API answered 429 Too Many Requests; the service is overloaded.' } });
    expect(classify('codex', { stdout, stderr: 'panicked at core/src/lib.rs' })?.errorCode).toBe('codex_failed');
  });

  it('nothing recognisable is *_failed, with the first error line as the reason', () => {
    expect(classify('claude', { exitCode: 2, stderr: 'warming up\nError: something odd\n  at frame 1' })).toMatchObject({
      errorCode: 'claude_failed',
      errorFamily: null,
      message: 'Claude Code failed: Error: something odd',
    });
  });
});

describe('an HTTP status in error text', () => {
  it.each([
    ['unexpected status 401 Unauthorized: Incorrect API key provided', 401],
    ['exceeded retry limit, last status: 429 Too Many Requests, request id: r', 429],
    ['API Error: 529 Overloaded.', 529],
    ['API Error: Request rejected (429) · Usage limit reached', 429],
    ['stream error: 503 Service Unavailable', 503],
    ['status code: 502', 502],
    ['processed 429 files', null],
    ['', null],
  ])('%j → %s', (text, status) => {
    expect(httpStatusInText(text)).toBe(status);
  });
});
