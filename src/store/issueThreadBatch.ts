/**
 * An issue thread's system rows for many issues at once, one statement per kind: system comments
 * (no author, R56.5/R62.3) and `activity_log` entries (R56.6/R62.4), as `issueComment.create` and
 * `logActivity` (store/activityLog.ts) write them one at a time, details redacted the same way.
 */
import type { Prisma } from './db.ts';
import { redactJson } from '../domain/redaction.ts';

type Tx = Prisma.TransactionClient;

/** System comments: no author agent, user or run. */
export async function insertSystemComments(tx: Tx, comments: ReadonlyArray<{ companyId: string; issueId: string; body: string }>, now: Date): Promise<void> {
  if (comments.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO issue_comments (company_id, issue_id, body, created_at, updated_at)
    SELECT c.company_id, c.issue_id, c.body, ${now}, ${now}
    FROM unnest(${comments.map((c) => c.companyId)}::uuid[], ${comments.map((c) => c.issueId)}::uuid[], ${comments.map((c) => c.body)}::text[])
      AS c(company_id, issue_id, body)`;
}

export interface SystemActivity {
  companyId: string;
  action: string;
  entityType: string;
  entityId: string;
  details: Record<string, unknown>;
}

/** Activity entries by the system actor (no agent, no run), details redacted as `logActivity` does. */
export async function insertSystemActivities(tx: Tx, entries: readonly SystemActivity[], now: Date): Promise<void> {
  if (entries.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id, details, created_at)
    SELECT e.company_id, 'system', 'system', e.action, e.entity_type, e.entity_id, e.details::jsonb, ${now}
    FROM unnest(${entries.map((e) => e.companyId)}::uuid[], ${entries.map((e) => e.action)}::text[], ${entries.map((e) => e.entityType)}::text[],
                ${entries.map((e) => e.entityId)}::text[], ${entries.map((e) => JSON.stringify(redactJson(e.details)))}::text[])
      AS e(company_id, action, entity_type, entity_id, details)`;
}
