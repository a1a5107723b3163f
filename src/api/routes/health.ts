/**
 * Liveness and readiness, open to anyone, served by every Vigil process (a `worker` serves only
 * these and `/metrics`, src/api/workerStatusApp.ts).
 *
 * - `GET /api/health` (API.md): whether this Vigil serves: `ok` (200) only once the process has
 *   finished starting and while the database and Temporal answer. The API listens before the
 *   worker starts (agents get its URL), so it answers `starting` (503) until then, and
 *   `stopping` (503) once a stop was asked for; `db` and `temporal` are probed in every phase.
 * - `GET /api/ready`: whether to send this process work: started, database and Temporal answer,
 *   and, where the process has a worker, that worker is polling (`running`; a `draining` worker is
 *   finishing its agents after SIGTERM and takes no new ones).
 */
import type { Router } from 'express';
import type { PrismaClient } from '../../store/db.ts';
import type { LifecyclePhase } from '../../platform/startupInterrupt.ts';
import type { VigilRole } from '../../config.ts';
import type { WorkerState } from '../../metrics/vigilMetrics.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { Health, Readiness } from '../openapi/responseSchemas.ts';

/** What the two probes read; a subset of ApiContext, so the worker's status port can serve them. */
export interface HealthContext {
  prisma: PrismaClient;
  role: VigilRole;
  /** `GET /api/health`'s probe of Temporal. */
  checkTemporal(): Promise<boolean>;
  /** Whether this process has finished starting (`ok` only when `ready`). */
  lifecyclePhase(): LifecyclePhase;
  /** This process's worker, or null when it has none (role `api`). */
  workerState(): WorkerState | null;
}

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
  getReady: {
    method: 'get',
    path: '/ready',
    auth: 'anyone',
    summary: 'Whether this process should be sent work: started, database and Temporal answer, and its worker (if any) is polling',
    responses: {
      200: { description: 'Ready (`ready: true`)', schema: Readiness },
      503: { description: 'Not ready; the fields say which part is not', schema: Readiness },
    },
  },
});

async function probe(ctx: HealthContext) {
  const [db, temporal] = await Promise.all([
    ctx.prisma.$queryRaw`SELECT 1`.then(() => true, () => false),
    ctx.checkTemporal().catch(() => false),
  ]);
  return { db, temporal, phase: ctx.lifecyclePhase() };
}

export function healthRouter(ctx: HealthContext): Router {
  return routerFor(ctx, healthRoutes, {
    getHealth: async ({ res }) => {
      const { db, temporal, phase } = await probe(ctx);
      const status = phase !== 'ready' ? phase : db && temporal ? 'ok' : 'degraded';
      res.status(status === 'ok' ? 200 : 503).json({ status, db: db ? 'ok' : 'down', temporal: temporal ? 'ok' : 'down' });
    },
    getReady: async ({ res }) => {
      const { db, temporal, phase } = await probe(ctx);
      const worker = ctx.workerState();
      const ready = phase === 'ready' && db && temporal && (worker === null || worker === 'running');
      res.status(ready ? 200 : 503).json({
        ready,
        role: ctx.role,
        phase,
        db: db ? 'ok' : 'down',
        temporal: temporal ? 'ok' : 'down',
        worker: worker ?? 'none',
      });
    },
  });
}
