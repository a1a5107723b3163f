/**
 * The one spawn-and-supervise core every local-child adapter shares (`process`, `claude_local`,
 * `codex_local`): it starts the agent's command in its own process group, writes its prompt to
 * stdin, streams its redacted output, enforces the timeout (R13), honours cancellation (R14 step 2),
 * and never resolves while a process of the group is still alive. An adapter only says what to run
 * (`AgentLaunch`), how to read its stdout lines (`onStdoutLine`), and what the facts mean.
 *
 * The agent is started and watched by the per-host supervisor (`supervisor/`, issue 13), never
 * forked on the worker's event loop: it owns the group, its output files and its exit status, and
 * outlives the worker. So this core is attach-or-spawn: a worker that comes back to a run reads
 * the agent's output from its first byte and its exit as the supervisor recorded it.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { isSensitiveKey, MIN_EXACT_SECRET_LENGTH, redactSecrets } from '../domain/redaction.ts';
import { isProcessGroupAlive, signalProcessGroup, terminateProcessGroup, type TerminateGroupOutcome } from './processGroup.ts';
import { initialOutcomeFacts, RedactingLineBuffer, type ProcessOutcomeFacts } from './processOutput.ts';
import { defaultSupervisorDir, superviseAgent, type AgentSpawnRequest } from './supervisor/client.ts';
import type { SupervisedAgent } from './supervisor/supervisedAgent.ts';
import { processTexts } from '../domain/texts.ts';
import type { AdapterInvocation, AdapterOutputChunk } from './types.ts';

/** Descendants left behind by a leader that exited on its own get the reaper's grace (R19). */
const DESCENDANT_GRACE_MS = 2_000;
/**
 * After the group is gone, the rest of its output files is read for as long as the reading
 * progresses; a file that stops growing without ending this long (a process that escaped the
 * group keeps it open and silent) is cut there.
 */
const STREAM_STALL_MS = 2_000;
/**
 * An agent started outside a worker (no `unattendedMs`: a test, a tool) whose caller died is
 * ended by its supervisor after this long.
 */
const DEFAULT_UNATTENDED_MS = 10_000;
/** Output held while `onSpawn` runs; past this the output files are not read further (backpressure). */
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
  /** Which start of the run's agent this is (a CLI may start it twice, R-CLI resume); default 1. */
  attempt?: number;
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

/** Waits for both output files to be read to their end, as long as the reading moves; false if it stalled. */
async function outputReadToEnd(agent: SupervisedAgent, outputEnded: Promise<void>): Promise<boolean> {
  let read = -1;
  for (;;) {
    if (await settlesWithin(outputEnded, STREAM_STALL_MS)) return true;
    const now = agent.stdout.bytesRead + agent.stderr.bytesRead;
    if (now === read) return false;
    read = now;
  }
}

/** Both streams of `agent` reached their end (or were destroyed). */
function streamsEnded(agent: SupervisedAgent): Promise<void> {
  return Promise.all([agent.stdout, agent.stderr].map((stream) => new Promise<void>((resolve) => finished(stream, () => resolve())))).then(() => undefined);
}

/** How many times one run starts its agent at most: a CLI whose session is refused starts once more (R72, agentCli.ts). */
export const MAX_AGENT_STARTS_PER_RUN = 2;

/** The supervisor key of one attempt of a run: the run's id for its first, `<id>-<n>` after. */
export function supervisionKey(runId: string, attempt: number): string {
  return attempt > 1 ? `${runId}-${attempt}` : runId;
}

/** The worker stopped watching the agent (a deploy, VIGIL_SHUTDOWN_MODE=detach): it runs on under its supervisor. */
export class AgentDetachedError extends Error {
  /** `pid` null: detached before attaching (whether the agent runs is the supervisor's to say). */
  constructor(readonly pid: number | null) {
    super(`detached from the agent process${pid === null ? '' : ` (pid ${pid})`}; it runs on under its supervisor`);
    this.name = 'AgentDetachedError';
  }
}

type KillReason = 'cancel' | 'spawn_hook_failed';

