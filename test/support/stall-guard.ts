/**
 * Vitest setup file: reports any test that blocks its worker's event loop for long.
 * Vitest's worker↔runner RPC has a fixed 60 s timeout; a worker that does not yield for that long
 * (a synchronous child process, a long synchronous loop) makes the whole run exit 1 with
 * "Timeout calling onTaskUpdate" although every test passed, and the message names no test.
 * This names it, well before the limit.
 */
import { afterEach, beforeEach, expect } from 'vitest';

const TICK_MS = 500;
const REPORT_MS = 15_000;
let last = Date.now();
let worst = 0;
const timer = setInterval(() => {
  const now = Date.now();
  worst = Math.max(worst, now - last - TICK_MS);
  last = now;
}, TICK_MS);
timer.unref();

beforeEach(() => {
  last = Date.now();
  worst = 0;
});

afterEach(() => {
  const blocked = Math.max(worst, Date.now() - last - TICK_MS);
  if (blocked > REPORT_MS) {
    process.stderr.write(`stall-guard: "${expect.getState().currentTestName}" blocked its worker's event loop for ${(blocked / 1000).toFixed(1)} s (vitest's worker RPC gives up at 60 s): yield or make it asynchronous\n`);
  }
});
