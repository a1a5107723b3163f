/**
 * What a Vigil agent's `adapterConfig` must hold so the REAL Claude Code / Codex CLI talks to a
 * fake model server (test/support/fakeModelServers/) instead of the internet — for adapterType
 * `claude_local` and `codex_local`. Each agent gets its own home directory, where the CLI keeps the
 * sessions that `--resume` / `exec resume` read back.
 *
 * Command lines found to work (Claude Code 2.1.328, codex-cli 0.171.0), prompt on stdin:
 *
 *   claude --print --output-format stream-json --verbose [--resume <session_id>] [--model M] [--max-turns N]
 *     env: HOME, ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1,
 *          CLAUDE_CODE_MAX_RETRIES=0
 *   Resume needs only the same HOME: a session started in another cwd resumes too. An unknown
 *   session UUID ends at once (exit 1) with a result `subtype: "error_during_execution"`,
 *   `errors: ["No conversation found with session ID: <id>"]` and sends no model request.
 *
 *   codex exec --json [--model M] --skip-git-repo-check -c model_provider=… -c model_providers.…  -
 *   codex exec resume --json [--model M] --skip-git-repo-check -c … <thread_id> -
 *     env: CODEX_HOME, FAKE_OPENAI_API_KEY (the provider's `env_key`)
 *   For `resume`, `--json`, `-c`, `--model` and `--skip-git-repo-check` may stand anywhere: between
 *   `resume` and the id (as the adapter puts them), after `resume <id>`, or before `resume`
 *   (`codex exec --json -c … resume <id> -`) — all three printed the same JSONL. The thread
 *   resumes from another cwd too. An unknown thread UUID prints nothing on stdout and exits 1 with
 *   `Error: thread/resume: thread/resume failed: no rollout found for thread id <id> (code -32600)`
 *   on stderr; an id that is not a UUID is taken as a thread NAME and, when none matches, Codex
 *   silently starts a NEW thread (new `thread_id`, exit 0).
 *
 * Retries: `CLAUDE_CODE_MAX_RETRIES=0` makes a 529/429/500 end after one request (one more, with
 * `stream: false`, after a 404); `request_max_retries=0` and `stream_max_retries=0` do the same
 * for Codex (without them a 503 costs ~6 s: 4 silent retries, then "Reconnecting... 1/5").
 *
 * CODEX_HOME under the temp dir (/tmp) makes Codex print `WARNING: proceeding, even though we
 * could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp"` on
 * stderr (runs still work); under /var/tmp it prints nothing, so Codex homes go there when they can.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url));
export const CLAUDE_COMMAND = path.join(BIN, 'claude');
export const CODEX_COMMAND = path.join(BIN, 'codex');

/** Fake keys: the fakes accept anything, tests assert these arrived. */
export const FAKE_ANTHROPIC_API_KEY = 'sk-ant-fake-vigil-test-0000';
export const FAKE_OPENAI_API_KEY = 'sk-fake-vigil-test-0000';
/** Not `VIGIL_*`: the process adapter keeps those variables from agents. */
export const CODEX_API_KEY_VARIABLE = 'FAKE_OPENAI_API_KEY';
export const CODEX_PROVIDER_ID = 'vigil_fake';

/** The part of an adapterConfig this module fills in; add `cwd`, `model`, `timeoutSec`… as the test needs. */
export interface AgentCliAdapterConfig {
  command: string;
  env: Record<string, string>;
  extraArgs?: string[];
}

export interface ClaudeAgentOptions {
  /** The fake's url, `http://127.0.0.1:PORT` (no `/v1`). */
  baseUrl: string;
  /** The agent's own HOME (sessions live in `$HOME/.claude/projects/`). */
  home: string;
  apiKey?: string;
  /** Retries Claude Code makes on 429/5xx; its default retries for minutes. */
  maxRetries?: number;
}

export function claudeAgentConfig(options: ClaudeAgentOptions): AgentCliAdapterConfig {
  return {
    command: CLAUDE_COMMAND,
    env: {
      HOME: options.home,
      ANTHROPIC_BASE_URL: options.baseUrl,
      ANTHROPIC_API_KEY: options.apiKey ?? FAKE_ANTHROPIC_API_KEY,
      // No telemetry, update checks or `HEAD /api/hello` probe: only model calls reach the fake.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: String(options.maxRetries ?? 0),
    },
  };
}

