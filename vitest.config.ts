import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // lavapipe compiles each pipeline on first use (0.3–2 s each, single-threaded in LLVM); with a
    // cold Mesa shader cache a kernel test file takes minutes, so per-test limits are generous.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Vitest's default on a 2-core machine is one worker, which leaves a core idle while a
    // pipeline compiles; two workers overlap the compiles.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    minWorkers: 1,
    setupFiles: ['test/support/stall-guard.ts'],
  },
});
