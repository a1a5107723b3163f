/**
 * The three kinds of credentials API.md defines, and how each is minted and checked.
 * - admin token `vga_…`: from VIGIL_ADMIN_TOKEN or generated once into the data directory;
 * - board keys `vgb_…`: shown once, stored as a sha256 hash;
 * - run tokens `vgr_<runId>.<hmac>`: stateless, signed with the instance secret, scoped to one run.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../store/db.ts';

export function generateAdminToken(): string {
  return `vga_${randomBytes(24).toString('base64url')}`;
}

export function generateBoardKey(): string {
  return `vgb_${randomBytes(24).toString('base64url')}`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const RUN_TOKEN_SECRET_KEY = 'run_token_secret';

/**
 * The secret that signs run tokens. Every API process and worker must agree on it, so unless the
 * environment fixes it, it is generated once and kept in `instance_settings`.
 */
export async function loadRunTokenSecret(prisma: PrismaClient, configured: string | null): Promise<string> {
  if (configured) return configured;
  const candidate = randomBytes(32).toString('base64url');
  // The first process to start wins; the others read its secret. (Prisma's upsert is a read then
  // a write, which two processes starting together can both take for "absent".)
  await prisma.$executeRaw`
    INSERT INTO instance_settings (key, value) VALUES (${RUN_TOKEN_SECRET_KEY}, ${candidate})
    ON CONFLICT (key) DO NOTHING`;
  const stored = await prisma.instanceSetting.findUniqueOrThrow({ where: { key: RUN_TOKEN_SECRET_KEY } });
  return stored.value;
}

function sign(secret: string, runId: string): string {
  return createHmac('sha256', secret).update(`run:${runId}`).digest('base64url');
}

export function mintRunToken(secret: string, runId: string): string {
  return `vgr_${runId}.${sign(secret, runId)}`;
}

/** Returns the run id a token speaks for, or null when the token is not a valid run token. */
export function verifyRunToken(secret: string, token: string): string | null {
  const match = /^vgr_([0-9a-f-]{36})\.([A-Za-z0-9_-]+)$/.exec(token);
  if (!match) return null;
  return safeEqual(sign(secret, match[1]), match[2]) ? match[1] : null;
}

/** How long a run token keeps working after its run became terminal (API.md: "a short grace"). */
export const RUN_TOKEN_GRACE_MS = 5 * 60_000;
