/**
 * The recovery sweeps on demand (API.md): the same activity code the recovery sweeper's passes
 * run (`activities/recoveryPass.ts`), called here directly rather than through the sweeper, so a
 * board's company-scoped reconcile answers even while the sweeper is paused or busy, and does
 * not fill the operator's sweeper history (docs/decisions.md). Runs the sweep created are
 * started as their own workflows before the answer is sent.
 */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { int4 } from '../validation.ts';
import { ReapResult, ReconcileResult } from '../openapi/responseSchemas.ts';
import { reapOrphanedRuns } from '../../activities/reaper.ts';
import { reconcileStrandedAssignedIssues } from '../../activities/strandedSweep.ts';

const reapSchema = z.strictObject({
  /** R16: skip runs updated within this many ms; default 0 (every orphan counts). */
  staleThresholdMs: int4(0, 86_400_000).optional().meta({ description: 'Skip runs updated within this many ms (default 0)' }),
  /** Only this company's runs; default: every company. */
  companyId: z.uuid().optional().meta({ description: "Only this company's runs (default: every company)" }),
});

const reconcileSchema = z.strictObject({});

export const recoveryRoutes = defineRoutes('Recovery', {
  reconcileStrandedWork: {
    method: 'post',
    path: '/companies/:companyId/recovery/reconcile',
    auth: ['board'],
    summary: "Run the stranded-work sweep over this company's issues now",
    description: 'The same code as the periodic sweep; runs it queued are started before the answer.',
    body: reconcileSchema,
    responses: { 200: { description: "The sweep's counters", schema: ReconcileResult } },
  },
  reapOrphanedRuns: {
    method: 'post',
    path: '/recovery/reap',
    auth: ['admin'],
    summary: 'Run the orphan reaper now',
    body: reapSchema,
    responses: { 200: { description: 'Reaped runs', schema: ReapResult } },
  },
});

export function recoveryRouter(ctx: ApiContext): Router {
  return routerFor(ctx, recoveryRoutes, {
    reconcileStrandedWork: async ({ params }) => {
      const outcome = await reconcileStrandedAssignedIssues(ctx.activityDeps, { companyId: params.companyId });
      await ctx.runControl.startWorkflows(outcome.followUpRunIds);
      return outcome.result;
    },

    reapOrphanedRuns: async ({ body }) => {
      const result = await reapOrphanedRuns(ctx.activityDeps, { staleThresholdMs: body.staleThresholdMs ?? 0, companyId: body.companyId });
      await ctx.runControl.startWorkflows(result.followUpRunIds);
      return { reaped: result.reaped, runIds: result.runIds };
    },
  });
}
