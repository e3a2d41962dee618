import { defineConfig } from 'vitest/config';

// One runner for the whole monorepo: each package is a project, and test/ holds
// the cross-package integration and end-to-end suites.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'rnn', root: 'packages/rnn', include: ['test/**/*.test.ts'], testTimeout: 60_000 } },
      { test: { name: 'protocol', root: 'packages/protocol', include: ['test/**/*.test.ts'] } },
      { test: { name: 'store', root: 'packages/store', include: ['test/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'api', root: 'apps/api', include: ['test/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'client', root: 'packages/client', include: ['test/**/*.test.ts'] } },
      { test: { name: 'dashboard', root: 'apps/dashboard', include: ['test/**/*.test.ts'] } },
      { test: { name: 'worker', root: 'apps/worker', include: ['test/**/*.test.ts'], testTimeout: 60_000 } },
      { test: { name: 'e2e', root: 'test', include: ['**/*.test.ts'], testTimeout: 180_000, hookTimeout: 60_000 } },
    ],
  },
});
