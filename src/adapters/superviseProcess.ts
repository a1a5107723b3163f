/**
 * The one spawn-and-supervise core every local-child adapter shares (`process`, `claude_local`,
 * `codex_local`): it starts the agent's command in its own process group, writes its prompt to
 * stdin, streams its redacted output, enforces the timeout (R13), honours cancellation (R14 step 2),
 * and never resolves while a process of the group is still alive. An adapter only says what to run
 * (`AgentLaunch`), how to read its stdout lines (`onStdoutLine`), and what the facts mean.
 *
 * The fork itself happens in the per-host spawn helper (`spawnHelper/`, issue 12), never on the
 * worker's event loop; signals to the group are sent from here directly (same host).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { isSensitiveKey, MIN_EXACT_SECRET_LENGTH, redactSecrets } from '../domain/redaction.ts';
import { isProcessGroupAlive, signalProcessGroup, terminateProcessGroup, type TerminateGroupOutcome } from './processGroup.ts';
import { initialOutcomeFacts, RedactingLineBuffer, type ProcessOutcomeFacts } from './processOutput.ts';
import type { AgentProcess } from './spawnHelper/agentProcess.ts';
import { spawnAgentProcess } from './spawnHelper/helperClient.ts';
import { processTexts } from '../domain/texts.ts';
import type { AdapterInvocation, AdapterOutputChunk } from './types.ts';

/** Descendants left behind by a leader that exited on its own get the reaper's grace (R19). */
const DESCENDANT_GRACE_MS = 2_000;
/** After the group is gone, a process that escaped it (setsid) may still hold our pipes. */
const STREAM_CLOSE_WAIT_MS = 2_000;
/** Output held while `onSpawn` runs; past this the child's pipes are paused (backpressure). */
const MAX_HELD_OUTPUT_CHARS = 1024 * 1024;

/** Vigil's own settings never leak into an agent: its admin token, token secret, database URL. */
const PRIVATE_INHERITED_ENV = /^(?:VIGIL_.*|DATABASE_URL)$/i;
const RESERVED_PREFIX = /^VIGIL_/i;

/** What an adapter asks the core to run. */
export interface AgentLaunch {
  command: string;
  args: string[];
  /** Default: the worker's current directory. */
  cwd?: string;
  /** The agent config's `env` (keys starting with `VIGIL_` are ignored). */
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed; null: stdin is /dev/null. */
  stdin: string | null;
  /** Seconds before the group is terminated; 0 = no timeout (R13). */
  timeoutSec: number;
  /** Seconds between SIGTERM and SIGKILL (R13, R14). */
  graceSec: number;
}

/** The caller's side of a supervised process: everything of an invocation but the adapter config. */
export interface SupervisionHooks extends Omit<AdapterInvocation, 'config'> {
  /** Every complete stdout line (redacted, without its newline), in order: the adapter's stream parser. */
  onStdoutLine?(line: string): void;
}

/**
 * The child's environment: the inherited one without Vigil's private settings, then
 * `config.env` without `VIGIL_*` keys, then the caller's `VIGIL_*` variables, which always win.
 */
export function buildChildEnv(
  baseEnv: Record<string, string | undefined>,
  configEnv: Record<string, string> | undefined,
  vigilEnv: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(baseEnv)) {
    if (value !== undefined && !PRIVATE_INHERITED_ENV.test(key)) env[key] = value;
  }
  for (const [key, value] of Object.entries(configEnv ?? {})) {
    if (value !== undefined && value !== null && !RESERVED_PREFIX.test(key)) env[key] = String(value);
  }
  for (const [key, value] of Object.entries(vigilEnv)) {
    if (value !== undefined && value !== null) env[key] = String(value);
  }
  return env;
}

/**
 * The run token, plus the value of every variable the child receives that the agent config set
 * (an `env` value is a secret wherever it appears) or whose name says it is secret.
 */
