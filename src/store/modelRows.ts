/**
 * Rows read with raw SQL (`SELECT *`, `RETURNING *`) in the shape Prisma's model queries return,
 * so a hot path can lock-and-read or write-and-read in one statement and still hand the rest of
 * the code the model type it knows. Every column is the snake_case of its field (prisma/schema.prisma
 * maps them so; test/store/modelRows.test.ts checks each model), and `$queryRaw` already decodes
 * timestamps, jsonb, bigint and enums as the model queries do.
 */
import { Prisma } from './db.ts';

const camelCase = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function modelRow<T>(row: Record<string, unknown>): T {
  const model: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) model[camelCase(column)] = value;
  return model as T;
}

export function modelRows<T>(rows: Array<Record<string, unknown>>): T[] {
  return rows.map((row) => modelRow<T>(row));
}

const snakeCase = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * A second model's columns in a read that returns two rows side by side (a run with its agent):
 * `<alias>.<column> AS "<prefix><column>"` for each of its fields, so no name clashes with the
 * first row's `*`. `splitRow` takes them apart again.
 */
export function prefixedColumnsSql(alias: string, fields: readonly string[], prefix: string): Prisma.Sql {
  return Prisma.raw(fields.map((field) => `${alias}."${snakeCase(field)}" AS "${prefix}${snakeCase(field)}"`).join(', '));
}

/** The row's own columns, and the ones `prefixedColumnsSql` named with `prefix` (unprefixed). */
export function splitRow(row: Record<string, unknown>, prefix: string): [Record<string, unknown>, Record<string, unknown>] {
  const own: Record<string, unknown> = {};
  const prefixed: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith(prefix)) prefixed[column.slice(prefix.length)] = value;
    else own[column] = value;
  }
  return [own, prefixed];
}
