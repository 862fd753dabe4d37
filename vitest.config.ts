import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Native addons load under the default forks pool; conformance runs are CPU-bound.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
