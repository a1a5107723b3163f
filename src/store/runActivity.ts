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

/**
 * Issue 14 §3: a run whose comment POST was answered from an earlier run's (the same
 * `Idempotency-Key`, a retry repeating its predecessor) owes its issue no comment of its own:
 * that comment stands for it (R8 step 5 posts no summary, R73 counts it). Then R26, as for a write.
 */
export async function recordReplayedRunComment(prisma: PrismaClient, runId: string, commentId: string): Promise<void> {
  await prisma.$executeRaw`
    UPDATE heartbeat_runs SET issue_comment_satisfied_by_comment_id = ${commentId}::uuid, updated_at = ${new Date()}
    WHERE id = ${runId}::uuid AND status = 'running' AND issue_comment_satisfied_by_comment_id IS NULL`;
  await reportRunActivity(prisma, runId);
}
