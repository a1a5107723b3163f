import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Worker tests start Temporal workers (native threads): one process per test file.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/support/globalSetup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['default', './test/support/summaryReporter.ts'],
  },
});
