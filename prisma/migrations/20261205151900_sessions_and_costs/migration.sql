-- Issue 10: coding-agent sessions (R72) and the spend of runs.
-- The statements up to the partial index are what `prisma migrate diff` prints for schema.prisma;
-- the partial index is one Prisma's schema cannot express.

-- The agent's exact spend in micro-dollars, beside the rounded cents of the spec.
ALTER TABLE "agent_runtime_state" ADD COLUMN     "total_cost_usd_micros" BIGINT NOT NULL DEFAULT 0;

-- Exact spend of an event (null for events posted in cents), whether Vigil estimated it, and who
-- wrote it: `run` (the usage a run's CLI reported, written by its finalize) or `api` (posted).
ALTER TABLE "cost_events" ADD COLUMN     "cost_usd_micros" BIGINT,
ADD COLUMN     "estimated" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "source" TEXT NOT NULL DEFAULT 'api';

-- R72: the resumable session per (agent, adapter type, task).
CREATE TABLE "agent_task_sessions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "adapter_type" TEXT NOT NULL,
    "task_key" TEXT NOT NULL,
    "session_params_json" JSONB,
    "session_display_id" TEXT,
    "last_run_id" UUID,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_task_sessions_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "agent_task_sessions_agent_id_updated_at_idx" ON "agent_task_sessions"("agent_id", "updated_at");

CREATE UNIQUE INDEX "agent_task_sessions_company_id_agent_id_adapter_type_task_k_key" ON "agent_task_sessions"("company_id", "agent_id", "adapter_type", "task_key");

ALTER TABLE "agent_task_sessions" ADD CONSTRAINT "agent_task_sessions_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

ALTER TABLE "agent_task_sessions" ADD CONSTRAINT "agent_task_sessions_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

ALTER TABLE "agent_task_sessions" ADD CONSTRAINT "agent_task_sessions_last_run_id_fkey" FOREIGN KEY ("last_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- A run's usage is written once however often its finalize is retried: at most one `run` cost
-- event per run (src/store/runCosts.ts inserts with ON CONFLICT DO NOTHING and adds to the
-- agent's totals only when its row went in). Partial, because a run token may also POST any
-- number of cost events attributed to its run (`source = 'api'`), which must keep working.
-- test/store/runCosts.test.ts checks it exists and holds.
CREATE UNIQUE INDEX "cost_events_run_usage_uq"
    ON "cost_events" ("heartbeat_run_id")
    WHERE "source" = 'run';