/** Runs `launch` to its end (or attaches to it, issue 13) and reports what happened; the adapter turns the facts into a result. */
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

  // Attach-or-spawn, keyed by the run (issue 13): a run's agent is started at most once per attempt.
  const supervision = hooks.supervision ?? { key: randomUUID(), mayStart: true };
  const key = supervisionKey(supervision.key, hooks.attempt ?? 1);
  const dir = hooks.supervisorDir ?? defaultSupervisorDir();
  const cwd = path.resolve(launch.cwd ?? process.cwd());
  let spawn: AgentSpawnRequest | null = null;
  if (supervision.mayStart) {
    if (hooks.signal.aborted) return notStarted(processTexts.cancelledBeforeStart, true);
    const badCwd = await cwdProblem(cwd);
    if (badCwd) return notStarted(badCwd);
    if (hooks.signal.aborted) return notStarted(processTexts.cancelledBeforeStart, true);
    spawn = {
      command: launch.command,
      args: launch.args,
      cwd,
      env: childEnv,
      stdin: launch.stdin,
      // R13: the supervisor ends the group at the deadline, whether or not a worker is attached.
      deadlineAt: timeoutSec > 0 ? Date.now() + timeoutSec * 1000 : null,
      graceMs: Math.max(1, graceSec) * 1000,
      unattendedMs: hooks.unattendedMs ?? DEFAULT_UNATTENDED_MS,
    };
  }
  if (hooks.detach?.aborted) throw new AgentDetachedError(null);

  const supervised = await superviseAgent(dir, key, spawn);
  if (supervised.kind === 'spawn_failed') return notStarted(spawnFailureMessage(launch.command, supervised.error));
  if (supervised.kind === 'gone') {
    // Started once and never seen to end by a supervisor (it died), or not startable again: the
    // process is lost (R21), exactly as if it had been SIGKILLed.
    const at = new Date();
    return { ...baseFacts, pid: supervised.pid, processGroupId: supervised.pid, signal: 'SIGKILL', startedAt: at, finishedAt: at };
  }
  return superviseChild(supervised.agent);

  async function superviseChild(agent: SupervisedAgent): Promise<ProcessOutcomeFacts> {
    const pid = agent.pid;
    const pgid = pid;
    const spawnedAt = agent.spawnedAt;

    let leaderExited = false;
    void agent.exited.then(() => {
      leaderExited = true;
    });

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
        agent.stdout.pause();
        agent.stderr.pause();
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
      const readable = agent[stream];
      const decoder = new StringDecoder('utf8');
      const lines = new RedactingLineBuffer(redact, (text) => receive(stream, text));
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        lines.push(decoder.end());
        lines.flush();
      };
      readable.on('data', (data: Buffer) => lines.push(decoder.write(data)));
      readable.on('end', finish);
      readable.on('error', () => {});
      return finish;
    };
    const finishStdout = wire('stdout');
    const finishStderr = wire('stderr');
    const outputEnded = streamsEnded(agent);

    // Termination of the whole group while the leader lives: cancel, or a failed onSpawn. The
    // supervisor does it (and the timeout, R13), so it happens whether or not we stay attached.
    let killReason: KillReason | null = null;
    let cancelled = false;
    let termination: Promise<void> | null = null;
    const terminateGroup = (reason: KillReason): void => {
      if (leaderExited) return;
      if (reason === 'cancel') cancelled = true;
      if (termination) return;
      killReason = reason;
      const graceMs = (reason === 'spawn_hook_failed' ? 1 : Math.max(1, graceSec)) * 1000;
      termination = agent.terminate(graceMs).catch(() => undefined);
    };
    const onAbort = (): void => terminateGroup('cancel');
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    if (hooks.signal.aborted) onAbort();
    let onDetach: (() => void) | null = null;
    const detached = new Promise<'detached'>((resolve) => {
      onDetach = () => resolve('detached');
      hooks.detach?.addEventListener('abort', onDetach, { once: true });
      if (hooks.detach?.aborted) resolve('detached');
    });

    try {
      let spawnHookError: unknown = null;
      try {
        await hooks.onSpawn({ pid, processGroupId: pgid, startedAt: spawnedAt, startTicks: agent.startTicks, reattached: agent.reattached });
      } catch (err) {
        spawnHookError = err;
        terminateGroup('spawn_hook_failed');
      }
      spawnAcknowledged = true;
      const pending = held;
      held = [];
      for (const chunk of pending) deliver(chunk);
      agent.stdout.resume();
      agent.stderr.resume();

      const exit = await Promise.race([agent.exited, termination ? new Promise<never>(() => {}) : detached]);
      if (exit === 'detached') {
        // A deploy: the agent runs on; the next worker on this host reattaches (issue 13).
        await agent.detach();
        throw new AgentDetachedError(pid);
      }
      if (termination) await termination;
      const timedOut = exit.endedBy === 'timeout';
      // What the supervisor did to the group: the timeout (R13), a terminate we (or a worker
      // before us) asked for (R14), or the unattended window, which leaves the process lost (R21).
      const reason: ProcessOutcomeFacts['killReason'] = timedOut ? 'timeout' : exit.endedBy === 'terminate' && killReason !== 'spawn_hook_failed' ? 'cancel' : null;

      // No run leaves processes behind: the group must be gone before we resolve.
      let groupOutcome: TerminateGroupOutcome | null = null;
      let descendantsKilled = false;
      if (await isProcessGroupAlive(pgid)) {
        descendantsKilled = exit.endedBy === null;
        groupOutcome = await terminateProcessGroup(pgid, { graceMs: descendantsKilled ? DESCENDANT_GRACE_MS : 1 });
      }

      agent.finishOutput();
      const closed = await outputReadToEnd(agent, outputEnded);
      if (!closed) {
        agent.stdout.destroy();
        agent.stderr.destroy();
      }
      finishStdout();
      finishStderr();
      results.end();
      // The files go once the caller has recorded the output (or now, if it does not say when).
      if (hooks.onReleasable) hooks.onReleasable(() => agent.release());
      else await agent.release();

      if (spawnHookError) throw spawnHookError;
      return {
        ...baseFacts,
        pid,
        processGroupId: pgid,
        exitCode: exit.code,
        signal: exit.signal,
        killReason: reason,
        timedOut,
        cancelled: cancelled || reason === 'cancel',
        killEscalated: (exit.endedBy !== null && exit.signal === 'SIGKILL') || (groupOutcome?.escalated ?? false),
        descendantsKilled,
        processGroupSurvived: groupOutcome ? !groupOutcome.gone : false,
        outputStreamsForceClosed: !closed,
        startedAt: spawnedAt,
        finishedAt: new Date(),
      };
    } catch (err) {
      if (!(err instanceof AgentDetachedError)) {
        // Never leave the group running behind an exception.
        if (!leaderExited || (await isProcessGroupAlive(pgid))) signalProcessGroup(pgid, 'SIGKILL');
        await agent.release();
      }
      throw err;
    } finally {
      hooks.signal.removeEventListener('abort', onAbort);
      if (onDetach) hooks.detach?.removeEventListener('abort', onDetach);
    }
  }
}
