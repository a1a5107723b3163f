/**
 * Append-only run events (`heartbeat_run_events`), `seq` = max(seq)+1 per run.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { redactJson, redactSecrets } from '../domain/redaction.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface RunEventInput {
  companyId: string;
  runId: string;
  agentId: string;
  eventType: string;
  stream?: 'system' | 'stdout' | 'stderr';
  level?: 'info' | 'warn' | 'error';
  message?: string | null;
  payload?: Record<string, unknown> | null;
}

export async function appendRunEvent(db: Db, event: RunEventInput): Promise<void> {
  await appendRunEvents(db, [event]);
}

/** Inserts events in order with consecutive `seq` numbers, in one statement. */
export async function appendRunEvents(db: Db, events: RunEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db.$executeRaw`${runEventsInsert(events)}`;
}

/**
 * The INSERT of `appendRunEvents` as a fragment, for a statement that writes run events together
 * with something else (a data-modifying CTE: `WITH events AS (${runEventsInsert(…)}) …`). The
 * events may belong to several runs (a batch): each run's events continue its own `seq`, in the
 * order given. `events` must not be empty.
 */
export function runEventsInsert(events: RunEventInput[]): Prisma.Sql {
  const order = new Map<string, number>();
  const rows = events.map((event) => {
    const ord = (order.get(event.runId) ?? 0) + 1;
    order.set(event.runId, ord);
    return {
      company_id: event.companyId,
      run_id: event.runId,
      agent_id: event.agentId,
      event_type: event.eventType,
      stream: event.stream ?? 'system',
      level: event.level ?? 'info',
      message: event.message == null ? null : redactSecrets(event.message),
      payload: event.payload == null ? null : redactJson(event.payload),
      ord,
    };
  });
  return Prisma.sql`
    INSERT INTO heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream, level, message, payload)
    SELECT r.company_id::uuid, r.run_id::uuid, r.agent_id::uuid,
           coalesce(base.seq, 0) + r.ord, r.event_type, r.stream, r.level, r.message, r.payload
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
         AS r(company_id text, run_id text, agent_id text, event_type text, stream text, level text,
              message text, payload jsonb, ord int)
    LEFT JOIN (SELECT run_id, max(seq) AS seq FROM heartbeat_run_events
               WHERE run_id = ANY(${[...order.keys()]}::uuid[]) GROUP BY run_id) AS base ON base.run_id = r.run_id::uuid
    ORDER BY r.run_id, r.ord`;
}
