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

export function countStatements(applicationName: string) {
  let count = 0;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client & { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
    if (this.connectionParameters?.application_name === applicationName) count += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
    restore() {
      pg.Client.prototype.query = original;
    },
  };
}
