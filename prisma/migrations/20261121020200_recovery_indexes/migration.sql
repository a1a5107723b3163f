-- Indexes that schema.prisma cannot express: partial and expression indexes. They exist only
-- here (Prisma's schema diff ignores such indexes, so it neither sees nor drops them);
-- test/store/schema.test.ts checks that each one exists after migrating.
--
-- Enum comparisons in the predicates use literals, which Postgres casts to the column's enum type.

-- R57/R65: at most one open stranded-issue recovery issue per source issue, even when sweeps run
-- concurrently. A losing writer gets 23505 naming this index, re-reads, and reuses the winner.
CREATE UNIQUE INDEX "issues_active_stranded_issue_recovery_uq"
    ON "issues" ("company_id", "origin_kind", "origin_id")
    WHERE "origin_kind" = 'stranded_issue_recovery'
      AND "origin_id" IS NOT NULL
      AND "hidden_at" IS NULL
      AND "status" NOT IN ('done', 'cancelled');

-- R77: one open stale-run evaluation per silent run (silent active-run watchdog).
CREATE UNIQUE INDEX "issues_active_stale_run_evaluation_uq"
    ON "issues" ("company_id", "origin_kind", "origin_id")
    WHERE "origin_kind" = 'stale_active_run_evaluation'
      AND "origin_id" IS NOT NULL
      AND "hidden_at" IS NULL
      AND "status" NOT IN ('done', 'cancelled');

-- R77: one open productivity review per origin.
CREATE UNIQUE INDEX "issues_active_productivity_review_uq"
    ON "issues" ("company_id", "origin_kind", "origin_id")
    WHERE "origin_kind" = 'issue_productivity_review'
      AND "origin_id" IS NOT NULL
      AND "hidden_at" IS NULL
      AND "status" NOT IN ('done', 'cancelled');

-- R77: one open issue-graph liveness escalation per incident...
CREATE UNIQUE INDEX "issues_active_liveness_recovery_incident_uq"
    ON "issues" ("company_id", "origin_kind", "origin_id")
    WHERE "origin_kind" = 'harness_liveness_escalation'
      AND "origin_id" IS NOT NULL
      AND "hidden_at" IS NULL
      AND "status" NOT IN ('done', 'cancelled');

-- R77: ...and per dead-end leaf fingerprint.
CREATE UNIQUE INDEX "issues_active_liveness_recovery_leaf_uq"
    ON "issues" ("company_id", "origin_kind", "origin_fingerprint")
    WHERE "origin_kind" = 'harness_liveness_escalation'
      AND "origin_fingerprint" <> 'default'
      AND "hidden_at" IS NULL
      AND "status" NOT IN ('done', 'cancelled');

-- DATA-MODEL §1.7: one open routine execution per routine dispatch while it holds a run.
CREATE UNIQUE INDEX "issues_open_routine_execution_uq"
    ON "issues" ("company_id", "origin_kind", "origin_id", "origin_fingerprint")
    WHERE "origin_kind" = 'routine_execution'
      AND "origin_id" IS NOT NULL
      AND "hidden_at" IS NULL
      AND "execution_run_id" IS NOT NULL
      AND "status" IN ('backlog', 'todo', 'in_progress', 'in_review', 'blocked');

-- §7 (R27): each company has exactly one local environment, ensured lazily when a run acquires
-- its lease; concurrent first runs must not create two.
CREATE UNIQUE INDEX "environments_company_local_uq"
    ON "environments" ("company_id", "driver")
    WHERE "driver" = 'local';

-- R49 (steps 2 and 4): the live-path check and "latest run of this issue" find runs through
-- context_snapshot->>'issueId' (the run → issue binding is JSON, DATA-MODEL §2), newest first.
CREATE INDEX "heartbeat_runs_company_issue_created_idx"
    ON "heartbeat_runs" ("company_id", (("context_snapshot" ->> 'issueId')), "created_at" DESC);

-- R4/R16/R69: the reaper scans `running` runs across companies and the per-agent starter looks
-- for an agent's `queued` run; the live statuses are a small slice of a table that only grows.
CREATE INDEX "heartbeat_runs_live_status_idx"
    ON "heartbeat_runs" ("status", "agent_id")
    WHERE "status" IN ('queued', 'running', 'scheduled_retry');

-- R40: the promoter selects `scheduled_retry` runs whose due time has passed.
CREATE INDEX "heartbeat_runs_scheduled_retry_due_idx"
    ON "heartbeat_runs" ("scheduled_retry_at")
    WHERE "status" = 'scheduled_retry';

-- R29, R49 (step 2), R50a: deferred-wake promotion, the live-path check and queued-wake dedupe
-- look wakes up by status and payload->>'issueId'.
CREATE INDEX "agent_wakeup_requests_company_status_issue_idx"
    ON "agent_wakeup_requests" ("company_id", "status", (("payload" ->> 'issueId')));
