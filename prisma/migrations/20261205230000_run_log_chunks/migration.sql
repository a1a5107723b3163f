-- Issue 11: run logs in PostgreSQL, so every API process reads every run's log (src/store/runLogStore.ts).
-- The statements up to the partial index are what `prisma migrate diff` prints for schema.prisma;
-- the partial index is one Prisma's schema cannot express.

-- A run's log as rows of whole NDJSON lines; `byte_offset` is the row's first byte in the log.
CREATE TABLE "run_log_chunks" (
    "run_id" UUID NOT NULL,
    "company_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "byte_offset" BIGINT NOT NULL,
    "byte_length" INTEGER NOT NULL,
    "content" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_log_chunks_pkey" PRIMARY KEY ("run_id","seq")
);

-- Reads by offset: the row holding `offset` (max(byte_offset) <= offset), then the rows after it.
CREATE UNIQUE INDEX "run_log_chunks_run_id_byte_offset_key" ON "run_log_chunks"("run_id", "byte_offset");

-- Retention (VIGIL_RUN_LOG_RETENTION_DAYS, src/store/runLogRetention.ts): one entry per run that
-- still has a log — its first row — by when it was written, so the hourly prune finds the runs
-- that ended long ago without reading every row; the prune deletes a run's first row last.
-- test/store/runLogStore.test.ts checks it exists.
CREATE INDEX "run_log_chunks_first_row_created_idx"
    ON "run_log_chunks" ("created_at")
    WHERE "seq" = 0;
