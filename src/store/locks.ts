/**
 * Row locks, in one order everywhere: agent first, then run, then issue. The agent row lock is
 * R69's per-agent mutex (claims, enqueues and finalizes of one agent take turns).
 *
 * `FOR NO KEY UPDATE`, not `FOR UPDATE`: every insert that references the agent (events, wakes,
 * runs) takes a FOR KEY SHARE lock through its foreign key, which FOR UPDATE would block — and a
 * transaction that holds that share lock and later updates the agent would deadlock against a
 * waiter for FOR UPDATE. NO KEY UPDATE serializes the writers without either problem.
 */
import type { Agent, HeartbeatRun, Issue, Prisma } from './db.ts';
import { modelRow, modelRows } from './modelRows.ts';

type Tx = Prisma.TransactionClient;

export async function lockAgent(tx: Tx, agentId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM agents WHERE id = ${agentId}::uuid FOR NO KEY UPDATE`;
}

/** Locks a run row and reads it, in one statement; null when it does not exist. */
export async function lockRun(tx: Tx, runId: string): Promise<HeartbeatRun | null> {
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM heartbeat_runs WHERE id = ${runId}::uuid FOR NO KEY UPDATE`;
  return rows.length > 0 ? modelRow<HeartbeatRun>(rows[0]) : null;
}

/** Locks an issue row and reads it, in one statement; null when it does not exist. */
export async function lockIssue(tx: Tx, issueId: string): Promise<Issue | null> {
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM issues WHERE id = ${issueId}::uuid FOR NO KEY UPDATE`;
  return rows.length > 0 ? modelRow<Issue>(rows[0]) : null;
}

/** R69's per-agent mutex for many agents (a batch), in id order; the agents as locked. */
export async function lockAgents(tx: Tx, agentIds: readonly string[]): Promise<Agent[]> {
  const ids = [...new Set(agentIds)].sort();
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    SELECT * FROM agents WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR NO KEY UPDATE`;
  return modelRows<Agent>(rows);
}

/** Many runs, locked in id order after their agents, and read as they are now. */
export async function lockRuns(tx: Tx, runIds: readonly string[]): Promise<HeartbeatRun[]> {
  const ids = [...new Set(runIds)].sort();
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    SELECT * FROM heartbeat_runs WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR NO KEY UPDATE`;
  return modelRows<HeartbeatRun>(rows);
}
