/** R5, R12, R10: the pure decisions behind a run's terminal write and its agent's status. */
import { describe, expect, it } from 'vitest';
import { lastAliveAt, shutdownLostAt, terminalWriteFor, type AdapterResultPayload } from '../../src/domain/runOutcome.ts';
import { processLossMoment } from '../../src/activities/processLossDetection.ts';
import { processLostMessage } from '../../src/domain/texts.ts';
import { buildStopMetadata, stopReasonFor } from '../../src/domain/stopMetadata.ts';
import { decideAgentFinalize } from '../../src/domain/agentStatus.ts';
import { heartbeatPolicyOf } from '../../src/domain/heartbeatPolicy.ts';

const run = { adapterType: 'process', adapterConfig: {}, priorResultJson: { earlier: true }, processPid: 41, processGroupId: 41 };
const result = (overrides: Partial<AdapterResultPayload>): AdapterResultPayload => ({
  exitCode: 0, signal: null, timedOut: false, cancelled: false, processLost: false, summary: null, resultJson: {},
  errorMessage: null, errorCode: null, errorFamily: null, retryNotBefore: null, stdoutExcerpt: '', stderrExcerpt: '', agentCli: null, lostAt: null,
  ...overrides,
});

describe('stop metadata (R12)', () => {
  it('matches the spec example for a manually cancelled agent with no config', () => {
    expect(buildStopMetadata({ adapterType: 'codex_local', adapterConfig: {}, stopReason: stopReasonFor('cancelled', 'cancelled', 'Cancelled by control plane') }))
      .toEqual({ stopReason: 'cancelled', effectiveTimeoutSec: 0, timeoutConfigured: false, timeoutSource: 'default', timeoutFired: false });
  });
  it('derives the cancel stop reason from the message and the timeout from the config', () => {
    expect(stopReasonFor('cancelled', 'cancelled', 'Cancelled due to Budget pause')).toBe('budget_paused');
    expect(stopReasonFor('cancelled', 'cancelled', 'Cancelled due to agent pause')).toBe('paused');
    expect(buildStopMetadata({ adapterType: 'process', adapterConfig: { timeoutSec: 12.7 }, stopReason: 'timeout' }))
      .toMatchObject({ effectiveTimeoutSec: 12, timeoutConfigured: true, timeoutSource: 'config', timeoutFired: true });
    expect(buildStopMetadata({ adapterType: 'openclaw_gateway', adapterConfig: {}, stopReason: 'completed' })).toMatchObject({ effectiveTimeoutSec: 120, timeoutSource: 'default' });
    expect(buildStopMetadata({ adapterType: 'http', adapterConfig: { timeoutMs: 2500 }, stopReason: 'completed' })).toMatchObject({ effectiveTimeoutSec: 2, effectiveTimeoutMs: 2500 });
  });
});

describe('terminal write (R5)', () => {
  it('maps exit 0 (or null) without an error message to succeeded, keeping the summary', () => {
    const write = terminalWriteFor(run, { kind: 'adapter_result', result: result({ exitCode: null, summary: 'done' }) });
    expect(write).toMatchObject({ status: 'succeeded', error: null, errorCode: null });
    expect(write.resultJson).toMatchObject({ earlier: true, summary: 'done', stopReason: 'completed' });
  });
  it('uses the adapter error code, else adapter_failed, and keeps the error family', () => {
    expect(terminalWriteFor(run, { kind: 'adapter_result', result: result({ exitCode: 2, errorMessage: 'boom' }) })).toMatchObject({ status: 'failed', errorCode: 'adapter_failed', error: 'boom' });
    const transient = terminalWriteFor(run, { kind: 'adapter_result', result: result({ exitCode: 1, errorMessage: 'overloaded', errorCode: 'claude_transient_upstream', errorFamily: 'transient_upstream', retryNotBefore: '2026-11-21T03:00:00.000Z' }) });
    expect(transient).toMatchObject({ status: 'failed', errorCode: 'claude_transient_upstream' });
    expect(transient.resultJson).toMatchObject({ errorFamily: 'transient_upstream', retryNotBefore: '2026-11-21T03:00:00.000Z', transientRetryNotBefore: '2026-11-21T03:00:00.000Z' });
  });
  it('maps timeouts, process loss, a thrown adapter and cancellation', () => {
    expect(terminalWriteFor(run, { kind: 'adapter_result', result: result({ timedOut: true, exitCode: null, signal: 'SIGKILL' }) })).toMatchObject({ status: 'timed_out', errorCode: 'timeout', error: 'Timed out' });
    expect(terminalWriteFor(run, { kind: 'adapter_result', result: result({ processLost: true, exitCode: null, signal: 'SIGKILL' }) })).toMatchObject({ status: 'failed', errorCode: 'process_lost', error: 'Process lost -- child pid 41 is no longer running' });
    const threw = terminalWriteFor(run, { kind: 'adapter_threw', message: 'spawn failed: Bearer abc123def456ghi789' });
    expect(threw).toMatchObject({ status: 'failed', errorCode: 'adapter_failed' });
    expect(threw.error).not.toContain('abc123def456ghi789');
    const cancelled = terminalWriteFor(run, { kind: 'cancelled', reason: 'Cancelled by control plane' });
    expect(cancelled).toMatchObject({ status: 'cancelled', errorCode: 'cancelled', error: 'Cancelled by control plane' });
    expect(cancelled.resultJson).toMatchObject({ earlier: true, stopReason: 'cancelled', timeoutFired: false });
  });
  it('words process loss as R20 does', () => {
    expect(processLostMessage({ pid: 7, processGroupId: 9, descendantOnly: true })).toBe('Process lost -- parent pid 7 exited, but descendant process group 9 was still alive and was terminated');
    expect(processLostMessage({ pid: null, processGroupId: 9 })).toBe('Process lost -- process group 9 is no longer running');
    expect(processLostMessage({ pid: null, processGroupId: null })).toBe('Process lost -- server may have restarted');
  });
});

