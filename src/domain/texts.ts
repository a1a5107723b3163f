/**
 * Every sentence Vigil writes for people (run errors, events, comments), in one place so wording
 * and redaction are reviewed together. Strings quoted by RECOVERY.md are reproduced byte for byte.
 */
import type { RecoverySweeperStatus, SweepPassSummary, SweepTrigger } from './recoverySweeper.ts';

export const runTexts = {
  // R4 claim gates
  agentGone: 'Cancelled because the agent no longer exists',
  pauseHoldActive: 'Cancelled because issue is held by an active subtree pause hold',
  dependenciesBlocked: 'Cancelled because the issue has unresolved blockers',
  staleIssue: (code: string) => `Cancelled because the queued run is stale (${code})`,
  // R14, R15
  cancelledByControlPlane: 'Cancelled by control plane',
  cancelledByAgentPause: 'Cancelled due to agent pause',
  // R15: a cost event crossed a hard budget limit.
  cancelledByBudgetPause: 'Cancelled due to budget pause',
  workerShutDown: 'Worker shut down while the agent process was running',
  workerShutDownBeforeStart: 'Worker began shutting down before the agent process started; another worker starts it',
  // R26
  detachedWarningCleared: 'Detached child process reported activity; cleared detached warning',
  // lifecycle events (R8 step 3)
  runStarted: 'run started',
  runFinished: (status: string) => `run ${status}`,
  adapterInvoked: (pid: number) => `adapter process started (pid ${pid})`,
  adapterReattached: (pid: number) => `reattached to the adapter process (pid ${pid}), which outlived its previous worker`,
  workerDetached: 'Worker detached from the agent process on shutdown; it runs on, and the next worker on its host reattaches',
  workflowNotStarted: 'Temporal is unavailable: the run is queued and starts once Vigil reaches Temporal again (at the latest when Vigil restarts)',
} as const;

/** What the `process` adapter says about how its child ended (run `error`, events). */
export const processTexts = {
  workingDirectoryNotADirectory: (cwd: string) => `Working directory is not a directory: ${cwd}`,
  workingDirectoryMissing: (cwd: string) => `Working directory does not exist: ${cwd}`,
  commandNotFound: (command: string) => `Command not found: ${command}`,
  commandNotExecutable: (command: string) => `Command is not executable (permission denied): ${command}`,
  startFailed: (command: string, reason: string) => `Failed to start ${command}: ${reason}`,
  cancelledBeforeStart: 'Cancelled before the process started',
  timedOut: (timeoutSec: number) => `Timed out after ${timeoutSec}s`,
  timedOutEscalated: (processGroupId: number | null, graceSec: number) =>
    `; process group ${processGroupId} ignored SIGTERM and was killed with SIGKILL after ${graceSec}s`,
  cancelled: (processGroupId: number | null) => `Cancelled; process group ${processGroupId} was terminated`,
  cancelledEscalated: (graceSec: number) => ` with SIGKILL after ${graceSec}s`,
  // R20 wording, with the signal that was observed.
  killedBySignal: (pid: number | null, signal: string) => `Process lost -- child pid ${pid} was killed by ${signal}`,
  exitedNonZero: (exitCode: number, detail: string | null) => `Process exited with code ${exitCode}${detail ? `: ${detail}` : ''}`,
} as const;

/** What the coding-agent CLI adapters say about a run (R72 sessions, classified failures). */
export const agentCliTexts = {
  sessionRejectedStartingFresh: (sessionId: string) => `The CLI refused to resume session ${sessionId}; starting a fresh session in the same run`,
  failed: (exitCode: number | null, reason: string) => (exitCode !== null && exitCode !== 0 ? `Process exited with code ${exitCode}: ${reason}` : reason),
} as const;

/** Why a wake was skipped or parked (R71); stored as the wake's `error`, returned by the wakeup API. */
export const wakeTexts = {
  pauseHoldActive: 'Issue is held by an active subtree pause hold',
  issueNotFound: 'Issue not found',
  dependenciesBlocked: 'Issue has unresolved blockers',
  timerDisabled: 'Timer heartbeats are disabled for this agent',
  onDemandDisabled: 'This agent does not accept on-demand wakes',
  deferred: 'The issue is being executed by another run; this wake runs when it finishes',
  // Issue 14 V1: the skipped wake's error.
  loopDetected: 'Loop breaker: this agent ended too many runs on this issue without progress; automatic wakes are skipped until progress or a board reset',
} as const;

export const agentTexts = {
  notInvokable: 'Agent is not invokable in its current state',
} as const;

/** R74: budget invocation block reasons. */
export const budgetTexts = {
  companyPausedForBudget: 'Company is paused because its budget hard-stop was reached.',
  companyPaused: 'Company is paused and cannot start new work.',
  companyBudgetExceeded: 'Company cannot start new work because its budget hard-stop is exceeded.',
  agentPausedForBudget: 'Agent is paused because its budget hard-stop was reached.',
  agentBudgetExceeded: 'Agent cannot start because its budget hard-stop is still exceeded.',
  projectBudgetExceeded: 'Project cannot start new work because its budget hard-stop is exceeded.',
} as const;

