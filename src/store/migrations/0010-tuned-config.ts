import type { Migration } from './migration.js';

/**
 * Autotuning (bench/measure.ts): a variant's tuned result is stored beside its result in its own
 * configuration, with the configuration it found fastest (`config`, JSON of Kernel.tuning's
 * parameters) and how hard it searched (`autotune`: quick or full). Rows without a config are
 * results in the variant's own configuration, as every row before this migration.
 */
export const m0010: Migration = {
  version: 10,
  name: 'tuned-config',
  up: `
ALTER TABLE measurement ADD COLUMN config TEXT;
ALTER TABLE measurement ADD COLUMN autotune TEXT;
`,
};
