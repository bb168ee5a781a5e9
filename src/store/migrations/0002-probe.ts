import type { Migration } from './migration.js';

/** The machine's measured peak compute and bandwidth, for the roofline. */
export const m0002: Migration = {
  version: 2,
  name: 'probe',
  up: `
    CREATE TABLE probe (
      id INTEGER PRIMARY KEY,
      machine_id INTEGER NOT NULL REFERENCES machine(id),
      kind TEXT NOT NULL CHECK (kind IN ('fma-f32', 'fma-f16', 'copy')),
      value REAL NOT NULL,
      unit TEXT NOT NULL,
      median_ms REAL NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE INDEX probe_lookup ON probe (machine_id, kind, id);
  `,
};
