import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `integration` (files named *.it.test.ts) gets the
// real Kafka broker and PostgreSQL from test/src/global-setup.ts (env, testcontainers, or the local launcher).
const ignore = ['**/node_modules/**', '**/.feedlog/**', '**/dist/**'];

export default defineConfig({
  test: {
    // the skip guard fails the run on a skipped integration test that is not on its allow-list
    reporters: ['default', './test/src/skip-guard.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          // the two projects differ in workers, so each needs its own group (unit runs first)
          sequence: { groupOrder: 0 },
          include: ['**/*.test.ts'],
          exclude: [...ignore, '**/*.it.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['**/*.it.test.ts'],
          exclude: ignore,
          globalSetup: ['test/src/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          pool: 'forks',
          maxWorkers: 2,
        },
      },
    ],
  },
});
