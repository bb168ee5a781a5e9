import type { Migration } from './migration.js';

/**
 * `inference` rounds follow the model's order, a repeated layer once per occurrence, and a sample
 * is the mean of a layer's passes in one round (bench/harness.ts Timer.timeRounds); before, each
 * layer ran once a round and a sample was the median of its passes in a submission, which left out
 * what a long inference holds every time (sparse-dnn-1024: −5.3 % against −0.5 %). Rows timed so
 * are kept for history as `legacy-inference` and never reused.
 */
export const m0006: Migration = {
  version: 6,
  name: 'inference-rounds',
  up: `UPDATE measurement SET conditions = 'legacy-inference' WHERE conditions = 'inference';`,
};
