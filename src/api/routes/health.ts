/**
 * `GET /api/health`: open to anyone, says whether this Vigil serves: `ok` (200) only once the
 * process has finished starting and while the database and Temporal answer. The API listens
 * before the worker starts (agents get its URL), so it answers `starting` (503) until then, and
 * `stopping` (503) once a stop was asked for; `db` and `temporal` are probed in every phase.
 */
import type { Router } from 'express';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { Health } from '../openapi/responseSchemas.ts';

export const healthRoutes = defineRoutes('Health', {
  getHealth: {
    method: 'get',
    path: '/health',
    auth: 'anyone',
    summary: 'Whether this Vigil has started and its database and Temporal answer',
    responses: {
      200: { description: 'Started, and both answer (`status: "ok"`)', schema: Health },
      503: {
        description: 'Still starting (`status: "starting"`), stopping (`"stopping"`), or one of them does not answer (`"degraded"`)',
        schema: Health,
      },
    },
  },
});

export function healthRouter(ctx: ApiContext): Router {
  return routerFor(ctx, healthRoutes, {
    getHealth: async ({ res }) => {
      const [db, temporal] = await Promise.all([
        ctx.prisma.$queryRaw`SELECT 1`.then(() => true, () => false),
        ctx.checkTemporal().catch(() => false),
      ]);
      const phase = ctx.lifecyclePhase();
      const status = phase !== 'ready' ? phase : db && temporal ? 'ok' : 'degraded';
      res.status(status === 'ok' ? 200 : 503).json({ status, db: db ? 'ok' : 'down', temporal: temporal ? 'ok' : 'down' });
    },
  });
}
