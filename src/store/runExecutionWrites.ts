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
  /** Issue 13: with it the pid is trusted (pid reuse). */
  startTicks: number | null;
  host: string;
  workerId: string;
  logStore: string;
  logRef: string;
  /** The `adapter.invoke` event. */
  event: RunEventInput;
}

/**
 * R18/R19: recorded at once, so the reaper and a cancel from another host can find the child; again
 * by a worker that reattaches to it (issue 13), with its own id and an `adapter.reattach` event.
 */
export async function recordProcessSpawned(prisma: PrismaClient, spawned: ProcessSpawned): Promise<void> {
  await prisma.$executeRaw`
    WITH spawned AS (
      UPDATE heartbeat_runs
      SET process_pid = ${spawned.pid}::int, process_group_id = ${spawned.processGroupId}::int, process_started_at = ${spawned.startedAt}, process_start_ticks = ${spawned.startTicks}::int8,
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
  recorded: RecordedOutput;
}

/** What one flush stores, counted as the reattaching worker skips it (issue 13). */
export interface RecordedOutput {
  /** UTF-16 units of output text per stream. */
  stdoutChars: number;
  stderrChars: number;
  agentMessages: number;
}

/** Adds a flush's counts to the run's `recorded*` columns (in the flush's own statement). */
function recordedCounts(recorded: RecordedOutput): Prisma.Sql {
  return Prisma.sql`recorded_stdout_chars = recorded_stdout_chars + ${recorded.stdoutChars}::int8,
          recorded_stderr_chars = recorded_stderr_chars + ${recorded.stderrChars}::int8,
          recorded_agent_messages = recorded_agent_messages + ${recorded.agentMessages}::int`;
}

/** A flush with agent messages and no output: its events and its counts, one statement. */
export async function writeAgentMessagesFlushed(prisma: PrismaClient, runId: string, events: RunEventInput[], recorded: RecordedOutput): Promise<void> {
  await prisma.$executeRaw`
    WITH counted AS (
      UPDATE heartbeat_runs SET ${recordedCounts(recorded)} WHERE id = ${runId}::uuid RETURNING id
    )
    ${runEventsInsert(events)}`;
}

/** What earlier workers stored of a run's output (issue 13): one statement, read before a reattached agent's output is. */
export interface StoredOutput {
  logBytes: number;
  logText: string;
  lastOutputSeq: number;
  stdoutChars: number;
  stderrChars: number;
  agentMessages: number;
}

export async function readRecordedOutput(prisma: PrismaClient, runId: string): Promise<StoredOutput> {
  const [row] = await prisma.$queryRaw<Array<{ log_end: bigint; log_text: string | null; last_output_seq: number; recorded_stdout_chars: bigint; recorded_stderr_chars: bigint; recorded_agent_messages: number }>>`
    SELECT coalesce(max(c.byte_offset + c.byte_length), 0)::int8 AS log_end, string_agg(c.content, '' ORDER BY c.seq) AS log_text,
           r.last_output_seq, r.recorded_stdout_chars, r.recorded_stderr_chars, r.recorded_agent_messages
    FROM heartbeat_runs r LEFT JOIN run_log_chunks c ON c.run_id = r.id
    WHERE r.id = ${runId}::uuid
    GROUP BY r.id`;
  if (!row) throw new Error(`run ${runId} not found`);
  return {
    logBytes: Number(row.log_end),
    logText: row.log_text ?? '',
    lastOutputSeq: row.last_output_seq,
    stdoutChars: Number(row.recorded_stdout_chars),
    stderrChars: Number(row.recorded_stderr_chars),
    agentMessages: row.recorded_agent_messages,
  };
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
          ${recordedCounts(flushed.recorded)},
          updated_at = ${new Date()}
      WHERE id = ${flushed.runId}::uuid`,
  ];
}
