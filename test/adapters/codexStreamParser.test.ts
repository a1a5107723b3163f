import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CODEX_DEFAULT_MODEL, createCodexStreamParser } from '../../src/adapters/codex/codexStreamParser.ts';
import type { AgentStreamMessage } from '../../src/adapters/agentStream.ts';

const TRANSCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/transcripts');

/** What the real Codex printed in a recorded scenario, fed line by line to a fresh parser. */
function replayCodex(scenario: string, model: string | null = null) {
  const stdout = readFileSync(path.join(TRANSCRIPTS, `codex-${scenario}.ndjson`), 'utf8');
  const meta = JSON.parse(readFileSync(path.join(TRANSCRIPTS, `codex-${scenario}.meta.json`), 'utf8')) as { resumeSessionId: string | null };
  const threadId = /"thread_id":"([^"]+)"/.exec(stdout)?.[1] ?? null;
  return { ...feed(stdout.split('\n'), model), threadId, meta };
}

function feed(lines: string[], model: string | null = null) {
  const parser = createCodexStreamParser({ model });
  const messages: AgentStreamMessage[] = lines.flatMap((line) => parser.line(line));
  return { messages, report: parser.report() };
}

const line = (event: Record<string, unknown>) => JSON.stringify(event);
const started = line({ type: 'thread.started', thread_id: 'thread-1' });
const turnCompleted = (input: number, cached: number, output: number) =>
  line({ type: 'turn.completed', usage: { input_tokens: input, cached_input_tokens: cached, output_tokens: output } });
const agentMessage = (text: string) => line({ type: 'item.completed', item: { id: `m-${text.length}`, type: 'agent_message', text } });

describe('Codex exec --json, as the real CLI printed it', () => {
  it('a streamed answer yields the thread, the answer, and token usage priced under the default model (Codex names none)', () => {
    const { report, messages, threadId } = replayCodex('success');
    expect(report.sessionId).toBe(threadId);
    expect(report.finalAnswer).toBe('Hello from the fake OpenAI server.');
    expect(report.isError).toBe(false);
    expect(report.model).toBeNull();
    expect(report.usage).toEqual({ provider: 'openai', model: CODEX_DEFAULT_MODEL, inputTokens: 40, cachedInputTokens: 10, outputTokens: 8, costUsd: null });
    expect(messages).toContainEqual({ kind: 'assistant_text', text: 'Hello from the fake OpenAI server.' });
  });

  it('the configured model is the usage model', () => {
    expect(replayCodex('success', 'gpt-6.2-astra').report.usage?.model).toBe('gpt-6.2-astra');
  });

  it('a resumed thread keeps its id, and its usage is the thread total (first run 40/10/8 + this one 25/0/6), reported as printed', () => {
    const { report, meta } = replayCodex('resume');
    expect(report.sessionId).toBe(meta.resumeSessionId);
    expect(report.usage).toMatchObject({ inputTokens: 65, cachedInputTokens: 10, outputTokens: 14 });
  });

  it('a resume by an unknown NAME silently starts a new thread: the report names the new one, not the one asked for', () => {
    const { report, meta } = replayCodex('resume-unknown-name');
    expect(report.sessionId).not.toBe(meta.resumeSessionId);
    expect(report.isError).toBe(false);
  });

  it('a resume of an unknown thread id prints nothing on stdout (its error is on stderr)', () => {
    const { report, messages } = replayCodex('resume-rejected');
    expect(messages).toEqual([]);
    expect(report).toMatchObject({ sessionId: null, isError: false, usage: null });
  });

  it('an HTTP error ends the turn: the status is read out of "unexpected status 503 Service Unavailable: …", shown once', () => {
    const { report, messages } = replayCodex('overloaded');
    expect(report.isError).toBe(true);
    expect(report.error).toMatchObject({ httpStatus: 503, subtype: 'turn.failed' });
    expect(report.error.message).toMatch(/The server is overloaded or not ready yet/);
    expect(messages.filter((m) => m.kind === 'error')).toHaveLength(1);
  });

  it('a rate limit Codex gave up on reads its status from "exceeded retry limit, last status: 429 Too Many Requests"', () => {
    expect(replayCodex('rate-limit').report.error.httpStatus).toBe(429);
  });

  it('a 500 arrives as Codex\'s own "high demand" text, without any status', () => {
    const { report } = replayCodex('server-error');
    expect(report.isError).toBe(true);
    expect(report.error.httpStatus).toBeNull();
    expect(report.error.message).toMatch(/high demand/);
  });

  it('a usage limit keeps Codex\'s "try again at …" text', () => {
    expect(replayCodex('usage-limit').report.error.message).toMatch(/hit your usage limit.*try again at /);
  });

  it('a 401 reads its status', () => {
    expect(replayCodex('auth-rejected').report.error.httpStatus).toBe(401);
  });

  it('an unknown model: the metadata warning item is shown but is not the failure; the server message is', () => {
    const { report, messages } = replayCodex('model-not-found', 'gpt-nope');
    expect(messages.some((m) => m.kind === 'error' && m.text.startsWith('Model metadata for `gpt-nope` not found'))).toBe(true);
    expect(report.error.message).toBe('The model `gpt-nope` does not exist or you do not have access to it.');
    expect(report.error.httpStatus).toBeNull();
  });
});

