import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One `graphql` for everybody: Vite would pick its ESM build for our files while Node hands
    // the CommonJS build to graphql-scalars, graphql-yoga & co. ("another module or realm").
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
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
