// Generates the Prisma client after `npm install`.
// `prisma generate` would try to download the schema engine, which it does not need for the
// `prisma-client` generator; pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file stops that.
// Never set that variable for `prisma migrate`: Vigil applies its migrations itself (src/store/migrate.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('prisma/schema.prisma')) process.exit(0);
const result = spawnSync('npx', ['prisma', 'generate'], {
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
});
process.exit(result.status ?? 1);
