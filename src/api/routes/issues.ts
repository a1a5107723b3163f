/** Issues, their comments and documents, and the runs linked to them. */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { attribution, requireVisible, type Actor } from '../auth.ts';
import { commaListOf, issueRef, queryInt, uuid } from '../validation.ts';
import { runView } from '../serializers.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { idempotent, idempotencyHeaders, IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS } from '../idempotency.ts';
import { Comment, IssueDetail, IssueDocument, IssueListRow, Run } from '../openapi/responseSchemas.ts';
import { AppError, NotFoundError } from '../../errors.ts';
import {
  activeRunsFor,
  createIssue,
  dependentsReadyAfter,
  findIssue,
  issueDetail,
  ISSUE_PRIORITIES,
  ISSUE_STATUSES,
  updateIssue,
} from '../../store/issues.ts';
import { recordReplayedRunComment, reportRunActivity } from '../../store/runActivity.ts';
import { logActivity } from '../../store/activityLog.ts';
import { STATUS_CHANGED_ACTION } from '../../store/loopBreaker.ts';
import { putIssueDocument } from '../../store/documents.ts';
import { redactSecrets } from '../../domain/redaction.ts';
import { LIVE_RUN_STATUSES } from '../../domain/runStatus.ts';

const issueFields = {
  title: z.string().trim().min(1).max(500),
  description: z.string().max(100_000).nullable(),
  status: z.enum(ISSUE_STATUSES),
  priority: z.enum(ISSUE_PRIORITIES),
  parentId: uuid.nullable(),
  assigneeAgentId: uuid.nullable(),
  assigneeUserId: z.string().trim().min(1).max(200).nullable(),
  blockedByIssueIds: z.array(uuid).max(100),
};

const updateIssueSchema = z
  .strictObject(issueFields)
  .partial()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field to change' });

const createIssueSchema = z.strictObject(issueFields).partial().required({ title: true });

const listIssuesQuery = z.strictObject({
  status: commaListOf(ISSUE_STATUSES).optional(),
  assigneeAgentId: uuid.optional(),
  assigneeUserId: z.string().min(1).optional(),
  parentId: uuid.optional(),
  originKind: z.string().min(1).optional(),
  originId: z.string().min(1).optional(),
  q: z.string().min(1).max(200).optional(),
  limit: queryInt(1, 500).default(50),
  offset: queryInt(0, 1_000_000).default(0),
});

const listCommentsQuery = z.strictObject({
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: queryInt(1, 500).default(100),
});

const createCommentSchema = z.strictObject({ body: z.string().trim().min(1).max(100_000) });

const putDocumentSchema = z.strictObject({
  title: z.string().max(500).nullish(),
  format: z.enum(['markdown', 'text', 'json']).optional(),
  body: z.string().max(1_000_000),
});

const listRunsQuery = z.strictObject({ limit: queryInt(1, 1000).default(100) });

