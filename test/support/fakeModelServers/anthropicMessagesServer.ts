/**
 * A fake Anthropic Messages API that the real Claude Code CLI talks to (`ANTHROPIC_BASE_URL`).
 *
 * With `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, Claude Code 2.1.328 sends nothing but
 * `POST /v1/messages?beta=true` (`stream: true`, key in `x-api-key`): no count_tokens, no model
 * listing, no HEAD probe — seen by recording every request of fresh, resumed, failing and
 * tool-using runs (without that variable it also sends `HEAD /api/hello`, answered 200). Anything
 * else is still recorded and answered 404 `not_found_error`. A streaming call that fails with 404
 * is repeated once with `stream: false`: answers are then written as one JSON message.
 *
 * A streamed answer is `message_start` (input and cache usage), one text block
 * (`content_block_start`, `content_block_delta`/`text_delta`, `content_block_stop`),
 * `message_delta` (stop reason, output tokens), `message_stop`. An error is the API's JSON error
 * body with its HTTP status, before any stream starts.
 */
import { randomUUID } from 'node:crypto';
import {
  startRecordingServer,
  startSse,
  writeJson,
  writeSseEvent,
  type FakeModelServer,
  type ReplyContext,
  type ReplyScript,
} from './recordingServer.ts';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export type AnthropicReply =
  | { kind: 'answer'; text: string; usage?: AnthropicUsage; delayMs?: number }
  /** The model asks for one tool call (stop reason `tool_use`): how a test provokes a second turn. */
  | { kind: 'tool_use'; name: string; input: Record<string, unknown>; text?: string; usage?: AnthropicUsage; delayMs?: number }
  | {
      kind: 'error';
      status: number;
      /** The API's error type: `overloaded_error` (529), `rate_limit_error` (429), `authentication_error` (401), `not_found_error` (404), `api_error` (500). */
      type: string;
      message: string;
      headers?: Record<string, string>;
      delayMs?: number;
    };

export type { FakeModelServer, RecordedRequest } from './recordingServer.ts';

/** Ready-made errors with the wording the real API uses (the 429 text is the one Vigil parses a reset time from). */
export const anthropicErrors = {
  overloaded: { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' },
  usageLimit: {
    kind: 'error',
    status: 429,
    type: 'rate_limit_error',
    message: 'Usage limit reached for this organization. Your limit resets at 4:35pm (UTC).',
  },
  authentication: { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
  modelNotFound: (model: string) =>
    ({ kind: 'error', status: 404, type: 'not_found_error', message: `model: ${model}` }) satisfies AnthropicReply,
} satisfies Record<string, AnthropicReply | ((model: string) => AnthropicReply)>;

const DEFAULT_USAGE: AnthropicUsage = { input_tokens: 12, output_tokens: 7, cache_read_input_tokens: 0 };

/** Starts the fake; without a script every request is answered "OK". */
export function startAnthropicMessagesServer(script?: ReplyScript<AnthropicReply>): Promise<FakeModelServer> {
  return startRecordingServer<AnthropicReply>({
    script,
    defaultReply: { kind: 'answer', text: 'OK' },
    exhaustedReply: (index) => ({
      kind: 'error',
      status: 500,
      type: 'api_error',
      message: `fake Anthropic server: no scripted reply left for model request #${index + 1}`,
    }),
    isModelRequest: (request) => request.method === 'POST' && /^\/v1\/messages(\?|$)/.test(request.path),
    answerOther: ({ request, response }) => {
      // Without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC Claude Code first probes `HEAD /api/hello`.
      if (request.method === 'HEAD') response.writeHead(200).end();
      else writeJson(response, 404, apiError('not_found_error', `fake Anthropic server: no route for ${request.method} ${request.path}`));
    },
    writeReply,
  });
}

function writeReply({ request, response }: ReplyContext, reply: AnthropicReply): void {
  if (reply.kind === 'error') {
    writeJson(response, reply.status, apiError(reply.type, reply.message), { 'request-id': requestId(), ...reply.headers });
    return;
  }
  const body = request.body as { model?: string; stream?: boolean } | null;
  const model = body?.model ?? 'claude-fake';
  const usage = { ...DEFAULT_USAGE, ...reply.usage };
  const messageId = `msg_${randomUUID().replaceAll('-', '')}`;
  const stopReason = reply.kind === 'tool_use' ? 'tool_use' : 'end_turn';
  const content = contentBlocks(reply);
  if (body?.stream !== true) {
    // Claude Code repeats a failed streaming call once without streaming (seen after a 404).
    writeJson(
      response,
      200,
      { id: messageId, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage },
      { 'request-id': requestId() },
    );
    return;
  }
  startSse(response, { 'request-id': requestId() });
  writeSseEvent(response, 'message_start', {
    message: {
      id: messageId,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: 1,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      },
    },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      writeSseEvent(response, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
      writeSseEvent(response, 'content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      writeSseEvent(response, 'content_block_start', { index, content_block: { ...block, input: {} } });
      writeSseEvent(response, 'content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    writeSseEvent(response, 'content_block_stop', { index });
  });
  writeSseEvent(response, 'message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  writeSseEvent(response, 'message_stop', {});
  response.end();
}

type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

function contentBlocks(reply: Exclude<AnthropicReply, { kind: 'error' }>): ContentBlock[] {
  const blocks: ContentBlock[] = reply.text ? [{ type: 'text', text: reply.text }] : [];
  if (reply.kind === 'tool_use') {
    const id = `toolu_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    blocks.push({ type: 'tool_use', id, name: reply.name, input: reply.input });
  }
  return blocks;
}

function apiError(type: string, message: string) {
  return { type: 'error', error: { type, message }, request_id: requestId() };
}

function requestId(): string {
  return `req_fake_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}
