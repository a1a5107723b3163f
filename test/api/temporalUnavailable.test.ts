/**
 * A wake commits its run before starting the run's workflow. When Temporal cannot be reached, the
 * caller gets a 503 naming the queued run (not a bare 500), and the run starts once resumed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, waitForRunStatus } from '../support/fixtures.ts';
import { RunControl } from '../../src/api/runControl.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterAll(async () => {
  await vigil?.stop();
});

describe('Temporal out of reach', () => {
  it('answers 503 with the queued run, which starts once workflows are resumed', async () => {
    const acme = await givenCompany(vigil.admin);
    const agent = await givenAgent(acme);
    // A client whose connection is gone: every Temporal call fails.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const unreachable = new Client({ connection, namespace: inject('temporalNamespace') });
    await connection.close();
    const prisma = vigil.vigil.prisma;
    const cutOff = new RunControl({
      prisma,
      temporal: unreachable,
      workflowSettings: { taskQueue: vigil.taskQueue, adapterHeartbeatTimeoutMs: 5_000 },
      activityDeps: undefined as never,
      logger: createLogger('error', {}, () => {}),
    });
    const failure = await cutOff.wake(agent.id, { source: 'on_demand', triggerDetail: 'manual', payload: { taskId: 'cut-off' } }).catch((error) => error);
    expect(failure).toBeInstanceOf(ServiceUnavailableError);
    expect(failure).toMatchObject({ status: 503, code: 'temporal_unavailable' });
    const runId = (failure as ServiceUnavailableError).details!.runId as string;
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('queued');

    await vigil.vigil.runControl.resumeQueuedRuns({ companyId: acme.company.id });
    expect((await waitForRunStatus(prisma, runId, ['succeeded', 'failed'])).status).toBe('succeeded');
  });
});
