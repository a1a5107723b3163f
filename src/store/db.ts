/**
 * The one door to Prisma: builds the client and re-exports the generated client, namespace, model
 * types and enums, so the rest of the code imports them from here and never from src/generated.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export * from '../generated/prisma/client.ts';

/**
 * Connections per client. Interactive transactions hold one for their whole duration (SELECT …
 * FOR UPDATE on the issue row, R71/R28), while several Vigil processes, or a test run's many
 * clients, share PostgreSQL's default max_connections of 100.
 */
export const DEFAULT_POOL_SIZE = 10;

/**
 * Interactive transactions (Prisma's defaults: 2 s to get a connection, 5 s to finish). A burst
 * (forty issues created at once, a worker's runs finalizing together, a sweep's batch) makes
 * transactions queue for the pool and for row locks; on a busy host the defaults turned that
 * queueing into 500s and into finalizes Temporal had to retry from the start. Waiting is the
 * right answer: every transaction here is short when it runs, and a lock wait ends when the
 * holder commits.
 */
export const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 30_000 } as const;

/** A batch's transaction (a sweep's or the reaper's hundreds of rows under their row locks). */
export const BATCH_TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 60_000 } as const;

export function createPrismaClient(databaseUrl: string, poolSize = DEFAULT_POOL_SIZE): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter, transactionOptions: TRANSACTION_OPTIONS });
}
