/**
 * What the coding-agent CLI adapters (`claude_local`, `codex_local`) share: their config, and one
 * run of the CLI through the spawn-and-supervise core. A CLI contributes only its command line,
 * its stream parser and its failure classifier (`AgentCli`); everything else — process group,
 * pid recording, heartbeats, timeout, cancel, output capture, redaction — is the core's.
 *
 * A resume the CLI refuses (an unknown or expired session) is retried once, in the same run, with
 * a fresh session; the refused id is reported so it is cleared (R72), never retried again.
 */
import path from 'node:path';
import { buildAdapterResult, type ProcessOutcomeFacts } from './processOutput.ts';
import { superviseProcess, type SupervisionHooks } from './superviseProcess.ts';
import { DEFAULT_GRACE_SEC, effectiveGraceSec, effectiveTimeoutSec } from '../domain/runTimeouts.ts';
import type { AgentStreamMessage, AgentStreamParser, AgentStreamReport } from './agentStream.ts';
import type { AdapterOutputChunk } from './types.ts';
import type { AdapterResult, AgentCliReport } from '../domain/adapterResult.ts';
import { classifyAgentFailure, type AgentFailure } from '../domain/agentFailure.ts';
import { agentCliTexts } from '../domain/texts.ts';
import { runUsageOf, type SessionUsageTotals, type UsageScope } from '../domain/sessionUsage.ts';

/** `adapterConfig` of a `claude_local` or `codex_local` agent (validated by the API on write). */
export interface AgentCliConfig {
  /** Default: the CLI's name, found on `PATH`. */
  command?: string;
  cwd?: string;
  env?: Record<string, string>;
  model?: string;
  /** Claude Code only: `--max-turns`. */
  maxTurns?: number;
  /** Appended to the CLI's command line as they are. */
  extraArgs?: string[];
  /** Replaces the default prompt template (src/domain/agentPrompt.ts), same placeholders. */
  promptTemplate?: string;
  timeoutSec?: number;
  graceSec?: number;
}

/** One coding-agent CLI, as an adapter sees it. */
export interface AgentCli {
  name: 'claude' | 'codex';
  /** The binary looked up on `PATH` when the config names no `command`. */
  defaultCommand: string;
  /** Which reported figures cover the whole session (a resumed run subtracts the session's earlier totals). */
  usageScope: UsageScope;
  /** The arguments after the command: fresh, or resuming `resumeSessionId`. */
  commandLine(config: AgentCliConfig, resumeSessionId: string | null): string[];
  newParser(config: AgentCliConfig): AgentStreamParser;
}

