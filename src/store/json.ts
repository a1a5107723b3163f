/** Small helpers for the jsonb columns (`contextSnapshot`, `payload`, `resultJson`, …). */
import type { Prisma } from './db.ts';

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

/** Prisma wants InputJsonValue; our objects are plain JSON by construction. */
export function toJson(value: JsonObject): Prisma.InputJsonValue {
  return value as Prisma.InputJsonValue;
}

export function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** The issue a run or wake is bound to (glossary: only `issueId` counts, never `taskId`). */
export function boundIssueId(json: unknown): string | null {
  return stringOrNull(asObject(json).issueId);
}