describe('agent finalize (R10, R11)', () => {
  it('leaves paused agents alone and fires first-heartbeat telemetry once', () => {
    expect(decideAgentFinalize({ agentStatus: 'paused', lastHeartbeatAt: null, otherRunningRuns: 0, outcome: 'failed' })).toEqual({ update: false, firstHeartbeat: false });
    expect(decideAgentFinalize({ agentStatus: 'running', lastHeartbeatAt: null, otherRunningRuns: 0, outcome: 'cancelled' })).toEqual({ update: true, status: 'idle', firstHeartbeat: true });
    expect(decideAgentFinalize({ agentStatus: 'running', lastHeartbeatAt: new Date(), otherRunningRuns: 1, outcome: 'failed' })).toEqual({ update: true, status: 'running', firstHeartbeat: false });
    expect(decideAgentFinalize({ agentStatus: 'running', lastHeartbeatAt: new Date(), otherRunningRuns: 0, outcome: 'timed_out' })).toMatchObject({ status: 'error' });
  });
});

describe('heartbeat policy (R69, R70)', () => {
  it('applies defaults, clamps concurrency and honours legacy aliases', () => {
    expect(heartbeatPolicyOf({})).toEqual({ enabled: false, intervalSec: 0, wakeOnDemand: true, maxConcurrentRuns: 5 });
    expect(heartbeatPolicyOf({ heartbeat: { maxConcurrentRuns: 50 } }).maxConcurrentRuns).toBe(10);
    expect(heartbeatPolicyOf({ heartbeat: { maxConcurrentRuns: 0.5 } }).maxConcurrentRuns).toBe(1);
    expect(heartbeatPolicyOf({ heartbeat: { wakeOnAssignment: false } }).wakeOnDemand).toBe(false);
  });
});

describe('the moment a process was lost (R21), carried by the execution outcome', () => {
  const at = '2026-12-05T10:00:00.000Z';
  const updatedAt = new Date('2026-12-05T09:59:00.000Z');
  it('reads the last heartbeat of a heartbeat timeout and the details of a worker shutdown', () => {
    expect(lastAliveAt({ aliveAt: at })).toBe(at);
    expect(shutdownLostAt([{ lostAt: at }])).toBe(at);
    // An activity of an older build heartbeat without details: the moment is unknown.
    for (const nothing of [null, undefined, {}, { aliveAt: 'soon' }, 'x']) expect(lastAliveAt(nothing)).toBeNull();
    expect(shutdownLostAt(undefined)).toBeNull();
    expect(shutdownLostAt([])).toBeNull();
  });
  it('gives each path its moment: the exit, the last heartbeat, the shutdown, the run\'s last write', () => {
    expect(processLossMoment({ kind: 'adapter_result', result: result({ processLost: true, lostAt: at }) }, updatedAt)).toEqual({ path: 'exit_signal', lostAt: new Date(at) });
    expect(processLossMoment({ kind: 'worker_lost', via: 'heartbeat_timeout', detail: '', lostAt: at }, updatedAt)).toEqual({ path: 'heartbeat_timeout', lostAt: new Date(at) });
    expect(processLossMoment({ kind: 'worker_lost', via: 'worker_shutdown', detail: '', lostAt: null }, updatedAt)).toEqual({ path: 'worker_shutdown', lostAt: null });
    // A worker that died before its first heartbeat reached Temporal: the run's last write (the pid record).
    expect(processLossMoment({ kind: 'worker_lost', via: 'heartbeat_timeout', detail: '', lostAt: null }, updatedAt)).toEqual({ path: 'heartbeat_timeout', lostAt: updatedAt });
    expect(processLossMoment({ kind: 'reaped', descendantOnly: false }, updatedAt)).toEqual({ path: 'reaper', lostAt: updatedAt });
  });
});
