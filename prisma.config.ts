// Configuration of the Prisma 7 CLI (`prisma generate`, and `migrate status` / `studio` where the
// schema engine is available). Vigil itself applies migrations with src/store/migrate.ts.
import { defineConfig } from 'prisma/config';
import { loadConfig } from './src/config.ts';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  // Only CLI commands that touch a database need it; `prisma generate` runs without one.
  datasource: { url: loadConfig().databaseUrl ?? undefined },
});
