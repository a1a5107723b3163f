/**
 * The one place that turns failures into HTTP answers: `{ error, code, ...details }`.
 * A 5xx never carries a stack trace or a secret.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { redactSecrets } from '../domain/redaction.ts';
import { MAX_REQUEST_BODY_BYTES } from './requestLimits.ts';

function zodDetails(error: ZodError) {
  return error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message }));
}

export function notFoundRoute(): RequestHandler {
  return (req, res) => {
    res.status(404).json({ error: `No route for ${req.method} ${req.path}`, code: 'route_not_found' });
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (error instanceof ZodError) {
      const details = zodDetails(error);
      res.status(400).json({
        error: `Invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
        code: 'invalid_request',
        details,
      });
      return;
    }
    if (error instanceof AppError) {
      res.status(error.status).json({ error: redactSecrets(error.message), code: error.code, ...(error.details ?? {}) });
      return;
    }
    // body-parser failures carry a `type` and an HTTP status.
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: `Request body is larger than ${MAX_REQUEST_BODY_BYTES / 1024 / 1024} MiB`, code: 'payload_too_large' });
      return;
    }
    if (type === 'entity.parse.failed') {
      res.status(400).json({ error: 'Request body is not valid JSON', code: 'invalid_json' });
      return;
    }
    if (typeof (error as { status?: number }).status === 'number' && (error as { status: number }).status < 500) {
      const status = (error as { status: number }).status;
      res.status(status).json({ error: 'Malformed request', code: 'bad_request' });
      return;
    }
    logger.error('request failed', { method: req.method, path: req.path, error: error instanceof Error ? error.message : String(error) });
    res.status(500).json({ error: 'Internal error', code: 'internal_error' });
  };
}
