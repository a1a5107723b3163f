/**
 * The one port a `worker` process serves (VIGIL_ROLE=worker): its liveness and readiness
 * (`/api/health`, `/api/ready`) and its Prometheus metrics (`/metrics`, with the Temporal worker's
 * own). No board routes: those are the API processes' (src/api/app.ts).
 */
import express, { type Express } from 'express';
import { healthRouter, type HealthContext } from './routes/health.ts';
import { errorHandler, notFoundRoute } from './errorHandler.ts';
import { metricsEndpoint } from '../metrics/httpMetrics.ts';
import type { VigilMetrics } from '../metrics/vigilMetrics.ts';
import type { Logger } from '../logger.ts';

export interface WorkerStatusContext extends HealthContext {
  metrics: VigilMetrics;
  temporalMetricsUrl: string | null;
  logger: Logger;
}

export function createWorkerStatusApp(ctx: WorkerStatusContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsEndpoint(ctx.metrics, ctx.temporalMetricsUrl));
  app.use('/api', healthRouter(ctx));
  app.use(notFoundRoute());
  app.use(errorHandler(ctx.logger));
  return app;
}
