/**
 * What an agent's `adapterConfig` must be, per adapter type: the `process` config for local-child
 * adapters, the coding-agent CLI config for `claude_local` and `codex_local`. Used on create and
 * on update, so a stored config is always one the adapter can run.
 */
import { z } from 'zod';
import { boundedJson, int4 } from './validation.ts';
import { PROMPT_PLACEHOLDERS, unknownPlaceholders } from '../domain/agentPrompt.ts';

const envSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string());
const timeoutSec = int4(0, 7 * 24 * 3600);
const graceSec = int4(1, 3600);

export const processAdapterConfig = boundedJson(
  z.strictObject(
    {
      command: z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') }).min(1, 'is required'),
      args: z.array(z.string()).max(200).optional(),
      cwd: z.string().min(1).optional(),
      env: envSchema.optional(),
      timeoutSec: timeoutSec.optional(),
      graceSec: graceSec.optional(),
    },
    { error: (issue) => (issue.input === undefined ? 'is required for local-child adapters (`{ command, ... }`)' : undefined) },
  ),
).meta({ description: 'The `process` adapter config (API.md), used by every local-child adapter but the coding-agent CLIs: `command` is required' });

const promptTemplate = z
  .string()
  .min(1)
  .max(64 * 1024)
  .superRefine((template, ctx) => {
    const unknown = unknownPlaceholders(template);
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown placeholder {{${unknown[0]}}}; known: ${PROMPT_PLACEHOLDERS.join(', ')}` });
    }
  });

const agentCliFields = {
  command: z.string().min(1).optional().meta({ description: "The CLI's binary; default: its name on PATH (`claude`, `codex`)" }),
  cwd: z.string().min(1).optional(),
  env: envSchema.optional().meta({ description: 'Extra environment; its values never appear in any response, log or event' }),
  model: z.string().min(1).max(200).optional(),
  extraArgs: z.array(z.string().max(4096)).max(200).optional().meta({ description: "Appended to the CLI's command line" }),
  promptTemplate: promptTemplate.optional().meta({ description: `Replaces the default prompt; placeholders: ${PROMPT_PLACEHOLDERS.map((name) => `{{${name}}}`).join(', ')}` }),
  timeoutSec: timeoutSec.optional(),
  graceSec: graceSec.optional(),
};

export const claudeAdapterConfig = boundedJson(z.strictObject({ ...agentCliFields, maxTurns: int4(1, 10_000).optional() }))
  .meta({ description: '`claude_local`: Claude Code run as `claude --print --output-format stream-json --verbose …`, the prompt on stdin' });

export const codexAdapterConfig = boundedJson(z.strictObject(agentCliFields))
  .meta({ description: '`codex_local`: Codex run as `codex exec --json … -`, the prompt on stdin' });

/** The schema of a local-child adapter type's config. */
export function adapterConfigSchemaFor(adapterType: string): z.ZodType {
  if (adapterType === 'claude_local') return claudeAdapterConfig;
  if (adapterType === 'codex_local') return codexAdapterConfig;
  return processAdapterConfig;
}
