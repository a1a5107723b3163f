/** `GET /api/health`: open to anyone, says whether the database and Temporal answer. */
import { Router } from 'express';
import type { ApiContext } from '../context.ts';

export function healthRouter(ctx: ApiContext): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const [db, temporal] = await Promise.all([
      ctx.prisma.$queryRaw`SELECT 1`.then(() => true, () => false),
      ctx.checkTemporal().catch(() => false),
    ]);
    res.status(db && temporal ? 200 : 503).json({ status: db && temporal ? 'ok' : 'degraded', db: db ? 'ok' : 'down', temporal: temporal ? 'ok' : 'down' });
  });
  return router;
}