export interface AgentCliInvocation extends Omit<SupervisionHooks, 'onStdoutLine'> {
  config: AgentCliConfig;
  /** Written to the CLI's stdin. */
  prompt: string;
  /** R72: the saved session to resume, or null for a fresh one. */
  resumeSessionId: string | null;
  /** What that session had reported in total by the end of its previous run. */
  sessionUsageBaseline: SessionUsageTotals | null;
  /** The agent's messages as they stream (shown as run events). */
  onAgentMessage?(message: AgentStreamMessage): void;
  /** Injected clock, for the reset times of usage limits. */
  now?: () => Date;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** An agent's stored `adapterConfig` as the CLI adapters read it. */
export function parseAgentCliConfig(adapterConfig: unknown): AgentCliConfig {
  const config = adapterConfig !== null && typeof adapterConfig === 'object' ? (adapterConfig as Record<string, unknown>) : {};
  return {
    command: stringOf(config.command),
    cwd: stringOf(config.cwd),
    env: config.env && typeof config.env === 'object' && !Array.isArray(config.env) ? (config.env as Record<string, string>) : undefined,
    model: stringOf(config.model),
    maxTurns: typeof config.maxTurns === 'number' ? config.maxTurns : undefined,
    extraArgs: Array.isArray(config.extraArgs) ? config.extraArgs.map(String) : undefined,
    promptTemplate: stringOf(config.promptTemplate),
    timeoutSec: typeof config.timeoutSec === 'number' ? config.timeoutSec : undefined,
    graceSec: typeof config.graceSec === 'number' ? config.graceSec : undefined,
  };
}

interface Attempt {
  facts: ProcessOutcomeFacts;
  report: AgentStreamReport;
  failure: AgentFailure | null;
}

/** Whether the process ended on its own (no kill, no loss): a failure its CLI may explain. */
function endedOnItsOwn(facts: ProcessOutcomeFacts): boolean {
  return facts.startFailure === null && facts.killReason === null && facts.signal === null;
}

/**
 * Whether the process printed the CLI's own events. A command that did not (a wrapper script, a
 * test double, a CLI that crashed before its first event) is read with the `process` adapter's
 * generic contract: its exit code, its `"type":"result"` line, its words.
 */
function spokeTheCliStream(report: AgentStreamReport): boolean {
  return report.sessionId !== null || report.model !== null || report.usage !== null || report.isError;
}

export async function runAgentCli(cli: AgentCli, inv: AgentCliInvocation): Promise<AdapterResult> {
  const config = inv.config;
  const timeoutSec = effectiveTimeoutSec(config);
  const graceSec = config ? effectiveGraceSec(config) : DEFAULT_GRACE_SEC;
  const cwd = path.resolve(config.cwd ?? process.cwd());
  const startedAt = Date.now();
  const now = inv.now ?? (() => new Date());

  let attempts = 0;
  const attempt = async (resumeSessionId: string | null): Promise<Attempt> => {
    attempts++;
    const parser = cli.newParser(config);
    // The whole run shares one timeout, however many attempts it takes.
    const elapsedSec = Math.floor((Date.now() - startedAt) / 1000);
    const facts = await superviseProcess(
      {
        command: config.command ?? cli.defaultCommand,
        args: cli.commandLine(config, resumeSessionId),
        cwd,
        env: config.env,
        stdin: inv.prompt,
        timeoutSec: timeoutSec > 0 ? Math.max(1, timeoutSec - elapsedSec) : 0,
        graceSec,
      },
      {
        ...inv,
        attempt: attempts, // the supervisor knows each start of the run's agent apart (issue 13)
        onStdoutLine: (line) => {
          for (const message of parser.line(line)) inv.onAgentMessage?.(message);
        },
      },
    );
    const report = parser.report();
    const failure = endedOnItsOwn(facts) && (spokeTheCliStream(report) || resumeSessionId !== null)
      ? classifyAgentFailure(cli.name, {
          report,
          exitCode: facts.exitCode,
          stderrTail: facts.stderr.text(),
          stdoutTail: facts.stdout.text(),
          now: now(),
          // The CLI prints a reset time in its own local zone: the agent's TZ, else the worker's.
          localTimeZone: config.env?.TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
        })
      : null;
    return { facts, report, failure };
  };

  let rejectedSessionId: string | null = null;
  let last = await attempt(inv.resumeSessionId);
  if (last.failure?.sessionRejected && inv.resumeSessionId !== null && !inv.signal.aborted) {
    // R72: a session the CLI refuses is dropped, and the same run starts a fresh one (the last of
    // MAX_AGENT_STARTS_PER_RUN starts: the supervisor knows each by its attempt).
    rejectedSessionId = inv.resumeSessionId;
    const notice: AdapterOutputChunk = { stream: 'stderr', text: `${agentCliTexts.sessionRejectedStartingFresh(rejectedSessionId)}\n`, ts: new Date() };
    inv.onOutput(notice);
    inv.onAgentMessage?.({ kind: 'system', text: agentCliTexts.sessionRejectedStartingFresh(rejectedSessionId) });
    last = await attempt(null);
  }
  return resultOf(cli, inv, last, { rejectedSessionId, cwd });
}

function resultOf(cli: AgentCli, inv: AgentCliInvocation, last: Attempt, session: { rejectedSessionId: string | null; cwd: string }): AdapterResult {
  const generic = buildAdapterResult(last.facts);
  const { report, failure } = last;
  const resumed = session.rejectedSessionId === null && inv.resumeSessionId !== null && report.sessionId === inv.resumeSessionId;
  const usage = report.usage ? runUsageOf(cli.usageScope, report.usage, resumed ? inv.sessionUsageBaseline : null) : null;
  const agentCli: AgentCliReport = {
    cli: cli.name,
    sessionIdBefore: session.rejectedSessionId !== null ? null : inv.resumeSessionId,
    sessionIdAfter: report.sessionId,
    rejectedSessionId: session.rejectedSessionId,
    clearSession: session.rejectedSessionId !== null || (failure?.clearSession ?? false),
    cwd: session.cwd,
    configuredModel: inv.config.model ?? null,
    model: report.model ?? report.usage?.model ?? inv.config.model ?? null,
    usage: usage?.run ?? null,
    sessionUsageTotals: usage?.sessionTotals ?? null,
    numTurns: report.numTurns,
  };
  const result: AdapterResult = { ...generic, agentCli, summary: report.finalAnswer ?? generic.summary };
  if (failure) {
    result.errorCode = failure.errorCode;
    result.errorFamily = failure.errorFamily;
    result.retryNotBefore = failure.retryNotBefore;
    // A CLI that printed an error result but exited 0 still failed.
    result.errorMessage = agentCliTexts.failed(last.facts.exitCode, failure.message);
    result.resultJson = { ...result.resultJson, agentError: { code: failure.errorCode, httpStatus: report.error.httpStatus, subtype: report.error.subtype } };
  }
  return result;
}
