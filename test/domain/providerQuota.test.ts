/** A quota wall is not a blip: one retry at the reset, bounded, and a wall the agent's other runs wait behind. */
import { describe, expect, it } from 'vitest';
import { activeQuotaWall, MAX_CONSECUTIVE_QUOTA_RETRIES, planQuotaRetry } from '../../src/domain/providerQuota.ts';
import { decideAgentFinalize } from '../../src/domain/agentStatus.ts';

const now = new Date('2026-12-05T14:00:00Z');

describe('the one retry of a usage limit', () => {
  it('is due at the reset the provider named', () => {
    expect(planQuotaRetry({ now, retryNotBefore: new Date('2026-12-05T16:35:00Z'), consecutiveQuotaRetries: 0 })).toEqual({ kind: 'park', dueAt: new Date('2026-12-05T16:35:00Z') });
  });

  it('waits at least 30 s even for a reset already past, and believes no reset more than 8 days out', () => {
    expect(planQuotaRetry({ now, retryNotBefore: new Date('2026-12-05T13:00:00Z'), consecutiveQuotaRetries: 0 })).toEqual({ kind: 'park', dueAt: new Date('2026-12-05T14:00:30Z') });
    expect(planQuotaRetry({ now, retryNotBefore: new Date('2027-03-01T00:00:00Z'), consecutiveQuotaRetries: 0 })).toEqual({ kind: 'park', dueAt: new Date('2026-12-13T14:00:00Z') });
  });

  it(`stops after ${MAX_CONSECUTIVE_QUOTA_RETRIES} quota retries in a row`, () => {
    expect(planQuotaRetry({ now, retryNotBefore: null, consecutiveQuotaRetries: MAX_CONSECUTIVE_QUOTA_RETRIES })).toEqual({ kind: 'exhausted', consecutive: MAX_CONSECUTIVE_QUOTA_RETRIES });
  });
});

describe("the agent's quota wall", () => {
  it('stands until its reset, then falls', () => {
    const stateJson = { providerQuota: { until: '2026-12-05T16:35:00.000Z', errorCode: 'claude_usage_limit', runId: 'r1' } };
    expect(activeQuotaWall(stateJson, now)).toMatchObject({ until: '2026-12-05T16:35:00.000Z' });
    expect(activeQuotaWall(stateJson, new Date('2026-12-05T16:35:00Z'))).toBeNull();
    expect(activeQuotaWall({}, now)).toBeNull();
    expect(activeQuotaWall(null, now)).toBeNull();
  });

  it('leaves the agent idle, not in error', () => {
    expect(decideAgentFinalize({ agentStatus: 'running', lastHeartbeatAt: now, otherRunningRuns: 0, outcome: 'failed', providerQuota: true }).status).toBe('idle');
    expect(decideAgentFinalize({ agentStatus: 'running', lastHeartbeatAt: now, otherRunningRuns: 0, outcome: 'failed' }).status).toBe('error');
  });
});
