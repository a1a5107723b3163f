/**
 * The recovery sweeps on demand (API.md): the same activity code the Temporal Schedules run,
 * so an operator or a test gets the sweep's result synchronously. Runs the sweep created are
 * started as their own workflows before the answer is sent.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, companyFromPath } from '../auth.ts';
import { parseBody } from '../validation.ts';
import { reapOrphanedRuns } from '../../activities/reaper.ts';
import { reconcileStrandedAssignedIssues } from '../../activities/strandedSweep.ts';

const reapSchema = z.strictObject({
  /** R16: skip runs updated within this many ms; default 0 (every orphan counts). */
  staleThresholdMs: z.number().int().min(0).max(86_400_000).optional(),
  /** Only this company's runs; default: every company. */
  companyId: z.uuid().optional(),
});

const reconcileSchema = z.strictObject({});

export function recoveryRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/recovery/reap', async (req, res) => {
    allow(req);
    const body = parseBody(reapSchema, req);
    const result = await reapOrphanedRuns(ctx.activityDeps, { staleThresholdMs: body.staleThresholdMs ?? 0, companyId: body.companyId });
    await ctx.runControl.startWorkflows(result.followUpRunIds);
    res.json({ reaped: result.reaped, runIds: result.runIds });
  });

  router.post('/companies/:companyId/recovery/reconcile', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board');
    parseBody(reconcileSchema, req);
    const outcome = await reconcileStrandedAssignedIssues(ctx.activityDeps, { companyId });
    await ctx.runControl.startWorkflows(outcome.followUpRunIds);
    res.json(outcome.result);
  });

  return router;
}
