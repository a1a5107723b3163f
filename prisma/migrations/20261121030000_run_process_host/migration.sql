-- The host whose worker spawned a run's child process. A recorded pid or process group means
-- something only on that host, so cancels (R14) and the reaper (R18/R19) signal it only there.
ALTER TABLE "heartbeat_runs" ADD COLUMN "process_host" TEXT;
