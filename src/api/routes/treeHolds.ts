/** Issue tree holds (R66): pause an issue's subtree, and release the pause. */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, attribution, requireVisible } from '../auth.ts';
import { issueRefParam, parseBody, uuidParam } from '../validation.ts';
import { NotFoundError } from '../../errors.ts';
import { findIssue } from '../../store/issues.ts';
import { createPauseHold, releaseHold } from '../../store/treeHolds.ts';

// Only `pause` gates work (R66); the other modes of the data model have no behaviour here yet.
const createHoldSchema = z.strictObject({ mode: z.literal('pause'), reason: z.string().trim().min(1).max(2000).optional() });
const releaseHoldSchema = z.strictObject({ reason: z.string().trim().min(1).max(2000).optional() });

export function treeHoldsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/issues/:issueId/tree-holds', async (req, res) => {
    const actor = allow(req, 'board');
    const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRefParam(req)), 'Issue');
    const body = parseBody(createHoldSchema, req);
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
    res.status(201).json(await ctx.prisma.issueTreeHold.findUniqueOrThrow({ where: { id: hold.id }, include: { members: { orderBy: { depth: 'asc' } } } }));
  });

  router.post('/issues/:issueId/tree-holds/:holdId/release', async (req, res) => {
    const actor = allow(req, 'board');
    const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRefParam(req)), 'Issue');
    const holdId = uuidParam(req, 'holdId');
    const body = parseBody(releaseHoldSchema, req);
    const hold = await ctx.prisma.issueTreeHold.findUnique({ where: { id: holdId } });
    if (!hold || hold.rootIssueId !== issue.id) throw new NotFoundError('Tree hold');
    const who = attribution(actor);
    res.json(await releaseHold(ctx.prisma, holdId, { reason: body.reason ?? null, actorType: who.actorType, userId: who.userId, agentId: who.agentId, runId: who.runId }));
  });

  return router;
}
