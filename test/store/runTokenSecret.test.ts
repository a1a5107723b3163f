/** The run-token secret is generated once per database, even when many processes start at once. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { createPrismaClient } from '../../src/store/db.ts';
import { loadRunTokenSecret, mintRunToken, verifyRunToken } from '../../src/auth/tokens.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('run token secret', () => {
  it('is the same for ten processes that start together on a fresh database', async () => {
    const database = await createScratchDatabase(inject('databaseUrl'), 'vigil_secret');
    cleanups.push(database.drop);
    await applyMigrations(database.url);
    const clients = Array.from({ length: 10 }, () => createPrismaClient(database.url, 2));
    cleanups.push(() => Promise.all(clients.map((client) => client.$disconnect())));
    const secrets = await Promise.all(clients.map((client) => loadRunTokenSecret(client, null)));
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A token minted by one process verifies in another; a configured secret wins.
    const token = mintRunToken(secrets[0], '8f676c4c-fdd5-4c2e-b90a-796bb2b3a095');
    expect(verifyRunToken(secrets[9], token)).toBe('8f676c4c-fdd5-4c2e-b90a-796bb2b3a095');
    expect(verifyRunToken('another-secret', token)).toBeNull();
    expect(await loadRunTokenSecret(clients[0], 'configured')).toBe('configured');
  });
});
