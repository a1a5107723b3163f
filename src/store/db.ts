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

export function createPrismaClient(databaseUrl: string, poolSize = DEFAULT_POOL_SIZE): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter });
}
