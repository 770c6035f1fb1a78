import { defineConfig } from 'vitest/config';

// One engine is shared by all integration files: running them one at a time keeps timings honest
// and the 2-core CI box from starving health checks.
const onTheEngine = {
  pool: 'forks' as const,
  poolOptions: { forks: { singleFork: true } },
  testTimeout: 240_000,
  hookTimeout: 240_000,
};

export default defineConfig({
  test: {
    projects: [
      // A few unit files run berth's scripts as child processes: on a loaded 2-core box those take
      // seconds, so the default 5 s would fail a correct test.
      { test: { name: 'unit', include: ['test/unit/**/*.test.mts'], testTimeout: 30_000 } },
      // The Compose flavour comes from BERTH_COMPOSE (scripts/test.sh runs this with v1).
      { test: { name: 'integration', include: ['test/integration/**/*.test.mts'], ...onTheEngine } },
      // Every file whose outcome depends on Compose, again with BERTH_COMPOSE=v2. The rig test
      // (images, registry, Caddy; no Compose) and the report page in chromium (no engine) run once.
      {
        test: {
          name: 'integration-v2',
          include: ['test/integration/**/*.test.mts'],
          exclude: ['test/integration/rig.test.mts', 'test/integration/report-page.test.mts'],
          ...onTheEngine,
        },
      },
    ],
  },
});
