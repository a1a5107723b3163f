/**
 * The Express application: JSON only, 1 MiB body limit, bearer auth on everything but health,
 * one router per resource, and one error handler.
 */
import express, { type Express } from 'express';
import type { ApiContext } from './context.ts';
import { authenticate } from './auth.ts';
import { errorHandler, notFoundRoute } from './errorHandler.ts';
import { jsonReplacer } from './serializers.ts';
import { healthRouter } from './routes/health.ts';
import { openApiRouter } from './routes/openapi.ts';
import { companiesRouter } from './routes/companies.ts';
import { agentsRouter } from './routes/agents.ts';
import { agentSessionsRouter } from './routes/agentSessions.ts';
import { issuesRouter } from './routes/issues.ts';
import { runsRouter } from './routes/runs.ts';
import { treeHoldsRouter } from './routes/treeHolds.ts';
import { budgetsRouter } from './routes/budgets.ts';
import { environmentsRouter } from './routes/environments.ts';
import { recoveryRouter } from './routes/recovery.ts';
import { eventsRouter } from './routes/events.ts';
import { loopBreakerRouter } from './routes/loopBreaker.ts';
import { recoveryDecisionRouter } from './routes/recoveryDecisions.ts';
import { metricsEndpoint, recordApiLatency } from '../metrics/httpMetrics.ts';
import { MAX_REQUEST_BODY_BYTES } from './requestLimits.ts';

export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json replacer', jsonReplacer);
  app.use(recordApiLatency(ctx.metrics));
  // Unauthenticated, outside /api: instance-wide numbers only (src/metrics/httpMetrics.ts).
  app.get('/metrics', metricsEndpoint(ctx.metrics, ctx.temporalMetricsUrl));
  app.use(express.json({ limit: MAX_REQUEST_BODY_BYTES }));

  const api = express.Router();
  api.use(healthRouter(ctx));
  api.use(openApiRouter(ctx));
  api.use(authenticate(ctx));
  api.use(companiesRouter(ctx));
  api.use(agentsRouter(ctx));
  api.use(agentSessionsRouter(ctx));
  api.use(issuesRouter(ctx));
  api.use(runsRouter(ctx));
  api.use(treeHoldsRouter(ctx));
  api.use(budgetsRouter(ctx));
  api.use(environmentsRouter(ctx));
  api.use(recoveryRouter(ctx));
  api.use(eventsRouter(ctx));
  api.use(loopBreakerRouter(ctx));
  api.use(recoveryDecisionRouter(ctx));
  app.use('/api', api);
  app.use(notFoundRoute());
  app.use(errorHandler(ctx.logger));
  return app;
}
