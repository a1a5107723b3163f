-- Issue 14 §2 (V8): every recovery decision, recorded once, with the rule that decided, the
-- evidence it used and what it created. No foreign keys: a decision outlives nothing it names,
-- and its insert stays one cheap statement inside the transactions that decide.
CREATE TABLE "recovery_decisions" (
    "id" UUID NOT NULL,
    "company_id" UUID NOT NULL,
    "issue_id" UUID,
    "run_id" UUID,
    "agent_id" UUID,
    "source" TEXT NOT NULL,
    "decision" TEXT NOT NULL,
    "rule" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "evidence" JSONB NOT NULL DEFAULT '{}',
    "created_run_id" UUID,
    "created_issue_id" UUID,
    "dedupe_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recovery_decisions_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "recovery_decisions_issue_id_created_at_idx" ON "recovery_decisions"("issue_id", "created_at");
CREATE INDEX "recovery_decisions_run_id_created_at_idx" ON "recovery_decisions"("run_id", "created_at");
CREATE INDEX "recovery_decisions_company_id_created_at_idx" ON "recovery_decisions"("company_id", "created_at");
CREATE UNIQUE INDEX "recovery_decisions_dedupe_key_key" ON "recovery_decisions"("dedupe_key");
