/**
 * The `process` adapter (spec/API.md): runs the agent's configured command and arguments through
 * the shared spawn-and-supervise core; its output contract is the generic one — the `summary` of
 * the last `"type":"result"` stdout line, else the last stdout text (`processOutput.ts`).
 */
import { buildAdapterResult, initialOutcomeFacts } from './processOutput.ts';
import { superviseProcess } from './superviseProcess.ts';
import { DEFAULT_GRACE_SEC, effectiveGraceSec, effectiveTimeoutSec } from '../domain/runTimeouts.ts';
import { redactSecrets } from '../domain/redaction.ts';
import type { AdapterInvocation, ProcessAdapterConfig } from './types.ts';
import type { AdapterResult } from '../domain/adapterResult.ts';

/** An agent's stored `adapterConfig` (validated by the API on write) as the adapter reads it. */
export function parseProcessAdapterConfig(adapterConfig: unknown): ProcessAdapterConfig {
  const config = adapterConfig !== null && typeof adapterConfig === 'object' ? (adapterConfig as Record<string, unknown>) : {};
  return {
    command: String(config.command ?? ''),
    args: Array.isArray(config.args) ? config.args.map(String) : undefined,
    cwd: typeof config.cwd === 'string' && config.cwd !== '' ? config.cwd : undefined,
    env: config.env && typeof config.env === 'object' ? (config.env as Record<string, string>) : undefined,
    timeoutSec: typeof config.timeoutSec === 'number' ? config.timeoutSec : undefined,
    graceSec: typeof config.graceSec === 'number' ? config.graceSec : undefined,
  };
}

function configProblem(config: ProcessAdapterConfig | undefined): string | null {
  if (!config || typeof config.command !== 'string' || config.command.trim() === '') {
    return 'Invalid process adapter config: "command" must be a non-empty string';
  }
  if (config.args !== undefined && (!Array.isArray(config.args) || config.args.some((a) => typeof a !== 'string'))) {
    return 'Invalid process adapter config: "args" must be an array of strings';
  }
  if (config.cwd !== undefined && typeof config.cwd !== 'string') {
    return 'Invalid process adapter config: "cwd" must be a string';
  }
  if (config.env !== undefined && (config.env === null || typeof config.env !== 'object' || Array.isArray(config.env))) {
    return 'Invalid process adapter config: "env" must be an object of strings';
  }
  return null;
}

export async function runProcessAdapter(inv: AdapterInvocation): Promise<AdapterResult> {
  const config = inv.config;
  const timeoutSec = config ? effectiveTimeoutSec(config) : 0;
  const graceSec = config ? effectiveGraceSec(config) : DEFAULT_GRACE_SEC;
  const problem = configProblem(config);
  if (problem) return notStartedResult(problem, inv, { timeoutSec, graceSec });
  const facts = await superviseProcess(
    { command: config.command, args: config.args ?? [], cwd: config.cwd, env: config.env, stdin: null, timeoutSec, graceSec },
    inv,
  );
  return buildAdapterResult(facts);
}

/** The result of an invocation whose config was refused before anything started. */
export function notStartedResult(message: string, inv: Pick<AdapterInvocation, 'secrets'>, limits: { timeoutSec: number; graceSec: number }): AdapterResult {
  const secrets = inv.secrets ?? [];
  return buildAdapterResult({ ...initialOutcomeFacts({ ...limits, secrets }), startFailure: redactSecrets(message, secrets) });
}
