import { defineConfig } from 'vitest/config';

// The fault and bad-input suite (`npm run test:faults`): crashes, hostile files, failing
// servers and disks. Kept apart from the unit suite because it is slower; .ci/run runs both.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
