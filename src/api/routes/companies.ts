/** Companies and their board keys (admin only). */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { BoardKeyCreated, Company } from '../openapi/responseSchemas.ts';
import { ConflictError } from '../../errors.ts';
import { generateBoardKey, hashKey } from '../../auth/tokens.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';
import { LOOP_BREAKER_BOUNDS } from '../../domain/loopBreaker.ts';

const createCompanySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  issuePrefix: z.string().regex(/^[A-Z][A-Z0-9]{1,9}$/, 'must be 2–10 upper-case letters or digits, starting with a letter'),
  description: z.string().max(10_000).nullish(),
});

// Issue 14 V1: the loop breaker's settings a board may change for its company.
const updateCompanySchema = z
  .strictObject({
    loopBreakerMaxRuns: z.number().int().min(LOOP_BREAKER_BOUNDS.maxRuns.min).max(LOOP_BREAKER_BOUNDS.maxRuns.max)
      .meta({ description: 'Loop breaker: this many runs of one agent on one issue without progress within the window trip it (default 6)' }),
    loopBreakerWindowSec: z.number().int().min(LOOP_BREAKER_BOUNDS.windowSec.min).max(LOOP_BREAKER_BOUNDS.windowSec.max)
      .meta({ description: 'Loop breaker: the window, in seconds (default 3600)' }),
  })
  .partial()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field to change' });

const createBoardKeySchema = z.strictObject({ name: z.string().trim().min(1).max(200).optional() });

export const companyRoutes = defineRoutes('Companies', {
  createCompany: {
    method: 'post',
    path: '/companies',
    auth: ['admin'],
    summary: 'Create a company',
    body: createCompanySchema,
    responses: { 201: { description: 'The company', schema: Company } },
    errors: { 409: 'The issue prefix is taken (`duplicate_issue_prefix`)' },
  },
  listCompanies: {
    method: 'get',
    path: '/companies',
    auth: ['admin'],
    summary: 'List companies, oldest first',
    responses: { 200: { description: 'Every company', schema: z.array(Company) } },
  },
  updateCompany: {
    method: 'patch',
    path: '/companies/:companyId',
    auth: ['admin', 'board'],
    summary: "Change a company's settings (the loop breaker's run count and window)",
    body: updateCompanySchema,
    responses: { 200: { description: 'The company', schema: Company } },
  },
  createBoardKey: {
    method: 'post',
    path: '/companies/:companyId/board-keys',
    auth: ['admin'],
    summary: 'Create a board key for a company',
    description: 'The key is returned once; only its hash is stored. A board key acts on its own company only.',
    body: createBoardKeySchema,
    responses: { 201: { description: 'The key, shown this once', schema: BoardKeyCreated } },
  },
});

export function companiesRouter(ctx: ApiContext): Router {
  return routerFor(ctx, companyRoutes, {
    createCompany: async ({ body }) => {
      try {
        return await ctx.prisma.company.create({
          data: { name: body.name, issuePrefix: body.issuePrefix, description: body.description ?? null },
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError(`Issue prefix ${body.issuePrefix} is already taken`, { field: 'issuePrefix' }, 'duplicate_issue_prefix');
        throw error;
      }
    },

    listCompanies: () => ctx.prisma.company.findMany({ orderBy: { createdAt: 'asc' } }),

    updateCompany: ({ params, body }) => ctx.prisma.company.update({ where: { id: params.companyId }, data: body }),

    createBoardKey: async ({ params, body }) => {
      const key = generateBoardKey();
      const row = await ctx.prisma.boardApiKey.create({
        data: { companyId: params.companyId, name: body.name ?? null, keyPrefix: key.slice(0, 10), keyHash: hashKey(key) },
      });
      // The key itself is shown once, here; only its hash is stored.
      return { id: row.id, key, name: row.name, companyId: params.companyId };
    },
  });
}