export interface CodexAgentOptions {
  /** The fake's url, `http://127.0.0.1:PORT` (no `/v1`). */
  baseUrl: string;
  /** The agent's own CODEX_HOME (threads live in `$CODEX_HOME/sessions/`). */
  codexHome: string;
  apiKey?: string;
}

export function codexAgentConfig(options: CodexAgentOptions): AgentCliAdapterConfig {
  return {
    command: CODEX_COMMAND,
    env: {
      CODEX_HOME: options.codexHome,
      [CODEX_API_KEY_VARIABLE]: options.apiKey ?? FAKE_OPENAI_API_KEY,
    },
    extraArgs: ['--skip-git-repo-check', ...codexProviderArgs(options.baseUrl)],
  };
}

/** `-c` overrides that make the fake the model provider, with no retries so failures end fast. */
export function codexProviderArgs(baseUrl: string): string[] {
  const provider = `model_providers.${CODEX_PROVIDER_ID}`;
  const settings = [
    `model_provider="${CODEX_PROVIDER_ID}"`,
    `${provider}.name="Vigil fake OpenAI"`,
    `${provider}.base_url="${baseUrl}/v1"`,
    `${provider}.wire_api="responses"`,
    `${provider}.env_key="${CODEX_API_KEY_VARIABLE}"`,
    `${provider}.request_max_retries=0`,
    `${provider}.stream_max_retries=0`,
  ];
  return settings.flatMap((setting) => ['-c', setting]);
}

export interface AgentHome {
  dir: string;
  remove(): Promise<void>;
}

/** A fresh HOME for one Claude agent, under the temp dir. */
export function createClaudeHome(): Promise<AgentHome> {
  return createHome(os.tmpdir(), 'vigil-claude-home-');
}

/** A fresh CODEX_HOME for one Codex agent, under /var/tmp when writable (see the header). */
export function createCodexHome(): Promise<AgentHome> {
  return createHome(codexHomeParent(), 'vigil-codex-home-');
}

async function createHome(parent: string, prefix: string): Promise<AgentHome> {
  const dir = await mkdtemp(path.join(parent, prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function codexHomeParent(): string {
  try {
    accessSync('/var/tmp', constants.W_OK);
    return '/var/tmp';
  } catch {
    return os.tmpdir();
  }
}

/** The options of one CLI run that the adapter turns into arguments (src/adapters/*Cli.ts). */
export interface AgentCliRun {
  config: AgentCliAdapterConfig & { model?: string; maxTurns?: number };
  cwd: string;
  prompt: string;
  resumeSessionId?: string;
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

export interface AgentCliOutcome {
  args: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to the first complete stdout line, null when none came. */
  firstLineMs: number | null;
  exitMs: number;
}

/** The argument list the adapter builds for `claude_local` / `codex_local`. */
export function agentCliArgs(cli: 'claude' | 'codex', run: Pick<AgentCliRun, 'config' | 'resumeSessionId'>): string[] {
  const { config, resumeSessionId } = run;
  const model = config.model ? ['--model', config.model] : [];
  if (cli === 'claude') {
    return [
      ...['--print', '--output-format', 'stream-json', '--verbose'],
      ...(resumeSessionId ? ['--resume', resumeSessionId] : []),
      ...model,
      ...(config.maxTurns ? ['--max-turns', String(config.maxTurns)] : []),
      ...(config.extraArgs ?? []),
    ];
  }
  const options = ['--json', ...model, ...(config.extraArgs ?? [])];
  return resumeSessionId ? ['exec', 'resume', ...options, resumeSessionId, '-'] : ['exec', ...options, '-'];
}

/**
 * Runs the real CLI as the adapter would (prompt on stdin, config env over the inherited one),
 * without Vigil. Provider variables inherited from the caller are dropped so that a real key or
 * base url in the developer's shell can never reach a test run.
 */
export function runAgentCli(cli: 'claude' | 'codex', run: AgentCliRun): Promise<AgentCliOutcome> {
  const args = agentCliArgs(cli, run);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(ANTHROPIC_|CLAUDE_|OPENAI_|CODEX_)/.test(name)),
  );
  const started = performance.now();
  const child = spawn(run.config.command, args, { cwd: run.cwd, env: { ...inherited, ...run.config.env }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  let firstLineMs: number | null = null;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (firstLineMs === null && stdout.includes('\n')) firstLineMs = performance.now() - started;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.on('error', () => {}); // a CLI that exits before reading stdin
  child.stdin.end(run.prompt);
  const killer = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(killer);
      resolve({ args, exitCode, signal, stdout, stderr, firstLineMs, exitMs: performance.now() - started });
    });
  });
}