describe('Codex exec --json, beyond the recordings', () => {
  it('ignores non-JSON lines and unknown event types, without throwing', () => {
    const { report, messages } = feed(['WARNING: proceeding', '', '{', line({ type: 'item.updated', item: { type: 'agent_message', text: 'par' } }), line({ type: 'future.event' }), started]);
    expect(messages).toHaveLength(1);
    expect(report.sessionId).toBe('thread-1');
  });

  it('"Reconnecting... 1/5" is Codex retrying on its own: shown, not terminal, and the run that then completes succeeds', () => {
    const { report, messages } = feed([
      started,
      line({ type: 'error', message: 'Reconnecting... 1/5 (stream disconnected before completion: error sending request)' }),
      agentMessage('Done.'),
      turnCompleted(10, 0, 2),
    ]);
    expect(messages[1]).toEqual({ kind: 'system', text: 'Reconnecting... 1/5 (stream disconnected before completion: error sending request)' });
    expect(report.isError).toBe(false);
    expect(report.error.message).toBeNull();
  });

  it('a run stopped while reconnecting keeps the last notice as its error text, without calling it an error result', () => {
    const { report } = feed([started, line({ type: 'error', message: 'Reconnecting... 2/5 (Connection failed: error sending request)' })]);
    expect(report.isError).toBe(false);
    expect(report.error.message).toMatch(/^Reconnecting\.\.\. 2\/5/);
  });

  it('an error no completed turn follows is terminal, even without turn.failed', () => {
    const { report } = feed([started, line({ type: 'error', message: 'stream disconnected before completion: unexpected status 502 Bad Gateway' })]);
    expect(report.isError).toBe(true);
    expect(report.error.httpStatus).toBe(502);
  });

  it('turn usage is the thread total so far: the last turn.completed wins, nothing is added up', () => {
    const { report } = feed([started, turnCompleted(40, 10, 8), turnCompleted(65, 10, 14)]);
    expect(report.usage).toMatchObject({ inputTokens: 65, cachedInputTokens: 10, outputTokens: 14 });
    expect(report.numTurns).toBe(2);
  });

  it('the last agent message is the final answer', () => {
    expect(feed([started, agentMessage('First, I look.'), agentMessage('Fixed it.'), turnCompleted(1, 0, 1)]).report.finalAnswer).toBe('Fixed it.');
  });

  it('a command shows when it starts, and again when it completes only if it failed; other items show once completed', () => {
    const { messages } = feed([
      line({ type: 'item.started', item: { id: 'c1', type: 'command_execution', command: 'npm test', status: 'in_progress' } }),
      line({ type: 'item.completed', item: { id: 'c1', type: 'command_execution', command: 'npm test', exit_code: 0, status: 'completed' } }),
      line({ type: 'item.started', item: { id: 'c2', type: 'command_execution', command: 'false' } }),
      line({ type: 'item.completed', item: { id: 'c2', type: 'command_execution', command: 'false', exit_code: 1, status: 'failed' } }),
      line({ type: 'item.completed', item: { id: 'f1', type: 'file_change', changes: [{ path: 'src/a.ts', kind: 'update' }] } }),
      line({ type: 'item.completed', item: { id: 'r1', type: 'reasoning', text: 'The timer is not awaited.' } }),
      line({ type: 'item.completed', item: { id: 't1', type: 'todo_list', items: [{ text: 'fix', completed: true }, { text: 'test', completed: false }] } }),
      line({ type: 'item.completed', item: { id: 'w1', type: 'web_search', query: 'vitest fake timers' } }),
      line({ type: 'item.completed', item: { id: 'p1', type: 'mcp_tool_call', server: 'vigil', tool: 'comment' } }),
    ]);
    expect(messages).toEqual([
      { kind: 'tool_use', text: '$ npm test' },
      { kind: 'tool_use', text: '$ false' },
      { kind: 'tool_use', text: '$ false (exit 1)' },
      { kind: 'tool_use', text: 'files: update src/a.ts' },
      { kind: 'reasoning', text: 'The timer is not awaited.' },
      { kind: 'tool_use', text: 'plan: [x] fix; [ ] test' },
      { kind: 'tool_use', text: 'web search vitest fake timers' },
      { kind: 'tool_use', text: 'mcp vigil.comment' },
    ]);
  });

  it('a turn.failed that no error line announced is shown', () => {
    const { messages, report } = feed([started, line({ type: 'turn.failed', error: { message: 'boom' } })]);
    expect(messages.at(-1)).toEqual({ kind: 'error', text: 'Codex turn failed: boom' });
    expect(report.isError).toBe(true);
  });
});
