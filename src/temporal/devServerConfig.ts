/**
 * Reads `temporal-dev.yml` (the dev server's settings, at the top of the repository), validates it
 * and returns it typed. Unknown keys are errors: a typo must not silently fall back to a default.
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { appFile } from '../platform/appFiles.ts';

/** Search attribute types that `temporal server start-dev --search-attribute Name=Type` accepts. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_TYPES = ['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'] as const;
export type DevServerSearchAttributeType = (typeof DEV_SERVER_SEARCH_ATTRIBUTE_TYPES)[number];

const port = z.number().int().min(1).max(65535);
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, _)');

const schema = z.strictObject({
  namespace: z.string().min(1),
  port,
  uiPort: port,
  /** null: the server picks a free port at each start. */
  httpPort: port.nullable().default(null),
  metricsPort: port.nullable().default(null),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'never']),
  /** Relative to Vigil's data directory. */
  dbFile: z
    .string()
    .min(1)
    .refine((file) => !file.startsWith('/') && !file.split(/[\\/]/).includes('..'), 'must be a relative path inside the data directory'),
  headless: z.boolean(),
  sqlitePragmas: z.record(identifier, z.union([z.string(), z.number()]).transform(String)).default({}),
  dynamicConfig: z.record(z.string().regex(/^[A-Za-z][\w.]*$/, 'must be a dynamic config key'), z.unknown()).default({}),
  searchAttributes: z.record(identifier, z.enum(DEV_SERVER_SEARCH_ATTRIBUTE_TYPES)),
});

export type TemporalDevConfig = z.output<typeof schema>;

/** The app's `temporal-dev.yml` (platform/appFiles.ts: the same file from src/ or dist/). */
export const DEFAULT_TEMPORAL_DEV_CONFIG_FILE = appFile('temporal-dev.yml');

export function loadTemporalDevConfig(file: string = DEFAULT_TEMPORAL_DEV_CONFIG_FILE): TemporalDevConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the Temporal dev server settings ${file}: ${(error as Error).message}`);
  }
  return parseTemporalDevConfig(text, file);
}

export function parseTemporalDevConfig(text: string, source = 'temporal-dev.yml'): TemporalDevConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new Error(`${source} is not valid YAML: ${(error as Error).message}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new Error(`${source} is invalid:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}
