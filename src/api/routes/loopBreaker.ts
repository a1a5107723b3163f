/** Issue 14 V4: a board resets an issue's loop breaker. */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { attribution, requireVisible } from '../auth.ts';
import { issueRef, uuid } from '../validation.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { NotFoundError } from '../../errors.ts';
import { findIssue } from '../../store/issues.ts';
import { resetLoopBreakers } from '../../store/loopBreaker.ts';

const resetSchema = z.strictObject({
  agentId: uuid.optional().meta({ description: "Reset only this agent's breaker (and restart its count even if it never tripped); default every agent's on the issue" }),
});

const LoopBreakerReset = z
  .object({
    issueId: z.uuid(),
    reset: z.array(
      z.object({
        agentId: z.uuid(),
        wasTripped: z.boolean().meta({ description: 'The breaker was tripped (automatic wakes skipped as `loop_detected`) until this reset' }),
        resetAt: z.iso.datetime(),
      }),
    ),
  })
  .meta({ description: 'The breakers reset: runs that finished before `resetAt` no longer count' });

export const loopBreakerRoutes = defineRoutes('Loop breaker', {
  resetLoopBreaker: {
    method: 'post',
    path: '/issues/:issueId/loop-breaker/reset',
    auth: ['board'],
    summary: "Reset the issue's loop breaker: automatic wakes of its agents run again",
    description:
      'Issue 14: an agent whose last runs on an issue all ended without progress (a comment, a document revision or a status change) has its automatic wakes skipped as `loop_detected`. A reset makes those runs not count; the agent\'s next progress does too.',
    body: resetSchema,
    responses: { 200: { description: 'The breakers reset', schema: LoopBreakerReset } },
  },
});

export function loopBreakerRouter(ctx: ApiContext): Router {
  return routerFor(ctx, loopBreakerRoutes, {
    resetLoopBreaker: async ({ actor, params, body }) => {
      const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRef(params.issueId)), 'Issue');
      // An agent of another company is answered as if it did not exist.
      if (body.agentId && !(await ctx.prisma.agent.count({ where: { id: body.agentId, companyId: issue.companyId } }))) throw new NotFoundError('Agent');
      const reset = await resetLoopBreakers(ctx.prisma, { companyId: issue.companyId, issueId: issue.id, agentId: body.agentId ?? null, actorId: attribution(actor).actorId });
      return { issueId: issue.id, reset: reset.map((row) => ({ ...row, resetAt: row.resetAt.toISOString() })) };
    },
  });
}
