-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "company_status" AS ENUM ('active', 'paused', 'archived');

-- CreateEnum
CREATE TYPE "agent_role" AS ENUM ('ceo', 'cto', 'cmo', 'cfo', 'security', 'engineer', 'designer', 'pm', 'qa', 'devops', 'researcher', 'general');

-- CreateEnum
CREATE TYPE "agent_status" AS ENUM ('active', 'paused', 'idle', 'running', 'error', 'pending_approval', 'terminated');

-- CreateEnum
CREATE TYPE "actor_type" AS ENUM ('user', 'agent', 'system');

-- CreateEnum
CREATE TYPE "wakeup_source" AS ENUM ('timer', 'assignment', 'on_demand', 'automation');

-- CreateEnum
CREATE TYPE "wakeup_request_status" AS ENUM ('queued', 'deferred_issue_execution', 'claimed', 'coalesced', 'skipped', 'completed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "heartbeat_run_status" AS ENUM ('queued', 'scheduled_retry', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out');

-- CreateEnum
CREATE TYPE "issue_comment_status" AS ENUM ('not_applicable', 'satisfied', 'retry_queued', 'retry_exhausted');

-- CreateEnum
CREATE TYPE "liveness_state" AS ENUM ('completed', 'advanced', 'plan_only', 'empty_response', 'blocked', 'failed', 'needs_followup');

-- CreateEnum
CREATE TYPE "issue_status" AS ENUM ('backlog', 'todo', 'in_progress', 'in_review', 'blocked', 'done', 'cancelled');

-- CreateEnum
CREATE TYPE "issue_priority" AS ENUM ('critical', 'high', 'medium', 'low');

-- CreateEnum
CREATE TYPE "issue_tree_hold_mode" AS ENUM ('pause', 'resume', 'cancel', 'restore');

-- CreateEnum
CREATE TYPE "issue_tree_hold_status" AS ENUM ('active', 'released');

-- CreateEnum
CREATE TYPE "environment_driver" AS ENUM ('local', 'ssh', 'sandbox', 'plugin');

-- CreateEnum
CREATE TYPE "environment_status" AS ENUM ('active', 'archived');

-- CreateEnum
CREATE TYPE "environment_lease_status" AS ENUM ('active', 'released', 'expired', 'failed', 'retained');

-- CreateEnum
CREATE TYPE "environment_lease_policy" AS ENUM ('ephemeral', 'reuse_by_environment', 'reuse_by_execution_workspace', 'retain_on_failure');

-- CreateEnum
CREATE TYPE "budget_scope_type" AS ENUM ('company', 'agent', 'project');

-- CreateEnum
CREATE TYPE "budget_window_kind" AS ENUM ('calendar_month_utc', 'lifetime');

