/**
 * Ends every test run with one plain line, `Tests: N passed, N failed, N skipped`, which CI's
 * log reader understands whatever the test runner. Counted as each test reports, not read back
 * at the end (results from the forks may still be arriving then).
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  private counts = { passed: 0, failed: 0, skipped: 0 };

  onTestRunStart() {
    this.counts = { passed: 0, failed: 0, skipped: 0 };
  }

  onTestCaseResult(testCase: TestCase) {
    const state = testCase.result().state;
    if (state === 'passed') this.counts.passed++;
    else if (state === 'failed') this.counts.failed++;
    else this.counts.skipped++;
  }

  onTestModuleEnd(testModule: TestModule) {
    // A file that failed outside any test (import error, failing hook) is a failure too.
    if (testModule.state() === 'failed' && testModule.errors().length > 0) this.counts.failed++;
  }

  onTestRunEnd() {
    const { passed, failed, skipped } = this.counts;
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
