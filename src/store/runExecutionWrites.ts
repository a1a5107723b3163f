/**
 * The run's writes while its agent executes, one statement each: the spawn (pid, group, host,
 * worker, log location, with its `adapter.invoke` event), and every output flush's run columns
 * with the flush's events (in the statement that appends the flush to the log). `updated_at` is written as Prisma's model updates write it: the
 * reaper's staleness window (R16) reads it.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { runEventsInsert, type RunEventInput } from './runEvents.ts';

export interface ProcessSpawned {
  runId: string;
  pid: number;
  processGroupId: number;
  startedAt: Date;
  host: string;
  workerId: string;
  logStore: string;
  logRef: string;
  /** The `adapter.invoke` event. */
  event: RunEventInput;
}

/** R18/R19: recorded at once, so the reaper and a cancel from another host can find the child. */
export async function recordProcessSpawned(prisma: PrismaClient, spawned: ProcessSpawned): Promise<void> {
  await prisma.$executeRaw`
    WITH spawned AS (
      UPDATE heartbeat_runs
      SET process_pid = ${spawned.pid}::int, process_group_id = ${spawned.processGroupId}::int, process_started_at = ${spawned.startedAt},
          process_host = ${spawned.host}, worker_id = ${spawned.workerId}, log_store = ${spawned.logStore}, log_ref = ${spawned.logRef},
          updated_at = ${new Date()}
      WHERE id = ${spawned.runId}::uuid
      RETURNING id
    )
    ${runEventsInsert([spawned.event])}`;
}

export interface OutputFlushed {
  runId: string;
  lastOutputAt: Date;
  lastOutputSeq: number;
  lastOutputStream: string;
  lastOutputBytes: number;
  logSha256: string;
  /** The flush's `log` / `agent.message` events (at least one). */
  events: RunEventInput[];
}

/**
 * A recorder flush's events and the run's `lastOutput*` / `log*` columns, as statements that run
 * alongside the log's append (RunLogWriter.append): `logBytes` is the log's end offset after it.
 */
export function outputFlushedWrites(flushed: OutputFlushed, logBytes: Prisma.Sql): Prisma.Sql[] {
  return [
    runEventsInsert(flushed.events),
    Prisma.sql`
      UPDATE heartbeat_runs
      SET last_output_at = ${flushed.lastOutputAt}, last_output_seq = ${flushed.lastOutputSeq}::int, last_output_stream = ${flushed.lastOutputStream},
          last_output_bytes = ${flushed.lastOutputBytes}::int8, log_bytes = ${logBytes}, log_sha256 = ${flushed.logSha256},
          updated_at = ${new Date()}
      WHERE id = ${flushed.runId}::uuid`,
  ];
}
