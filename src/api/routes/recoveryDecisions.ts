/** Issue 14 §2 (V8): why recovery did what it did, per issue and per run, newest first. */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { requireVisible } from '../auth.ts';
import { issueRef, queryInt } from '../validation.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { RecoveryDecision } from '../openapi/responseSchemas.ts';
import { findIssue } from '../../store/issues.ts';
import { listRecoveryDecisions } from '../../store/recoveryDecisions.ts';

const listQuery = z.strictObject({
  limit: queryInt(1, 1000).default(100),
});

const LIST_DESCRIPTION =
  'Each decision recovery took — retry, scheduled retry, quota wait, continuation, comment follow-up, dispatch, escalation, block in place, or none (with why) — once, with the rule that decided, the evidence it used and what it created. Recovery comments end with `- Recovery decision: `<id>``, naming one of these.';

export const recoveryDecisionRoutes = defineRoutes('Recovery decisions', {
  listIssueRecoveryDecisions: {
    method: 'get',
    path: '/issues/:issueId/recovery-decisions',
    auth: ['board'],
    summary: "The recovery decisions taken for an issue, newest first",
    description: LIST_DESCRIPTION,
    query: listQuery,
    responses: { 200: { description: 'Decisions, newest first (evidence redacted)', schema: z.array(RecoveryDecision) } },
  },
  listRunRecoveryDecisions: {
    method: 'get',
    path: '/heartbeat-runs/:runId/recovery-decisions',
    auth: ['board'],
    summary: 'The recovery decisions taken after a run, newest first',
    description: `${LIST_DESCRIPTION} A decision belongs to the run it follows (the ended run, or the issue's latest run for a sweep).`,
    query: listQuery,
    responses: { 200: { description: 'Decisions, newest first (evidence redacted)', schema: z.array(RecoveryDecision) } },
  },
});

export function recoveryDecisionRouter(ctx: ApiContext): Router {
  return routerFor(ctx, recoveryDecisionRoutes, {
    listIssueRecoveryDecisions: async ({ actor, params, query }) => {
      const issue = requireVisible(actor, await findIssue(ctx.prisma, issueRef(params.issueId)), 'Issue');
      return listRecoveryDecisions(ctx.prisma, { companyId: issue.companyId, issueId: issue.id }, query.limit);
    },
    listRunRecoveryDecisions: async ({ actor, params, query }) => {
      const run = requireVisible(actor, await ctx.prisma.heartbeatRun.findUnique({ where: { id: params.runId } }), 'Run');
      return listRecoveryDecisions(ctx.prisma, { companyId: run.companyId, runId: run.id }, query.limit);
    },
  });
}
