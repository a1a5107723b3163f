/**
 * Request validation schemas shared by the routes. Route declarations (src/api/openapi/route.ts)
 * parse path, query and body with these zod schemas; the same schemas feed `GET /api/openapi.json`.
 * Unknown fields are rejected (strict objects), and a ZodError becomes a 400 naming the fields.
 * Limits every request shares (NUL characters, integer ranges, free-form JSON): requestLimits.ts.
 */
import { z } from 'zod';
import type { Request } from 'express';
import { BadRequestError } from '../errors.ts';
import { FREE_FORM_JSON_MAX_BYTES, FREE_FORM_JSON_MAX_DEPTH, INT4_MAX, INT4_MIN, freeFormJsonProblem } from './requestLimits.ts';

export const AGENT_ROLES = ['ceo', 'cto', 'cmo', 'cfo', 'security', 'engineer', 'designer', 'pm', 'qa', 'devops', 'researcher', 'general'] as const;
export const AGENT_STATUSES = ['active', 'paused', 'idle', 'running', 'error', 'pending_approval', 'terminated'] as const;
export const ADAPTER_TYPES = ['process', 'http', 'claude_local', 'codex_local', 'gemini_local', 'opencode_local', 'pi_local', 'cursor', 'hermes_local', 'openclaw_gateway'] as const;

export const uuid = z.uuid({ message: 'must be a UUID' });
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const IDENTIFIER_RE = /^[A-Za-z][A-Za-z0-9]*-\d+$/;

/** A path parameter that must be a UUID: 400 naming the parameter otherwise. */
export function uuidParam(req: Request, name: string): string {
  const value = String(req.params[name] ?? '');
  if (!UUID_RE.test(value)) throw new BadRequestError(`${name} must be a UUID`, { details: [{ field: name, message: 'must be a UUID' }] }, 'invalid_request');
  return value.toLowerCase();
}

/** `:issueId` holds a UUID or an identifier such as PAP-12 (already checked by `pathParams`). */
export function issueRef(value: string): { id: string } | { identifier: string } {
  return UUID_RE.test(value) ? { id: value.toLowerCase() } : { identifier: value.toUpperCase() };
}

const uuidPath = z
  .string()
  .regex(UUID_RE, 'must be a UUID')
  .transform((value) => value.toLowerCase())
  .meta({ format: 'uuid' });

/**
 * Every path parameter any route uses, by name. A route's path decides which of them it parses,
 * so a parameter is validated (and documented) the same way on every route.
 */
export const pathParams = {
  companyId: uuidPath,
  agentId: uuidPath,
  runId: uuidPath,
  holdId: uuidPath,
  issueId: z
    .string()
    .refine((value) => UUID_RE.test(value) || IDENTIFIER_RE.test(value), 'must be a UUID or an identifier such as PAP-12')
    .meta({ description: 'Issue id (UUID) or identifier such as `PAP-12`', pattern: '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z][A-Za-z0-9]*-[0-9]+)$' }),
  key: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must match [a-z0-9][a-z0-9_-]*').max(64).meta({ description: 'Document key, e.g. `plan`' }),
} satisfies Record<string, z.ZodType<string, string>>;

export type PathParamName = keyof typeof pathParams;

/** Comma-list query schemas and their allowed values, so the OpenAPI document can say `style: form, explode: false`. */
export const commaListValues = new WeakMap<z.ZodType, readonly string[]>();

/** A query parameter holding a comma-separated list of enum values (`status=todo,in_progress`). */
export function commaListOf<const T extends readonly [string, ...string[]]>(values: T) {
  const schema = z
    .string()
    .transform((value) => value.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1))
    .meta({ description: `Comma-separated list of: ${values.join(', ')}` });
  commaListValues.set(schema, values);
  return schema;
}

function int4Range(min: number, max: number): void {
  if (min < INT4_MIN || max > INT4_MAX) throw new Error(`integer range ${min}..${max} does not fit a PostgreSQL integer column`);
}

/**
 * An integer of the body, stored in or compared with an `integer` column (or kept in JSON next to
 * them): the range is checked against int4 when the schema is built, so a route cannot declare
 * one the database would refuse (test/api/openapiBounds.test.ts walks the document for it).
 */
export function int4(min: number, max: number) {
  int4Range(min, max);
  return z.int().min(min).max(max);
}

/** Query integers arrive as strings; the same int4 range rule as `int4`. */
export function queryInt(min: number, max: number) {
  int4Range(min, max);
  return z.coerce.number().int().min(min).max(max);
}

/** A query integer that is no column's (a byte offset into a file): up to 2^53 − 1, `format: int64`. */
export function queryInt64(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.coerce.number().int().min(min).max(max).meta({ format: 'int64' });
}

/** The extension that marks a free-form JSON schema in the OpenAPI document, with its bounds. */
export const JSON_BOUNDS_EXTENSION = 'x-vigil-json-bounds';

/**
 * Free-form JSON (any keys, any values), bounded: at most `FREE_FORM_JSON_MAX_DEPTH` levels deep
 * and `FREE_FORM_JSON_MAX_BYTES` as JSON, else a 400 naming the field. Every free-form field of a
 * request goes through here; the document test fails for one that does not.
 */
export function boundedJson<T extends z.ZodType>(schema: T) {
  return schema
    .superRefine((value, ctx) => {
      const problem = freeFormJsonProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({
      [JSON_BOUNDS_EXTENSION]: { maxDepth: FREE_FORM_JSON_MAX_DEPTH, maxBytes: FREE_FORM_JSON_MAX_BYTES },
      description: `Free-form JSON: at most ${FREE_FORM_JSON_MAX_DEPTH} levels deep and ${FREE_FORM_JSON_MAX_BYTES / 1024} KiB`,
    });
}

/** A free-form JSON object (configs). */
export const jsonObject = boundedJson(z.record(z.string(), z.unknown()));
