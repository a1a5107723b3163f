import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAKE_ANTHROPIC_API_KEY,
  FAKE_OPENAI_API_KEY,
  claudeAgentConfig,
  codexAgentConfig,
  createClaudeHome,
  createCodexHome,
  runAgentCli,
} from './agentCliConfigs.ts';
import { anthropicErrors, startAnthropicMessagesServer } from './fakeModelServers/anthropicMessagesServer.ts';
import { openAiErrors, startOpenAiResponsesServer } from './fakeModelServers/openaiResponsesServer.ts';

/** Everything a test started or made, undone after it whatever happened. */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function jsonLines(stdout: string): Array<Record<string, any>> {
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}

/** SSE event names in order, from a whole response body. */
function sseEventNames(body: string): string[] {
  return [...body.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
}

describe('the fake Anthropic Messages API', () => {
  it('answers the real Claude Code CLI with a streamed reply and records the call with its API key', async () => {
    const server = await startAnthropicMessagesServer([
      { kind: 'answer', text: 'Hello from the fake.', usage: { input_tokens: 30, output_tokens: 9, cache_read_input_tokens: 100 } },
    ]);
    cleanups.push(() => server.close());
    const home = await createClaudeHome();
    cleanups.push(() => home.remove());
    const cwd = await scratchDir('vigil-claude-cwd-');

    const outcome = await runAgentCli('claude', {
      config: claudeAgentConfig({ baseUrl: server.url, home: home.dir }),
      cwd,
      prompt: 'Say hello.',
    });

    expect(outcome.exitCode, outcome.stderr).toBe(0);
    const lines = jsonLines(outcome.stdout);
    const assistant = lines.find((line) => line.type === 'assistant');
    expect(assistant?.message.content).toEqual([{ type: 'text', text: 'Hello from the fake.' }]);
    const result = lines.find((line) => line.type === 'result');
    expect(result).toMatchObject({
      subtype: 'success',
      is_error: false,
      result: 'Hello from the fake.',
      usage: { input_tokens: 30, output_tokens: 9, cache_read_input_tokens: 100 },
    });

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/messages?beta=true' });
    expect(request.headers['x-api-key']).toBe(FAKE_ANTHROPIC_API_KEY);
    expect(request.body).toMatchObject({ stream: true });
    expect(JSON.stringify((request.body as { messages: unknown[] }).messages.at(0))).toContain('Say hello.');
  });

  it('replies to each call from its queue, errors with the API body, and fails visibly once the queue is empty', async () => {
    const server = await startAnthropicMessagesServer([anthropicErrors.usageLimit, { kind: 'answer', text: 'Now fine.' }]);
    cleanups.push(() => server.close());
    const call = () =>
      fetch(`${server.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
        body: JSON.stringify({ model: 'claude-test', stream: true, messages: [] }),
      });

    const limited = await call();
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.stringContaining('Your limit resets at 4:35pm (UTC)') },
    });

    const answered = await call();
    expect(answered.headers.get('content-type')).toContain('text/event-stream');
    const body = await answered.text();
    expect(sseEventNames(body)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(body).toContain('"text":"Now fine."');

    const exhausted = await call();
    expect(exhausted.status).toBe(500);
    expect(await exhausted.text()).toContain('no scripted reply left for model request #3');
  });

  it('chooses a reply with a function of the request, and records requests it does not script', async () => {
    const server = await startAnthropicMessagesServer((request) => {
      const model = (request.body as { model: string }).model;
      return model === 'claude-gone' ? anthropicErrors.modelNotFound(model) : { kind: 'answer', text: `Hi from ${model}` };
    });
    cleanups.push(() => server.close());
    const call = (model: string, stream: boolean) =>
      fetch(`${server.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model, stream, messages: [] }) });

    expect((await call('claude-gone', true)).status).toBe(404);
    // A call without streaming (Claude Code's retry after a 404) gets one JSON message.
    expect(await (await call('claude-here', false)).json()).toMatchObject({
      type: 'message',
      content: [{ type: 'text', text: 'Hi from claude-here' }],
      stop_reason: 'end_turn',
    });
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(404);

    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /v1/messages',
      'POST /v1/messages',
      'GET /v1/models',
    ]);
    expect(server.modelRequests()).toHaveLength(2);
  });
});

describe('the fake OpenAI Responses API', () => {
  it('answers the real Codex CLI with a streamed reply and records the call with its API key', async () => {
    const server = await startOpenAiResponsesServer([
      { kind: 'answer', text: 'Hello from the fake.', usage: { input_tokens: 40, cached_tokens: 10, output_tokens: 8 } },
    ]);
    cleanups.push(() => server.close());
    const codexHome = await createCodexHome();
    cleanups.push(() => codexHome.remove());
    const cwd = await scratchDir('vigil-codex-cwd-');

    const outcome = await runAgentCli('codex', {
      config: codexAgentConfig({ baseUrl: server.url, codexHome: codexHome.dir }),
      cwd,
      prompt: 'Say hello.',
    });

    expect(outcome.exitCode, outcome.stderr).toBe(0);
    const lines = jsonLines(outcome.stdout);
    expect(lines.map((line) => line.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    expect(lines[2].item).toMatchObject({ type: 'agent_message', text: 'Hello from the fake.' });
    expect(lines[3].usage).toMatchObject({ input_tokens: 40, cached_input_tokens: 10, output_tokens: 8 });

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/responses' });
    expect(request.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_API_KEY}`);
    expect(request.body).toMatchObject({ stream: true });
    expect(JSON.stringify((request.body as { input: unknown[] }).input.at(-1))).toContain('Say hello.');
  });

  it('writes errors as the API body with their headers, and a failed stream as response.failed', async () => {
    const server = await startOpenAiResponsesServer([openAiErrors.usageLimit, { kind: 'failed', code: 'server_error', message: 'Broke.' }]);
    cleanups.push(() => server.close());
    const call = () => fetch(`${server.url}/v1/responses`, { method: 'POST', body: JSON.stringify({ model: 'gpt-test', stream: true }) });

    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3600');
    expect(await limited.json()).toMatchObject({ error: { type: 'usage_limit_reached', resets_in_seconds: 3600 } });

    const failed = await (await call()).text();
    expect(sseEventNames(failed)).toEqual(['response.created', 'response.failed']);
    expect(failed).toContain('"message":"Broke."');
  });

  it('waits the reply delay before answering', async () => {
    const server = await startOpenAiResponsesServer([{ kind: 'answer', text: 'Late.', delayMs: 300 }]);
    cleanups.push(() => server.close());
    const started = performance.now();
    const body = await (await fetch(`${server.url}/v1/responses`, { method: 'POST', body: '{}' })).text();
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(sseEventNames(body)).toEqual([
      'response.created',
      'response.output_item.added',
      'response.output_text.delta',
      'response.output_item.done',
      'response.completed',
    ]);
  });
});
