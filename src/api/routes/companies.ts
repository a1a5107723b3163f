/** Companies and their board keys (admin only). */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow } from '../auth.ts';
import { parseBody, uuidParam } from '../validation.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { generateBoardKey, hashKey } from '../../auth/tokens.ts';
import { isUniqueViolation } from '../../store/prismaErrors.ts';

const createCompanySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  issuePrefix: z.string().regex(/^[A-Z][A-Z0-9]{1,9}$/, 'must be 2–10 upper-case letters or digits, starting with a letter'),
  description: z.string().max(10_000).nullish(),
});

const createBoardKeySchema = z.strictObject({ name: z.string().trim().min(1).max(200).optional() });

export function companiesRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/companies', async (req, res) => {
    allow(req, 'admin');
    const body = parseBody(createCompanySchema, req);
    try {
      const company = await ctx.prisma.company.create({
        data: { name: body.name, issuePrefix: body.issuePrefix, description: body.description ?? null },
      });
      res.status(201).json(company);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`Issue prefix ${body.issuePrefix} is already taken`, { field: 'issuePrefix' }, 'duplicate_issue_prefix');
      throw error;
    }
  });

  router.get('/companies', async (req, res) => {
    allow(req, 'admin');
    res.json(await ctx.prisma.company.findMany({ orderBy: { createdAt: 'asc' } }));
  });

  router.post('/companies/:companyId/board-keys', async (req, res) => {
    allow(req, 'admin');
    const companyId = uuidParam(req, 'companyId');
    const body = parseBody(createBoardKeySchema, req);
    if (!(await ctx.prisma.company.findUnique({ where: { id: companyId } }))) throw new NotFoundError('Company');
    const key = generateBoardKey();
    const row = await ctx.prisma.boardApiKey.create({
      data: { companyId, name: body.name ?? null, keyPrefix: key.slice(0, 10), keyHash: hashKey(key) },
    });
    // The key itself is shown once, here; only its hash is stored.
    res.status(201).json({ id: row.id, key, name: row.name, companyId });
  });

  return router;
}
