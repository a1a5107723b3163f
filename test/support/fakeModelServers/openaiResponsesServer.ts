/**
 * A fake OpenAI Responses API that the real Codex CLI talks to, configured as a custom model
 * provider (`-c model_providers.NAME.base_url="<url>/v1"`, see agentCliConfigs.ts).
 *
 * Codex 0.171.0 `exec` sends nothing but `POST /v1/responses` (`stream: true`, key as
 * `Authorization: Bearer …`): no `GET /v1/models` — seen by recording every request of fresh,
 * resumed and failing runs. Anything else is still recorded and answered 404.
 *
 * A streamed answer is `response.created`, one assistant message (`response.output_item.added`,
 * `response.output_text.delta`, `response.output_item.done`) and `response.completed` with the
 * usage. An error is the API's JSON error body with its HTTP status, before any stream starts; a
 * `failed` reply starts the stream and ends it with `response.failed`.
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

export interface OpenAiUsage {
  input_tokens: number;
  /** Sent as `input_tokens_details.cached_tokens`. */
  cached_tokens?: number;
  output_tokens: number;
}

export type OpenAiReply =
  | { kind: 'answer'; text: string; usage?: OpenAiUsage; delayMs?: number }
  | {
      kind: 'error';
      status: number;
      message: string;
      /** The body's `error.type` (`usage_limit_reached`, `rate_limit_exceeded`, `server_error`, `invalid_request_error`…). */
      type?: string;
      code?: string;
      /** Extra fields of the `error` object (`resets_in_seconds`…). */
      details?: Record<string, unknown>;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  /** The stream starts, then ends with `response.failed` carrying this error. */
  | { kind: 'failed'; code: string; message: string; delayMs?: number };

export type { FakeModelServer, RecordedRequest } from './recordingServer.ts';

/** Ready-made errors shaped like the real API's. */
export const openAiErrors = {
  overloaded: {
    kind: 'error',
    status: 503,
    type: 'server_error',
    message: 'The server is overloaded or not ready yet.',
  },
  serverError: {
    kind: 'error',
    status: 500,
    type: 'server_error',
    message: 'The server had an error while processing your request. Sorry about that!',
  },
  usageLimit: {
    kind: 'error',
    status: 429,
    type: 'usage_limit_reached',
    message: 'You have hit your usage limit. Try again at 4:35 PM.',
    details: { resets_in_seconds: 3600 },
    headers: { 'retry-after': '3600' },
  },
  authentication: {
    kind: 'error',
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided: sk-fake-***. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  modelNotFound: (model: string) =>
    ({
      kind: 'error',
      status: 404,
      type: 'invalid_request_error',
      code: 'model_not_found',
      message: `The model \`${model}\` does not exist or you do not have access to it.`,
    }) satisfies OpenAiReply,
} satisfies Record<string, OpenAiReply | ((model: string) => OpenAiReply)>;

const DEFAULT_USAGE: OpenAiUsage = { input_tokens: 20, cached_tokens: 0, output_tokens: 7 };

/** Starts the fake; without a script every request is answered "OK". */
export function startOpenAiResponsesServer(script?: ReplyScript<OpenAiReply>): Promise<FakeModelServer> {
  return startRecordingServer<OpenAiReply>({
    script,
    defaultReply: { kind: 'answer', text: 'OK' },
    exhaustedReply: (index) => ({
      kind: 'error',
      status: 400,
      type: 'invalid_request_error',
      message: `fake OpenAI server: no scripted reply left for model request #${index + 1}`,
    }),
    isModelRequest: (request) => request.method === 'POST' && /^\/v1\/responses(\?|$)/.test(request.path),
    answerOther: ({ request, response }) =>
      writeJson(response, 404, {
        error: { message: `fake OpenAI server: no route for ${request.method} ${request.path}`, type: 'invalid_request_error' },
      }),
    writeReply,
  });
}

function writeReply({ request, response }: ReplyContext, reply: OpenAiReply): void {
  if (reply.kind === 'error') {
    const error = { message: reply.message, type: reply.type ?? null, param: null, code: reply.code ?? null, ...reply.details };
    writeJson(response, reply.status, { error }, { 'x-request-id': requestId(), ...reply.headers });
    return;
  }
  const model = (request.body as { model?: string } | null)?.model ?? 'gpt-fake';
  const base = { id: `resp_${randomUUID().replaceAll('-', '')}`, object: 'response', created_at: nowSeconds(), model, output: [] };
  startSse(response, { 'x-request-id': requestId() });
  writeSseEvent(response, 'response.created', { response: { ...base, status: 'in_progress' } });
  if (reply.kind === 'failed') {
    writeSseEvent(response, 'response.failed', {
      response: { ...base, status: 'failed', error: { code: reply.code, message: reply.message } },
    });
    response.end();
    return;
  }
  const itemId = `msg_${randomUUID().replaceAll('-', '')}`;
  const item = { type: 'message', id: itemId, role: 'assistant', status: 'in_progress', content: [] };
  const done = { ...item, status: 'completed', content: [{ type: 'output_text', text: reply.text, annotations: [] }] };
  const usage = { ...DEFAULT_USAGE, ...reply.usage };
  writeSseEvent(response, 'response.output_item.added', { output_index: 0, item });
  writeSseEvent(response, 'response.output_text.delta', { output_index: 0, content_index: 0, item_id: itemId, delta: reply.text });
  writeSseEvent(response, 'response.output_item.done', { output_index: 0, item: done });
  writeSseEvent(response, 'response.completed', {
    response: {
      ...base,
      status: 'completed',
      output: [done],
      usage: {
        input_tokens: usage.input_tokens,
        input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
        output_tokens: usage.output_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input_tokens + usage.output_tokens,
      },
    },
  });
  response.end();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function requestId(): string {
  return `req_fake_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}