-- CreateTable
CREATE TABLE "companies" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "description" TEXT,
    "status" "company_status" NOT NULL DEFAULT 'active',
    "pause_reason" TEXT,
    "paused_at" TIMESTAMPTZ(3),
    "issue_prefix" TEXT NOT NULL DEFAULT 'PAP',
    "issue_counter" INTEGER NOT NULL DEFAULT 0,
    "budget_monthly_cents" INTEGER NOT NULL DEFAULT 0,
    "spent_monthly_cents" INTEGER NOT NULL DEFAULT 0,
    "attachment_max_bytes" INTEGER NOT NULL DEFAULT 10485760,
    "require_board_approval_for_new_agents" BOOLEAN NOT NULL DEFAULT false,
    "feedback_data_sharing_enabled" BOOLEAN NOT NULL DEFAULT false,
    "feedback_data_sharing_consent_at" TIMESTAMPTZ(3),
    "feedback_data_sharing_consent_by_user_id" TEXT,
    "feedback_data_sharing_terms_version" TEXT,
    "brand_color" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "companies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "agent_role" NOT NULL DEFAULT 'general',
    "title" TEXT,
    "icon" TEXT,
    "capabilities" TEXT,
    "status" "agent_status" NOT NULL DEFAULT 'idle',
    "reports_to" UUID,
    "adapter_type" TEXT NOT NULL DEFAULT 'process',
    "adapter_config" JSONB NOT NULL DEFAULT '{}',
    "runtime_config" JSONB NOT NULL DEFAULT '{}',
    "default_environment_id" UUID,
    "budget_monthly_cents" INTEGER NOT NULL DEFAULT 0,
    "spent_monthly_cents" INTEGER NOT NULL DEFAULT 0,
    "pause_reason" TEXT,
    "paused_at" TIMESTAMPTZ(3),
    "permissions" JSONB NOT NULL DEFAULT '{}',
    "last_heartbeat_at" TIMESTAMPTZ(3),
    "metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_wakeup_requests" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "source" "wakeup_source" NOT NULL,
    "trigger_detail" TEXT,
    "reason" TEXT,
    "payload" JSONB,
    "status" "wakeup_request_status" NOT NULL DEFAULT 'queued',
    "coalesced_count" INTEGER NOT NULL DEFAULT 0,
    "requested_by_actor_type" "actor_type",
    "requested_by_actor_id" TEXT,
    "idempotency_key" TEXT,
    "run_id" UUID,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claimed_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_wakeup_requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "heartbeat_runs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "invocation_source" "wakeup_source" NOT NULL DEFAULT 'on_demand',
    "trigger_detail" TEXT,
    "status" "heartbeat_run_status" NOT NULL DEFAULT 'queued',
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "error" TEXT,
    "error_code" TEXT,
    "wakeup_request_id" UUID,
    "exit_code" INTEGER,
    "signal" TEXT,
    "usage_json" JSONB,
    "result_json" JSONB,
    "session_id_before" TEXT,
    "session_id_after" TEXT,
    "log_store" TEXT,
    "log_ref" TEXT,
    "log_bytes" BIGINT,
    "log_sha256" TEXT,
    "log_compressed" BOOLEAN NOT NULL DEFAULT false,
    "stdout_excerpt" TEXT,
    "stderr_excerpt" TEXT,
    "external_run_id" TEXT,
    "process_pid" INTEGER,
    "process_group_id" INTEGER,
    "process_started_at" TIMESTAMPTZ(3),
    "last_output_at" TIMESTAMPTZ(3),
    "last_output_seq" INTEGER NOT NULL DEFAULT 0,
    "last_output_stream" TEXT,
    "last_output_bytes" BIGINT,
    "retry_of_run_id" UUID,
    "process_loss_retry_count" INTEGER NOT NULL DEFAULT 0,
    "scheduled_retry_at" TIMESTAMPTZ(3),
    "scheduled_retry_attempt" INTEGER NOT NULL DEFAULT 0,
    "scheduled_retry_reason" TEXT,
    "issue_comment_status" "issue_comment_status" NOT NULL DEFAULT 'not_applicable',
    "issue_comment_satisfied_by_comment_id" UUID,
    "issue_comment_retry_queued_at" TIMESTAMPTZ(3),
    "liveness_state" "liveness_state",
    "liveness_reason" TEXT,
    "continuation_attempt" INTEGER NOT NULL DEFAULT 0,
    "last_useful_action_at" TIMESTAMPTZ(3),
    "next_action" TEXT,
    "context_snapshot" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "heartbeat_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "heartbeat_run_events" (
    "id" BIGSERIAL NOT NULL,
    "company_id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "event_type" TEXT NOT NULL,
    "stream" TEXT,
    "level" TEXT,
    "color" TEXT,
    "message" TEXT,
    "payload" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "heartbeat_run_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_runtime_state" (
    "agent_id" UUID NOT NULL,
    "company_id" UUID NOT NULL,
    "adapter_type" TEXT NOT NULL,
    "session_id" TEXT,
    "state_json" JSONB NOT NULL DEFAULT '{}',
    "last_run_id" UUID,
    "last_run_status" "heartbeat_run_status",
    "total_input_tokens" BIGINT NOT NULL DEFAULT 0,
    "total_output_tokens" BIGINT NOT NULL DEFAULT 0,
    "total_cached_input_tokens" BIGINT NOT NULL DEFAULT 0,
    "total_cost_cents" BIGINT NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_runtime_state_pkey" PRIMARY KEY ("agent_id")
);

