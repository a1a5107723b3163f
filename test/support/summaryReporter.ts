/**
 * Ends every test run with one plain line, `Tests: N passed, N failed, N skipped`, which CI's
 * log reader understands whatever the test runner. The line never calls a failed run clean:
 *
 * - a test whose own hook, or a `beforeAll`/`afterAll` of a suite or file around it, failed is
 *   failed, not skipped (vitest reports such tests as skipped);
 * - a file or suite that failed with no test to blame (an import error) counts one failure;
 * - every unhandled error (a crashed fork, a throw from a timer) counts one failure;
 * - and when vitest still ends the run as failed with nothing counted, one failure stands for it,
 *   so "0 failed" always means exit code 0 (test/operators/summaryReporter.test.ts proves it on
 *   fixture suites that fail in each of these ways).
 *
 * Counted once, at the end of the run, from the final state of every module.
 */
import type { Reporter, SerializedError, TestCase, TestModule, TestRunEndReason, TestSuite } from 'vitest/node';

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** Of `failed`: unhandled errors, and failures outside any test. */
  outsideTests: number;
}

/** Its own errors: a failed hook, import or collection (not merely a failed test inside it). */
const hookFailed = (entity: TestSuite | TestModule) => entity.errors().length > 0;

function failedAround(test: TestCase): boolean {
  for (let parent: TestSuite | TestModule = test.parent; ; parent = parent.parent) {
    if (hookFailed(parent)) return true;
    if (parent.type === 'module') return false;
  }
}

/**
 * A suite or module that failed while none of its tests and none of its inner suites did: an
 * import or collection error, or an `afterAll` that failed after its tests passed. The innermost
 * one is counted, once.
 */
function failedOnItsOwn(entity: TestSuite | TestModule, failedTests: ReadonlySet<TestCase>): boolean {
  if (!hookFailed(entity)) return false;
  for (const test of entity.children.allTests()) if (failedTests.has(test)) return false;
  for (const suite of entity.children.allSuites()) if (hookFailed(suite)) return false;
  return true;
}

export function summarizeRun(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): RunSummary {
  const summary: RunSummary = { passed: 0, failed: 0, skipped: 0, outsideTests: 0 };
  const failedTests = new Set<TestCase>();
  for (const module of modules) {
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') summary.passed++;
      else if (state === 'failed' || failedAround(test)) failedTests.add(test);
      else summary.skipped++;
    }
  }
  summary.failed = failedTests.size;
  for (const module of modules) {
    for (const entity of [module, ...module.children.allSuites()]) {
      if (failedOnItsOwn(entity, failedTests)) summary.outsideTests++;
    }
  }
  summary.outsideTests += unhandledErrors.length;
  if (reason !== 'passed' && failedTests.size + summary.outsideTests === 0) summary.outsideTests = 1;
  summary.failed += summary.outsideTests;
  return summary;
}

export function summaryLine({ passed, failed, skipped, outsideTests }: RunSummary): string {
  const note = outsideTests > 0 ? ` (${outsideTests} outside any test: unhandled errors, failed imports or hooks, processes left running, an interrupted run)` : '';
  return `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped${note}`;
}

/**
 * The run's summary, for the global setup's teardown, which runs after the reporter (in the same
 * process, from another module instance): a process the run left behind fails the run there.
 */
const SUMMARY_KEY = Symbol.for('vigil.testRunSummary');

export function reportedSummary(): RunSummary | undefined {
  return (globalThis as Record<symbol, RunSummary | undefined>)[SUMMARY_KEY];
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason) {
    const summary = summarizeRun(modules, unhandledErrors, reason);
    (globalThis as Record<symbol, RunSummary>)[SUMMARY_KEY] = summary;
    process.stdout.write(`\n${summaryLine(summary)}\n`);
  }
}
