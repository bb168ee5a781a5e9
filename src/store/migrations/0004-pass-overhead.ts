import type { Migration } from './migration.js';

/**
 * A new probe kind, `pass-overhead` (bench/probe.ts: what a kernel costs more in its own timed
 * pass than among others in one pass; analyze subtracts it from layer benchmarks). SQLite cannot
 * change a CHECK constraint in place: the table is rebuilt with its rows and index.
 */
export const m0004: Migration = {
  version: 4,
  name: 'pass-overhead',
  up: `
    CREATE TABLE probe_new (
      id INTEGER PRIMARY KEY,
      machine_id INTEGER NOT NULL REFERENCES machine(id),
      kind TEXT NOT NULL CHECK (kind IN ('fma-f32', 'fma-f16', 'copy', 'pass-overhead')),
      value REAL NOT NULL,
      unit TEXT NOT NULL,
      median_ms REAL NOT NULL,
      created_at TEXT NOT NULL
    );
    INSERT INTO probe_new SELECT id, machine_id, kind, value, unit, median_ms, created_at FROM probe;
    DROP TABLE probe;
    ALTER TABLE probe_new RENAME TO probe;
    CREATE INDEX probe_lookup ON probe (machine_id, kind, id);
  `,
  postgres: `
    ALTER TABLE probe DROP CONSTRAINT probe_kind_check;
    ALTER TABLE probe ADD CONSTRAINT probe_kind_check CHECK (kind IN ('fma-f32', 'fma-f16', 'copy', 'pass-overhead'));
  `,
};
