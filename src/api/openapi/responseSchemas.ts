/**
 * What the API answers, as zod schemas: one per resource shape of DATA-MODEL §4 as API.md
 * restricts it. They are documentation and a test oracle (test/api/openapi.test.ts validates real
 * responses against them through the OpenAPI document); handlers do not parse their own output.
 * Objects are closed (zod's output mode writes `additionalProperties: false`), so a column added
 * to a response without adding it here fails that test.
 */
import { z } from 'zod';
import { RUN_STATUSES } from '../../domain/runStatus.ts';
import { ISSUE_PRIORITIES, ISSUE_STATUSES } from '../../store/issues.ts';
import { AGENT_ROLES, AGENT_STATUSES } from '../validation.ts';
import { VIGIL_ROLES } from '../../config.ts';
import { WORKER_STATES } from '../../metrics/vigilMetrics.ts';
import { RECOVERY_DECISION_KINDS, RECOVERY_DECISION_SOURCES, RECOVERY_REASONS, type RecoveryReason } from '../../domain/recoveryDecision.ts';

const id = z.uuid();
const timestamp = z.iso.datetime();
/** An `integer` column. */
const int4 = z.int32();
/** A `bigint` column or a byte offset, as a JSON number (safe up to 2^53 − 1). */
const int8 = z.int().meta({ format: 'int64' });
const json = z.unknown().meta({ description: 'Any JSON value' });

const WAKE_SOURCES = ['timer', 'assignment', 'on_demand', 'automation'] as const;
const ACTOR_TYPES = ['user', 'agent', 'system'] as const;

export const ErrorResponse = z
  .looseObject({
    error: z.string().meta({ description: 'A sentence for humans' }),
    code: z.string().meta({ description: 'A machine-readable code, e.g. `invalid_request`, `not_found`' }),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional().meta({ description: 'For 400: the offending fields' }),
  })
  .meta({ description: 'Every 4xx/5xx answer. Some errors add keys of their own (e.g. `unresolvedBlockerIssueIds`, `runId`).' });

export const Health = z.object({
  // `starting` / `stopping`: the process has not finished starting, or is stopping (routes/health.ts).
  status: z.enum(['ok', 'degraded', 'starting', 'stopping']),
  db: z.enum(['ok', 'down']),
  temporal: z.enum(['ok', 'down']),
});

export const Readiness = z.object({
  ready: z.boolean(),
  role: z.enum(VIGIL_ROLES),
  phase: z.enum(['starting', 'ready', 'stopping']),
  db: z.enum(['ok', 'down']),
  temporal: z.enum(['ok', 'down']),
  // `none`: this process has no worker (role `api`).
  worker: z.enum([...WORKER_STATES, 'none']),
});

