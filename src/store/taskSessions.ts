/**
 * R72: the coding-agent session saved per (agent, adapter type, task), in `agent_task_sessions`.
 * A row exists exactly while a session is saved: clearing one deletes it. Only ids a CLI itself
 * reported are saved (Claude's `session_id`, Codex's `thread_id`), never one Vigil made up.
 *
 * The legacy `agent_runtime_state.session_id` follows the rows: it is the session id of the
 * agent's most recently saved session still standing (null when none), rewritten by every save
 * and clear here, so nothing else needs to keep it in step.
 *
 * Every function takes the Prisma client or an interactive transaction's client, so a run's
 * finalize can save its session in the same transaction as its terminal write.
 */
import type { Prisma, PrismaClient } from './db.ts';
import { asObject, stringOrNull, toJson } from './json.ts';
import { type SavedSession } from '../domain/sessionResume.ts';
import type { SessionUsageTotals } from '../domain/sessionUsage.ts';

type Db = PrismaClient | Prisma.TransactionClient;
type TaskSessionRow = Awaited<ReturnType<PrismaClient['agentTaskSession']['findUniqueOrThrow']>>;

/** Which session: the task key is the run's (`taskKeyOf(run.contextSnapshot)`, src/domain/sessionResume.ts). */
export interface TaskSessionKey {
  agentId: string;
  adapterType: string;
  taskKey: string;
}

/**
 * `sessionParamsJson` as Vigil reads it: `{ sessionId, cwd, model }` and nothing else, so no other
 * key a row might hold (env, tokens) is ever handed on. Null without a session id.
 */
export function sessionParamsOf(json: unknown): SavedSession | null {
  const params = asObject(json);
  const sessionId = stringOrNull(params.sessionId);
  if (sessionId === null) return null;
  return { sessionId, cwd: stringOrNull(params.cwd), model: stringOrNull(params.model) };
}

/** What the session's CLI had reported in total by the end of its last run (`sessionParamsJson.usageTotals`). */
function usageTotalsOf(json: unknown): SessionUsageTotals | null {
  const totals = asObject(asObject(json).usageTotals);
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);
  if (Object.keys(totals).length === 0) return null;
  return {
    inputTokens: count(totals.inputTokens),
    cachedInputTokens: count(totals.cachedInputTokens),
    outputTokens: count(totals.outputTokens),
    costUsd: typeof totals.costUsd === 'number' ? count(totals.costUsd) : null,
  };
}

/** R72: the session saved for this task with its usage totals so far, or null. */
export async function readTaskSession(db: Db, key: TaskSessionKey): Promise<(SavedSession & { usageTotals: SessionUsageTotals | null }) | null> {
  const row = await db.agentTaskSession.findFirst({
    where: { agentId: key.agentId, adapterType: key.adapterType, taskKey: key.taskKey },
    select: { sessionParamsJson: true },
  });
  const saved = row ? sessionParamsOf(row.sessionParamsJson) : null;
  return saved ? { ...saved, usageTotals: usageTotalsOf(row!.sessionParamsJson) } : null;
}

/**
 * Saves the session a run's CLI reported for its task (replacing the task's previous one) and
 * makes it the agent's legacy `session_id`.
 */
export async function saveTaskSession(
  db: Db,
  input: TaskSessionKey & {
    companyId: string;
    /** The id the CLI printed. */
    sessionId: string;
    /** What the run ran under, in `decideSessionResume`'s terms (configured model, not the reported one). */
    cwd: string | null;
    model: string | null;
    runId: string;
    /** The run's error, when it ended with one (kept for boards; the session is still resumable). */
    lastError?: string | null;
    /** What the CLI reported over the whole session so far: the next resumed run subtracts it. */
    usageTotals?: SessionUsageTotals | null;
  },
): Promise<TaskSessionRow> {
  const sessionParamsJson = toJson({
    sessionId: input.sessionId,
    cwd: input.cwd,
    model: input.model,
    ...(input.usageTotals ? { usageTotals: { ...input.usageTotals } } : {}),
  });
  const fields = { sessionParamsJson, sessionDisplayId: input.sessionId, lastRunId: input.runId, lastError: input.lastError ?? null };
  const row = await db.agentTaskSession.upsert({
    where: {
      companyId_agentId_adapterType_taskKey: { companyId: input.companyId, agentId: input.agentId, adapterType: input.adapterType, taskKey: input.taskKey },
    },
    create: { companyId: input.companyId, agentId: input.agentId, adapterType: input.adapterType, taskKey: input.taskKey, ...fields },
    update: fields,
  });
  await db.agentRuntimeState.upsert({
    where: { agentId: input.agentId },
    create: { agentId: input.agentId, companyId: input.companyId, adapterType: input.adapterType, sessionId: input.sessionId },
    update: { sessionId: input.sessionId },
  });
  return row;
}

/**
 * Forgets one task's session: after a resume the CLI rejected (pass that `sessionId`, so a newer
 * session saved meanwhile survives), or after a run that hit its turn limit. True when one was cleared.
 */
export async function clearTaskSession(db: Db, key: TaskSessionKey & { sessionId?: string }): Promise<boolean> {
  const { count } = await db.agentTaskSession.deleteMany({
    where: {
      agentId: key.agentId,
      adapterType: key.adapterType,
      taskKey: key.taskKey,
      ...(key.sessionId !== undefined ? { sessionParamsJson: { path: ['sessionId'], equals: key.sessionId } } : {}),
    },
  });
  if (count > 0) await syncLegacySessionId(db, key.agentId);
  return count > 0;
}

/** Forgets the agent's sessions (all adapter types), or only those of one task. Returns how many. */
export async function clearTaskSessions(db: Db, input: { agentId: string; taskKey?: string }): Promise<number> {
  const { count } = await db.agentTaskSession.deleteMany({
    where: { agentId: input.agentId, ...(input.taskKey !== undefined ? { taskKey: input.taskKey } : {}) },
  });
  await syncLegacySessionId(db, input.agentId);
  return count;
}

/** The agent's saved sessions, most recently updated first. */
export function listTaskSessions(db: Db, agentId: string): Promise<TaskSessionRow[]> {
  return db.agentTaskSession.findMany({ where: { agentId }, orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }] });
}

/** The agent's most recently updated session, or null (what the runtime-state view shows). */
export function latestTaskSession(db: Db, agentId: string): Promise<TaskSessionRow | null> {
  return db.agentTaskSession.findFirst({ where: { agentId }, orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }] });
}

/** `agent_runtime_state.session_id` := the newest remaining session's id (null when none). */
async function syncLegacySessionId(db: Db, agentId: string): Promise<void> {
  await db.$executeRaw`
    UPDATE agent_runtime_state s
    SET session_id = latest.session_display_id, updated_at = now()
    FROM (SELECT (SELECT t.session_display_id FROM agent_task_sessions t
                  WHERE t.agent_id = ${agentId}::uuid
                  ORDER BY t.updated_at DESC, t.id DESC LIMIT 1) AS session_display_id) AS latest
    WHERE s.agent_id = ${agentId}::uuid AND s.session_id IS DISTINCT FROM latest.session_display_id`;
}
