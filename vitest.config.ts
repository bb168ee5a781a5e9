import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // lavapipe compiles each pipeline on first use (0.3–2 s each); with a cold Mesa shader cache a
    // kernel test file takes minutes, so per-test limits are generous.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    setupFiles: ['test/support/stall-guard.ts'],
  },
});
