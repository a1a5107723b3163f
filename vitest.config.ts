import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The one test file that runs for minutes in a single worker. */
const LONGEST_FILE = 'test/api/schemaFuzzing.test.ts';

/**
 * Vitest's own order (longest cached duration first, else largest file), except that the fuzzing
 * test always starts first: on a fresh clone there is no cached duration, and started last it
 * would add its two minutes to the end of the run instead of running beside the other files.
 */
class FuzzingFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isLongest = (file: TestSpecification) => file.moduleId.endsWith(LONGEST_FILE);
    return [...sorted.filter(isLongest), ...sorted.filter((file) => !isLongest(file))];
  }
}

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
    sequence: { sequencer: FuzzingFirst },
  },
});
