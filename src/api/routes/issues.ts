/** Issues, their comments and documents, and the runs linked to them. */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, companyFromPath, attribution, requireVisible, type Actor } from '../auth.ts';
import { commaListOf, issueRefParam, parseBody, parseQuery, queryInt, uuid } from '../validation.ts';
import { runView } from '../serializers.ts';
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
import { reportRunActivity } from '../../store/runActivity.ts';
import { putIssueDocument } from '../../store/documents.ts';
import { redactSecrets } from '../../domain/redaction.ts';

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

const documentKey = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must match [a-z0-9][a-z0-9_-]*').max(64);
const putDocumentSchema = z.strictObject({
  title: z.string().max(500).nullish(),
  format: z.enum(['markdown', 'text', 'json']).optional(),
  body: z.string().max(1_000_000),
});

const listRunsQuery = z.strictObject({ limit: queryInt(1, 1000).default(100) });

export function issuesRouter(ctx: ApiContext): Router {
  const router = Router();
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadIssue(req: Request, actor: Actor) {
    return requireVisible(actor, await findIssue(ctx.prisma, issueRefParam(req)), 'Issue');
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

  router.post('/companies/:companyId/issues', async (req, res) => {
    const { actor, companyId } = await companyFromPath(req, ctx.prisma, 'board', 'run');
    const body = parseBody(createIssueSchema, req);
    const who = attribution(actor);
    const issue = await createIssue(ctx.prisma, { companyId, fields: body, createdByAgentId: who.agentId, createdByUserId: who.userId });
    await wakeAssignee(actor, issue, 'create');
    res.status(201).json(await issueDetail(ctx.prisma, (await ctx.prisma.issue.findUniqueOrThrow({ where: { id: issue.id } }))));
  });

  router.get('/companies/:companyId/issues', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board', 'run');
    const query = parseQuery(listIssuesQuery, req);
    const issues = await ctx.prisma.issue.findMany({
      where: {
        companyId,
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
    res.json(issues.map((issue) => ({ ...issue, activeRun: issue.executionRunId ? (activeRuns.get(issue.executionRunId) ?? null) : null })));
  });

  router.get('/issues/:issueId', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    res.json(await issueDetail(ctx.prisma, await loadIssue(req, actor)));
  });

  router.patch('/issues/:issueId', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const body = parseBody(updateIssueSchema, req);
    const who = attribution(actor);
    const result = await updateIssue(ctx.prisma, issue.id, body, { agentId: who.agentId, userId: who.userId });
    if (actor.kind === 'run') await reportRunActivity(ctx.prisma, actor.runId);
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
    res.json(await issueDetail(ctx.prisma, await ctx.prisma.issue.findUniqueOrThrow({ where: { id: issue.id } })));
  });

  router.get('/issues/:issueId/comments', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const query = parseQuery(listCommentsQuery, req);
    res.json(
      await ctx.prisma.issueComment.findMany({
        where: { issueId: issue.id },
        orderBy: [{ createdAt: query.order }, { id: query.order }],
        take: query.limit,
      }),
    );
  });

  router.post('/issues/:issueId/comments', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const body = parseBody(createCommentSchema, req);
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
    res.status(201).json(comment);
  });

  router.get('/issues/:issueId/documents/:key', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const key = documentKey.parse(req.params.key);
    const link = await ctx.prisma.issueDocument.findUnique({
      where: { companyId_issueId_key: { companyId: issue.companyId, issueId: issue.id, key } },
      include: { document: true },
    });
    if (!link) throw new NotFoundError('Document');
    res.json({ ...link.document, key, issueId: issue.id, body: link.document.latestBody, revisionNumber: link.document.latestRevisionNumber });
  });

  router.put('/issues/:issueId/documents/:key', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const key = documentKey.parse(req.params.key);
    const body = parseBody(putDocumentSchema, req);
    const document = await putIssueDocument(ctx.prisma, { issue, key, ...body, ...attribution(actor) });
    if (actor.kind === 'run') await reportRunActivity(ctx.prisma, actor.runId);
    res.json(document);
  });

  router.get('/issues/:issueId/runs', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const query = parseQuery(listRunsQuery, req);
    const runs = await ctx.prisma.heartbeatRun.findMany({
      where: { companyId: issue.companyId, contextSnapshot: { path: ['issueId'], equals: issue.id } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit,
    });
    res.json(runs.map((run) => runView(run, temporalView)));
  });

  router.get('/issues/:issueId/active-run', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const issue = await loadIssue(req, actor);
    const run = issue.executionRunId
      ? await ctx.prisma.heartbeatRun.findFirst({ where: { id: issue.executionRunId, status: { in: ['queued', 'running', 'scheduled_retry'] } } })
      : null;
    res.json(run ? runView(run, temporalView) : null);
  });

  return router;
}
