/**
 * The API's side of the metrics: request latency by route pattern, and `GET /metrics` itself.
 *
 * `/metrics` is served without authentication, like most exporters, on the API's host and port
 * but outside `/api`: its labels carry no company id, run id, raw path or secret, so it shows only
 * instance-wide operational numbers. Keep `HOST` on a private interface (the default is
 * 127.0.0.1) or filter `/metrics` at the proxy if those numbers must stay private too.
 */
import type { Request, RequestHandler } from 'express';
import type { VigilMetrics } from './vigilMetrics.ts';
import { renderMetrics } from './temporalScrape.ts';

/**
 * The matched route's pattern (`/api/heartbeat-runs/:runId/cancel`), never the raw path. A route
 * that failed through the error handler has had `baseUrl` restored by then: every router is
 * mounted on `/api`, so the prefix is taken from the original URL.
 */
function routePattern(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (!route || typeof route.path !== 'string') return 'unmatched';
  const base = req.baseUrl || (req.originalUrl.startsWith('/api/') ? '/api' : '');
  return `${base}${route.path}`;
}

export function recordApiLatency(metrics: VigilMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // 'finish' = the response was fully sent. A live-event stream ends by its board going away,
    // which does not finish it, so streams are not counted as latencies.
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.apiRequest(req.method, routePattern(req), res.statusCode, seconds);
    });
    next();
  };
}

export function metricsEndpoint(metrics: VigilMetrics, temporalMetricsUrl: string | null): RequestHandler {
  return async (_req, res) => {
    const body = await renderMetrics(metrics, temporalMetricsUrl);
    res.type(metrics.registry.contentType).send(body);
  };
}
