/** Environments and the leases runs hold on them (R27). */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, companyFromPath, requireVisible } from '../auth.ts';
import { jsonObject, parseBody, uuidParam } from '../validation.ts';
import { ConflictError } from '../../errors.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';
import { redactJson } from '../../domain/redaction.ts';

const createEnvironmentSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  driver: z.literal('local'),
  description: z.string().max(2000).optional(),
  config: jsonObject.optional(),
});

export function environmentsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/companies/:companyId/environments', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board');
    const body = parseBody(createEnvironmentSchema, req);
    try {
      const environment = await ctx.prisma.environment.create({ data: { companyId, ...body, config: (body.config ?? {}) as object } });
      res.status(201).json({ ...environment, config: redactJson(environment.config) });
    } catch (error) {
      // One local environment per company (a partial unique index).
      if (isUniqueViolation(error)) throw new ConflictError('This company already has a local environment', {}, 'duplicate_local_environment');
      throw error;
    }
  });

  router.get('/heartbeat-runs/:runId/leases', async (req, res) => {
    const actor = allow(req, 'board');
    const run = requireVisible(actor, await ctx.prisma.heartbeatRun.findUnique({ where: { id: uuidParam(req, 'runId') } }), 'Run');
    res.json(await ctx.prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id }, orderBy: { lastUsedAt: 'desc' } }));
  });

  return router;
}
