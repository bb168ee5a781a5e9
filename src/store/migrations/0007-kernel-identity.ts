import type { Migration } from './migration.js';

/**
 * A result's identity includes the code that produced it: `kernel_hash` is the hash of the plan's
 * programs (kernels/specialize.ts planHash), so a measurement made by a kernel that has changed
 * since is not reused (before, results were reused by variant name alone). Rows from before carry
 * none and are never reused.
 *
 * `verification`: a variant's check against its reference, once per (machine, layer, variant,
 * kernel code), kept apart from the timing so that a run interrupted while timing does not check
 * again what it had checked.
 */
export const m0007: Migration = {
  version: 7,
  name: 'kernel-identity',
  up: `
ALTER TABLE measurement ADD COLUMN kernel_hash TEXT;
CREATE TABLE verification (
  machine_id INTEGER NOT NULL REFERENCES machine(id),
  layer_key TEXT NOT NULL,
  variant TEXT NOT NULL,
  kernel_hash TEXT NOT NULL,
  max_abs_error REAL,
  reference TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (machine_id, layer_key, variant, kernel_hash)
);
`,
};