-- CreateTable
CREATE TABLE "issues" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "project_id" UUID,
    "project_workspace_id" UUID,
    "goal_id" UUID,
    "parent_id" UUID,
    "title" TEXT NOT NULL,
    "description" TEXT,
    "status" "issue_status" NOT NULL DEFAULT 'backlog',
    "priority" "issue_priority" NOT NULL DEFAULT 'medium',
    "assignee_agent_id" UUID,
    "assignee_user_id" TEXT,
    "checkout_run_id" UUID,
    "execution_run_id" UUID,
    "execution_agent_name_key" TEXT,
    "execution_locked_at" TIMESTAMPTZ(3),
    "created_by_agent_id" UUID,
    "created_by_user_id" TEXT,
    "issue_number" INTEGER,
    "identifier" TEXT,
    "origin_kind" TEXT NOT NULL DEFAULT 'manual',
    "origin_id" TEXT,
    "origin_run_id" TEXT,
    "origin_fingerprint" TEXT NOT NULL DEFAULT 'default',
    "request_depth" INTEGER NOT NULL DEFAULT 0,
    "billing_code" TEXT,
    "assignee_adapter_overrides" JSONB,
    "execution_policy" JSONB,
    "execution_state" JSONB,
    "execution_workspace_id" UUID,
    "execution_workspace_preference" TEXT,
    "execution_workspace_settings" JSONB,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "cancelled_at" TIMESTAMPTZ(3),
    "hidden_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issues_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_comments" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "issue_id" UUID NOT NULL,
    "author_agent_id" UUID,
    "author_user_id" TEXT,
    "created_by_run_id" UUID,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_comments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_relations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "issue_id" UUID NOT NULL,
    "related_issue_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "created_by_agent_id" UUID,
    "created_by_user_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_relations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_tree_holds" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "root_issue_id" UUID NOT NULL,
    "mode" "issue_tree_hold_mode" NOT NULL,
    "status" "issue_tree_hold_status" NOT NULL DEFAULT 'active',
    "reason" TEXT,
    "release_policy" JSONB,
    "created_by_actor_type" "actor_type" NOT NULL DEFAULT 'system',
    "created_by_agent_id" UUID,
    "created_by_run_id" UUID,
    "created_by_user_id" TEXT,
    "released_at" TIMESTAMPTZ(3),
    "released_by_actor_type" "actor_type",
    "released_by_user_id" TEXT,
    "release_reason" TEXT,
    "released_by_agent_id" UUID,
    "released_by_run_id" UUID,
    "release_metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_tree_holds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_tree_hold_members" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "hold_id" UUID NOT NULL,
    "issue_id" UUID NOT NULL,
    "parent_issue_id" UUID,
    "depth" INTEGER NOT NULL DEFAULT 0,
    "issue_identifier" TEXT,
    "issue_title" TEXT NOT NULL,
    "issue_status" "issue_status" NOT NULL,
    "assignee_agent_id" UUID,
    "assignee_user_id" TEXT,
    "active_run_id" UUID,
    "active_run_status" "heartbeat_run_status",
    "skipped" BOOLEAN NOT NULL DEFAULT false,
    "skip_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_tree_hold_members_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "environments" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "driver" "environment_driver" NOT NULL DEFAULT 'local',
    "status" "environment_status" NOT NULL DEFAULT 'active',
    "config" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "environments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "environment_leases" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "environment_id" UUID NOT NULL,
    "execution_workspace_id" UUID,
    "issue_id" UUID,
    "heartbeat_run_id" UUID,
    "status" "environment_lease_status" NOT NULL DEFAULT 'active',
    "lease_policy" "environment_lease_policy" NOT NULL DEFAULT 'ephemeral',
    "provider" TEXT,
    "provider_lease_id" TEXT,
    "acquired_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "released_at" TIMESTAMPTZ(3),
    "failure_reason" TEXT,
    "cleanup_status" TEXT,
    "metadata" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "environment_leases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "budget_policies" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "scope_type" "budget_scope_type" NOT NULL,
    "scope_id" UUID NOT NULL,
    "metric" TEXT NOT NULL DEFAULT 'billed_cents',
    "window_kind" "budget_window_kind" NOT NULL,
    "amount" INTEGER NOT NULL DEFAULT 0,
    "warn_percent" INTEGER NOT NULL DEFAULT 80,
    "hard_stop_enabled" BOOLEAN NOT NULL DEFAULT true,
    "notify_enabled" BOOLEAN NOT NULL DEFAULT true,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "created_by_user_id" TEXT,
    "updated_by_user_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "budget_policies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cost_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "issue_id" UUID,
    "project_id" UUID,
    "goal_id" UUID,
    "heartbeat_run_id" UUID,
    "billing_code" TEXT,
    "provider" TEXT NOT NULL,
    "biller" TEXT NOT NULL DEFAULT 'unknown',
    "billing_type" TEXT NOT NULL DEFAULT 'unknown',
    "model" TEXT NOT NULL,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "cached_input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_cents" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cost_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "documents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "title" TEXT,
    "format" TEXT NOT NULL DEFAULT 'markdown',
    "latest_body" TEXT NOT NULL,
    "latest_revision_id" UUID,
    "latest_revision_number" INTEGER NOT NULL DEFAULT 1,
    "created_by_agent_id" UUID,
    "updated_by_agent_id" UUID,
    "created_by_user_id" TEXT,
    "updated_by_user_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "documents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "document_revisions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "document_id" UUID NOT NULL,
    "revision_number" INTEGER NOT NULL,
    "title" TEXT,
    "format" TEXT NOT NULL DEFAULT 'markdown',
    "body" TEXT NOT NULL,
    "change_summary" TEXT,
    "created_by_agent_id" UUID,
    "created_by_user_id" TEXT,
    "created_by_run_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "document_revisions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_documents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "issue_id" UUID NOT NULL,
    "document_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_documents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "activity_log" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "actor_type" "actor_type" NOT NULL DEFAULT 'system',
    "actor_id" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT NOT NULL,
    "agent_id" UUID,
    "run_id" UUID,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "activity_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "board_api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "company_id" UUID NOT NULL,
    "name" TEXT,
    "key_prefix" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "board_api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "instance_settings" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "instance_settings_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "companies_issue_prefix_idx" ON "companies"("issue_prefix");

