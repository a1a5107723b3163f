/** Budget policies and cost events: what the R74 invocation block is computed from. */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { companyFromPath } from '../auth.ts';
import { parseBody, uuid } from '../validation.ts';
import { ConflictError, UnprocessableError } from '../../errors.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';

const createPolicySchema = z.strictObject({
  scopeType: z.enum(['company', 'agent']),
  scopeId: uuid,
  metric: z.literal('billed_cents').default('billed_cents'),
  windowKind: z.enum(['calendar_month_utc', 'lifetime']),
  amount: z.number().int().min(0).max(2_000_000_000),
  hardStopEnabled: z.boolean().default(true),
  warnPercent: z.number().int().min(0).max(100).optional(),
});

const createCostEventSchema = z.strictObject({
  agentId: uuid,
  issueId: uuid.optional(),
  provider: z.string().trim().min(1).max(200),
  model: z.string().trim().min(1).max(200),
  costCents: z.number().int().min(0).max(2_000_000_000),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  inputTokens: z.number().int().min(0).optional(),
  outputTokens: z.number().int().min(0).optional(),
  cachedInputTokens: z.number().int().min(0).optional(),
});

export function budgetsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/companies/:companyId/budget-policies', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board');
    const body = parseBody(createPolicySchema, req);
    const scopeExists =
      body.scopeType === 'company'
        ? body.scopeId === companyId
        : (await ctx.prisma.agent.count({ where: { id: body.scopeId, companyId } })) > 0;
    if (!scopeExists) {
      throw new UnprocessableError(`scopeId must be ${body.scopeType === 'company' ? 'this company' : 'an agent of this company'}`, { field: 'scopeId' }, 'unknown_scope');
    }
    try {
      const policy = await ctx.prisma.budgetPolicy.create({ data: { companyId, ...body } });
      res.status(201).json(policy);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('A policy for this scope, metric and window already exists', {}, 'duplicate_policy');
      throw error;
    }
  });

  router.post('/companies/:companyId/cost-events', async (req, res) => {
    const { actor, companyId } = await companyFromPath(req, ctx.prisma, 'board', 'run');
    const body = parseBody(createCostEventSchema, req);
    if ((await ctx.prisma.agent.count({ where: { id: body.agentId, companyId } })) === 0) {
      throw new UnprocessableError('agentId must be an agent of this company', { field: 'agentId' }, 'unknown_agent');
    }
    if (body.issueId && (await ctx.prisma.issue.count({ where: { id: body.issueId, companyId } })) === 0) {
      throw new UnprocessableError('issueId must be an issue of this company', { field: 'issueId' }, 'unknown_issue');
    }
    const event = await ctx.prisma.costEvent.create({
      data: {
        companyId,
        ...body,
        occurredAt: body.occurredAt ? new Date(body.occurredAt) : new Date(),
        heartbeatRunId: actor.kind === 'run' ? actor.runId : null,
      },
    });
    res.status(201).json(event);
  });

  return router;
}
