/**
 * The OpenAPI 3.1 document of the API, generated from the route declarations: request parts from
 * the zod schemas that validate them (`io: 'input'`: defaults make a field optional, query
 * integers are integers), responses from the zod response schemas (`io: 'output'`). JSON Schema
 * draft 2020-12 is what OpenAPI 3.1 schemas are, so zod's default target is used as is.
 */
import { z } from 'zod';
import { pathParamNames, type ErrorStatus, type ResponseSpec, type RouteGroup, type RouteSpec } from './route.ts';
import { responseComponents } from './responseSchemas.ts';
import { commaListValues, JSON_BOUNDS_EXTENSION, pathParams, type PathParamName } from '../validation.ts';
import { FREE_FORM_JSON_MAX_BYTES, FREE_FORM_JSON_MAX_DEPTH, MAX_REQUEST_BODY_BYTES } from '../requestLimits.ts';

type JsonSchema = Record<string, unknown>;
export type OpenApiDocument = Record<string, unknown> & { openapi: '3.1.0'; paths: Record<string, Record<string, JsonSchema>>; components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> } };

const COMPONENTS = '#/components/schemas/';
const INLINE = '__inline_';
const CALLER_NAMES = { admin: 'the instance admin token', board: 'board keys', run: 'run tokens' } as const;

const STANDARD_ERRORS: Record<number, string> = {
  400: 'Malformed path, query or body, or input past the limits in the description above (`code: invalid_request`, `details` names the fields), or malformed JSON',
  401: 'No or bad credentials',
  403: 'Credentials of another company, or of a kind this route is not open to',
  404: 'Unknown id, or the id of another company',
  413: `Request body over ${MAX_REQUEST_BODY_BYTES / 1024 / 1024} MiB`,
};

/**
 * Every string of a request refuses U+0000 (src/api/openapi/route.ts). Request schemas say so,
 * `not: { pattern: "\u0000" }`, wherever a string has no pattern, format or fixed values of its
 * own (those exclude NUL already); strings inside free-form JSON cannot, and the description says
 * it. A negated pattern rather than `^[^\u0000]*$`: generators (schemathesis) make strings for
 * it three times faster, and it reads as what it is, "contains no NUL".
 */
export const NUL_CHARACTER_PATTERN = '\\u0000';

function refuseNul({ jsonSchema }: { jsonSchema: JsonSchema }): void {
  if (jsonSchema.type !== 'string') return;
  if (['pattern', 'format', 'enum', 'const', 'not'].some((keyword) => keyword in jsonSchema)) return;
  jsonSchema.not = { pattern: NUL_CHARACTER_PATTERN };
}

/** `/issues/:issueId` → `/api/issues/{issueId}`. */
export function openApiPath(expressPath: string): string {
  return `/api${expressPath.replace(/:(\w+)/g, '{$1}')}`;
}

/** JSON Schema of one zod schema, for a spot that has no reusable name (parameters). */
function plainJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, ...(io === 'input' ? { override: refuseNul } : {}) }) as JsonSchema;
  return json;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  return inner;
}

function objectParameters(schema: z.ZodType, location: 'query' | 'header'): JsonSchema[] {
  if (!(schema instanceof z.ZodObject)) throw new Error(`${location} schema must be a zod object`);
  const json = plainJsonSchema(schema, 'input');
  const required = new Set((json.required as string[] | undefined) ?? []);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    const values = commaListValues.get(unwrapOptional(schema.shape[name] as z.ZodType));
    return {
      name,
      in: location,
      required: required.has(name),
      ...(description ? { description } : {}),
      ...(values
        ? { style: 'form', explode: false, schema: { type: 'array', items: { type: 'string', enum: [...values] }, minItems: 1 } }
        : { schema: propertySchema }),
    };
  });
}

function pathParameters(path: string): JsonSchema[] {
  return pathParamNames(path).map((name) => {
    const { description, ...schema } = plainJsonSchema(pathParams[name as PathParamName], 'input');
    return { name, in: 'path', required: true, ...(description ? { description } : {}), schema };
  });
}