-- CreateIndex
CREATE INDEX "agents_company_id_status_idx" ON "agents"("company_id", "status");

-- CreateIndex
CREATE INDEX "agents_company_id_reports_to_idx" ON "agents"("company_id", "reports_to");

-- CreateIndex
CREATE INDEX "agents_company_id_default_environment_id_idx" ON "agents"("company_id", "default_environment_id");

-- CreateIndex
CREATE INDEX "agent_wakeup_requests_company_id_agent_id_status_idx" ON "agent_wakeup_requests"("company_id", "agent_id", "status");

-- CreateIndex
CREATE INDEX "agent_wakeup_requests_company_id_requested_at_idx" ON "agent_wakeup_requests"("company_id", "requested_at");

-- CreateIndex
CREATE INDEX "agent_wakeup_requests_agent_id_requested_at_idx" ON "agent_wakeup_requests"("agent_id", "requested_at");

-- CreateIndex
CREATE INDEX "heartbeat_runs_company_id_agent_id_started_at_idx" ON "heartbeat_runs"("company_id", "agent_id", "started_at");

-- CreateIndex
CREATE INDEX "heartbeat_runs_company_id_liveness_state_created_at_idx" ON "heartbeat_runs"("company_id", "liveness_state", "created_at");

-- CreateIndex
CREATE INDEX "heartbeat_runs_company_id_status_last_output_at_idx" ON "heartbeat_runs"("company_id", "status", "last_output_at");

-- CreateIndex
CREATE INDEX "heartbeat_runs_company_id_status_process_started_at_idx" ON "heartbeat_runs"("company_id", "status", "process_started_at");

-- CreateIndex
CREATE INDEX "heartbeat_run_events_run_id_seq_idx" ON "heartbeat_run_events"("run_id", "seq");

-- CreateIndex
CREATE INDEX "heartbeat_run_events_company_id_run_id_idx" ON "heartbeat_run_events"("company_id", "run_id");

-- CreateIndex
CREATE INDEX "heartbeat_run_events_company_id_created_at_idx" ON "heartbeat_run_events"("company_id", "created_at");

-- CreateIndex
CREATE INDEX "agent_runtime_state_company_id_agent_id_idx" ON "agent_runtime_state"("company_id", "agent_id");

-- CreateIndex
CREATE INDEX "agent_runtime_state_company_id_updated_at_idx" ON "agent_runtime_state"("company_id", "updated_at");

