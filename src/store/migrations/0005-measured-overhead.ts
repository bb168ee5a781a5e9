import type { Migration } from './index.js';

/**
 * A measurement's own pass overhead (harness.ts OverheadProbe): timed in rounds, a layer's samples
 * carry the overhead of the moments they were taken, which analyze subtracts instead of the
 * machine's last probe. Older rows and rows timed one plan at a time have none (NULL: the probe
 * applies).
 */
export const m0005: Migration = {
  version: 5,
  name: 'measured-overhead',
  up: 'ALTER TABLE measurement ADD COLUMN pass_overhead_ms REAL;',
};
