/**
 * One error type per API failure class. Store and activity code throws these; the API's error
 * middleware (src/api/errorHandler.ts) is the only place that turns them into responses.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, code = 'bad_request') {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'Missing or invalid credentials') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'These credentials may not do that') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, code = 'conflict') {
    super(409, code, message, details);
  }
}
export class UnprocessableError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, code = 'unprocessable') {
    super(422, code, message, details);
  }
}
export class ServiceUnavailableError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, code = 'service_unavailable') {
    super(503, code, message, details);
  }
}