function secretsFor(hooks: SupervisionHooks, configEnv: Record<string, string> | undefined, childEnv: Record<string, string>): string[] {
  const secrets = (hooks.secrets ?? []).filter((secret) => typeof secret === 'string');
  for (const [key, value] of Object.entries(childEnv)) {
    if (value.length >= MIN_EXACT_SECRET_LENGTH && isSensitiveKey(key)) secrets.push(value);
  }
  // The config's own values, as the child received them (a `VIGIL_*` key never reaches it).
  for (const [key, value] of Object.entries(configEnv ?? {})) {
    if (typeof value === 'string' && value.length >= MIN_EXACT_SECRET_LENGTH && !RESERVED_PREFIX.test(key)) secrets.push(value);
  }
  return secrets;
}

async function cwdProblem(cwd: string): Promise<string | null> {
  try {
    const info = await stat(cwd);
    return info.isDirectory() ? null : processTexts.workingDirectoryNotADirectory(cwd);
  } catch {
    return processTexts.workingDirectoryMissing(cwd);
  }
}

function spawnFailureMessage(command: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return processTexts.commandNotFound(command);
  if (code === 'EACCES') return processTexts.commandNotExecutable(command);
  return processTexts.startFailed(command, (err as Error | undefined)?.message ?? String(err));
}

