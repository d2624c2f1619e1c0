import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files spawn real subprocesses and servers; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 3,
    reporters: ['default'],
  },
});
