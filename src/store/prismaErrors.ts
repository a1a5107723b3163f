/** Recognising the database errors that rules rely on (unique violations, serialization conflicts). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; meta?: Record<string, unknown>; message?: string; cause?: unknown };
  const hit = e?.code === 'P2002' || e?.code === '23505' || /23505|unique constraint/i.test(String(e?.message ?? ''));
  if (!hit) return false;
  if (!constraint) return true;
  return JSON.stringify(e.meta ?? {}).includes(constraint) || String(e.message ?? '').includes(constraint);
}
