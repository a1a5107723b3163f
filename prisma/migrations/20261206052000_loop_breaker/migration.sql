-- Issue 14 §1 (V1): the loop breaker's settings per company, with the issue's defaults
-- (6 runs without progress in one hour).
ALTER TABLE "companies" ADD COLUMN "loop_breaker_max_runs" INTEGER NOT NULL DEFAULT 6;
ALTER TABLE "companies" ADD COLUMN "loop_breaker_window_sec" INTEGER NOT NULL DEFAULT 3600;

-- Issue 14 §1 (V2, V4): the breaker's state per issue and agent. The primary key makes the trip
-- (one comment however many wakes are skipped) a single conditional upsert.
CREATE TABLE "loop_breaker_states" (
    "issue_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "company_id" UUID NOT NULL,
    "tripped_at" TIMESTAMPTZ(3),
    "trip_comment_id" UUID,
    "reset_at" TIMESTAMPTZ(3),
    "trips" INTEGER NOT NULL DEFAULT 0,
    "skips" INTEGER NOT NULL DEFAULT 0,
    "resets" INTEGER NOT NULL DEFAULT 0,
    "clears" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "loop_breaker_states_pkey" PRIMARY KEY ("issue_id","agent_id")
);

CREATE INDEX "loop_breaker_states_company_id_idx" ON "loop_breaker_states"("company_id");
