/** `activity_log` rows: the audit trail boards read, and (with a runId) liveness evidence (R43). */
import type { Prisma, PrismaClient } from './db.ts';
import { redactJson } from '../domain/redaction.ts';
import { toJson } from './json.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface ActivityInput {
  companyId: string;
  actorType?: 'user' | 'agent' | 'system';
  actorId?: string;
  action: string;
  entityType: string;
  entityId: string;
  agentId?: string | null;
  runId?: string | null;
  details?: Record<string, unknown>;
}

export async function logActivity(db: Db, entry: ActivityInput): Promise<void> {
  await db.activityLog.create({
    data: {
      companyId: entry.companyId,
      actorType: entry.actorType ?? 'system',
      actorId: entry.actorId ?? 'system',
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId,
      agentId: entry.agentId ?? null,
      runId: entry.runId ?? null,
      details: entry.details ? toJson(redactJson(entry.details) as Record<string, unknown>) : undefined,
    },
  });
}
