// Prints the CI summary line from vitest's JSON report and exits non-zero on any failure.
// Usage: node scripts/test-summary.mjs <vitest-json> [failed steps]
import { existsSync, readFileSync } from 'node:fs';

const [file, failedSteps = ''] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
if (file && existsSync(file)) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A test file that failed to load has no test results of its own: count it as a failure.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed++;
  }
}
if (failedSteps) console.log(`failed steps: ${failedSteps}`);
if (failedSteps && failed === 0) failed = 1;
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || failedSteps ? 1 : 0);
