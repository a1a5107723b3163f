/**
 * Text that should be a uuid (a run context's `issueId`, `projectId`), used as one in SQL without
 * ever failing the statement on a malformed value.
 */
import { Prisma } from './db.ts';

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** A text expression (a context field) as a uuid, or NULL when it is not one — never a cast error. */
export function uuidOrNullSql(text: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(CASE WHEN (${text}) ~ ${UUID_PATTERN} THEN (${text})::uuid END)`;
}