function callersOf(spec: RouteSpec): string {
  if (spec.auth === 'anyone') return 'Open to anyone, no credentials needed.';
  const kinds = spec.auth.filter((kind) => kind !== 'admin').map((kind) => CALLER_NAMES[kind]);
  return `Callers: ${[...kinds, CALLER_NAMES.admin].join(', ')}.`;
}

/** Named schemas are referenced; others get a temporary name and are inlined after conversion. */
class SchemaCollector {
  private readonly registry = z.registry<{ id: string }>();
  private inlineCount = 0;

  constructor(
    private readonly io: 'input' | 'output',
    named: Record<string, z.ZodType> = {},
    private readonly prefix = '',
  ) {
    for (const [id, schema] of Object.entries(named)) this.registry.add(schema, { id });
  }

  ref(schema: z.ZodType): JsonSchema {
    return this.named(`${INLINE}${this.prefix}${this.inlineCount++}`, schema);
  }

  /** A reference to `schema` under `components.schemas[id]`, unless it has a name already. */
  named(id: string, schema: z.ZodType): JsonSchema {
    const known = this.registry.get(schema)?.id;
    if (known) return { $ref: `${COMPONENTS}${known}` };
    this.registry.add(schema, { id });
    return { $ref: `${COMPONENTS}${id}` };
  }

  convert(): Record<string, JsonSchema> {
    const { schemas } = z.toJSONSchema(this.registry, {
      io: this.io,
      uri: (id) => `${COMPONENTS}${id}`,
      ...(this.io === 'input' ? { override: refuseNul } : {}),
    }) as { schemas: Record<string, JsonSchema> };
    return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
  }
}

/** Replaces every `$ref` to an inline schema by that schema, recursively. */
function inlineTemporaryRefs(value: unknown, inline: Record<string, JsonSchema>): unknown {
  if (Array.isArray(value)) return value.map((item) => inlineTemporaryRefs(item, inline));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as JsonSchema).$ref;
  if (typeof ref === 'string' && ref.startsWith(`${COMPONENTS}${INLINE}`)) {
    const schema = inline[ref.slice(COMPONENTS.length)];
    if (!schema) throw new Error(`no schema for ${ref}`);
    return inlineTemporaryRefs(schema, inline);
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inlineTemporaryRefs(item, inline)]));
}

/**
 * A Server-Sent Events stream. OpenAPI 3.1 has no type for a stream of items, so this follows
 * what OpenAPI 3.2 writes as `itemSchema` (and what schemathesis and client generators read from
 * `schema` for `text/event-stream` before 3.2): the schema describes ONE event, `{ id, event,
 * data }` as an EventSource parses it, one `oneOf` branch per event name, with `data` a JSON text
 * whose `contentSchema` is that event's payload. `x-vigil-events` lists the same payloads by name.
 */
function eventStreamMedia(events: NonNullable<ResponseSpec['events']>, responses: SchemaCollector): JsonSchema {
  const payloads = Object.fromEntries(Object.entries(events).map(([name, event]) => [name, responses.named(`Event.${name}`, event.data)]));
  const branches = Object.entries(events).map(([name, event]) => ({
    type: 'object',
    required: event.numbered ? ['id', 'event', 'data'] : ['event', 'data'],
    properties: {
      ...(event.numbered
        ? { id: { type: 'string', pattern: '^[0-9]+$', description: 'The event id; a board resumes after it with `Last-Event-ID`' } }
        : {}),
      event: { type: 'string', const: name },
      data: { type: 'string', contentMediaType: 'application/json', contentSchema: payloads[name] },
    },
  }));
  return {
    schema: { description: 'One event of the stream (see the operation): `event` names it, `data` is its JSON payload', oneOf: branches },
    'x-vigil-events': payloads,
  };
}

function responseObject(response: ResponseSpec, responses: SchemaCollector): JsonSchema {
  const contentType = response.contentType ?? 'application/json';
  return {
    description: response.description,
    ...(response.headers
      ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, header]) => [name, { description: header.description, schema: plainJsonSchema(header.schema, 'output') }])) }
      : {}),
    ...(response.events ? { content: { [contentType]: eventStreamMedia(response.events, responses) } } : {}),
    ...(response.schema ? { content: { [contentType]: { schema: responses.ref(response.schema) } } } : {}),
  };
}

