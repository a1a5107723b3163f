/** R12–R14: the one reading of an agent run's timeout and grace, and the bound derived from it. */
import { describe, expect, it } from 'vitest';
import { adapterActivityTimeout, effectiveGraceSec, effectiveTimeoutSec, reportedTimeout } from '../../src/domain/runTimeouts.ts';

describe('run timeouts (R12–R14)', () => {
  it('floors a configured timeout and reads anything not positive as no timeout', () => {
    expect(effectiveTimeoutSec({ timeoutSec: 12.7 })).toBe(12);
    expect(effectiveTimeoutSec({})).toBe(0);
    expect(effectiveTimeoutSec({ timeoutSec: -5 })).toBe(0);
    expect(effectiveTimeoutSec({ timeoutSec: Number.NaN })).toBe(0);
  });

  it('gives the process group 20 s of grace unless configured, and never less than 1 s', () => {
    expect(effectiveGraceSec({})).toBe(20);
    expect(effectiveGraceSec({ graceSec: 0 })).toBe(1);
    expect(effectiveGraceSec({ graceSec: 5 })).toBe(5);
    expect(effectiveGraceSec({ graceSec: Number.NaN })).toBe(20);
  });

  it('bounds the adapter activity at timeout + grace + 120 s, or a month without a timeout', () => {
    expect(adapterActivityTimeout({ timeoutSec: 60, graceSec: 20 })).toBe('200 seconds');
    expect(adapterActivityTimeout({ timeoutSec: 0, graceSec: 20 })).toBe('30 days');
  });

  it('reports the timeout the enforcing side uses, with per-adapter defaults', () => {
    expect(reportedTimeout('process', { timeoutSec: 12.7 })).toEqual({ sec: effectiveTimeoutSec({ timeoutSec: 12.7 }), ms: undefined, source: 'config' });
    expect(reportedTimeout('openclaw_gateway', {})).toEqual({ sec: 120, ms: undefined, source: 'default' });
    expect(reportedTimeout('http', { timeoutMs: 2500 })).toEqual({ sec: 2, ms: 2500, source: 'config' });
  });
});
