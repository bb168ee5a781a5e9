import type { Migration } from './migration.js';

/**
 * A measurement's conditions (bench/measure.ts CONDITIONS: `warm`, `cold-weights`, `cold`) become
 * part of its identity: a layer timed with cold weights and the same layer timed warm are two
 * results, and neither replaces the other. Rows from before this version were timed by the older
 * method (short kernels batched in one pass, warm or after a cache flush, unrecorded which): they
 * are kept for history as `legacy` and never reused.
 */
export const m0003: Migration = {
  version: 3,
  name: 'conditions',
  up: `
    ALTER TABLE measurement ADD COLUMN conditions TEXT NOT NULL DEFAULT 'legacy';
    DROP INDEX measurement_lookup;
    CREATE INDEX measurement_lookup ON measurement (machine_id, layer_key, conditions, variant, id);
  `,
};
