/**
 * Where Vigil's own files are at run time, found from this module's location, never from the
 * working directory. The code runs either as TypeScript from `src/` (tsx: `npm start`, vitest) or
 * compiled into `dist/` (`npm run build`, `npm run start:prod`). Both trees sit directly in the
 * app's root, beside package.json, node_modules, prisma/migrations and temporal-dev.yml, so one
 * `../` from the code tree reaches them either way.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const THIS_MODULE = fileURLToPath(import.meta.url);

/** `src/` under tsx, `dist/` (or the build's out dir) once compiled. */
export const CODE_ROOT = path.resolve(path.dirname(THIS_MODULE), '..');

/** The folder holding package.json, prisma/ and temporal-dev.yml. */
export const APP_ROOT = path.dirname(CODE_ROOT);

/** `.ts` when run through tsx or vitest, `.js` once compiled. */
const CODE_EXTENSION = path.extname(THIS_MODULE);

/** True when running the compiled tree (no TypeScript tooling). */
export const RUNS_COMPILED = CODE_EXTENSION === '.js';

/** A file of the app, e.g. `appFile('prisma', 'migrations')`. */
export function appFile(...segments: string[]): string {
  return path.join(APP_ROOT, ...segments);
}

/** A module of the code tree by its path without extension, e.g. `codeModule('workflows/index')`. */
export function codeModule(pathWithoutExtension: string): string {
  return path.join(CODE_ROOT, `${pathWithoutExtension}${CODE_EXTENSION}`);
}
