/**
 * Who is calling: the instance admin, a company's board key, or a run's agent (API.md
 * "Authentication"). `authenticate` resolves the bearer token once per request; the `require*`
 * helpers enforce company isolation: a path naming another company is 403, an entity of another
 * company is 404 (its existence is not revealed).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { PrismaClient } from '../store/db.ts';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.ts';
import { hashKey, RUN_TOKEN_GRACE_MS, safeEqual, verifyRunToken } from '../auth/tokens.ts';
import { uuidParam } from './validation.ts';

export type Actor =
  | { kind: 'admin' }
  | { kind: 'board'; companyId: string; keyId: string }
  | { kind: 'run'; companyId: string; agentId: string; runId: string };

export type ActorKind = Actor['kind'];

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
  }
}

export function actorOf(req: Request): Actor {
  if (!req.actor) throw new UnauthorizedError();
  return req.actor;
}

export function authenticate(deps: { prisma: PrismaClient; adminToken: string; runTokenSecret: string }): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const header = req.header('authorization') ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new UnauthorizedError('Missing bearer token (Authorization: Bearer <token>)');
      const token = match[1];
      if (safeEqual(token, deps.adminToken)) {
        req.actor = { kind: 'admin' };
        return next();
      }
      if (token.startsWith('vgb_')) {
        const key = await deps.prisma.boardApiKey.findUnique({ where: { keyHash: hashKey(token) } });
        if (!key || key.revokedAt) throw new UnauthorizedError('Unknown or revoked board key');
        req.actor = { kind: 'board', companyId: key.companyId, keyId: key.id };
        return next();
      }
      const runId = verifyRunToken(deps.runTokenSecret, token);
      if (runId) {
        const run = await deps.prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { companyId: true, agentId: true, finishedAt: true } });
        if (!run) throw new UnauthorizedError('Run token for an unknown run');
        if (run.finishedAt && Date.now() - run.finishedAt.getTime() > RUN_TOKEN_GRACE_MS) {
          throw new UnauthorizedError('Run token expired: its run has finished');
        }
        req.actor = { kind: 'run', companyId: run.companyId, agentId: run.agentId, runId };
        return next();
      }
      throw new UnauthorizedError('Invalid credentials');
    } catch (error) {
      next(error);
    }
  };
}

/** The route is open only to these kinds of callers. */
export function allow(req: Request, ...kinds: ActorKind[]): Actor {
  const actor = actorOf(req);
  if (actor.kind !== 'admin' && !kinds.includes(actor.kind)) {
    throw new ForbiddenError(`This route is not open to ${actor.kind === 'run' ? 'run tokens' : 'board keys'}`);
  }
  return actor;
}

/** A path that names a company: other companies' keys get 403. */
export function requireCompanyAccess(actor: Actor, companyId: string): void {
  if (actor.kind !== 'admin' && actor.companyId !== companyId) {
    throw new ForbiddenError('These credentials belong to another company');
  }
}

/**
 * A route under `/companies/:companyId`: who may call it, and which company it is. Board keys and
 * run tokens name their own company (which exists); for the admin, the company must exist.
 */
export async function companyFromPath(req: Request, prisma: PrismaClient, ...kinds: ActorKind[]): Promise<{ actor: Actor; companyId: string }> {
  const actor = allow(req, ...kinds);
  const companyId = uuidParam(req, 'companyId');
  requireCompanyAccess(actor, companyId);
  if (actor.kind === 'admin' && !(await prisma.company.findUnique({ where: { id: companyId }, select: { id: true } }))) {
    throw new NotFoundError('Company');
  }
  return { actor, companyId };
}

/** An entity found by id: if it belongs to another company, answer as if it did not exist. */
export function requireVisible<T extends { companyId: string }>(actor: Actor, entity: T | null, what: string): T {
  if (!entity || (actor.kind !== 'admin' && actor.companyId !== entity.companyId)) throw new NotFoundError(what);
  return entity;
}

/** Attribution fields for rows a caller creates. */
export function attribution(actor: Actor): { agentId: string | null; runId: string | null; userId: string | null; actorType: 'user' | 'agent'; actorId: string } {
  if (actor.kind === 'run') return { agentId: actor.agentId, runId: actor.runId, userId: null, actorType: 'agent', actorId: actor.agentId };
  const userId = actor.kind === 'board' ? `board-key:${actor.keyId}` : 'admin';
  return { agentId: null, runId: null, userId, actorType: 'user', actorId: userId };
}
