/**
 * Vigil's custom search attributes, typed, shared by workflows (upsert) and the client (start,
 * list filters). Imports only @temporalio/common, so workflow code may import this file.
 * Registered on the dev server from temporal-dev.yml and on an external Temporal by
 * ensureSearchAttributes() (searchAttributes.ts); a test keeps the three in agreement.
 * Never put secrets (run tokens, API keys) in a search attribute: they are visible in Temporal UI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const VigilCompanyId = defineSearchAttributeKey('VigilCompanyId', SearchAttributeType.KEYWORD);
export const VigilAgentId = defineSearchAttributeKey('VigilAgentId', SearchAttributeType.KEYWORD);
export const VigilIssueId = defineSearchAttributeKey('VigilIssueId', SearchAttributeType.KEYWORD);
/** Human issue key such as ENG-42. */
export const VigilIssueIdentifier = defineSearchAttributeKey('VigilIssueIdentifier', SearchAttributeType.KEYWORD);
/** Heartbeat run status (queued, running, succeeded, failed, cancelled, timed_out, ...). */
export const VigilRunStatus = defineSearchAttributeKey('VigilRunStatus', SearchAttributeType.KEYWORD);
/** Stop reason of a failed run (timeout, process_lost, ...). */
export const VigilErrorCode = defineSearchAttributeKey('VigilErrorCode', SearchAttributeType.KEYWORD);
/** The run this one retries or continues. */
export const VigilRetryOfRunId = defineSearchAttributeKey('VigilRetryOfRunId', SearchAttributeType.KEYWORD);
/**
 * Why this run exists when it is an automatic retry: process_lost, transient_failure,
 * provider_quota, assignment_recovery, issue_continuation_needed or missing_issue_comment
 * (RETRY_KINDS in src/domain/recoveryKinds.ts).
 */
export const VigilRetryKind = defineSearchAttributeKey('VigilRetryKind', SearchAttributeType.KEYWORD);

export const VIGIL_SEARCH_ATTRIBUTES = [
  VigilCompanyId,
  VigilAgentId,
  VigilIssueId,
  VigilIssueIdentifier,
  VigilRunStatus,
  VigilErrorCode,
  VigilRetryOfRunId,
  VigilRetryKind,
] as const;
