/**
 * `claude_local`: Claude Code (npm `@anthropic-ai/claude-code`, binary `claude`) in print mode,
 * streaming JSON: `claude --print --output-format stream-json --verbose [--resume <sessionId>]
 * [--model M] [--max-turns N] [extraArgs…]`, the prompt on stdin.
 */
import type { AgentCli, AgentCliConfig } from '../agentCli.ts';
import { createClaudeStreamParser } from './claudeStreamParser.ts';

export const claudeCli: AgentCli = {
  name: 'claude',
  defaultCommand: 'claude',
  // `usage` counts this invocation; `total_cost_usd` the whole session.
  usageScope: { tokens: 'run', cost: 'session' },
  commandLine(config: AgentCliConfig, resumeSessionId: string | null): string[] {
    return [
      '--print',
      '--output-format',
      'stream-json',
      '--verbose',
      ...(resumeSessionId !== null ? ['--resume', resumeSessionId] : []),
      ...(config.model ? ['--model', config.model] : []),
      ...(config.maxTurns !== undefined ? ['--max-turns', String(config.maxTurns)] : []),
      ...(config.extraArgs ?? []),
    ];
  },
  newParser: () => createClaudeStreamParser(),
};
