/**
 * `codex_local`: Codex (npm `@openai/codex`, binary `codex`) non-interactive: `codex exec --json
 * [--model M] [extraArgs…] -`, or `codex exec resume --json [--model M] [extraArgs…] <threadId> -`
 * to resume a thread; the prompt on stdin (`-`).
 */
import type { AgentCli, AgentCliConfig } from '../agentCli.ts';
import { createCodexStreamParser } from './codexStreamParser.ts';

export const codexCli: AgentCli = {
  name: 'codex',
  defaultCommand: 'codex',
  // `turn.completed` usage after `exec resume` counts every turn of the thread; no money is reported.
  usageScope: { tokens: 'session', cost: 'run' },
  commandLine(config: AgentCliConfig, resumeSessionId: string | null): string[] {
    const options = ['--json', ...(config.model ? ['--model', config.model] : []), ...(config.extraArgs ?? [])];
    return resumeSessionId !== null ? ['exec', 'resume', ...options, resumeSessionId, '-'] : ['exec', ...options, '-'];
  },
  newParser: (config) => createCodexStreamParser({ model: config.model ?? null }),
};
