/**
 * Request validation helpers. Schemas are zod objects declared next to their routes; unknown
 * fields are rejected (strict objects), and a ZodError becomes a 400 naming the fields.
 */
import { z } from 'zod';
import type { Request } from 'express';
import { BadRequestError } from '../errors.ts';

export const uuid = z.uuid({ message: 'must be a UUID' });
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENTIFIER_RE = /^[A-Za-z][A-Za-z0-9]*-\d+$/;

export function parseBody<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  return schema.parse(req.body ?? {});
}

export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  return schema.parse(req.query);
}

/** A path parameter that must be a UUID: 400 naming the parameter otherwise. */
export function uuidParam(req: Request, name: string): string {
  const value = String(req.params[name] ?? '');
  if (!UUID_RE.test(value)) throw new BadRequestError(`${name} must be a UUID`, { details: [{ field: name, message: 'must be a UUID' }] }, 'invalid_request');
  return value.toLowerCase();
}

/** `:issueId` accepts a UUID or an identifier such as PAP-12. */
export function issueRefParam(req: Request, name = 'issueId'): { id: string } | { identifier: string } {
  const value = String(req.params[name] ?? '');
  if (UUID_RE.test(value)) return { id: value.toLowerCase() };
  if (IDENTIFIER_RE.test(value)) return { identifier: value.toUpperCase() };
  throw new BadRequestError(`${name} must be a UUID or an identifier such as PAP-12`, { details: [{ field: name, message: 'must be a UUID or an identifier' }] }, 'invalid_request');
}

/** A query parameter holding a comma-separated list of enum values (`status=todo,in_progress`). */
export function commaListOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .transform((value) => value.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1));
}

/** Query integers arrive as strings. */
export const queryInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const jsonObject = z.record(z.string(), z.unknown());
