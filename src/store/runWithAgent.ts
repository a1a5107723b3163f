/**
 * A run and its agent in one statement (issue 12's statement budget): read, as the adapter
 * activity starts from them, or locked, as a run's ending (R8) starts — the agent before the run,
 * the order of src/store/locks.ts. Each replaces two statements.
 */
import { Prisma, type Agent, type HeartbeatRun, type PrismaClient } from './db.ts';
import { modelRow, prefixedColumnsSql, splitRow } from './modelRows.ts';
import { lockRun } from './locks.ts';

type Tx = Prisma.TransactionClient;

const AGENT_PREFIX = 'agent__';
const AGENT_COLUMNS = prefixedColumnsSql('a', Object.values(Prisma.AgentScalarFieldEnum), AGENT_PREFIX);

/** The run and its agent, or null when the run (or its agent) does not exist. */
export async function readRunWithAgent(db: PrismaClient | Prisma.TransactionClient, runId: string): Promise<{ run: HeartbeatRun; agent: Agent } | null> {
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT r.*, ${AGENT_COLUMNS} FROM heartbeat_runs r JOIN agents a ON a.id = r.agent_id WHERE r.id = ${runId}::uuid`;
  if (rows.length === 0) return null;
  const [run, agent] = splitRow(rows[0], AGENT_PREFIX);
  return { run: modelRow<HeartbeatRun>(run), agent: modelRow<Agent>(agent) };
}

/**
 * Locks the run's agent, then the run (`FOR NO KEY UPDATE OF a, r` locks in that order; see
 * test/store/runWithAgent.test.ts), and reads both as they are after any wait; a run whose agent is
 * gone is locked alone (agent null); null when the run does not exist.
 */
export async function lockRunWithAgent(tx: Tx, runId: string): Promise<{ run: HeartbeatRun; agent: Agent | null } | null> {
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    SELECT r.*, ${AGENT_COLUMNS} FROM agents a JOIN heartbeat_runs r ON r.agent_id = a.id
    WHERE r.id = ${runId}::uuid FOR NO KEY UPDATE OF a, r`;
  if (rows.length === 0) {
    const run = await lockRun(tx, runId);
    return run ? { run, agent: null } : null;
  }
  const [run, agent] = splitRow(rows[0], AGENT_PREFIX);
  return { run: modelRow<HeartbeatRun>(run), agent: modelRow<Agent>(agent) };
}
