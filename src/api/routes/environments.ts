/** Environments and the leases runs hold on them (R27). */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { requireVisible } from '../auth.ts';
import { jsonObject } from '../validation.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { Environment, EnvironmentLease } from '../openapi/responseSchemas.ts';
import { ConflictError } from '../../errors.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';
import { redactJson } from '../../domain/redaction.ts';

const createEnvironmentSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  driver: z.literal('local'),
  description: z.string().max(2000).optional(),
  config: jsonObject.optional(),
});

export const environmentRoutes = defineRoutes('Environments', {
  createEnvironment: {
    method: 'post',
    path: '/companies/:companyId/environments',
    auth: ['board'],
    summary: "Create the company's local environment (runs also create it on demand)",
    body: createEnvironmentSchema,
    responses: { 201: { description: 'The environment (config redacted)', schema: Environment } },
    errors: { 409: 'The company already has a local environment (`duplicate_local_environment`)' },
  },
  listRunLeases: {
    method: 'get',
    path: '/heartbeat-runs/:runId/leases',
    auth: ['board'],
    summary: "The run's environment leases, most recently used first",
    responses: { 200: { description: 'Leases', schema: z.array(EnvironmentLease) } },
  },
});

export function environmentsRouter(ctx: ApiContext): Router {
  return routerFor(ctx, environmentRoutes, {
    createEnvironment: async ({ params, body }) => {
      try {
        const environment = await ctx.prisma.environment.create({ data: { companyId: params.companyId, ...body, config: (body.config ?? {}) as object } });
        return { ...environment, config: redactJson(environment.config) };
      } catch (error) {
        // One local environment per company (a partial unique index).
        if (isUniqueViolation(error)) throw new ConflictError('This company already has a local environment', {}, 'duplicate_local_environment');
        throw error;
      }
    },

    listRunLeases: async ({ actor, params }) => {
      const run = requireVisible(actor, await ctx.prisma.heartbeatRun.findUnique({ where: { id: params.runId } }), 'Run');
      return ctx.prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id }, orderBy: { lastUsedAt: 'desc' } });
    },
  });
}