/** A run whose worker stopped heartbeating: its child may still be alive on that worker's host. */
export function workerLostMessage(pid: number | null): string {
  return `Process lost -- the worker running it stopped heartbeating${pid !== null ? ` (child pid ${pid})` : ''}`;
}

/** R20: the base "Process lost" message. */
export function processLostMessage(input: {
  pid: number | null;
  processGroupId: number | null;
  descendantOnly?: boolean;
}): string {
  if (input.descendantOnly && input.processGroupId !== null) {
    return `Process lost -- parent pid ${input.pid ?? 'unknown'} exited, but descendant process group ${input.processGroupId} was still alive and was terminated`;
  }
  if (input.pid !== null) return `Process lost -- child pid ${input.pid} is no longer running`;
  if (input.processGroupId !== null) return `Process lost -- process group ${input.processGroupId} is no longer running`;
  return 'Process lost -- server may have restarted';
}

const TRIGGER_WORDS: Record<SweepTrigger, string> = { periodic: 'periodic', startup: 'at startup', operator: 'on demand' };

function describePass(pass: SweepPassSummary): string {
  const done = Object.entries(pass.counts).filter(([, value]) => value > 0).map(([name, value]) => `${name} ${value}`);
  const failed = pass.failedSteps.length > 0 ? ` · **failed: ${pass.failedSteps.join(', ')}**` : '';
  return `Last pass (${TRIGGER_WORDS[pass.trigger]}, ${pass.sweeps.join(' + ') || 'all paused'}) at ${pass.startedAt}, ${pass.durationMs} ms: ${done.length > 0 ? done.join(' · ') : 'nothing to do'}${failed}`;
}

/** The recovery sweeper as Temporal UI shows it: its summary, details and current details (markdown). */
export const recoverySweeperTexts = {
  staticSummary: 'Recovery sweeper (R68): orphan reaper, due retries, queued runs, stranded work',
  staticDetails:
    'Runs the recovery chain every interval. Pause or resume with the signals `pause` / `resume` ' +
    '(input `{"sweeps":["reap"]}` or `["reconcile"]` for one half, none for both), run it now with the update `sweepNow`, ' +
    'read its state with the query `status`.',
  currentDetails(status: RecoverySweeperStatus): string {
    const pausedHalves = status.paused.length === 0 ? '' : ` · **paused: ${status.paused.join(', ')}**`;
    const next = status.nextDueAt ? ` · next pass ${status.nextDueAt}` : '';
    const passes = `Passes: ${status.passes.periodic} periodic · ${status.passes.startup} at startup · ${status.passes.operator} on demand · execution ${status.execution} of this sweeper`;
    const last = status.lastPass ? describePass(status.lastPass) : 'No pass yet';
    return [`**Every ${status.intervalMs / 1000} s**${pausedHalves}${next}`, last, passes].join('\n\n');
  },
  /** What `temporal workflow metadata` and Temporal UI list beside each handler. */
  handlers: {
    status: 'The paused halves, the interval, when the next pass is due, the pass counters and the last pass',
    pause: 'Stops the periodic passes of both halves, or of {"sweeps":["reap"]} / ["reconcile"]; sweepNow still runs',
    resume: 'Resumes the periodic passes of both halves, or of the halves named as for pause',
    configure: 'Sets the interval {"intervalMs": n}; every starting Vigil sends its own',
    sweepNow: 'Runs a pass now and answers with its result: {"sweeps"?: ["reap","reconcile"], "staleThresholdMs"?: n (default 300000)}',
  },
  movedTaskQueue: (from: string, to: string) => `Vigil now runs on task queue ${to}; no worker runs the sweeper on ${from}`,
  stepFailed: 'recovery sweep step failed; the chain goes on without it',
  passFailed: 'recovery pass failed after its retries; the next one is due an interval later',
  legacySchedulesRemoved: 'removed the recovery Schedules of an earlier Vigil: the recovery sweeper replaces them',
} as const;

/** R70's per-agent heartbeat Schedules as Temporal UI shows them, and what Vigil logs about them. */
export const timerHeartbeatTexts = {
  /** The one line of every tick workflow in Temporal UI's list (also what a rename updates). */
  tickSummary: (agentName: string, intervalSec: number) => `Timer heartbeat · ${agentName} · every ${intervalSec} s`,
  /** The schedule's note, shown on its page in Temporal UI. */
  note: (agent: { name: string; id: string; status: string }, paused: boolean) =>
    paused
      ? `Paused: agent ${agent.name} (${agent.id}) is ${agent.status.replace('_', ' ')}; resuming the agent resumes its timer`
      : `R70 timer heartbeat of agent ${agent.name} (${agent.id}); managed by Vigil from the agent's runtimeConfig.heartbeat`,
  syncFailed: "timer heartbeat schedule not brought up to date; the agent is saved, and Vigil's next start reconciles the schedule",
  reconciled: 'timer heartbeat schedules reconciled',
  reconcileFailed: "timer heartbeat schedules not reconciled at start; the API keeps each agent's schedule in step as it changes",
} as const;