export const issueRoutes = defineRoutes('Issues', {
  createIssue: {
    method: 'post',
    path: '/companies/:companyId/issues',
    auth: ['board', 'run'],
    summary: 'Create an issue',
    description: 'Assigning an agent wakes it (`issue_assigned`) unless the status is `backlog`. Default status `backlog`, priority `medium`.',
    headers: idempotencyHeaders,
    body: createIssueSchema,
    responses: { 201: { description: 'The issue with its relations', schema: IssueDetail } },
    errors: {
      409: `Created \`in_progress\` with unresolved blockers (\`unresolved_blockers\`); or: ${IDEMPOTENCY_IN_PROGRESS}`,
      422: `Two assignees, an assignee or parent or blocker not of this company, or a blocker cycle; or ${IDEMPOTENCY_CONFLICT}`,
    },
  },
  listIssues: {
    method: 'get',
    path: '/companies/:companyId/issues',
    auth: ['board', 'run'],
    summary: 'List and search issues, newest first',
    description: '`q` searches title, identifier and description (case-insensitive). Each row carries its `activeRun`.',
    query: listIssuesQuery,
    responses: { 200: { description: 'Issue rows', schema: z.array(IssueListRow) } },
  },
  getIssue: {
    method: 'get',
    path: '/issues/:issueId',
    auth: ['board', 'run'],
    summary: 'Read an issue with `blockedBy`, `blocks` and `activeRun`',
    responses: { 200: { description: 'The issue', schema: IssueDetail } },
  },
  updateIssue: {
    method: 'patch',
    path: '/issues/:issueId',
    auth: ['board', 'run'],
    summary: 'Update an issue',
    description: '`blockedByIssueIds` replaces the blocker set. A new agent assignee is woken; finishing a blocker wakes the dependents it held back (R75).',
    body: updateIssueSchema,
    responses: { 200: { description: 'The updated issue', schema: IssueDetail } },
    errors: {
      409: 'Moving to `in_progress` with unresolved blockers (`unresolved_blockers`)',
      422: 'Two assignees, no assignee for `in_progress`, an unknown assignee/parent/blocker, or a cycle',
    },
  },
  listComments: {
    method: 'get',
    path: '/issues/:issueId/comments',
    auth: ['board', 'run'],
    summary: "List an issue's comments",
    query: listCommentsQuery,
    responses: { 200: { description: 'Comments', schema: z.array(Comment) } },
  },
  createComment: {
    method: 'post',
    path: '/issues/:issueId/comments',
    auth: ['board', 'run'],
    summary: 'Comment on an issue (attributed to the agent and its run for run tokens)',
    headers: idempotencyHeaders,
    body: createCommentSchema,
    responses: { 201: { description: 'The comment (secrets redacted)', schema: Comment } },
    errors: { 409: IDEMPOTENCY_IN_PROGRESS, 422: `The request is fine, but ${IDEMPOTENCY_CONFLICT}` },
  },
  getIssueDocument: {
    method: 'get',
    path: '/issues/:issueId/documents/:key',
    auth: ['board', 'run'],
    summary: 'Read an issue document with its latest body and revision number',
    responses: { 200: { description: 'The document', schema: IssueDocument } },
  },
  putIssueDocument: {
    method: 'put',
    path: '/issues/:issueId/documents/:key',
    auth: ['board', 'run'],
    summary: 'Write an issue document; every call adds a revision',
    headers: idempotencyHeaders,
    body: putDocumentSchema,
    responses: { 200: { description: 'The document after this revision', schema: IssueDocument } },
    errors: { 409: IDEMPOTENCY_IN_PROGRESS, 422: `The request is fine, but ${IDEMPOTENCY_CONFLICT}` },
  },
  listIssueRuns: {
    method: 'get',
    path: '/issues/:issueId/runs',
    auth: ['board', 'run'],
    summary: 'Runs bound to the issue (`contextSnapshot.issueId`), newest first',
    query: listRunsQuery,
    responses: { 200: { description: 'Runs', schema: z.array(Run) } },
  },
  getIssueActiveRun: {
    method: 'get',
    path: '/issues/:issueId/active-run',
    auth: ['board', 'run'],
    summary: 'The run holding the issue\'s execution lock, or null',
    responses: { 200: { description: 'The live run, or null', schema: Run.nullable() } },
  },
});

