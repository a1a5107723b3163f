/**
 * The JSON logger on its own: fields of any shape become JSON with every secret redacted, lines
 * about a run get their workflowId and companyId, and the Temporal SDK's metadata is renamed so
 * `runId` always means Vigil's run.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/logger.ts';
import { runCompanies, withRunContext } from '../../src/runLogContext.ts';
import { runIdOfWorkflowId } from '../../src/domain/runWorkflowId.ts';
import { fieldsOfSdkMetadata, sdkLoggerFor } from '../../src/temporal/runtime.ts';

const RUN_TOKEN = 'vgr_123e4567-e89b-12d3-a456-426614174000.Zm9vYmFyLXNpZ25hdHVyZS1oZXJl';
const UPSTREAM_KEY = 'sk-live-4f9c2b7e1d8a6035';

function capture(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>>; raw: string[] } {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const write = (line: string) => {
    raw.push(line);
    lines.push(JSON.parse(line));
  };
  return { logger: createLogger(level, {}, write), lines, raw };
}

class UpstreamError extends Error {
  constructor(message: string, readonly request: { headers: Record<string, string> }) {
    super(message);
    this.name = 'UpstreamError';
  }
}

describe('createLogger', () => {
  it('redacts secrets in nested fields, error objects, their causes and stacks, and the message', () => {
    const { logger, raw, lines } = capture();
    const cause = new Error(`retry with token=${RUN_TOKEN}`);
    const error = new UpstreamError(`401 for Bearer ${UPSTREAM_KEY}`, { headers: { Authorization: `Bearer ${UPSTREAM_KEY}`, 'x-request-id': 'r-1' } });
    (error as Error & { cause?: unknown }).cause = cause;
    logger.error(`call failed: Bearer ${UPSTREAM_KEY}`, {
      error,
      env: { VIGIL_API_KEY: RUN_TOKEN, VIGIL_RUN_ID: 'r', OPENAI_API_KEY: 'abc' },
      nested: { deeper: [{ text: `key ${UPSTREAM_KEY}` }, `VIGIL_API_KEY=${RUN_TOKEN}`] },
      apiKey: 'plain-looking',
    });
    expect(raw.join('\n')).not.toContain(UPSTREAM_KEY);
    expect(raw.join('\n')).not.toContain(RUN_TOKEN);
    expect(raw.join('\n')).not.toContain('plain-looking');
    const [line] = lines;
    expect(line.msg).toBe('call failed: Bearer [REDACTED]');
    expect(line.error).toMatchObject({
      name: 'UpstreamError',
      message: '401 for Bearer [REDACTED]',
      request: { headers: { Authorization: '[REDACTED]', 'x-request-id': 'r-1' } },
      cause: { name: 'Error', message: 'retry with token=[REDACTED]' },
    });
    expect((line.error as { stack: string }).stack).toContain('UpstreamError: 401 for Bearer [REDACTED]');
    expect(line.env).toEqual({ VIGIL_API_KEY: '[REDACTED]', VIGIL_RUN_ID: 'r', OPENAI_API_KEY: '[REDACTED]' });
    expect(line.nested).toEqual({ deeper: [{ text: 'key [REDACTED]' }, 'VIGIL_API_KEY=[REDACTED]'] });
  });

  it('writes any value as JSON and never throws: bigints, dates, maps, cycles, buffers', () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.info('shapes', { bytes: 12n, at: new Date('2026-01-02T03:04:05.000Z'), map: new Map([['k', 1]]), set: new Set([1]), cyclic, buffer: Buffer.from('secret'), fn: () => 1 });
    expect(lines[0]).toMatchObject({
      bytes: '12',
      at: '2026-01-02T03:04:05.000Z',
      map: { k: 1 },
      set: [1],
      cyclic: { name: 'loop', self: '[Circular]' },
      buffer: '[6 bytes]',
    });
    expect(lines[0]).not.toHaveProperty('fn');
  });

  it('redacts the fields of a child logger, and filters by level', () => {
    const { logger, lines } = capture('info');
    logger.child({ authorization: `Bearer ${UPSTREAM_KEY}` }).debug('dropped');
    logger.child({ authorization: `Bearer ${UPSTREAM_KEY}` }).info('kept');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'kept', authorization: '[REDACTED]' });
    expect(logger.enabled?.('debug')).toBe(false);
  });
});

describe('withRunContext', () => {
  const runId = '0b6f3c2e-8f5a-4a55-9a41-3c1d2f6b7e01';
  const companyId = 'c0a3e1b2-1111-4a55-9a41-3c1d2f6b7e01';

  it('adds the workflow id at once and the company once it is known', async () => {
    const { logger, lines } = capture();
    const stop = runCompanies.useLookup(async (id) => (id === runId ? companyId : null));
    try {
      const log = withRunContext(logger);
      log.info('about a run', { runId });
      log.info('not about a run', { issueId: 'i' });
      await runCompanies.linesWritten(); // the first line waited for the company lookup
      log.child({ runId }).warn('from a child');
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ msg: 'about a run', runId, workflowId: `run-${runId}`, companyId }),
          expect.objectContaining({ msg: 'from a child', runId, workflowId: `run-${runId}`, companyId }),
        ]),
      );
      expect(lines.find((line) => line.msg === 'not about a run')).not.toHaveProperty('workflowId');
    } finally {
      stop();
    }
  });

  it('reads a run id only from a run workflow id', () => {
    expect(runIdOfWorkflowId(`run-${runId}`)).toBe(runId);
    expect(runIdOfWorkflowId('vigil-recovery-sweeps')).toBeNull();
    expect(runIdOfWorkflowId('run-not-a-uuid')).toBeNull();
    expect(runIdOfWorkflowId(undefined)).toBeNull();
  });
});

describe("the Temporal SDK's lines", () => {
  it("keep the workflow run id as workflowRunId, take Vigil's runId from the workflow id and drop the task token", () => {
    const fields = fieldsOfSdkMetadata({ sdkComponent: 'worker', workflowId: 'run-0b6f3c2e-8f5a-4a55-9a41-3c1d2f6b7e01', runId: '01a1fc51-temporal', taskToken: 'opaque' });
    expect(fields).toEqual({ sdkComponent: 'worker', workflowId: 'run-0b6f3c2e-8f5a-4a55-9a41-3c1d2f6b7e01', workflowRunId: '01a1fc51-temporal', runId: '0b6f3c2e-8f5a-4a55-9a41-3c1d2f6b7e01' });
  });

  it('go through the JSON logger with their levels, redacted', () => {
    const { logger, lines } = capture();
    const sdk = sdkLoggerFor(logger);
    sdk.trace('trace line');
    sdk.warn('Activity failed', { sdkComponent: 'worker', error: new Error(`upstream said Bearer ${UPSTREAM_KEY}`) });
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['debug', 'trace line'],
      ['warn', 'Activity failed'],
    ]);
    expect(JSON.stringify(lines)).not.toContain(UPSTREAM_KEY);
  });
});
