import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: at most two test files at once.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.mts'],
  },
});
