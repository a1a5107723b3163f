-- Issue 14 §3: `Idempotency-Key` on the side-effecting routes. One row per (company, caller, key),
-- claimed before the handler runs (INSERT … ON CONFLICT DO NOTHING), completed with the answer it
-- gave, replayed for 24 h (src/store/idempotencyKeys.ts).
CREATE TABLE "idempotency_keys" (
    "company_id" UUID NOT NULL,
    "caller" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "route" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response_status" INTEGER,
    "response_body" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("company_id","caller","key")
);

-- Expiry: rows older than 24 h are pruned (the claim of the same key, and the retention sweep).
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");
