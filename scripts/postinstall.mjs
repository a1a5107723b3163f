// Generates the Prisma client after `npm install`.
// `prisma generate` would try to download the schema engine, which it does not need for the
// `prisma-client` generator; pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file stops that.
// Never set that variable for `prisma migrate`: Vigil applies its migrations itself (src/store/migrate.ts).
// The Prisma CLI is a devDependency: a production install (`npm ci --omit=dev`) has none, and
// needs none, since `npm run build` compiled the generated client into dist/. `npx` would then
// fetch whatever version is newest instead, so that case is skipped here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('prisma/schema.prisma')) process.exit(0);
if (!existsSync('node_modules/prisma/package.json')) {
  process.stdout.write('postinstall: no Prisma CLI (devDependencies omitted), client not generated: dist/ already holds it\n');
  process.exit(0);
}
const result = spawnSync('npx', ['--no-install', 'prisma', 'generate'], {
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
});
process.exit(result.status ?? 1);
