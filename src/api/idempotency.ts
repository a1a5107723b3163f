/**
 * Issue 14 §3: the `Idempotency-Key` header of the side-effecting routes (create issue, comment,
 * put document, wake an agent, record a cost event). The same key with the same request, per
 * company and caller and within 24 h, answers the first request's status and body without writing
 * again; the same key with another request is a 422 (`idempotency_key_conflict`); concurrent
 * duplicates write once. Rows: src/store/idempotencyKeys.ts.
 *
 * How a request with a key runs, after the route has parsed it and found its company (so 400s,
 * 403s and 404s never touch a key):
 * 1. claim the key (one INSERT … ON CONFLICT DO NOTHING; exactly one of N duplicates wins);
 * 2. the winner runs the handler, stores the JSON it answers (already redacted by the route) and
 *    sends exactly that text;
 * 3. a loser reads the row: another route or request → 422; completed → the stored status and body,
 *    with `Idempotent-Replayed: true`; still running → it polls, bounded, then 409
 *    (`idempotency_key_in_progress`); gone (the winner released it) → it claims again.
 * A handler that throws releases the key: every 4xx of these routes is a refusal made before any
 * write (the state may change, so a retry with the same key is answered anew), and a 5xx wrote
 * nothing that committed. The one exception is an error that reports a write it made (a 503 whose
 * `runId` is the run it queued while Temporal was out of reach): that answer is stored and
 * replayed, so a retry never queues a second run.
 */
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { z } from 'zod';
import type { PrismaClient } from '../store/db.ts';
import type { Actor } from './auth.ts';
import { jsonReplacer } from './serializers.ts';
import { successStatus, type RouteSpec } from './openapi/route.ts';
import { AppError, ConflictError, UnprocessableError } from '../errors.ts';
import { redactSecrets } from '../domain/redaction.ts';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotencyKey,
  releaseIdempotencyKey,
  type IdempotencyScope,
} from '../store/idempotencyKeys.ts';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
/** How long a duplicate waits for the first request to finish before a 409. */
const WAIT_FOR_FIRST_MS = 30_000;
const POLL_MS = 25;

/** The header, as a route's `headers` schema (documented in OpenAPI from here). */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(new RegExp(`^[\\x21-\\x7E]{1,${IDEMPOTENCY_KEY_MAX_LENGTH}}$`), `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters (no spaces)`)
    .optional()
    .meta({
      description:
        'Makes the request safe to retry: the same key with the same request (per company and caller, for 24 h) answers the first ' +
        'request\'s status and body without writing again (header `Idempotent-Replayed: true`); the same key with another request ' +
        'is a 422 (`idempotency_key_conflict`). Agents derive keys from `VIGIL_IDEMPOTENCY_PREFIX`.',
    }),
});

/** What the five routes add to their errors in the OpenAPI document. */
export const IDEMPOTENCY_CONFLICT = 'the `Idempotency-Key` was used with another request (`idempotency_key_conflict`)';
export const IDEMPOTENCY_IN_PROGRESS = 'A request with the same `Idempotency-Key` is still running (`idempotency_key_in_progress`)';

/** Keys are scoped per caller: the admin, one board key, one agent (whichever of its runs calls). */
export function idempotencyCaller(actor: Actor): string {
  if (actor.kind === 'run') return `agent:${actor.agentId}`;
  return actor.kind === 'board' ? `board-key:${actor.keyId}` : 'admin';
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The same request: the same resolved target (issue, agent, company, document key) and the same JSON body, key order aside. */
export function requestHash(target: Record<string, string>, body: unknown): string {
  return createHash('sha256').update(canonicalJson({ target, body })).digest('hex');
}

/** The JSON errorHandler.ts sends for an AppError (for the one error answer that is stored). */
function errorBody(error: AppError): unknown {
  return { error: redactSecrets(error.message), code: error.code, ...(error.details ?? {}) };
}

/** An error answer that reports a write it made (see the module comment). */
function reportsWrite(error: unknown): error is AppError {
  return error instanceof AppError && error.status >= 500 && typeof error.details?.runId === 'string';
}

function send(res: Response, status: number, text: string, replayed: boolean): void {
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(status).type('application/json').send(text);
}

export interface IdempotentCall {
  prisma: PrismaClient;
  res: Response;
  actor: Actor;
  key: string | undefined;
  companyId: string;
  /** The route's declaration: its method and path name the key's route, its success status is what a first answer is sent with. */
  spec: RouteSpec;
  /** The resolved entities the request acts on (ids, not the path's spelling of them). */
  target: Record<string, string>;
  body: unknown;
  /** What a replayed answer still means for this caller (the stored status and JSON body), before it is sent. */
  onReplay?(status: number, body: string): Promise<void>;
}

/**
 * Runs `handler` once per key. Without a key it just runs it and returns its value (the route
 * sends it); with one, this sends the answer itself and returns undefined.
 */
export async function idempotent(call: IdempotentCall, handler: () => Promise<unknown>): Promise<unknown> {
  if (call.key === undefined) return handler();
  const scope: IdempotencyScope = { companyId: call.companyId, caller: idempotencyCaller(call.actor), key: call.key };
  const hash = requestHash(call.target, call.body);
  const route = `${call.spec.method.toUpperCase()} ${call.spec.path}`;
  const deadline = Date.now() + WAIT_FOR_FIRST_MS;
  for (;;) {
    const claimedAt = await claimIdempotencyKey(call.prisma, scope, { route, requestHash: hash });
    if (claimedAt) return runClaimed(call, scope, claimedAt, handler);
    const row = await findIdempotencyKey(call.prisma, scope);
    if (!row) continue; // released by a failed first request: claim it again
    if (row.route !== route || row.requestHash !== hash) {
      const where = row.route === route ? 'with a different request' : `on ${row.route}`;
      throw new UnprocessableError(
        `Idempotency-Key "${call.key}" was already used ${where} in the last 24 h; use a new key for a new request`,
        { field: 'idempotency-key', firstRoute: row.route },
        'idempotency_key_conflict',
      );
    }
    if (row.responseStatus !== null) {
      await call.onReplay?.(row.responseStatus, row.responseBody ?? 'null');
      send(call.res, row.responseStatus, row.responseBody ?? 'null', true);
      return undefined;
    }
    if (Date.now() >= deadline) {
      throw new ConflictError(`A request with Idempotency-Key "${call.key}" is still running; retry it later`, {}, 'idempotency_key_in_progress');
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function runClaimed(call: IdempotentCall, scope: IdempotencyScope, claimedAt: Date, handler: () => Promise<unknown>): Promise<unknown> {
  let result: unknown;
  try {
    result = await handler();
  } catch (error) {
    if (reportsWrite(error)) {
      await completeIdempotencyKey(call.prisma, scope, claimedAt, { status: error.status, body: JSON.stringify(errorBody(error), jsonReplacer) });
    } else {
      // Should the release itself fail, the claim is taken over once abandoned (5 min); the
      // handler's error is the answer either way.
      await releaseIdempotencyKey(call.prisma, scope, claimedAt).catch(() => undefined);
    }
    throw error;
  }
  const status = successStatus(call.spec);
  const text = JSON.stringify(result ?? null, jsonReplacer);
  await completeIdempotencyKey(call.prisma, scope, claimedAt, { status, body: text });
  send(call.res, status, text, false);
  return undefined;
}
