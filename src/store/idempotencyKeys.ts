/**
 * Issue 14 §3: the `idempotency_keys` rows behind the `Idempotency-Key` header (the mechanism and
 * its decisions: src/api/idempotency.ts). A key is claimed by one INSERT … ON CONFLICT DO NOTHING
 * before its handler runs, so of any number of concurrent duplicates exactly one claims it; the
 * claimer then completes the row with the answer it sent, or releases it (deletes it) when its
 * handler failed without writing. Each statement stands alone (no transaction held while the
 * handler runs, no connection held while a duplicate waits).
 */
import type { PrismaClient } from './db.ts';

export interface IdempotencyScope {
  companyId: string;
  /** `admin`, `board-key:<id>` or `agent:<id>`. */
  caller: string;
  key: string;
}

export interface IdempotencyRow {
  route: string;
  requestHash: string;
  /** Null while the claimer's handler runs. */
  responseStatus: number | null;
  responseBody: string | null;
}

/** Rows older than this are gone: the key may be used again (issue 14: kept 24 h). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * A claim whose handler has not completed it after this long is abandoned (its process died
 * between the claim and the completion): the next request with that key takes it over.
 */
export const IDEMPOTENCY_CLAIM_ABANDONED_MS = 5 * 60 * 1000;
/** Expired rows of other keys each claim prunes on the way (the table never grows past a day of keys). */
const PRUNE_PER_CLAIM = 20;

/**
 * Claims the key for one request: the claim's moment when this request owns the key now and must
 * run its handler, null when another request holds it. First this key's expired or abandoned row
 * goes, with a few expired rows of other keys.
 */
export async function claimIdempotencyKey(prisma: PrismaClient, scope: IdempotencyScope, claim: { route: string; requestHash: string }): Promise<Date | null> {
  const now = Date.now();
  const claimedAt = new Date(now);
  const expiredBefore = new Date(now - IDEMPOTENCY_KEY_TTL_MS);
  const abandonedBefore = new Date(now - IDEMPOTENCY_CLAIM_ABANDONED_MS);
  await prisma.$executeRaw`
    DELETE FROM idempotency_keys AS k
    WHERE (k.company_id = ${scope.companyId}::uuid AND k.caller = ${scope.caller} AND k.key = ${scope.key}
           AND (k.created_at < ${expiredBefore} OR (k.response_status IS NULL AND k.created_at < ${abandonedBefore})))
       OR (k.company_id, k.caller, k.key) IN (
            SELECT company_id, caller, key FROM idempotency_keys
            WHERE created_at < ${expiredBefore} ORDER BY created_at LIMIT ${PRUNE_PER_CLAIM}::int)`;
  const claimed = await prisma.$executeRaw`
    INSERT INTO idempotency_keys (company_id, caller, key, route, request_hash, created_at)
    VALUES (${scope.companyId}::uuid, ${scope.caller}, ${scope.key}, ${claim.route}, ${claim.requestHash}, ${claimedAt})
    ON CONFLICT (company_id, caller, key) DO NOTHING`;
  return claimed === 1 ? claimedAt : null;
}

/** The row of a key, or null when there is none (released, expired, or never claimed). */
export async function findIdempotencyKey(prisma: PrismaClient, scope: IdempotencyScope): Promise<IdempotencyRow | null> {
  return prisma.idempotencyKey.findUnique({
    where: { companyId_caller_key: scope },
    select: { route: true, requestHash: true, responseStatus: true, responseBody: true },
  });
}

/**
 * The claimer's answer, stored for every duplicate to replay. `claimedAt` names the claim: a
 * handler slower than the abandonment bound whose claim was taken over completes nothing.
 */
export async function completeIdempotencyKey(prisma: PrismaClient, scope: IdempotencyScope, claimedAt: Date, response: { status: number; body: string }): Promise<void> {
  await prisma.idempotencyKey.updateMany({
    where: { ...scope, createdAt: claimedAt, responseStatus: null },
    data: { responseStatus: response.status, responseBody: response.body, completedAt: new Date() },
  });
}

/** The claimer's handler failed without writing: the key is free for a retry. */
export async function releaseIdempotencyKey(prisma: PrismaClient, scope: IdempotencyScope, claimedAt: Date): Promise<void> {
  await prisma.idempotencyKey.deleteMany({ where: { ...scope, createdAt: claimedAt, responseStatus: null } });
}

/** Deletes rows older than `before`, in batches; returns how many (for an hourly retention sweep). */
export async function pruneIdempotencyKeys(prisma: PrismaClient, before: Date, batchRows = 5_000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const count = await prisma.$executeRaw`
      DELETE FROM idempotency_keys WHERE (company_id, caller, key) IN (
        SELECT company_id, caller, key FROM idempotency_keys WHERE created_at < ${before} ORDER BY created_at LIMIT ${batchRows}::int)`;
    deleted += count;
    if (count < batchRows) return deleted;
  }
}

/** The retention tick's prune of keys past their 24 h (store/runLogRetention.ts `alsoPrune`). */
export function expiredIdempotencyKeys(prisma: PrismaClient): { what: string; prune(now: Date): Promise<number> } {
  return { what: 'idempotency keys', prune: (now) => pruneIdempotencyKeys(prisma, new Date(now.getTime() - IDEMPOTENCY_KEY_TTL_MS)) };
}
