import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when src/ is newer: the CLI tests and shard workers run the compiled code.
    globalSetup: ['test/global-build.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at once: vitest's default on 2 cores is one, and many files wait on child
    // processes (tshark, the CLI, softflowd) with their own core idle.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
