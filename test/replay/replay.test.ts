/**
 * Determinism guard: every workflow history committed under test/replay/ (recorded from real
 * runs by `npm run replay:record`) must replay against the current workflow code. A change to
 * src/workflows that would break runs already in flight fails here, in CI, before a deploy does.
 * Each history is also checked to be the scenario it is named after, so the guard cannot pass on
 * missing or empty files, and two fixture workflows prove the check has teeth (an unpatched
 * change fails, the same change behind `patched()` passes). No server needed.
 * See docs/workflow-versioning.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { recordedWorkflowId, type HistoryJson } from '../../scripts/histories/exportHistory.ts';
import { describeVerdict, installQuietTemporalRuntime, replayHistories, type RecordedHistory } from '../../scripts/histories/replayHistory.ts';
import { activityAttempts, attributesOf, factsOf, localActivityResult, localActivityTypes, patchesOf, runInputOf, type Attributes, type HistoryFacts } from './historyFacts.ts';

/** The host id of `queue` when it is the host task queue (`<runQueue>@host:<hostId>`, agentHosting.ts) of `runQueue`, else null. */
const hostOf = (queue: string, runQueue: string): string | null => (queue.startsWith(`${runQueue}@host:`) ? queue.slice(`${runQueue}@host:`.length) : null);

/** How the window reads as a Temporal duration (`300s`). */
const windowDuration = (history: HistoryJson) => `${runInputOf(history).reattachWindowMs! / 1000}s`;

/**
 * Issue 13: the adapter activity was lost or given up by its worker (`firstEnded`), then ran again
 * on the agent's host task queue (`<queue>@host:<hostId>`), bound by the run's reattach window,
 * behind the `reattach-agent-on-its-host` patch, and completed there: nothing ran the agent again.
 */
function expectReattached(facts: HistoryFacts, history: HistoryJson, firstEnded: string) {
  const [first, second, ...more] = activityAttempts(history);
  expect(more).toEqual([]);
  expect(first).toMatchObject({ type: 'executeAdapter', summary: 'execute agent process', scheduleToStartTimeout: '0s', ended: firstEnded });
  expect(first.taskQueue).not.toMatch(/@host:/);
  expect(second).toMatchObject({ type: 'executeAdapter', summary: 'reattach to agent process', scheduleToStartTimeout: windowDuration(history), ended: 'COMPLETED' });
  expect(hostOf(second.taskQueue, first.taskQueue)).toMatch(/.+/);
  expect(patchesOf(history)).toEqual(['reattach-agent-on-its-host']);
  // The agent's own result: succeeded, no process_lost, no retry run (no startRuns).
  expect(localActivityTypes(facts)).toEqual(['claimRun', 'finalizeRun']);
  expect(localActivityResult(facts, 'finalizeRun')).toMatchObject({ status: 'succeeded', errorCode: null, followUpRunIds: [] });
  expect(facts.result).toMatchObject({ status: 'succeeded', errorCode: null });
}