export function issuesRouter(ctx: ApiContext): Router {
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadIssue(actor: Actor, issueId: string) {
    return requireVisible(actor, await findIssue(ctx.prisma, issueRef(issueId)), 'Issue');
  }

  /**
   * A wake caused by an issue change. The change stands even when the agent cannot be woken
   * (paused, over budget): that refusal is logged, not returned.
   */
  async function wakeForIssue(
    actor: Actor,
    wake: { agentId: string; issueId: string; reason: string; source: string; wakeSource: 'assignment' | 'automation'; payload: Record<string, unknown> },
  ) {
    const who = attribution(actor);
    try {
      await ctx.runControl.wake(wake.agentId, {
        source: wake.wakeSource,
        triggerDetail: 'system',
        reason: wake.reason,
        payload: { issueId: wake.issueId, ...wake.payload },
        requestedByActorType: who.actorType,
        requestedByActorId: who.actorId,
        contextSnapshot: { issueId: wake.issueId, taskId: wake.issueId, wakeReason: wake.reason, source: wake.source },
      });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      ctx.logger.info('issue wake refused', { issueId: wake.issueId, agentId: wake.agentId, reason: error.message });
    }
  }

  /** R18 `issue_assigned`: the assignee of a just-assigned open issue is woken. */
  async function wakeAssignee(actor: Actor, issue: { id: string; assigneeAgentId: string | null; status: string }, mutation: 'create' | 'update') {
    if (!issue.assigneeAgentId || ['backlog', 'done', 'cancelled'].includes(issue.status)) return;
    await wakeForIssue(actor, {
      agentId: issue.assigneeAgentId,
      issueId: issue.id,
      reason: 'issue_assigned',
      source: `issue.${mutation}`,
      wakeSource: 'assignment',
      payload: { mutation },
    });
  }

  async function detailOf(issueId: string) {
    return issueDetail(ctx.prisma, await ctx.prisma.issue.findUniqueOrThrow({ where: { id: issueId } }));
  }

  return routerFor(ctx, issueRoutes, {
    createIssue: async ({ req, res, actor, params, headers, body }) =>
      // Issue 14 §3: a repeated `Idempotency-Key` answers the first creation.
      idempotent(
        { prisma: ctx.prisma, res, actor, key: headers['idempotency-key'], companyId: params.companyId, spec: issueRoutes.routes.createIssue, target: { companyId: params.companyId }, body: req.body },
        async () => {
          const who = attribution(actor);
          const issue = await createIssue(ctx.prisma, { companyId: params.companyId, fields: body, createdByAgentId: who.agentId, createdByUserId: who.userId });
          await wakeAssignee(actor, issue, 'create');
          return detailOf(issue.id);
        },
      ),

    listIssues: async ({ params, query }) => {
      const issues = await ctx.prisma.issue.findMany({
        where: {
          companyId: params.companyId,
          ...(query.status ? { status: { in: query.status } } : {}),
          ...(query.assigneeAgentId ? { assigneeAgentId: query.assigneeAgentId } : {}),
          ...(query.assigneeUserId ? { assigneeUserId: query.assigneeUserId } : {}),
          ...(query.parentId ? { parentId: query.parentId } : {}),
          ...(query.originKind ? { originKind: query.originKind } : {}),
          ...(query.originId ? { originId: query.originId } : {}),
          ...(query.q
            ? { OR: [{ title: { contains: query.q, mode: 'insensitive' } }, { identifier: { contains: query.q, mode: 'insensitive' } }, { description: { contains: query.q, mode: 'insensitive' } }] }
            : {}),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
        skip: query.offset,
      });
      const activeRuns = await activeRunsFor(ctx.prisma, issues);
      return issues.map((issue) => ({ ...issue, activeRun: issue.executionRunId ? (activeRuns.get(issue.executionRunId) ?? null) : null }));
    },

    getIssue: async ({ actor, params }) => issueDetail(ctx.prisma, await loadIssue(actor, params.issueId)),

    updateIssue: async ({ actor, params, body }) => {
      const issue = await loadIssue(actor, params.issueId);
      const who = attribution(actor);
      const result = await updateIssue(ctx.prisma, issue.id, body, { agentId: who.agentId, userId: who.userId });
      if (actor.kind === 'run') await reportRunActivity(ctx.prisma, actor.runId);
      if (actor.kind === 'run' && result.before.status !== result.after.status) {
        // Progress a person would call progress (issue 14 §1, V2; and R43's liveness evidence).
        await logActivity(ctx.prisma, {
          companyId: issue.companyId,
          actorType: 'agent',
          actorId: actor.agentId,
          action: STATUS_CHANGED_ACTION,
          entityType: 'issue',
          entityId: issue.id,
          agentId: actor.agentId,
          runId: actor.runId,
          details: { from: result.before.status, to: result.after.status },
        });
      }
      if (result.assigneeChanged) await wakeAssignee(actor, result.after, 'update');
      if (result.becameDone) {
        // R75: finishing a blocker wakes the dependents it was holding back.
        for (const dependent of await dependentsReadyAfter(ctx.prisma, issue.id)) {
          await wakeForIssue(actor, {
            agentId: dependent.assignee_agent_id,
            issueId: dependent.id,
            reason: 'issue_blockers_resolved',
            source: 'issue.blockers_resolved',
            wakeSource: 'automation',
            payload: { resolvedBlockerIssueId: issue.id },
          });
        }
      }
      return detailOf(issue.id);
    },

    listComments: async ({ actor, params, query }) => {
      const issue = await loadIssue(actor, params.issueId);
      return ctx.prisma.issueComment.findMany({
        where: { issueId: issue.id },
        orderBy: [{ createdAt: query.order }, { id: query.order }],
        take: query.limit,
      });
    },

    createComment: async ({ req, res, actor, params, headers, body }) => {
      const issue = await loadIssue(actor, params.issueId);
      // Issue 14 §3: a retried run re-posting its predecessor's comment with the same key writes nothing.
      return idempotent(
        {
          prisma: ctx.prisma,
          res,
          actor,
          key: headers['idempotency-key'],
          companyId: issue.companyId,
          spec: issueRoutes.routes.createComment,
          target: { issueId: issue.id },
          body: req.body,
          // A run repeating its predecessor's comment: that comment counts as this run's (R8 step 5, R73).
          onReplay: async (status, stored) => {
            const commentId = (JSON.parse(stored) as { id?: unknown }).id;
            if (actor.kind === 'run' && status === 201 && typeof commentId === 'string') await recordReplayedRunComment(ctx.prisma, actor.runId, commentId);
          },
        },
        async () => {
          const who = attribution(actor);
          const comment = await ctx.prisma.$transaction(async (tx) => {
            const created = await tx.issueComment.create({
              data: {
                companyId: issue.companyId,
                issueId: issue.id,
                authorAgentId: who.agentId,
                authorUserId: who.userId,
                createdByRunId: who.runId,
                body: redactSecrets(body.body),
              },
            });
            await tx.issue.update({ where: { id: issue.id }, data: { updatedAt: new Date() } });
            return created;
          });
          if (actor.kind === 'run') await reportRunActivity(ctx.prisma, actor.runId);
          return comment;
        },
      );
    },

    getIssueDocument: async ({ actor, params }) => {
      const issue = await loadIssue(actor, params.issueId);
      const link = await ctx.prisma.issueDocument.findUnique({
        where: { companyId_issueId_key: { companyId: issue.companyId, issueId: issue.id, key: params.key } },
        include: { document: true },
      });
      if (!link) throw new NotFoundError('Document');
      return { ...link.document, key: params.key, issueId: issue.id, body: link.document.latestBody, revisionNumber: link.document.latestRevisionNumber };
    },

    putIssueDocument: async ({ req, res, actor, params, headers, body }) => {
      const issue = await loadIssue(actor, params.issueId);
      // Issue 14 §3: a repeated key adds no revision.
      return idempotent(
        { prisma: ctx.prisma, res, actor, key: headers['idempotency-key'], companyId: issue.companyId, spec: issueRoutes.routes.putIssueDocument, target: { issueId: issue.id, key: params.key }, body: req.body },
        async () => {
          const document = await putIssueDocument(ctx.prisma, { issue, key: params.key, ...body, ...attribution(actor) });
          if (actor.kind === 'run') await reportRunActivity(ctx.prisma, actor.runId);
          return document;
        },
      );
    },

    listIssueRuns: async ({ actor, params, query }) => {
      const issue = await loadIssue(actor, params.issueId);
      const runs = await ctx.prisma.heartbeatRun.findMany({
        where: { companyId: issue.companyId, contextSnapshot: { path: ['issueId'], equals: issue.id } },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
      });
      return runs.map((run) => runView(run, temporalView));
    },

    getIssueActiveRun: async ({ actor, params }) => {
      const issue = await loadIssue(actor, params.issueId);
      const run = issue.executionRunId
        ? await ctx.prisma.heartbeatRun.findFirst({ where: { id: issue.executionRunId, status: { in: [...LIVE_RUN_STATUSES] } } })
        : null;
      return run ? runView(run, temporalView) : null;
    },
  });
}
