/**
 * What the OpenAPI document promises about input, walked from the document itself so that a new
 * route or field cannot forget it: every integer has the range its column really has, every
 * free-form JSON field of a request carries its bounds, every request string refuses NUL, and
 * the event stream describes each event.
 */
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/routes/openapi.ts';
import { NUL_CHARACTER_PATTERN } from '../../src/api/openapi/document.ts';
import { JSON_BOUNDS_EXTENSION } from '../../src/api/validation.ts';
import { FREE_FORM_JSON_MAX_BYTES, FREE_FORM_JSON_MAX_DEPTH, INT4_MAX, INT4_MIN } from '../../src/api/requestLimits.ts';
import { LIVE_EVENT_TYPES } from '../../src/live/liveEventTypes.ts';

type Schema = Record<string, unknown>;
const doc = openApiDocument() as unknown as {
  paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string; schema: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, Schema> }> }>>;
  components: { schemas: Record<string, Schema> };
};

const COMBINATORS = ['oneOf', 'anyOf', 'allOf'] as const;
const SUBSCHEMA_LISTS = ['oneOf', 'anyOf', 'allOf', 'prefixItems'] as const;
// Not `not`: what a negation refuses is no place a value is taken.
const SUBSCHEMA_VALUES = ['items', 'additionalProperties', 'contentSchema', 'propertyNames'] as const;

interface Visit {
  schema: Schema;
  /** JSON-pointer-ish location, for the failure message. */
  at: string;
  /** Inside a schema that declares free-form JSON bounds. */
  bounded: boolean;
}

/** Every subschema reachable from `root` (through `$ref`s too), each once per location. */
function walk(root: Schema, at: string, onSchema: (visit: Visit) => void) {
  const stack: Visit[] = [{ schema: root, at, bounded: false }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const bounded = visit.bounded || JSON_BOUNDS_EXTENSION in visit.schema;
    const key = `${visit.at}|${bounded}`;
    if (seen.has(key)) continue;
    seen.add(key);
    onSchema({ ...visit, bounded });
    const { schema } = visit;
    const push = (child: unknown, where: string) => {
      if (child && typeof child === 'object' && !Array.isArray(child)) stack.push({ schema: child as Schema, at: `${visit.at}/${where}`, bounded });
    };
    if (typeof schema.$ref === 'string') {
      const name = schema.$ref.replace('#/components/schemas/', '');
      const target = doc.components.schemas[name];
      expect(target, `${visit.at}: ${schema.$ref} resolves`).toBeDefined();
      stack.push({ schema: target, at: `#/components/schemas/${name}`, bounded });
    }
    for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) push(property, `properties/${name}`);
    for (const keyword of SUBSCHEMA_LISTS) ((schema[keyword] ?? []) as unknown[]).forEach((child, index) => push(child, `${keyword}/${index}`));
    for (const keyword of SUBSCHEMA_VALUES) push(schema[keyword], keyword);
  }
}

function operations() {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ where: `${method.toUpperCase()} ${path}`, operation })));
}

/** The schemas of what a request sends: parameters and bodies. */
function requestSchemas(): Array<{ at: string; schema: Schema }> {
  return operations().flatMap(({ where, operation }) => [
    ...(operation.parameters ?? []).map((parameter) => ({ at: `${where} ${parameter.in} ${parameter.name}`, schema: parameter.schema })),
    ...Object.entries(operation.requestBody?.content ?? {}).map(([type, content]) => ({ at: `${where} body (${type})`, schema: content.schema })),
  ]);
}

function responseSchemas(): Array<{ at: string; schema: Schema }> {
  return operations().flatMap(({ where, operation }) =>
    Object.entries(operation.responses).flatMap(([status, response]) =>
      Object.entries(response.content ?? {}).map(([type, content]) => ({ at: `${where} → ${status} (${type})`, schema: content.schema as Schema })),
    ),
  );
}

function typesOf(schema: Schema): string[] {
  return Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
}

/** A schema that lets any JSON value through: no type, reference, combinator or fixed value. */
function acceptsAnything(schema: Schema): boolean {
  return !('type' in schema) && !('$ref' in schema) && !('enum' in schema) && !('const' in schema) && !('not' in schema) && !COMBINATORS.some((keyword) => keyword in schema);
}

/** An object schema that lets any key through with any value. */
function openObject(schema: Schema): boolean {
  if (!typesOf(schema).includes('object')) return false;
  const extra = schema.additionalProperties;
  return extra === undefined || extra === true || (typeof extra === 'object' && extra !== null && acceptsAnything(extra as Schema));
}

