import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // simd-adam-mpi imports the core by its package name: in this repository that is src/ (as the
  // paths in tsconfig.json say for tsc and tsx).
  resolve: { alias: [{ find: /^simd-adam$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Native addons load under the default forks pool; conformance runs are CPU-bound.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
