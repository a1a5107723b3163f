/** Issue tree holds (R66): pause an issue's subtree, and release the pause. */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { attribution, requireVisible } from '../auth.ts';
import { issueRef } from '../validation.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { TreeHold } from '../openapi/responseSchemas.ts';
import { NotFoundError } from '../../errors.ts';
import { findIssue } from '../../store/issues.ts';
import { createPauseHold, releaseHold } from '../../store/treeHolds.ts';

// Only `pause` gates work (R66); the other modes of the data model have no behaviour here yet.
const createHoldSchema = z.strictObject({ mode: z.literal('pause'), reason: z.string().trim().min(1).max(2000).optional() });
const releaseHoldSchema = z.strictObject({ reason: z.string().trim().min(1).max(2000).optional() });
const listHoldsQuery = z.strictObject({ status: z.enum(['active', 'released']).optional() });

export const treeHoldRoutes = defineRoutes('Tree holds', {
  createTreeHold: {
    method: 'post',
    path: '/issues/:issueId/tree-holds',
    auth: ['board'],
    summary: 'Pause an issue and all its descendants',
    description: 'Wakes for held issues are skipped and logged (R67) until the hold is released.',
    body: createHoldSchema,
    responses: { 201: { description: 'The hold with a snapshot of its members', schema: TreeHold } },
  },
  // Not in API.md's table (DATA-MODEL §4.1 has it): a board needs it to find the hold it releases.
  listTreeHolds: {
    method: 'get',
    path: '/issues/:issueId/tree-holds',
    auth: ['board'],
    summary: 'Holds rooted at this issue, newest first',
    query: listHoldsQuery,
    responses: { 200: { description: 'Holds with their member snapshots', schema: z.array(TreeHold) } },
  },
  releaseTreeHold: {
    method: 'post',
    path: '/issues/:issueId/tree-holds/:holdId/release',
    auth: ['board'],
    summary: 'Release a hold rooted at this issue; releasing it again returns it unchanged',
    body: releaseHoldSchema,
    responses: { 200: { description: 'The hold, status `released`', schema: TreeHold } },
  },
});

export function treeHoldsRouter(ctx: ApiContext): Router {
  return routerFor(ctx, treeHoldRoutes, {
    createTreeHold: async ({ actor, params, body }) => {
      const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRef(params.issueId)), 'Issue');
      const who = attribution(actor);
      const hold = await createPauseHold(ctx.prisma, {
        companyId: issue.companyId,
        rootIssueId: issue.id,
        reason: body.reason ?? null,
        createdByActorType: who.actorType,
        createdByUserId: who.userId,
        createdByAgentId: who.agentId,
        createdByRunId: who.runId,
      });
      return ctx.prisma.issueTreeHold.findUniqueOrThrow({ where: { id: hold.id }, include: { members: { orderBy: { depth: 'asc' } } } });
    },

    listTreeHolds: async ({ actor, params, query }) => {
      const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRef(params.issueId)), 'Issue');
      return ctx.prisma.issueTreeHold.findMany({
        where: { rootIssueId: issue.id, ...(query.status ? { status: query.status } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        include: { members: { orderBy: { depth: 'asc' } } },
      });
    },

    releaseTreeHold: async ({ actor, params, body }) => {
      const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRef(params.issueId)), 'Issue');
      const hold = await ctx.prisma.issueTreeHold.findUnique({ where: { id: params.holdId } });
      if (!hold || hold.rootIssueId !== issue.id) throw new NotFoundError('Tree hold');
      const who = attribution(actor);
      return releaseHold(ctx.prisma, hold.id, { reason: body.reason ?? null, actorType: who.actorType, userId: who.userId, agentId: who.agentId, runId: who.runId });
    },
  });
}
