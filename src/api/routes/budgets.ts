/** Budget policies and cost events: what the R74 invocation block is computed from, and the spend boards read. */
import type { Router } from 'express';
import { z } from 'zod';
import { enforceBudgetHardStop } from '../../activities/budgetHardStop.ts';
import type { ApiContext } from '../context.ts';
import { int4, queryInt, uuid } from '../validation.ts';
import { INT4_MAX } from '../requestLimits.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { idempotent, idempotencyHeaders, IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS } from '../idempotency.ts';
import { BudgetPolicy, CostEvent } from '../openapi/responseSchemas.ts';
import { costEventView } from '../serializers.ts';
import { ConflictError, UnprocessableError } from '../../errors.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';

const createPolicySchema = z.strictObject({
  scopeType: z.enum(['company', 'agent']),
  scopeId: uuid.meta({ description: 'This company (scope `company`) or one of its agents (scope `agent`)' }),
  metric: z.literal('billed_cents').default('billed_cents'),
  windowKind: z.enum(['calendar_month_utc', 'lifetime']),
  amount: int4(0, 2_000_000_000).meta({ description: 'Limit in cents; 0 disables the hard stop' }),
  hardStopEnabled: z.boolean().default(true),
  warnPercent: int4(0, 100).optional(),
});

const createCostEventSchema = z.strictObject({
  agentId: uuid,
  issueId: uuid.optional(),
  provider: z.string().trim().min(1).max(200),
  model: z.string().trim().min(1).max(200),
  costCents: int4(0, 2_000_000_000),
  occurredAt: z.iso.datetime({ offset: true }).optional().meta({ description: 'Default: now' }),
  inputTokens: int4(0, INT4_MAX).optional(),
  outputTokens: int4(0, INT4_MAX).optional(),
  cachedInputTokens: int4(0, INT4_MAX).optional(),
});

const listCostEventsQuery = z.strictObject({
  agentId: uuid.optional(),
  issueId: uuid.optional(),
  runId: uuid.optional().meta({ description: 'Events attributed to this run (`heartbeatRunId`)' }),
  limit: queryInt(1, 500).default(100),
});

export const budgetRoutes = defineRoutes('Budgets and costs', {
  createBudgetPolicy: {
    method: 'post',
    path: '/companies/:companyId/budget-policies',
    auth: ['board'],
    summary: 'Create a budget policy (R74: an active hard stop blocks new runs once spend reaches the amount)',
    body: createPolicySchema,
    responses: { 201: { description: 'The policy', schema: BudgetPolicy } },
    errors: {
      409: 'A policy for this scope, metric and window exists (`duplicate_policy`)',
      422: 'The scope is not this company or one of its agents (`unknown_scope`)',
    },
  },
  createCostEvent: {
    method: 'post',
    path: '/companies/:companyId/cost-events',
    auth: ['board', 'run'],
    summary: 'Record spend; a run token attributes it to its run',
    headers: idempotencyHeaders,
    body: createCostEventSchema,
    responses: { 201: { description: 'The cost event', schema: CostEvent } },
    errors: { 409: IDEMPOTENCY_IN_PROGRESS, 422: `The agent or issue is not of this company; or ${IDEMPOTENCY_CONFLICT}` },
  },
  listCostEvents: {
    method: 'get',
    path: '/companies/:companyId/cost-events',
    auth: ['board', 'run'],
    summary: "The company's cost events, newest first: tokens, cents, exact dollars, whether estimated",
    query: listCostEventsQuery,
    responses: { 200: { description: 'Cost events', schema: z.array(CostEvent) } },
  },
});

export function budgetsRouter(ctx: ApiContext): Router {
  return routerFor(ctx, budgetRoutes, {
    createBudgetPolicy: async ({ params, body }) => {
      const { companyId } = params;
      const scopeExists =
        body.scopeType === 'company'
          ? body.scopeId === companyId
          : (await ctx.prisma.agent.count({ where: { id: body.scopeId, companyId } })) > 0;
      if (!scopeExists) {
        throw new UnprocessableError(`scopeId must be ${body.scopeType === 'company' ? 'this company' : 'an agent of this company'}`, { field: 'scopeId' }, 'unknown_scope');
      }
      try {
        return await ctx.prisma.budgetPolicy.create({ data: { companyId, ...body } });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError('A policy for this scope, metric and window already exists', {}, 'duplicate_policy');
        throw error;
      }
    },

    createCostEvent: async ({ req, res, actor, params, headers, body }) =>
      // Issue 14 §3: a repeated `Idempotency-Key` records the spend once.
      idempotent(
        { prisma: ctx.prisma, res, actor, key: headers['idempotency-key'], companyId: params.companyId, spec: budgetRoutes.routes.createCostEvent, target: { companyId: params.companyId }, body: req.body },
        async () => {
          const { companyId } = params;
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
          // R15: spend that reaches a hard limit stops the scope's work in flight (not the caller's own run).
          await enforceBudgetHardStop(ctx.activityDeps, { companyId, agentId: body.agentId, exceptRunId: actor.kind === 'run' ? actor.runId : undefined });
          return costEventView(event);
        },
      ),

    listCostEvents: async ({ params, query }) => {
      const events = await ctx.prisma.costEvent.findMany({
        where: {
          companyId: params.companyId,
          ...(query.agentId ? { agentId: query.agentId } : {}),
          ...(query.issueId ? { issueId: query.issueId } : {}),
          ...(query.runId ? { heartbeatRunId: query.runId } : {}),
        },
        orderBy: [{ occurredAt: 'desc' }, { createdAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
      });
      return events.map(costEventView);
    },
  });
}
