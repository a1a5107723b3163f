-- Issue 13: what a run's recorder has stored, counted in the same statement as each flush, so a
-- worker that reattaches to the run's agent (which outlived its previous worker) records the
-- agent's output once: it re-reads the output files from their start and skips what is counted.
ALTER TABLE "heartbeat_runs" ADD COLUMN "recorded_stdout_chars" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "heartbeat_runs" ADD COLUMN "recorded_stderr_chars" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "heartbeat_runs" ADD COLUMN "recorded_agent_messages" INTEGER NOT NULL DEFAULT 0;

-- Issue 13: a pid is only trusted together with its start time (pid reuse): the leader's start in
-- clock ticks since boot (/proc/<pid>/stat field 22), as the supervisor read it right after the spawn.
ALTER TABLE "heartbeat_runs" ADD COLUMN "process_start_ticks" BIGINT;
