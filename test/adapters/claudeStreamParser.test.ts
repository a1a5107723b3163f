import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createClaudeStreamParser } from '../../src/adapters/claude/claudeStreamParser.ts';
import { FINAL_ANSWER_MAX_BYTES, type AgentStreamMessage } from '../../src/adapters/agentStream.ts';

const TRANSCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/transcripts');

/** What the real Claude Code printed in a recorded scenario, fed line by line to a fresh parser. */
function replayClaude(scenario: string) {
  const stdout = readFileSync(path.join(TRANSCRIPTS, `claude-${scenario}.ndjson`), 'utf8');
  const firstSessionId = (JSON.parse(stdout.split('\n')[0] || '{}') as { session_id?: string }).session_id;
  return { ...feed(stdout.split('\n')), firstSessionId };
}

function feed(lines: string[]) {
  const parser = createClaudeStreamParser();
  const messages: AgentStreamMessage[] = lines.flatMap((line) => parser.line(line));
  return { messages, report: parser.report() };
}

const line = (event: Record<string, unknown>) => JSON.stringify(event);
const init = line({ type: 'system', subtype: 'init', session_id: 'sess-1', model: 'claude-opus-5-5' });
const result = (fields: Record<string, unknown>) =>
  line({ type: 'result', subtype: 'success', is_error: false, session_id: 'sess-1', num_turns: 1, total_cost_usd: 0.01, usage: { input_tokens: 1, output_tokens: 1 }, ...fields });

describe('Claude Code stream-json, as the real CLI printed it', () => {
  it('a streamed answer yields the session, the model, the answer, and the invocation usage with cache reads as cached input', () => {
    const { report, messages, firstSessionId } = replayClaude('success');
    expect(report.sessionId).toBe(firstSessionId);
    expect(report.model).toBe('claude-opus-5-5');
    expect(report.finalAnswer).toBe('Hello from the fake Anthropic server.');
    expect(report.isError).toBe(false);
    expect(report.numTurns).toBe(1);
    expect(report.usage).toEqual({ provider: 'anthropic', model: 'claude-opus-5-5', inputTokens: 30, cachedInputTokens: 100, outputTokens: 9, costUsd: 0.00032 });
    expect(messages).toContainEqual({ kind: 'assistant_text', text: 'Hello from the fake Anthropic server.' });
  });

  it('a resumed session keeps its id; the cost reported is the session total, the tokens only this invocation', () => {
    const { report, firstSessionId } = replayClaude('resume');
    expect(report.sessionId).toBe(firstSessionId);
    expect(report.finalAnswer).toBe('Second answer, same session.');
    expect(report.usage).toMatchObject({ inputTokens: 50, outputTokens: 6, costUsd: 0.00064 });
  });

  it('a resume of an unknown session reports no session at all: the id in its lone result line is the one asked for, not one that exists', () => {
    const { report, messages } = replayClaude('resume-rejected');
    expect(report.sessionId).toBeNull();
    expect(report.isError).toBe(true);
    expect(report.numTurns).toBe(0);
    expect(report.error).toMatchObject({ subtype: 'error_during_execution', message: expect.stringMatching(/^No conversation found with session ID: /) });
    expect(messages).toEqual([]);
  });

  it('an overloaded upstream ends in an error result that says "success" but is_error, with status 529 and the CLI category', () => {
    const { report, messages } = replayClaude('overloaded');
    expect(report.isError).toBe(true);
    expect(report.finalAnswer).toBeNull();
    expect(report.error).toMatchObject({ httpStatus: 529, subtype: 'success', type: 'overloaded_error', category: 'server_error', terminalReason: 'api_error' });
    expect(report.error.message).toMatch(/^API Error: 529 Overloaded/);
    expect(messages.filter((m) => m.kind === 'error')).toHaveLength(1);
    // The synthetic "<synthetic>" model of the error line is not the model that ran.
    expect(report.model).toBe('claude-opus-5-5');
  });

  it('each retried upstream call shows as a system event "upstream returned 529 (overloaded), retry 1/1", and the run still succeeds', () => {
    const { report, messages } = replayClaude('overloaded-then-answer');
    expect(messages).toContainEqual({ kind: 'system', text: 'upstream returned 529 (overloaded), retry 1/1' });
    expect(report.isError).toBe(false);
    expect(report.finalAnswer).toBe('Answered on the second attempt.');
    expect(report.error.message).toBeNull();
  });

  it('a usage limit keeps the server message, with its reset time, as the error text', () => {
    const { report } = replayClaude('usage-limit');
    expect(report.error).toMatchObject({ httpStatus: 429, type: 'rate_limit_error', category: 'rate_limit' });
    expect(report.error.message).toContain('Your limit resets at 4:35pm (UTC)');
  });

  it("a rejected key reports 401 with Claude Code's own words", () => {
    const { report } = replayClaude('auth-rejected');
    expect(report.error).toMatchObject({ httpStatus: 401, type: 'authentication_error', category: 'authentication_failed', message: 'Invalid API key · Fix external API key' });
  });

  it('an unknown model reports 404 with the model_not_found category', () => {
    const { report } = replayClaude('model-not-found');
    expect(report.error).toMatchObject({ httpStatus: 404, category: 'model_not_found' });
    expect(report.model).toBe('claude-nonexistent-9');
  });

  it('a run stopped by --max-turns shows the tool call, and ends with subtype error_max_turns and its errors as the message', () => {
    const { report, messages } = replayClaude('max-turns');
    expect(messages).toContainEqual({ kind: 'tool_use', text: expect.stringMatching(/^Read \/.*notes\.txt$/) });
    expect(report.isError).toBe(true);
    expect(report.error).toMatchObject({ subtype: 'error_max_turns', terminalReason: 'max_turns', message: 'Reached maximum number of turns (1)' });
    expect(report.numTurns).toBe(2);
    expect(report.usage).toMatchObject({ inputTokens: 12, outputTokens: 7, costUsd: 0.000188 });
  });
});