-- CreateIndex
CREATE INDEX "issues_company_id_status_idx" ON "issues"("company_id", "status");

-- CreateIndex
CREATE INDEX "issues_company_id_assignee_agent_id_status_idx" ON "issues"("company_id", "assignee_agent_id", "status");

-- CreateIndex
CREATE INDEX "issues_company_id_assignee_user_id_status_idx" ON "issues"("company_id", "assignee_user_id", "status");

-- CreateIndex
CREATE INDEX "issues_company_id_parent_id_idx" ON "issues"("company_id", "parent_id");

-- CreateIndex
CREATE INDEX "issues_company_id_project_id_idx" ON "issues"("company_id", "project_id");

-- CreateIndex
CREATE INDEX "issues_company_id_origin_kind_origin_id_idx" ON "issues"("company_id", "origin_kind", "origin_id");

-- CreateIndex
CREATE INDEX "issues_company_id_project_workspace_id_idx" ON "issues"("company_id", "project_workspace_id");

-- CreateIndex
CREATE INDEX "issues_company_id_execution_workspace_id_idx" ON "issues"("company_id", "execution_workspace_id");

-- CreateIndex
CREATE INDEX "issues_title_search_idx" ON "issues" USING GIN ("title" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "issues_identifier_search_idx" ON "issues" USING GIN ("identifier" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "issues_description_search_idx" ON "issues" USING GIN ("description" gin_trgm_ops);

-- CreateIndex
CREATE UNIQUE INDEX "issues_identifier_idx" ON "issues"("identifier");

-- CreateIndex
CREATE INDEX "issue_comments_issue_id_idx" ON "issue_comments"("issue_id");

-- CreateIndex
CREATE INDEX "issue_comments_company_id_idx" ON "issue_comments"("company_id");

-- CreateIndex
CREATE INDEX "issue_comments_company_id_issue_id_created_at_idx" ON "issue_comments"("company_id", "issue_id", "created_at");

-- CreateIndex
CREATE INDEX "issue_comments_company_id_author_user_id_issue_id_created_a_idx" ON "issue_comments"("company_id", "author_user_id", "issue_id", "created_at");

-- CreateIndex
CREATE INDEX "issue_comments_body_search_idx" ON "issue_comments" USING GIN ("body" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "issue_relations_company_id_issue_id_idx" ON "issue_relations"("company_id", "issue_id");

-- CreateIndex
CREATE INDEX "issue_relations_company_id_related_issue_id_idx" ON "issue_relations"("company_id", "related_issue_id");

-- CreateIndex
CREATE INDEX "issue_relations_company_id_type_idx" ON "issue_relations"("company_id", "type");

-- CreateIndex
CREATE UNIQUE INDEX "issue_relations_company_edge_uq" ON "issue_relations"("company_id", "issue_id", "related_issue_id", "type");

-- CreateIndex
CREATE INDEX "issue_tree_holds_company_id_root_issue_id_status_idx" ON "issue_tree_holds"("company_id", "root_issue_id", "status");

-- CreateIndex
CREATE INDEX "issue_tree_holds_company_id_status_mode_idx" ON "issue_tree_holds"("company_id", "status", "mode");

-- CreateIndex
CREATE INDEX "issue_tree_hold_members_company_id_issue_id_idx" ON "issue_tree_hold_members"("company_id", "issue_id");

-- CreateIndex
CREATE INDEX "issue_tree_hold_members_hold_id_depth_idx" ON "issue_tree_hold_members"("hold_id", "depth");

-- CreateIndex
CREATE UNIQUE INDEX "issue_tree_hold_members_hold_id_issue_id_key" ON "issue_tree_hold_members"("hold_id", "issue_id");

-- CreateIndex
CREATE INDEX "environments_company_id_status_idx" ON "environments"("company_id", "status");

-- CreateIndex
CREATE INDEX "environments_company_id_name_idx" ON "environments"("company_id", "name");

-- CreateIndex
CREATE INDEX "environment_leases_company_id_environment_id_status_idx" ON "environment_leases"("company_id", "environment_id", "status");

-- CreateIndex
CREATE INDEX "environment_leases_company_id_execution_workspace_id_idx" ON "environment_leases"("company_id", "execution_workspace_id");

-- CreateIndex
CREATE INDEX "environment_leases_company_id_issue_id_idx" ON "environment_leases"("company_id", "issue_id");

-- CreateIndex
CREATE INDEX "environment_leases_heartbeat_run_id_idx" ON "environment_leases"("heartbeat_run_id");

-- CreateIndex
CREATE INDEX "environment_leases_company_id_last_used_at_idx" ON "environment_leases"("company_id", "last_used_at");

-- CreateIndex
CREATE INDEX "environment_leases_provider_lease_id_idx" ON "environment_leases"("provider_lease_id");

-- CreateIndex
CREATE INDEX "budget_policies_company_id_scope_type_scope_id_is_active_idx" ON "budget_policies"("company_id", "scope_type", "scope_id", "is_active");

-- CreateIndex
CREATE INDEX "budget_policies_company_id_window_kind_metric_idx" ON "budget_policies"("company_id", "window_kind", "metric");

-- CreateIndex
CREATE UNIQUE INDEX "budget_policies_company_id_scope_type_scope_id_metric_windo_key" ON "budget_policies"("company_id", "scope_type", "scope_id", "metric", "window_kind");

-- CreateIndex
CREATE INDEX "cost_events_company_id_occurred_at_idx" ON "cost_events"("company_id", "occurred_at");

-- CreateIndex
CREATE INDEX "cost_events_company_id_agent_id_occurred_at_idx" ON "cost_events"("company_id", "agent_id", "occurred_at");

-- CreateIndex
CREATE INDEX "cost_events_company_id_provider_occurred_at_idx" ON "cost_events"("company_id", "provider", "occurred_at");

-- CreateIndex
CREATE INDEX "cost_events_company_id_biller_occurred_at_idx" ON "cost_events"("company_id", "biller", "occurred_at");

-- CreateIndex
CREATE INDEX "cost_events_company_id_heartbeat_run_id_idx" ON "cost_events"("company_id", "heartbeat_run_id");

-- CreateIndex
CREATE INDEX "documents_company_id_updated_at_idx" ON "documents"("company_id", "updated_at");

-- CreateIndex
CREATE INDEX "documents_company_id_created_at_idx" ON "documents"("company_id", "created_at");

-- CreateIndex
CREATE INDEX "document_revisions_company_id_document_id_created_at_idx" ON "document_revisions"("company_id", "document_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "document_revisions_document_id_revision_number_key" ON "document_revisions"("document_id", "revision_number");

-- CreateIndex
CREATE INDEX "issue_documents_company_id_issue_id_updated_at_idx" ON "issue_documents"("company_id", "issue_id", "updated_at");

-- CreateIndex
CREATE UNIQUE INDEX "issue_documents_company_id_issue_id_key_key" ON "issue_documents"("company_id", "issue_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "issue_documents_document_id_key" ON "issue_documents"("document_id");

-- CreateIndex
CREATE INDEX "activity_log_company_id_created_at_idx" ON "activity_log"("company_id", "created_at");

-- CreateIndex
CREATE INDEX "activity_log_run_id_idx" ON "activity_log"("run_id");

-- CreateIndex
CREATE INDEX "activity_log_entity_type_entity_id_idx" ON "activity_log"("entity_type", "entity_id");

-- CreateIndex
CREATE UNIQUE INDEX "board_api_keys_key_hash_key" ON "board_api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "board_api_keys_company_id_idx" ON "board_api_keys"("company_id");

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_reports_to_fkey" FOREIGN KEY ("reports_to") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_default_environment_id_fkey" FOREIGN KEY ("default_environment_id") REFERENCES "environments"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_wakeup_requests" ADD CONSTRAINT "agent_wakeup_requests_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_wakeup_requests" ADD CONSTRAINT "agent_wakeup_requests_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_runs" ADD CONSTRAINT "heartbeat_runs_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_runs" ADD CONSTRAINT "heartbeat_runs_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_runs" ADD CONSTRAINT "heartbeat_runs_wakeup_request_id_fkey" FOREIGN KEY ("wakeup_request_id") REFERENCES "agent_wakeup_requests"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_runs" ADD CONSTRAINT "heartbeat_runs_retry_of_run_id_fkey" FOREIGN KEY ("retry_of_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_run_events" ADD CONSTRAINT "heartbeat_run_events_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_run_events" ADD CONSTRAINT "heartbeat_run_events_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "heartbeat_runs"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "heartbeat_run_events" ADD CONSTRAINT "heartbeat_run_events_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_runtime_state" ADD CONSTRAINT "agent_runtime_state_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_runtime_state" ADD CONSTRAINT "agent_runtime_state_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "issues"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_assignee_agent_id_fkey" FOREIGN KEY ("assignee_agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_checkout_run_id_fkey" FOREIGN KEY ("checkout_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_execution_run_id_fkey" FOREIGN KEY ("execution_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issues" ADD CONSTRAINT "issues_created_by_agent_id_fkey" FOREIGN KEY ("created_by_agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_comments" ADD CONSTRAINT "issue_comments_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_comments" ADD CONSTRAINT "issue_comments_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_comments" ADD CONSTRAINT "issue_comments_author_agent_id_fkey" FOREIGN KEY ("author_agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_comments" ADD CONSTRAINT "issue_comments_created_by_run_id_fkey" FOREIGN KEY ("created_by_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_relations" ADD CONSTRAINT "issue_relations_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_relations" ADD CONSTRAINT "issue_relations_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_relations" ADD CONSTRAINT "issue_relations_related_issue_id_fkey" FOREIGN KEY ("related_issue_id") REFERENCES "issues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_relations" ADD CONSTRAINT "issue_relations_created_by_agent_id_fkey" FOREIGN KEY ("created_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_root_issue_id_fkey" FOREIGN KEY ("root_issue_id") REFERENCES "issues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_created_by_agent_id_fkey" FOREIGN KEY ("created_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_created_by_run_id_fkey" FOREIGN KEY ("created_by_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_released_by_agent_id_fkey" FOREIGN KEY ("released_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_holds" ADD CONSTRAINT "issue_tree_holds_released_by_run_id_fkey" FOREIGN KEY ("released_by_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_hold_id_fkey" FOREIGN KEY ("hold_id") REFERENCES "issue_tree_holds"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_parent_issue_id_fkey" FOREIGN KEY ("parent_issue_id") REFERENCES "issues"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_assignee_agent_id_fkey" FOREIGN KEY ("assignee_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_tree_hold_members" ADD CONSTRAINT "issue_tree_hold_members_active_run_id_fkey" FOREIGN KEY ("active_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environments" ADD CONSTRAINT "environments_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environment_leases" ADD CONSTRAINT "environment_leases_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environment_leases" ADD CONSTRAINT "environment_leases_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environment_leases" ADD CONSTRAINT "environment_leases_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environment_leases" ADD CONSTRAINT "environment_leases_heartbeat_run_id_fkey" FOREIGN KEY ("heartbeat_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "budget_policies" ADD CONSTRAINT "budget_policies_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cost_events" ADD CONSTRAINT "cost_events_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cost_events" ADD CONSTRAINT "cost_events_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cost_events" ADD CONSTRAINT "cost_events_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cost_events" ADD CONSTRAINT "cost_events_heartbeat_run_id_fkey" FOREIGN KEY ("heartbeat_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_created_by_agent_id_fkey" FOREIGN KEY ("created_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_updated_by_agent_id_fkey" FOREIGN KEY ("updated_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_revisions" ADD CONSTRAINT "document_revisions_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_revisions" ADD CONSTRAINT "document_revisions_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_revisions" ADD CONSTRAINT "document_revisions_created_by_agent_id_fkey" FOREIGN KEY ("created_by_agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_revisions" ADD CONSTRAINT "document_revisions_created_by_run_id_fkey" FOREIGN KEY ("created_by_run_id") REFERENCES "heartbeat_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_documents" ADD CONSTRAINT "issue_documents_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_documents" ADD CONSTRAINT "issue_documents_issue_id_fkey" FOREIGN KEY ("issue_id") REFERENCES "issues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_documents" ADD CONSTRAINT "issue_documents_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activity_log" ADD CONSTRAINT "activity_log_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activity_log" ADD CONSTRAINT "activity_log_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activity_log" ADD CONSTRAINT "activity_log_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "heartbeat_runs"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "board_api_keys" ADD CONSTRAINT "board_api_keys_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE CASCADE;
