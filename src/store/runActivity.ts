/**
 * R26: a request authenticated as a run that updates an issue or posts a comment proves the run's
 * process is alive, so a `process_detached` warning is cleared (one conditional update).
 */
import type { PrismaClient } from './db.ts';
import { appendRunEvent } from './runEvents.ts';
import { runTexts } from '../domain/texts.ts';


export async function reportRunActivity(prisma: PrismaClient, runId: string) {
  const cleared = await prisma.heartbeatRun.updateManyAndReturn({
    where: { id: runId, status: 'running', errorCode: 'process_detached' },
    data: { errorCode: null, error: null },
  });
  const run = cleared[0];
  if (!run) return null;
  await appendRunEvent(prisma, { companyId: run.companyId, runId, agentId: run.agentId, eventType: 'lifecycle', message: runTexts.detachedWarningCleared });
  return run;
}