describe('Claude Code stream-json, beyond the recordings', () => {
  it('ignores lines that are not JSON objects and event types it does not know, without throwing', () => {
    const { report, messages } = feed(['', 'not json', '{"broken":', '[1,2]', 'null', line({ type: 'stream_event', event: {} }), line({ type: 'user', message: { content: [] } }), init]);
    expect(messages).toHaveLength(1);
    expect(report.sessionId).toBe('sess-1');
  });

  it('counts cache writes as (billed) input and cache reads as cached input', () => {
    const { report } = feed([init, result({ usage: { input_tokens: 10, cache_creation_input_tokens: 200, cache_read_input_tokens: 3000, output_tokens: 5 } })]);
    expect(report.usage).toMatchObject({ inputTokens: 210, cachedInputTokens: 3000, outputTokens: 5, costUsd: 0.01 });
  });

  it('takes the model from modelUsage when no init line named it', () => {
    const { report } = feed([result({ modelUsage: { 'claude-sonnet-5': { inputTokens: 1 } } })]);
    expect(report.model).toBe('claude-sonnet-5');
    expect(report.usage?.model).toBe('claude-sonnet-5');
  });

  it('shows text, tool calls and thinking as they stream', () => {
    const assistant = line({
      type: 'assistant',
      session_id: 'sess-1',
      message: {
        model: 'claude-opus-5-5',
        content: [
          { type: 'thinking', thinking: 'The test is flaky because of the timer.' },
          { type: 'text', text: 'I will run the tests.' },
          { type: 'tool_use', name: 'Bash', input: { command: 'npm test', description: 'Run tests' } },
          { type: 'tool_use', name: 'TodoWrite', input: { todos: [{ content: 'x' }] } },
        ],
      },
    });
    const { messages } = feed([init, assistant]);
    expect(messages.slice(1)).toEqual([
      { kind: 'reasoning', text: 'The test is flaky because of the timer.' },
      { kind: 'assistant_text', text: 'I will run the tests.' },
      { kind: 'tool_use', text: 'Bash npm test' },
      { kind: 'tool_use', text: 'TodoWrite {"todos":[{"content":"x"}]}' },
    ]);
  });

  it('a refusal stop marks the report refused', () => {
    const refusal = line({ type: 'assistant', session_id: 'sess-1', is_api_error_message: true, error: 'invalid_request', message: { model: '<synthetic>', stop_reason: 'refusal', content: [{ type: 'text', text: 'API Error: Claude declined.' }] } });
    const { report } = feed([init, refusal, result({ is_error: true, result: 'API Error: Claude declined.' })]);
    expect(report.error.refusal).toBe(true);
  });

  it('a model_refusal_no_fallback system line marks the report refused and shows why', () => {
    const { report, messages } = feed([init, line({ type: 'system', subtype: 'model_refusal_no_fallback', session_id: 'sess-1' })]);
    expect(report.error.refusal).toBe(true);
    expect(messages.at(-1)?.kind).toBe('error');
  });

  it('a stream cut before its result still reports what the last failed call said', () => {
    const failedCall = line({ type: 'assistant', session_id: 'sess-1', error: 'rate_limit', api_error_status: 429, api_error_type: 'rate_limit_error', message: { model: '<synthetic>', content: [{ type: 'text', text: 'API Error: Request rejected (429)' }] } });
    const { report } = feed([init, failedCall]);
    expect(report.isError).toBe(false);
    expect(report.error).toMatchObject({ httpStatus: 429, category: 'rate_limit', message: 'API Error: Request rejected (429)' });
  });

  it('keeps at most 64 KiB of a huge final answer', () => {
    const answer = 'é'.repeat(100_000);
    const { report } = feed([init, result({ result: answer })]);
    expect(Buffer.byteLength(report.finalAnswer!, 'utf8')).toBeLessThanOrEqual(FINAL_ANSWER_MAX_BYTES);
    expect(report.finalAnswer!.startsWith('éé')).toBe(true);
    expect(report.finalAnswer!.endsWith('…')).toBe(true);
  });

  it('an api_retry line without a status still reads as a retry', () => {
    const { messages } = feed([line({ type: 'system', subtype: 'api_retry', attempt: 2, max_retries: 10, error_status: null, error: 'connection_error' })]);
    expect(messages).toEqual([{ kind: 'system', text: 'upstream call failed (connection_error), retry 2/10' }]);
  });
});