const HISTORY_DIR = fileURLToPath(new URL('./', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Every committed history, and how to recognise the run it is a recording of. */
const SCENARIOS: Record<string, { shows: string; workflowType?: string; closedBy?: string; check(facts: HistoryFacts, history: HistoryJson): void }> = {
  success: {
    shows: 'claim, one agent process, finalize, succeeded',
    check(facts) {
      expect(localActivityTypes(facts)).toEqual(['claimRun', 'finalizeRun']);
      expect(facts.scheduledActivities).toMatchObject([{ type: 'executeAdapter', summary: 'execute agent process' }]);
      expect(facts.events).toContain('ACTIVITY_TASK_COMPLETED');
      expect(facts.result).toMatchObject({ status: 'succeeded', errorCode: null });
    },
  },
  failure: {
    shows: 'the agent exits non-zero: failed / adapter_failed, and a follow-up run is started',
    check(facts) {
      expect(facts.result).toMatchObject({ status: 'failed', errorCode: 'adapter_failed' });
      expect(localActivityTypes(facts)).toEqual(['claimRun', 'finalizeRun', 'startRuns']);
    },
  },
  cancel: {
    shows: 'the cancelRun update cancels the running adapter activity, then the run is written cancelled',
    check(facts) {
      expect(facts.updates).toEqual(['cancelRun']);
      expect(facts.events).toEqual(expect.arrayContaining(['WORKFLOW_EXECUTION_UPDATE_ACCEPTED', 'ACTIVITY_TASK_CANCEL_REQUESTED', 'ACTIVITY_TASK_CANCELED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED']));
      expect(facts.events.indexOf('ACTIVITY_TASK_CANCELED')).toBeLessThan(facts.events.indexOf('WORKFLOW_EXECUTION_UPDATE_COMPLETED'));
      expect(facts.result).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
    },
  },
  timeout: {
    shows: 'adapterConfig.timeoutSec fires: timed_out / timeout',
    check(facts) {
      expect(localActivityResult(facts, 'claimRun')).toMatchObject({ kind: 'claimed', timeoutSec: 1 });
      expect(facts.result).toMatchObject({ status: 'timed_out', errorCode: 'timeout' });
    },
  },
  'process-loss-retry': {
    shows: 'the agent is SIGKILLed from outside: failed / process_lost, and its one retry run is started',
    check(facts) {
      expect(facts.scheduledActivities).toMatchObject([{ type: 'executeAdapter', heartbeatTimeout: '5s' }]);
      expect(localActivityResult(facts, 'finalizeRun')).toMatchObject({ errorCode: 'process_lost', followUpRunIds: [expect.any(String)] });
      expect(localActivityTypes(facts)).toContain('startRuns');
      expect(facts.result).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    },
  },
  escalation: {
    shows: 'the third lost run in a row: finalize escalates, afterRunFinalized blocks the issue and starts the recovery dispatch',
    check(facts) {
      expect(localActivityResult(facts, 'finalizeRun')).toMatchObject({ errorCode: 'process_lost', escalation: { path: 'immediate' } });
      expect(localActivityTypes(facts)).toEqual(['claimRun', 'finalizeRun', 'afterRunFinalized', 'startRuns']);
    },
  },
  'transient-failure': {
    shows: 'an overloaded upstream: failed, and finalize schedules a transient retry run',
    check(facts) {
      expect(localActivityResult(facts, 'claimRun')).toMatchObject({ adapterType: 'codex_local' });
      expect(localActivityResult(facts, 'finalizeRun')).toMatchObject({ status: 'failed', followUpRunIds: [expect.any(String)], nextQueuedRunIds: [] });
      expect(localActivityTypes(facts)).toContain('startRuns');
    },
  },
  'scheduled-retry': {
    shows: 'a scheduled retry waits on a durable timer, is promoted, then runs and succeeds',
    check(facts) {
      expect(facts.events).toEqual(expect.arrayContaining(['TIMER_STARTED', 'TIMER_FIRED']));
      expect(facts.localActivities[0]).toMatchObject({ type: 'claimRun', result: { kind: 'scheduled' } });
      expect(localActivityTypes(facts)).toEqual(['claimRun', 'promoteScheduledRetry', 'claimRun', 'finalizeRun']);
      expect(facts.result).toMatchObject({ status: 'succeeded' });
    },
  },
  'worker-lost': {
    shows: 'the worker is SIGKILLed: the adapter activity times out on its heartbeat, the run is process_lost',
    check(facts) {
      expect(facts.activityTimeouts).toEqual(['TIMEOUT_TYPE_HEARTBEAT']);
      expect(facts.result).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    },
  },
  'worker-shutdown': {
    shows: 'the worker shuts down: the adapter activity fails with WorkerShutdown, the run is process_lost',
    check(facts) {
      expect(facts.activityFailures).toMatchObject([{ type: 'WorkerShutdown' }]);
      expect(facts.result).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    },
  },
  reattach: {
    shows: "issue 13: the worker is SIGKILLed mid-run; the adapter activity times out on its heartbeat, runs again on the agent's host queue, a new worker of the host reattaches, succeeded",
    check(facts, history) {
      expectReattached(facts, history, 'TIMED_OUT:TIMEOUT_TYPE_HEARTBEAT');
      expect(facts.activityTimeouts).toEqual(['TIMEOUT_TYPE_HEARTBEAT']);
      expect(facts.activityFailures).toEqual([]);
    },
  },
  'deploy-detach': {
    shows: "issue 13: the worker stops in detach mode (a deploy); the adapter activity fails WorkerDetached, runs again on the agent's host queue, the next worker reattaches, succeeded",
    check(facts, history) {
      expectReattached(facts, history, 'FAILED:WorkerDetached');
      expect(facts.activityFailures).toMatchObject([{ type: 'WorkerDetached' }]);
      expect(facts.activityTimeouts).toEqual([]);
    },
  },
  'cancel-unwatched': {
    shows: "issue 13: the run is cancelled while its worker is down; once the adapter activity times out, terminateAgent ends the group on the agent's host queue, cancelled",
    check(facts, history) {
      const [adapter, terminate, ...more] = activityAttempts(history);
      expect(more).toEqual([]);
      expect(adapter).toMatchObject({ type: 'executeAdapter', summary: 'execute agent process', ended: 'TIMED_OUT:TIMEOUT_TYPE_HEARTBEAT' });
      expect(terminate).toMatchObject({ type: 'terminateAgent', scheduleToStartTimeout: windowDuration(history), ended: 'COMPLETED' });
      expect(hostOf(terminate.taskQueue, adapter.taskQueue)).toMatch(/.+/);
      expect(patchesOf(history)).toEqual(['reattach-agent-on-its-host']);
      expect(facts.updates).toEqual(['cancelRun']);
      // The cancel was requested before the activity was lost, and answered after the group ended.
      expect(facts.events.indexOf('ACTIVITY_TASK_CANCEL_REQUESTED')).toBeLessThan(facts.events.indexOf('ACTIVITY_TASK_TIMED_OUT'));
      expect(facts.events.indexOf('ACTIVITY_TASK_COMPLETED')).toBeLessThan(facts.events.indexOf('WORKFLOW_EXECUTION_UPDATE_COMPLETED'));
      expect(localActivityResult(facts, 'finalizeRun')).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
      expect(facts.result).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
    },
  },
  'recovery-sweeper': {
    shows: 'one execution of the recovery sweeper: a startup pass (update), periodic passes on its timer, pause, a pass on demand while paused, resume, continue-as-new',
    workflowType: 'recoverySweeperWorkflow',
    closedBy: 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
    check(facts) {
      // The startup pass reaped the lost run (and started its retry); every pass is one local activity.
      expect(new Set(localActivityTypes(facts))).toEqual(new Set(['runRecoveryPass']));
      expect(facts.localActivities.length).toBeGreaterThanOrEqual(4);
      expect(facts.localActivities[0].result).toMatchObject({ reap: { staleThresholdMs: 0, reaped: 1 }, failedSteps: [] });
      expect(facts.scheduledActivities).toEqual([]);
      expect(facts.updates).toEqual(['sweepNow', 'sweepNow']);
      expect(facts.signals).toEqual(['configure', 'pause', 'resume']);
      expect(facts.events).toEqual(expect.arrayContaining(['TIMER_STARTED', 'TIMER_FIRED', 'TIMER_CANCELED']));
    },
  },
  'timer-tick': {
    shows: "one tick of an agent's heartbeat Schedule (R70): the timer wake enqueued and its run started, in one local activity",
    workflowType: 'heartbeatTimerWorkflow',
    check(facts) {
      expect(localActivityTypes(facts)).toEqual(['enqueueTimerWake']);
      expect(facts.scheduledActivities).toEqual([]);
      expect(facts.result).toMatchObject({ outcome: 'queued', runId: expect.any(String), wakeId: expect.any(String) });
    },
  },
};

function loadHistory(name: string): RecordedHistory {
  const history = JSON.parse(readFileSync(path.join(HISTORY_DIR, `${name}.json`), 'utf8')) as HistoryJson;
  return { name, workflowId: recordedWorkflowId(history) ?? name, history };
}

const jsonNames = (dir: string) => readdirSync(path.join(HISTORY_DIR, dir)).filter((file) => file.endsWith('.json')).map((file) => path.join(dir, path.basename(file, '.json')));
const committed = jsonNames('').sort();
const expected = Object.keys(SCENARIOS).sort();
/**
 * Histories kept from before a patched change, in folders such as `test/replay/before-<patch>/`
 * (docs/workflow-versioning.md): replayed like the current ones until they are retired.
 */
const archived = readdirSync(HISTORY_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'fixtures')
  .flatMap((entry) => jsonNames(entry.name))
  .sort();
let histories: RecordedHistory[] = [];
/** The run workflows only: the fixtures register heartbeatRunWorkflow alone. */
const runHistories = () => histories.filter((recorded) => factsOf(recorded.history).workflowType === 'heartbeatRunWorkflow');

beforeAll(() => {
  // Replaying a broken history on purpose makes the SDK log; the assertions say what matters.
  installQuietTemporalRuntime();
  histories = committed.filter((name) => expected.includes(name)).map(loadHistory);
});

describe('committed workflow histories', () => {
  it('are exactly the expected scenarios, no more and no fewer', () => {
    expect(committed).toEqual(expected);
  });

  it.each(Object.entries(SCENARIOS))('%s: the history shows it', (name, scenario) => {
    const recorded = histories.find((candidate) => candidate.name === name);
    expect(recorded, `test/replay/${name}.json is missing: npm run replay:record`).toBeDefined();
    const facts = factsOf(recorded!.history);
    expect(facts.workflowType).toBe(scenario.workflowType ?? 'heartbeatRunWorkflow');
    expect(facts.events.at(-1), `${name} should be a closed workflow (${scenario.shows})`).toBe(scenario.closedBy ?? 'WORKFLOW_EXECUTION_COMPLETED');
    scenario.check(facts, recorded!.history);
  });

  // The issue-13 checks have teeth: each fails on a history in which the run was not reattached
  // (worker-lost, worker-shutdown: the worker's run ended process_lost) or reattached otherwise.
  it.each([
    ['reattach', ['worker-lost', 'worker-shutdown', 'deploy-detach', 'cancel-unwatched', 'success']],
    ['deploy-detach', ['worker-lost', 'worker-shutdown', 'reattach', 'cancel-unwatched', 'success']],
    ['cancel-unwatched', ['worker-lost', 'cancel', 'reattach', 'deploy-detach']],
  ])('%s: the check fails on a history without that reattach', (name, others) => {
    for (const other of others) {
      const recorded = histories.find((candidate) => candidate.name === other)!;
      expect(() => SCENARIOS[name].check(factsOf(recorded.history), recorded.history), `${name}'s check on ${other}`).toThrow();
    }
  });

  it.each(['reattach', 'deploy-detach', 'cancel-unwatched'])('%s: the check fails on its own history without the reattach-agent-on-its-host patch marker', (name) => {
    const recorded = histories.find((candidate) => candidate.name === name)!;
    const isPatchMarker = (event: Attributes) => event.eventType === 'EVENT_TYPE_MARKER_RECORDED' && attributesOf(event).markerName === 'core_patch';
    const unpatched: HistoryJson = { ...recorded.history, events: recorded.history.events.filter((event) => !isPatchMarker(event as Attributes)) };
    expect(unpatched.events.length).toBe(recorded.history.events.length - 1);
    expect(() => SCENARIOS[name].check(factsOf(unpatched), unpatched)).toThrow(/reattach-agent-on-its-host/);
  });
});

describe('replay against the current workflow code', () => {
  it('replays every committed history without a determinism violation', async () => {
    const all = [...histories, ...archived.map(loadHistory)];
    const verdicts = await replayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, all);
    expect(verdicts.map((verdict) => verdict.name)).toEqual([...expected, ...archived]);
    expect(verdicts.filter((verdict) => !verdict.deterministic).map(describeVerdict)).toEqual([]);
  });

  it('fails with a DeterminismViolationError when a workflow step is added without a patch', async () => {
    const verdicts = await replayHistories({ workflowsPath: fixture('unpatchedChange.ts') }, runHistories());
    expect(verdicts.length).toBeGreaterThanOrEqual(8);
    for (const verdict of verdicts) {
      expect(verdict.deterministic, verdict.name).toBe(false);
      if (!verdict.deterministic) {
        expect(verdict.error, verdict.name).toBeInstanceOf(DeterminismViolationError);
        expect(describeVerdict(verdict)).toMatch(/^NOT deterministic: /);
      }
    }
  });

  it('replays every run history when the same step is added behind patched()', async () => {
    const verdicts = await replayHistories({ workflowsPath: fixture('patchedChange.ts') }, runHistories());
    expect(verdicts.filter((verdict) => !verdict.deterministic).map(describeVerdict)).toEqual([]);
    expect(verdicts.length).toBe(runHistories().length);
  });
});
