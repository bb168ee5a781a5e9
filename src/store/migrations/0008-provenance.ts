import type { Migration } from './migration.js';

/**
 * Results that came from another store (`dlprof import`) keep where they came from: each import
 * is a row (the file, its digest, the store and dlprof that exported it), and the measurements
 * and probes it brought name it and their origin, the store they were first written to. Rows
 * measured into this store have neither.
 */
export const m0008: Migration = {
  version: 8,
  name: 'provenance',
  up: `
    CREATE TABLE import_batch (
      id INTEGER PRIMARY KEY,
      file TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      format_version INTEGER NOT NULL,
      dlprof_version TEXT NOT NULL,
      source TEXT NOT NULL,
      exported_at TEXT NOT NULL,
      imported_at TEXT NOT NULL,
      measurements INTEGER NOT NULL,
      probes INTEGER NOT NULL
    );
    ALTER TABLE measurement ADD COLUMN origin TEXT;
    ALTER TABLE measurement ADD COLUMN import_id INTEGER REFERENCES import_batch(id);
    ALTER TABLE probe ADD COLUMN origin TEXT;
    ALTER TABLE probe ADD COLUMN import_id INTEGER REFERENCES import_batch(id);
  `,
};