/** Resolves true when `promise` settles within `ms`, false otherwise; leaves no timer behind. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

type KillReason = 'timeout' | 'cancel' | 'spawn_hook_failed';

/** Runs `launch` to its end and reports what happened; the adapter turns the facts into a result. */
export async function superviseProcess(launch: AgentLaunch, hooks: SupervisionHooks): Promise<ProcessOutcomeFacts> {
  const { timeoutSec, graceSec } = launch;
  const childEnv = buildChildEnv(hooks.baseEnv ?? process.env, launch.env, hooks.env ?? {});
  const secrets = secretsFor(hooks, launch.env, childEnv);
  const redact = (text: string): string => redactSecrets(text, secrets);

  const baseFacts = initialOutcomeFacts({ timeoutSec, graceSec, secrets, onStdoutLine: hooks.onStdoutLine });
  const { stdout, stderr, results } = baseFacts;
  const notStarted = (message: string, cancelled = false): ProcessOutcomeFacts => ({
    ...baseFacts,
    startFailure: redact(message),
    cancelled,
    finishedAt: new Date(),
  });

  if (hooks.signal.aborted) return notStarted(processTexts.cancelledBeforeStart, true);
  const cwd = path.resolve(launch.cwd ?? process.cwd());
  const badCwd = await cwdProblem(cwd);
  if (badCwd) return notStarted(badCwd);
  if (hooks.signal.aborted) return notStarted(processTexts.cancelledBeforeStart, true);

  let child: AgentProcess;
  try {
    // The helper starts it with setsid(): the child leads its own process group, pgid = pid.
    child = await spawnAgentProcess({ command: launch.command, args: launch.args, cwd, env: childEnv, stdin: launch.stdin !== null });
  } catch (err) {
    return notStarted(spawnFailureMessage(launch.command, err));
  }
  if (launch.stdin !== null && child.stdin) {
    // A child that never reads its prompt (or exits first) closes the pipe: that is its business.
    child.stdin.on('error', () => {});
    child.stdin.end(launch.stdin);
  }
  return superviseChild(child, child.pid);

  async function superviseChild(child: AgentProcess, pid: number): Promise<ProcessOutcomeFacts> {
    const pgid = pid;
    const spawnedAt = new Date();
    child.on('error', () => {}); // post-spawn errors (a failed kill) must not crash the worker

    let leaderExited = false;
    const leaderExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        leaderExited = true;
        resolve({ code, signal });
      });
    });
    const streamsClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));

    // Output: decoded per stream, redacted line by line, held until onSpawn has returned.
    let spawnAcknowledged = false;
    let held: AdapterOutputChunk[] = [];
    let heldChars = 0;
    const deliverToCaller = (chunk: AdapterOutputChunk): void => {
      try {
        hooks.onOutput(chunk);
      } catch {
        // The caller's batching failed; the child and the result must not suffer for it.
      }
    };
    const receive = (stream: 'stdout' | 'stderr', text: string): void => {
      if (text === '') return;
      const chunk: AdapterOutputChunk = { stream, text, ts: new Date() };
      if (spawnAcknowledged) return deliver(chunk);
      held.push(chunk);
      heldChars += text.length;
      if (heldChars > MAX_HELD_OUTPUT_CHARS) {
        child.stdout?.pause();
        child.stderr?.pause();
      }
    };
    // Tails and the stdout parser see output in the order the caller does, after onSpawn.
    const deliver = (chunk: AdapterOutputChunk): void => {
      deliverToCaller(chunk);
      if (chunk.stream === 'stdout') {
        stdout.append(chunk.text);
        results.push(chunk.text);
      } else {
        stderr.append(chunk.text);
      }
    };
    const wire = (stream: 'stdout' | 'stderr'): (() => void) => {
      const readable = stream === 'stdout' ? child.stdout : child.stderr;
      const decoder = new StringDecoder('utf8');
      const lines = new RedactingLineBuffer(redact, (text) => receive(stream, text));
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        lines.push(decoder.end());
        lines.flush();
      };
      readable?.on('data', (data: Buffer) => lines.push(decoder.write(data)));
      readable?.on('end', finish);
      readable?.on('error', () => {});
      return finish;
    };
    const finishStdout = wire('stdout');
    const finishStderr = wire('stderr');

    // Termination of the whole group while the leader lives: timeout, cancel, or a failed onSpawn.
    let killReason: KillReason | null = null;
    let timedOut = false;
    let cancelled = false;
    let termination: Promise<TerminateGroupOutcome> | null = null;
    const terminateGroup = (reason: KillReason): void => {
      if (leaderExited) return;
      if (reason === 'timeout') timedOut = true;
      if (reason === 'cancel') cancelled = true;
      if (termination) return;
      killReason = reason;
      const graceMs = (reason === 'spawn_hook_failed' ? 1 : graceSec) * 1000;
      termination = terminateProcessGroup(pgid, { graceMs });
    };
    const onAbort = (): void => terminateGroup('cancel');
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    if (hooks.signal.aborted) onAbort();
    // R13: the adapter enforces the timeout, not the orchestrator.
    const timeoutTimer = timeoutSec > 0 ? setTimeout(() => terminateGroup('timeout'), timeoutSec * 1000) : null;

    try {
      let spawnHookError: unknown = null;
      try {
        await hooks.onSpawn({ pid, processGroupId: pgid, startedAt: spawnedAt });
      } catch (err) {
        spawnHookError = err;
        terminateGroup('spawn_hook_failed');
      }
      spawnAcknowledged = true;
      const pending = held;
      held = [];
      for (const chunk of pending) deliver(chunk);
      child.stdout?.resume();
      child.stderr?.resume();

      const exit = await leaderExit;
      if (timeoutTimer) clearTimeout(timeoutTimer);

      // No run leaves processes behind: the group must be gone before we resolve.
      let groupOutcome: TerminateGroupOutcome | null = null;
      let descendantsKilled = false;
      if (termination) {
        groupOutcome = await termination;
      } else if (await isProcessGroupAlive(pgid)) {
        descendantsKilled = true;
        groupOutcome = await terminateProcessGroup(pgid, { graceMs: DESCENDANT_GRACE_MS });
      }

      const closed = await settlesWithin(streamsClosed, STREAM_CLOSE_WAIT_MS);
      if (!closed) {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      finishStdout();
      finishStderr();
      results.end();

      if (spawnHookError) throw spawnHookError;
      return {
        ...baseFacts,
        pid,
        processGroupId: pgid,
        exitCode: exit.code,
        signal: exit.signal,
        killReason: killReason === 'spawn_hook_failed' ? null : killReason,
        timedOut,
        cancelled,
        killEscalated: groupOutcome?.escalated ?? false,
        descendantsKilled,
        processGroupSurvived: groupOutcome ? !groupOutcome.gone : false,
        outputStreamsForceClosed: !closed,
        startedAt: spawnedAt,
        finishedAt: new Date(),
      };
    } catch (err) {
      // Never leave the group running behind an exception.
      if (!leaderExited || (await isProcessGroupAlive(pgid))) signalProcessGroup(pgid, 'SIGKILL');
      throw err;
    } finally {
      if (timeoutTimer) clearTimeout(timeoutTimer);
      hooks.signal.removeEventListener('abort', onAbort);
    }
  }
}