describe('the OpenAPI document bounds every input', () => {
  it('gives every integer, in requests and responses, a range its column can hold', () => {
    const problems: string[] = [];
    for (const { at, schema } of [...requestSchemas(), ...responseSchemas()]) {
      walk(schema, at, ({ schema: node, at: where }) => {
        if (!typesOf(node).includes('integer')) return;
        const { minimum, maximum, format } = node as { minimum?: number; maximum?: number; format?: string };
        if (typeof minimum !== 'number' || typeof maximum !== 'number') problems.push(`${where}: integer without minimum and maximum`);
        // Past int4 only where the document says so: a bigint column or a byte offset.
        else if (format !== 'int64' && (minimum < INT4_MIN || maximum > INT4_MAX)) problems.push(`${where}: ${minimum}..${maximum} does not fit an integer column (say format: int64 if it is no such column)`);
        else if (format === 'int64' && maximum > Number.MAX_SAFE_INTEGER) problems.push(`${where}: ${maximum} is past 2^53 − 1`);
      });
    }
    expect(problems).toEqual([]);
  });

  it('bounds every free-form JSON field of a request, and says how', () => {
    const problems: string[] = [];
    let boundedFields = 0;
    for (const { at, schema } of requestSchemas()) {
      walk(schema, at, ({ schema: node, at: where, bounded }) => {
        if (JSON_BOUNDS_EXTENSION in node) {
          boundedFields++;
          expect(node[JSON_BOUNDS_EXTENSION], where).toEqual({ maxDepth: FREE_FORM_JSON_MAX_DEPTH, maxBytes: FREE_FORM_JSON_MAX_BYTES });
        }
        if (!bounded && (acceptsAnything(node) || openObject(node))) problems.push(`${where}: free-form JSON without ${JSON_BOUNDS_EXTENSION}`);
      });
    }
    expect(problems).toEqual([]);
    expect(boundedFields).toBeGreaterThanOrEqual(4); // adapterConfig (both kinds), wakeup payload, environment config
  });

  it('says of every request string that it refuses NUL', () => {
    const problems: string[] = [];
    const admitsNul = (pattern: string) => new RegExp(pattern, 'u').test('a\u0000b');
    for (const { at, schema } of requestSchemas()) {
      walk(schema, at, ({ schema: node, at: where }) => {
        if (!typesOf(node).includes('string') || 'format' in node || 'enum' in node || 'const' in node) return;
        const pattern = node.pattern as string | undefined;
        const refused = (node.not as { pattern?: string } | undefined)?.pattern;
        if (pattern !== undefined ? admitsNul(pattern) : refused === undefined || !admitsNul(refused)) problems.push(`${where}: does not say it refuses NUL`);
      });
    }
    expect(problems).toEqual([]);
    expect(admitsNul(NUL_CHARACTER_PATTERN)).toBe(true);
  });

  it('describes the event stream as text/event-stream, one schema per event name with its payload', () => {
    const media = doc.paths['/api/companies/{companyId}/events'].get.responses['200'].content!['text/event-stream'] as {
      schema: { oneOf: Array<{ required: string[]; properties: { event: { const: string }; data: { contentMediaType: string; contentSchema: { $ref: string } } } }> };
      'x-vigil-events': Record<string, { $ref: string }>;
    };
    const names = media.schema.oneOf.map((branch) => branch.properties.event.const);
    expect(names).toEqual([...LIVE_EVENT_TYPES, 'live.resync']);
    for (const branch of media.schema.oneOf) {
      const name = branch.properties.event.const;
      expect(branch.required, name).toEqual(name === 'live.resync' ? ['event', 'data'] : ['id', 'event', 'data']);
      expect(branch.properties.data.contentMediaType).toBe('application/json');
      expect(branch.properties.data.contentSchema).toEqual(media['x-vigil-events'][name]);
      const payload = doc.components.schemas[branch.properties.data.contentSchema.$ref.replace('#/components/schemas/', '')];
      expect(payload, name).toMatchObject({ type: 'object', additionalProperties: false });
    }
  });

  it('tells local-child agents, the coding-agent CLIs and others apart by adapterType, and requires command for the first', () => {
    const body = doc.paths['/api/companies/{companyId}/agents'].post.requestBody!.content['application/json'].schema as {
      oneOf: Array<{ required: string[]; properties: { adapterType: { enum: string[]; const?: string; default?: string }; adapterConfig: Schema } }>;
    };
    const [localChild, claude, codex, other] = body.oneOf;
    expect(localChild.properties.adapterType.enum).toEqual(expect.arrayContaining(['process', 'gemini_local']));
    expect(localChild.properties.adapterType.enum).not.toContain('claude_local');
    expect([claude.properties.adapterType.const, codex.properties.adapterType.const]).toEqual(['claude_local', 'codex_local']);
    expect(claude.properties.adapterConfig).toMatchObject({ additionalProperties: false });
    expect(Object.keys((claude.properties.adapterConfig as { properties: object }).properties)).toEqual(expect.arrayContaining(['model', 'maxTurns', 'extraArgs', 'promptTemplate']));
    expect(Object.keys((codex.properties.adapterConfig as { properties: object }).properties)).not.toContain('maxTurns');
    expect(localChild.properties.adapterType.default).toBe('process');
    expect(localChild.required).toContain('adapterConfig');
    expect(localChild.properties.adapterConfig).toMatchObject({ required: ['command'], additionalProperties: false });
    expect(other.required).toContain('adapterType');
    expect(other.required).not.toContain('adapterConfig');
    expect(other.properties.adapterType.enum.filter((type) => localChild.properties.adapterType.enum.includes(type))).toEqual([]);
  });
});
