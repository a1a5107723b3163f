/**
 * Rows read with raw SQL (`SELECT *`, `RETURNING *`) in the shape Prisma's model queries return,
 * so a hot path can lock-and-read or write-and-read in one statement and still hand the rest of
 * the code the model type it knows. Every column is the snake_case of its field (prisma/schema.prisma
 * maps them so; test/store/modelRows.test.ts checks each model), and `$queryRaw` already decodes
 * timestamps, jsonb, bigint and enums as the model queries do.
 */
const camelCase = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function modelRow<T>(row: Record<string, unknown>): T {
  const model: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) model[camelCase(column)] = value;
  return model as T;
}

export function modelRows<T>(rows: Array<Record<string, unknown>>): T[] {
  return rows.map((row) => modelRow<T>(row));
}
