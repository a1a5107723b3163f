/** `GET /api/health`: open to anyone, says whether the database and Temporal answer. */
import type { Router } from 'express';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { Health } from '../openapi/responseSchemas.ts';

export const healthRoutes = defineRoutes('Health', {
  getHealth: {
    method: 'get',
    path: '/health',
    auth: 'anyone',
    summary: 'Whether the database and Temporal answer',
    responses: {
      200: { description: 'Both answer', schema: Health },
      503: { description: 'One of them does not (`status: "degraded"`)', schema: Health },
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
      res.status(db && temporal ? 200 : 503).json({ status: db && temporal ? 'ok' : 'degraded', db: db ? 'ok' : 'down', temporal: temporal ? 'ok' : 'down' });
    },
  });
}
