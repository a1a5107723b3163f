/**
 * One declaration per route: method, path, who may call it, what it takes and what it answers.
 * `routerFor` turns a group of declarations plus one handler each into an Express router that
 * checks the caller, parses path, query, headers and body with the declared zod schemas, and sends
 * the handler's return value with the declared success status. `buildOpenApiDocument` turns the
 * same declarations into `GET /api/openapi.json`, so the document cannot drift from the code.
 *
 * Order of checks, for every route: credentials (401/403) → path (400) → company of the path
 * (403, or 404 for the admin) → query (400) → headers (400) → body (400) → the handler (404 for an
 * unknown or foreign entity, 409, 422, …).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { PrismaClient } from '../../store/db.ts';
import { allow, companyFromPath, type Actor, type ActorKind } from '../auth.ts';
import { pathParams, type PathParamName } from '../validation.ts';
import { findUnstorableText } from '../requestLimits.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 503;

export interface ResponseSpec {
  description: string;
  /** The body; omitted for a response without one. */
  schema?: z.ZodType;
  /** Default `application/json`. Any other type means the handler writes the response itself. */
  contentType?: string;
  /**
   * For `text/event-stream`: the events the stream carries, by event name, each with the schema of
   * its JSON `data` and whether it has an `id:` (instead of `schema`, which would be the whole body).
   */
  events?: Record<string, { data: z.ZodType; numbered: boolean }>;
  headers?: Record<string, { description: string; schema: z.ZodType }>;
}

export interface RouteSpec {
  method: HttpMethod;
  /** Express style, relative to `/api`: `/issues/:issueId/comments`. Parameters come from `pathParams`. */
  path: string;
  /** `anyone`, or the kinds of credentials accepted; the instance admin is always accepted. */
  auth: 'anyone' | readonly [ActorKind, ...ActorKind[]];
  summary: string;
  description?: string;
  /** A strict zod object; without it, any query parameter is a 400. */
  query?: z.ZodType;
  /** Request headers the route reads (lower-case names), as a zod object. */
  headers?: z.ZodType;
  body?: z.ZodType;
  /** Success (and other non-error) answers by status; the lowest one is what a returned value is sent with. */
  responses: { [status: number]: ResponseSpec };
  /** Errors this route gives besides the ones every route may give (400/401/403/404/413), with when. */
  errors?: { [S in ErrorStatus]?: string };
}

export interface RouteGroup<R extends Record<string, RouteSpec> = Record<string, RouteSpec>> {
  /** The OpenAPI tag of every route in the group. */
  tag: string;
  /** Keys are the operation ids. */
  routes: R;
}

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

export interface RouteInput<S extends RouteSpec> {
  req: Request;
  res: Response;
  actor: S['auth'] extends 'anyone' ? Actor | undefined : Actor;
  params: { [K in ParamNames<S['path']>]: string };
  query: S['query'] extends z.ZodType ? z.output<S['query']> : Record<string, never>;
  headers: S['headers'] extends z.ZodType ? z.output<S['headers']> : undefined;
  body: S['body'] extends z.ZodType ? z.output<S['body']> : undefined;
}

/** Returns the response body (sent as JSON with the route's success status), or writes `res` itself. */
export type RouteHandler<S extends RouteSpec> = (input: RouteInput<S>) => unknown;

const noQuery = z.strictObject({});

export function pathParamNames(path: string): string[] {
  return [...path.matchAll(/:(\w+)/g)].map((match) => match[1]);
}

export function successStatus(spec: RouteSpec): number {
  return Math.min(...Object.keys(spec.responses).map(Number));
}

function isJson(response: ResponseSpec | undefined): boolean {
  return (response?.contentType ?? 'application/json') === 'application/json';
}

function paramsSchema(routeName: string, path: string) {
  const shape: Partial<Record<PathParamName, z.ZodType<string, string>>> = {};
  for (const name of pathParamNames(path)) {
    if (!(name in pathParams)) throw new Error(`route ${routeName}: no schema for path parameter :${name} (add it to pathParams)`);
    shape[name as PathParamName] = pathParams[name as PathParamName];
  }
  return z.object(shape);
}

export function defineRoutes<const R extends Record<string, RouteSpec>>(tag: string, routes: R): RouteGroup<R> {
  for (const [name, spec] of Object.entries(routes)) {
    paramsSchema(name, spec.path);
    if (spec.query && !(spec.query instanceof z.ZodObject)) throw new Error(`route ${name}: query must be a zod object`);
    if (Object.keys(spec.responses).length === 0) throw new Error(`route ${name}: declare at least one response`);
  }
  return { tag, routes };
}

/**
 * Parses one part of the request. An unknown key becomes one issue per key whose path names it,
 * so a 400's `details` says `colour`, not the whole body. Text PostgreSQL could not store as sent
 * (a NUL character, a lone surrogate) anywhere in the part, in a value or a key, is a 400 naming
 * where it is, before the schema is even looked at.
 */
function parsePart<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const unstorable = findUnstorableText(value);
  if (unstorable) throw new z.ZodError([{ code: 'custom', path: unstorable.path, message: unstorable.message, input: undefined }]);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new z.ZodError(
    result.error.issues.flatMap((issue): z.core.$ZodIssue[] =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ ...issue, keys: [key], path: [...issue.path, key], message: 'is not a known field' }))
        : [issue],
    ),
  );
}

function routeMiddleware(deps: { prisma: PrismaClient }, name: string, spec: RouteSpec, handler: RouteHandler<RouteSpec>): RequestHandler {
  const params = paramsSchema(name, spec.path);
  const usesCompany = pathParamNames(spec.path).includes('companyId');
  const status = successStatus(spec);
  const sendsJson = isJson(spec.responses[status]);
  return async (req, res) => {
    const actor = spec.auth === 'anyone' ? req.actor : allow(req, ...spec.auth);
    const parsedParams = parsePart(params, req.params) as Record<string, string>;
    // The company of the path: another company's credentials get 403; the admin a 404 for an unknown one.
    if (usesCompany && spec.auth !== 'anyone') await companyFromPath(req, deps.prisma, ...spec.auth);
    const query = parsePart(spec.query ?? noQuery, req.query);
    const headers = spec.headers ? parsePart(spec.headers, req.headers) : undefined;
    const body = spec.body ? parsePart(spec.body, req.body ?? {}) : undefined;
    const result = await handler({ req, res, actor, params: parsedParams, query, headers, body } as RouteInput<RouteSpec>);
    if (sendsJson && !res.headersSent) res.status(status).json(result ?? null);
  };
}

/** The Express router of a group: every declared route mounted, each with its handler. */
export function routerFor<R extends Record<string, RouteSpec>>(
  deps: { prisma: PrismaClient },
  group: RouteGroup<R>,
  handlers: { [K in keyof R]: RouteHandler<R[K]> },
): Router {
  const router = Router();
  for (const [name, spec] of Object.entries(group.routes)) {
    router[spec.method](spec.path, routeMiddleware(deps, name, spec, handlers[name] as RouteHandler<RouteSpec>));
  }
  return router;
}
