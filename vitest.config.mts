import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.mts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.mts'],
          // One engine is shared by all files: running them one at a time keeps timings honest
          // and the 2-core CI box from starving health checks.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
