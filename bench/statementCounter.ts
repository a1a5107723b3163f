/**
 * Counts the SQL statements one Vigil sends, for "statements per run" (issue 12's budget): every
 * `pg` client query of connections whose `application_name` is the one given, in this process.
 * BEGIN and COMMIT count as statements, as they are round trips. Connections of anything else
 * (the benchmark's own poller) are not counted.
 */
import pg from 'pg';

export function withApplicationName(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

/** `keepTexts`: also keep each statement's SQL (first line of it, whitespace folded), to list them. */
export function countStatements(applicationName: string, keepTexts = false) {
  let count = 0;
  let texts: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client & { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
    if (this.connectionParameters?.application_name === applicationName) {
      count += 1;
      if (keepTexts) texts.push(sqlText(args[0]).replace(/\s+/g, ' ').trim().slice(0, 160));
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    get count() {
      return count;
    },
    /** The kept statements since the last `reset`. */
    get texts(): readonly string[] {
      return texts;
    },
    reset() {
      count = 0;
      texts = [];
    },
    restore() {
      pg.Client.prototype.query = original;
    },
  };
}

function sqlText(query: unknown): string {
  if (typeof query === 'string') return query;
  if (query && typeof query === 'object' && 'text' in query) return String((query as { text: unknown }).text);
  return String(query);
}
