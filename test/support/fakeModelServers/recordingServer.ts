/**
 * What both fake model providers share: a `node:http` server on 127.0.0.1 (port 0) that records
 * every request it gets (method, path, all headers, parsed JSON body) and answers from a script —
 * a queue of replies or a function of the request. Each fake only says how a reply is written on
 * the wire of its API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RecordedRequest {
  method: string;
  /** Path with query string, as the client sent it (`/v1/messages?beta=true`). */
  path: string;
  /** Every header as Node parsed them (lower-case names), nothing removed: tests check the API key. */
  headers: http.IncomingHttpHeaders;
  /** The JSON body parsed, the raw text when it is not JSON, null when empty. */
  body: unknown;
  receivedAt: Date;
}

/** Replies in order (one per model request), or a function choosing the reply for each request. */
export type ReplyScript<Reply> = Reply[] | ((request: RecordedRequest, index: number) => Reply | Promise<Reply>);

export interface FakeModelServer {
  /** `http://127.0.0.1:PORT`, without a trailing slash or `/v1`. */
  url: string;
  /** Every request in arrival order, model calls and anything else. */
  requests: RecordedRequest[];
  /** The model calls only (the requests the script answered). */
  modelRequests(): RecordedRequest[];
  close(): Promise<void>;
}

export interface ReplyContext {
  request: RecordedRequest;
  response: http.ServerResponse;
}

interface RecordingServerOptions<Reply> {
  script: ReplyScript<Reply> | undefined;
  /** The reply when no script was given at all. */
  defaultReply: Reply;
  /** The reply once a queue ran out: an error the CLI shows, so a short script fails visibly. */
  exhaustedReply: (index: number) => Reply;
  isModelRequest: (request: RecordedRequest) => boolean;
  /** Anything that is not a model call (model listings, probes). */
  answerOther: (context: ReplyContext) => void;
  writeReply: (context: ReplyContext, reply: Reply) => void;
}

export async function startRecordingServer<Reply extends { delayMs?: number }>(
  options: RecordingServerOptions<Reply>,
): Promise<FakeModelServer> {
  const requests: RecordedRequest[] = [];
  const modelRequests: RecordedRequest[] = [];
  const script = options.script;

  const chooseReply = async (request: RecordedRequest, index: number): Promise<Reply> => {
    if (script === undefined) return options.defaultReply;
    if (typeof script === 'function') return script(request, index);
    return script[index] ?? options.exhaustedReply(index);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: parseBody(Buffer.concat(chunks).toString('utf8')),
        receivedAt: new Date(),
      };
      requests.push(request);
      const context = { request, response: res };
      if (!options.isModelRequest(request)) {
        options.answerOther(context);
        return;
      }
      const index = modelRequests.push(request) - 1;
      void (async () => {
        const reply = await chooseReply(request, index);
        if (reply.delayMs) await sleep(reply.delayMs);
        if (!res.destroyed) options.writeReply(context, reply);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake model server: ${String(error)}`);
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    modelRequests: () => [...modelRequests],
    close: () =>
      new Promise<void>((resolve) => {
        // A delayed reply or a kept-alive socket must not hold the test open.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One Server-Sent Event, named and with a JSON body carrying the same `type` (both APIs do so). */
export function writeSseEvent(response: http.ServerResponse, type: string, fields: Record<string, unknown>): void {
  response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`);
}

export function startSse(response: http.ServerResponse, headers: Record<string, string> = {}): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
}

export function writeJson(
  response: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}