function operation(operationId: string, tag: string, spec: RouteSpec, requests: SchemaCollector, responses: SchemaCollector): JsonSchema {
  const errors: Partial<Record<ErrorStatus, string>> = { 400: STANDARD_ERRORS[400] };
  if (spec.auth !== 'anyone') Object.assign(errors, { 401: STANDARD_ERRORS[401], 403: STANDARD_ERRORS[403] });
  if (pathParamNames(spec.path).length > 0) errors[404] = STANDARD_ERRORS[404];
  if (spec.body) errors[413] = STANDARD_ERRORS[413];
  Object.assign(errors, spec.errors ?? {});
  const errorResponse = { content: { 'application/json': { schema: { $ref: `${COMPONENTS}Error` } } } };
  return {
    operationId,
    tags: [tag],
    summary: spec.summary,
    description: [spec.description, callersOf(spec)].filter(Boolean).join('\n\n'),
    'x-vigil-callers': spec.auth === 'anyone' ? ['anyone'] : [...new Set(['admin', ...spec.auth])],
    security: spec.auth === 'anyone' ? [] : [{ bearerAuth: [] }],
    parameters: [
      ...pathParameters(spec.path),
      ...(spec.query ? objectParameters(spec.query, 'query') : []),
      ...(spec.headers ? objectParameters(spec.headers, 'header') : []),
    ],
    ...(spec.body
      ? { requestBody: { required: !spec.body.safeParse({}).success, content: { 'application/json': { schema: requests.ref(spec.body) } } } }
      : {}),
    responses: {
      ...Object.fromEntries(Object.entries(spec.responses).map(([status, response]) => [status, responseObject(response, responses)])),
      ...Object.fromEntries(Object.entries(errors).map(([status, description]) => [status, { description, ...errorResponse }])),
    },
  };
}

export function buildOpenApiDocument(groups: RouteGroup[], info: { version: string }): OpenApiDocument {
  const requests = new SchemaCollector('input', {}, 'request_');
  const responses = new SchemaCollector('output', responseComponents, 'response_');
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const operationIds = new Set<string>();
  for (const group of groups) {
    for (const [operationId, spec] of Object.entries(group.routes)) {
      if (operationIds.has(operationId)) throw new Error(`duplicate operation id ${operationId}`);
      operationIds.add(operationId);
      const path = openApiPath(spec.path);
      paths[path] ??= {};
      if (paths[path][spec.method]) throw new Error(`${spec.method.toUpperCase()} ${path} is declared twice`);
      paths[path][spec.method] = operation(operationId, group.tag, spec, requests, responses);
    }
  }
  const converted = { ...requests.convert(), ...responses.convert() };
  const inline = Object.fromEntries(Object.entries(converted).filter(([id]) => id.startsWith(INLINE)));
  const named = Object.fromEntries(Object.entries(converted).filter(([id]) => !id.startsWith(INLINE)));
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Vigil board API',
      version: info.version,
      description: [
        'Heartbeat runs of AI agents, their issues and their recovery. The contract is spec/API.md.',
        'Every error is `{ error, code, details? }` (see the `Error` schema). `:issueId` accepts an identifier such as `PAP-12`.',
        'Authenticate with `Authorization: Bearer <token>`: the instance admin token, a board key (`vgb_…`, one company) or a run token (`VIGIL_API_KEY` of a run).',
        `Input limits, on every route: a request body takes at most ${MAX_REQUEST_BODY_BYTES / 1024 / 1024} MiB (413 beyond); no string anywhere in a request may contain NUL (U+0000); integers stay in the range of the column they go to; free-form JSON (marked \`${JSON_BOUNDS_EXTENSION}\`) nests at most ${FREE_FORM_JSON_MAX_DEPTH} levels and takes at most ${FREE_FORM_JSON_MAX_BYTES / 1024} KiB. Beyond them: 400 naming the field.`,
      ].join('\n\n'),
    },
    tags: [...new Set(groups.map((group) => group.tag))].map((name) => ({ name })),
    security: [{ bearerAuth: [] }],
    paths: inlineTemporaryRefs(paths, inline) as OpenApiDocument['paths'],
    components: {
      schemas: inlineTemporaryRefs(named, inline) as Record<string, JsonSchema>,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Instance admin token, board key, or run token' },
      },
    },
  };
}
