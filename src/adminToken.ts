/**
 * The instance admin token: VIGIL_ADMIN_TOKEN when set, else generated once and kept (mode 0600)
 * in the data directory so every later start reuses it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateAdminToken } from './auth/tokens.ts';

export async function resolveAdminToken(dataDir: string, configured: string | null): Promise<{ token: string; generated: boolean }> {
  if (configured) return { token: configured, generated: false };
  const file = path.join(dataDir, 'admin-token');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored) return { token: stored, generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = generateAdminToken();
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, token + '\n', { mode: 0o600, flag: 'wx' }).catch(async (error) => {
    // Another process won the race: use its token.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  return { token: (await readFile(file, 'utf8')).trim(), generated: true };
}