export const Company = z.object({
  id,
  name: z.string(),
  description: z.string().nullable(),
  status: z.enum(['active', 'paused', 'archived']),
  pauseReason: z.string().nullable(),
  pausedAt: timestamp.nullable(),
  issuePrefix: z.string(),
  issueCounter: int4,
  budgetMonthlyCents: int4,
  spentMonthlyCents: int4,
  attachmentMaxBytes: int4,
  requireBoardApprovalForNewAgents: z.boolean(),
  feedbackDataSharingEnabled: z.boolean(),
  feedbackDataSharingConsentAt: timestamp.nullable(),
  feedbackDataSharingConsentByUserId: z.string().nullable(),
  feedbackDataSharingTermsVersion: z.string().nullable(),
  brandColor: z.string().nullable(),
  loopBreakerMaxRuns: int4.meta({ description: 'Issue 14: runs of one agent on one issue without progress that trip the loop breaker' }),
  loopBreakerWindowSec: int4.meta({ description: "Issue 14: the loop breaker's window, in seconds" }),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const BoardKeyCreated = z
  .object({ id, key: z.string().meta({ description: 'Shown once; only its hash is stored' }), name: z.string().nullable(), companyId: id })
  .meta({ description: 'A new board key. The key itself is never shown again.' });

export const Agent = z
  .object({
    id,
    companyId: id,
    name: z.string(),
    role: z.enum(AGENT_ROLES),
    title: z.string().nullable(),
    icon: z.string().nullable(),
    capabilities: z.string().nullable(),
    status: z.enum(AGENT_STATUSES),
    reportsTo: id.nullable(),
    adapterType: z.string(),
    adapterConfig: json.meta({ description: 'Adapter settings; secret-looking values are redacted' }),
    runtimeConfig: json,
    defaultEnvironmentId: id.nullable(),
    budgetMonthlyCents: int4,
    spentMonthlyCents: int4,
    pauseReason: z.string().nullable(),
    pausedAt: timestamp.nullable(),
    permissions: json,
    lastHeartbeatAt: timestamp.nullable(),
    metadata: json,
    createdAt: timestamp,
    updatedAt: timestamp,
  });

/** Every column of `heartbeat_runs` (DATA-MODEL §1.4), plus where to find its workflow. */
export const Run = z
  .object({
    id,
    companyId: id,
    agentId: id,
    invocationSource: z.enum(WAKE_SOURCES),
    triggerDetail: z.string().nullable(),
    status: z.enum(RUN_STATUSES),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    error: z.string().nullable().meta({ description: 'Failure or cancel text, redacted' }),
    errorCode: z.string().nullable(),
    wakeupRequestId: id.nullable(),
    exitCode: int4.nullable(),
    signal: z.string().nullable(),
    usageJson: json,
    resultJson: json.meta({ description: 'Adapter result and stop metadata (DATA-MODEL §3.2), redacted' }),
    sessionIdBefore: z.string().nullable(),
    sessionIdAfter: z.string().nullable(),
    logStore: z.string().nullable(),
    logRef: z.string().nullable(),
    logBytes: int8.nullable(),
    logSha256: z.string().nullable(),
    logCompressed: z.boolean(),
    stdoutExcerpt: z.string().nullable(),
    stderrExcerpt: z.string().nullable(),
    externalRunId: z.string().nullable(),
    processPid: int4.nullable(),
    processGroupId: int4.nullable(),
    processStartedAt: timestamp.nullable(),
    processStartTicks: int8.nullable().meta({ description: "The agent process's start in clock ticks since boot: with it the pid is trusted (pid reuse)" }),
    processHost: z.string().nullable(),
    workerId: z.string().nullable().meta({ description: 'The worker (VIGIL_WORKER_ID) that ran the agent' }),
    lastOutputAt: timestamp.nullable(),
    lastOutputSeq: int4,
    lastOutputStream: z.string().nullable(),
    lastOutputBytes: int8.nullable(),
    recordedStdoutChars: int8.meta({ description: 'Characters of stdout the run has recorded (a worker reattaching to its agent continues after them)' }),
    recordedStderrChars: int8.meta({ description: 'Characters of stderr the run has recorded' }),
    recordedAgentMessages: int4.meta({ description: 'agent.message events the run has recorded' }),
    retryOfRunId: id.nullable(),
    processLossRetryCount: int4,
    scheduledRetryAt: timestamp.nullable(),
    scheduledRetryAttempt: int4,
    scheduledRetryReason: z.string().nullable(),
    issueCommentStatus: z.enum(['not_applicable', 'satisfied', 'retry_queued', 'retry_exhausted']),
    issueCommentSatisfiedByCommentId: id.nullable(),
    issueCommentRetryQueuedAt: timestamp.nullable(),
    livenessState: z.enum(['completed', 'advanced', 'plan_only', 'empty_response', 'blocked', 'failed', 'needs_followup']).nullable(),
    livenessReason: z.string().nullable(),
    continuationAttempt: int4,
    lastUsefulActionAt: timestamp.nullable(),
    nextAction: z.string().nullable(),
    contextSnapshot: json.meta({ description: 'Task binding and wake metadata (DATA-MODEL §3.1), redacted' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    workflowId: z.string().meta({ description: "The run's Temporal workflow id" }),
    temporalUiUrl: z.string().nullable().meta({ description: 'Link to the workflow in Temporal UI, when its address is known' }),
  });

export const WakeSkipped = z
  .object({
    status: z.literal('skipped'),
    reason: z.string().meta({ description: '`issue_execution_deferred` when another run holds the issue, else why the wake was skipped' }),
    message: z.string(),
    issueId: id.nullable(),
    executionRunId: id.optional(),
    executionAgentId: id.optional(),
    executionAgentName: z.string().nullable().optional(),
  })
  .meta({ description: 'The wake produced no run (skipped, or deferred behind the run holding the issue)' });

export const ActiveRunSummary = z
  .object({
    id,
    status: z.enum(RUN_STATUSES),
    agentId: id,
    invocationSource: z.enum(WAKE_SOURCES),
    triggerDetail: z.string().nullable(),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    createdAt: timestamp,
  })
  .meta({ description: 'The queued/running run holding the issue (its `executionRunId`)' });

const issueColumns = {
  id,
  companyId: id,
  projectId: id.nullable(),
  projectWorkspaceId: id.nullable(),
  goalId: id.nullable(),
  parentId: id.nullable(),
  title: z.string(),
  description: z.string().nullable(),
  status: z.enum(ISSUE_STATUSES),
  priority: z.enum(ISSUE_PRIORITIES),
  assigneeAgentId: id.nullable(),
  assigneeUserId: z.string().nullable(),
  checkoutRunId: id.nullable(),
  executionRunId: id.nullable(),
  executionAgentNameKey: z.string().nullable(),
  executionLockedAt: timestamp.nullable(),
  createdByAgentId: id.nullable(),
  createdByUserId: z.string().nullable(),
  issueNumber: int4.nullable(),
  identifier: z.string().nullable(),
  originKind: z.string(),
  originId: z.string().nullable(),
  originRunId: z.string().nullable(),
  originFingerprint: z.string(),
  requestDepth: int4,
  billingCode: z.string().nullable(),
  assigneeAdapterOverrides: json,
  executionPolicy: json,
  executionState: json,
  executionWorkspaceId: id.nullable(),
  executionWorkspacePreference: z.string().nullable(),
  executionWorkspaceSettings: json,
  startedAt: timestamp.nullable(),
  completedAt: timestamp.nullable(),
  cancelledAt: timestamp.nullable(),
  hiddenAt: timestamp.nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
};

export const IssueListRow = z.object({ ...issueColumns, activeRun: ActiveRunSummary.nullable() });

export const IssueRelationSummary = z.object({
  id,
  identifier: z.string().nullable(),
  title: z.string(),
  status: z.enum(ISSUE_STATUSES),
  priority: z.enum(ISSUE_PRIORITIES),
  assigneeAgentId: id.nullable(),
  assigneeUserId: z.string().nullable(),
});

export const IssueDetail = z.object({
  ...issueColumns,
  blockedBy: z.array(IssueRelationSummary).meta({ description: 'Issues that block this one' }),
  blocks: z.array(IssueRelationSummary).meta({ description: 'Issues this one blocks' }),
  activeRun: ActiveRunSummary.nullable(),
});

export const Comment = z.object({
  id,
  companyId: id,
  issueId: id,
  authorAgentId: id.nullable(),
  authorUserId: z.string().nullable(),
  createdByRunId: id.nullable(),
  body: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const IssueDocument = z.object({
  id,
  companyId: id,
  title: z.string().nullable(),
  format: z.string(),
  latestBody: z.string(),
  latestRevisionId: id.nullable(),
  latestRevisionNumber: int4,
  createdByAgentId: id.nullable(),
  updatedByAgentId: id.nullable(),
  createdByUserId: z.string().nullable(),
  updatedByUserId: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  key: z.string(),
  issueId: id,
  body: z.string().meta({ description: 'The latest body' }),
  revisionNumber: int4.meta({ description: 'The latest revision number (1 for the first PUT)' }),
});

export const TreeHoldMember = z.object({
  id,
  companyId: id,
  holdId: id,
  issueId: id,
  parentIssueId: id.nullable(),
  depth: int4,
  issueIdentifier: z.string().nullable(),
  issueTitle: z.string(),
  issueStatus: z.enum(ISSUE_STATUSES),
  assigneeAgentId: id.nullable(),
  assigneeUserId: z.string().nullable(),
  activeRunId: id.nullable(),
  activeRunStatus: z.enum(RUN_STATUSES).nullable(),
  skipped: z.boolean(),
  skipReason: z.string().nullable(),
  createdAt: timestamp,
});

export const TreeHold = z
  .object({
    id,
    companyId: id,
    rootIssueId: id,
    mode: z.enum(['pause', 'resume', 'cancel', 'restore']),
    status: z.enum(['active', 'released']),
    reason: z.string().nullable(),
    releasePolicy: json,
    createdByActorType: z.enum(ACTOR_TYPES),
    createdByAgentId: id.nullable(),
    createdByRunId: id.nullable(),
    createdByUserId: z.string().nullable(),
    releasedAt: timestamp.nullable(),
    releasedByActorType: z.enum(ACTOR_TYPES).nullable(),
    releasedByUserId: z.string().nullable(),
    releaseReason: z.string().nullable(),
    releasedByAgentId: id.nullable(),
    releasedByRunId: id.nullable(),
    releaseMetadata: json,
    createdAt: timestamp,
    updatedAt: timestamp,
    members: z.array(TreeHoldMember).meta({ description: 'Snapshot of the subtree when the hold was created, by depth' }),
  })
  .meta({ description: 'A pause hold on an issue and all its descendants (R66)' });

export const RunEvent = z.object({
  id: int8,
  companyId: id,
  runId: id,
  agentId: id,
  seq: int4,
  eventType: z.string(),
  stream: z.string().nullable(),
  level: z.string().nullable(),
  color: z.string().nullable(),
  message: z.string().nullable(),
  payload: json.meta({ description: 'Redacted' }),
  createdAt: timestamp,
});

export const RunLogSlice = z.object({
  runId: id,
  store: z.string().nullable().meta({ description: 'Log storage kind: `postgres` (runs since issue 11), `local_file` (older runs, readable only where the file is)' }),
  logRef: z.string().nullable(),
  content: z.string().meta({ description: 'NDJSON lines `{ts, stream, chunk}` from `offset`' }),
  nextOffset: int8.nullable().meta({ description: 'Byte offset of the next slice, or null at the end of the log' }),
});

export const Environment = z.object({
  id,
  companyId: id,
  name: z.string(),
  description: z.string().nullable(),
  driver: z.enum(['local', 'ssh', 'sandbox', 'plugin']),
  status: z.enum(['active', 'archived']),
  config: json.meta({ description: 'Driver config, redacted' }),
  metadata: json,
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const EnvironmentLease = z.object({
  id,
  companyId: id,
  environmentId: id,
  executionWorkspaceId: id.nullable(),
  issueId: id.nullable(),
  heartbeatRunId: id.nullable(),
  status: z.enum(['active', 'released', 'expired', 'failed', 'retained']),
  leasePolicy: z.enum(['ephemeral', 'reuse_by_environment', 'reuse_by_execution_workspace', 'retain_on_failure']),
  provider: z.string().nullable(),
  providerLeaseId: z.string().nullable(),
  acquiredAt: timestamp,
  lastUsedAt: timestamp,
  expiresAt: timestamp.nullable(),
  releasedAt: timestamp.nullable(),
  failureReason: z.string().nullable(),
  cleanupStatus: z.string().nullable(),
  metadata: json,
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const BudgetPolicy = z.object({
  id,
  companyId: id,
  scopeType: z.enum(['company', 'agent', 'project']),
  scopeId: id,
  metric: z.string(),
  windowKind: z.enum(['calendar_month_utc', 'lifetime']),
  amount: int4,
  warnPercent: int4,
  hardStopEnabled: z.boolean(),
  notifyEnabled: z.boolean(),
  isActive: z.boolean(),
  createdByUserId: z.string().nullable(),
  updatedByUserId: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const CostEvent = z.object({
  id,
  companyId: id,
  agentId: id,
  issueId: id.nullable(),
  projectId: id.nullable(),
  goalId: id.nullable(),
  heartbeatRunId: id.nullable(),
  billingCode: z.string().nullable(),
  provider: z.string(),
  biller: z.string(),
  billingType: z.string(),
  model: z.string(),
  inputTokens: int4,
  cachedInputTokens: int4,
  outputTokens: int4,
  costCents: int4.meta({ description: 'Billed amount, rounded to the nearest cent (what budgets sum when `costUsdMicros` is null)' }),
  costUsdMicros: int8.nullable().meta({ description: 'Exact spend in micro-dollars, when known (a run\'s reported or estimated usage); null for events posted in cents' }),
  costUsd: z.number().meta({ description: 'Spend in dollars: `costUsdMicros` / 10^6 when known, else `costCents` / 100' }),
  estimated: z.boolean().meta({ description: 'Vigil estimated the cost from the tokens (the CLI reported no money, e.g. Codex)' }),
  source: z.enum(['run', 'api']).meta({ description: '`run`: the one usage event a run wrote when it finished; `api`: posted through the API' }),
  occurredAt: timestamp,
  createdAt: timestamp,
});

export const SessionParams = z
  .object({
    sessionId: z.string().meta({ description: "The id the agent's CLI reported (Claude's `session_id`, Codex's `thread_id`)" }),
    cwd: z.string().nullable().meta({ description: 'Working directory the session ran in' }),
    model: z.string().nullable().meta({ description: 'Model the run was configured with (null: the CLI default)' }),
  })
  .meta({ description: 'What a saved session needs to be resumed (R72); nothing else of the stored params is shown' });

export const AgentTaskSession = z
  .object({
    id,
    companyId: id,
    agentId: id,
    adapterType: z.string(),
    taskKey: z.string().meta({ description: 'The runs\' `contextSnapshot.taskKey` (an issue id, a task id), or `__agent__` for runs with none' }),
    sessionParamsJson: SessionParams.nullable(),
    sessionDisplayId: z.string().nullable(),
    lastRunId: id.nullable().meta({ description: 'The run that saved the session' }),
    lastError: z.string().nullable().meta({ description: "That run's error, redacted" }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ description: 'A resumable coding-agent session of one task (R72)' });

const runtimeStateColumns = {
  agentId: id,
  companyId: id,
  adapterType: z.string(),
  sessionId: z.string().nullable().meta({ description: 'Legacy: the session id of the most recently saved task session' }),
  stateJson: json,
  lastRunId: id.nullable(),
  lastRunStatus: z.enum(RUN_STATUSES).nullable(),
  totalInputTokens: int8,
  totalOutputTokens: int8,
  totalCachedInputTokens: int8,
  totalCostCents: int8.meta({ description: "Sum of the cent-rounded cost of the agent's runs' usage events" }),
  totalCostUsdMicros: int8.meta({ description: 'Exact sum of the same, in micro-dollars' }),
  lastError: z.string().nullable().meta({ description: "The last run's error, redacted" }),
  createdAt: timestamp.nullable().meta({ description: 'Null while the agent has no state yet (no run finished): every total is then 0' }),
  updatedAt: timestamp.nullable(),
  sessionDisplayId: z.string().nullable().meta({ description: "The agent's most recently updated task session's id, or null" }),
  sessionParamsJson: SessionParams.nullable().meta({ description: 'That session\'s params, or null' }),
};

export const AgentRuntimeState = z
  .object(runtimeStateColumns)
  .meta({ description: "An agent's `agent_runtime_state` row (zeroed before its first run) and its most recent task session" });

export const SessionResetResult = z
  .object({ ...runtimeStateColumns, clearedTaskSessions: int4.meta({ description: 'How many task sessions were cleared' }) })
  .meta({ description: 'The runtime state after the reset, and how many task sessions it cleared' });

export const ReconcileResult = z
  .object({
    assignmentDispatched: int4,
    dispatchRequeued: int4,
    continuationRequeued: int4,
    productiveContinuationObserved: int4,
    successfulContinuationObserved: int4,
    orphanBlockersAssigned: int4,
    escalated: int4,
    skipped: int4,
    issueIds: z.array(id).meta({ description: 'Issues that received an action, in processing order' }),
  })
  .meta({ description: "Counters of one stranded-work sweep over the company's issues" });

export const ReapResult = z.object({
  reaped: int4,
  runIds: z.array(id).meta({ description: 'Reaped runs, in processing order' }),
});

/** Named schemas, written once under `components.schemas` and referenced from every operation. */
export const responseComponents = {
  Error: ErrorResponse,
  Health,
  Company,
  BoardKeyCreated,
  Agent,
  Run,
  WakeSkipped,
  ActiveRunSummary,
  IssueListRow,
  IssueRelationSummary,
  IssueDetail,
  Comment,
  IssueDocument,
  TreeHoldMember,
  TreeHold,
  RunEvent,
  RunLogSlice,
  Environment,
  EnvironmentLease,
  BudgetPolicy,
  CostEvent,
  SessionParams,
  AgentTaskSession,
  AgentRuntimeState,
  SessionResetResult,
  ReconcileResult,
  ReapResult,
} satisfies Record<string, z.ZodType>;

/** Issue 14 §2 (V8): one recovery decision (src/store/recoveryDecisions.ts `viewOfDecision`). */
export const RecoveryDecision = z
  .object({
    id: id.meta({ description: 'Named by the recovery comment it wrote (`- Recovery decision: `<id>``)' }),
    companyId: id,
    issueId: id.nullable(),
    runId: id.nullable().meta({ description: 'The run the decision follows' }),
    agentId: id.nullable(),
    source: z.enum(RECOVERY_DECISION_SOURCES).meta({ description: 'Where it was decided: after a run ended, in a sweep, by the orphan reaper, or by the loop breaker' }),
    decision: z.enum(RECOVERY_DECISION_KINDS),
    rule: z.string().meta({ description: 'The rule that decided (`R23`, `R46`, `V2`, …; docs/recovery-rules.md)' }),
    reason: z.enum(Object.keys(RECOVERY_REASONS) as [RecoveryReason, ...RecoveryReason[]]).meta({ description: 'Why; for `none`, why nothing was done' }),
    summary: z.string().meta({ description: 'The decision in one line, as the run workflow\'s memo `recoveryDecision` shows it' }),
    evidence: z
      .object({
        runStatus: z.string().optional(),
        errorCode: z.string().nullable().optional(),
        attempt: int4.optional(),
        maxAttempts: int4.optional(),
        livenessState: z.string().nullable().optional(),
        lastUsefulActionAt: timestamp.nullable().optional(),
        retryReason: z.string().nullable().optional(),
        previousStatus: z.string().optional(),
        dueAt: timestamp.optional(),
        runsWithoutProgress: int4.optional(),
        windowSec: int4.optional(),
        recoveryIssue: z.enum(['created', 'reused', 'none']).optional(),
        recoveryIssueId: id.nullable().optional(),
      })
      .meta({ description: 'The counters and facts the decision used (redacted)' }),
    createdRunId: id.nullable(),
    createdIssueId: id.nullable(),
    createdAt: timestamp,
  })
  .meta({ description: 'Issue 14: a recovery decision, recorded once' });
