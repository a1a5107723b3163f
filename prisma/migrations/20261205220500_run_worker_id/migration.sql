-- The worker (VIGIL_WORKER_ID) that spawned a run's child process: with API and worker processes
-- apart, a run's record says which worker ran it.
ALTER TABLE "heartbeat_runs" ADD COLUMN "worker_id" TEXT;
