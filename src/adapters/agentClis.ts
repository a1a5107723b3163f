/** Which coding-agent CLI an adapter type runs; every other local-child type runs as `process`. */
import type { AgentCli } from './agentCli.ts';
import { claudeCli } from './claude/claudeCli.ts';
import { codexCli } from './codex/codexCli.ts';

const AGENT_CLIS: Record<string, AgentCli> = {
  claude_local: claudeCli,
  codex_local: codexCli,
};

/** The adapter types that run a real coding-agent CLI. */
export const AGENT_CLI_ADAPTER_TYPES = Object.keys(AGENT_CLIS);

export function agentCliFor(adapterType: string): AgentCli | null {
  return AGENT_CLIS[adapterType] ?? null;
}
