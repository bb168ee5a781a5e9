import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // lavapipe compiles each pipeline on first use (0.3–2 s each, single-threaded in LLVM, far more
    // under load); with a cold Mesa shader cache a kernel test file or one `analyze` of a tiny
    // model takes minutes, so per-test limits are generous (the CLI helper's is 10 s shorter).
    testTimeout: 1_200_000,
    hookTimeout: 1_200_000,
    pool: 'forks',
    // Vitest's default on a 2-core machine is one worker, which leaves a core idle while a
    // pipeline compiles; two workers overlap the compiles.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    minWorkers: 1,
    setupFiles: ['test/support/stall-guard.ts', 'test/support/temp-cleanup.ts'],
  },
});
