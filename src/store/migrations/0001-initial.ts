import type { Migration } from './migration.js';

/** Machines, layers, models, runs and measurements (docs/architecture.md, The store). */
export const m0001: Migration = {
  version: 1,
  name: 'initial',
  up: `
    CREATE TABLE machine (
      id INTEGER PRIMARY KEY,
      fingerprint TEXT NOT NULL UNIQUE,
      adapter_vendor TEXT NOT NULL,
      adapter_architecture TEXT NOT NULL,
      adapter_device TEXT NOT NULL,
      adapter_description TEXT NOT NULL,
      backend TEXT NOT NULL,
      cpu TEXT NOT NULL,
      os TEXT NOT NULL,
      dlprof_version TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE layer (
      key TEXT PRIMARY KEY,
      key_version INTEGER NOT NULL,
      op TEXT NOT NULL,
      attrs TEXT NOT NULL,
      inputs TEXT NOT NULL,
      outputs TEXT NOT NULL,
      flops REAL NOT NULL,
      bytes REAL NOT NULL
    );
    CREATE TABLE model (
      id INTEGER PRIMARY KEY,
      path TEXT NOT NULL,
      name TEXT NOT NULL,
      file_bytes INTEGER NOT NULL,
      layer_count INTEGER NOT NULL,
      created_at TEXT NOT NULL,
      UNIQUE (path, file_bytes, layer_count)
    );
    CREATE TABLE model_layer (
      model_id INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
      layer_key TEXT NOT NULL REFERENCES layer(key),
      count INTEGER NOT NULL,
      first_position INTEGER NOT NULL,
      PRIMARY KEY (model_id, layer_key)
    );
    -- A run row is written when a run completes, in the same transaction as its summary: an
    -- interrupted run leaves its finished measurements (each committed on its own) but no run.
    CREATE TABLE run (
      id TEXT PRIMARY KEY,
      machine_id INTEGER NOT NULL REFERENCES machine(id),
      started_at TEXT NOT NULL,
      finished_at TEXT NOT NULL,
      options TEXT NOT NULL,
      measurements INTEGER NOT NULL
    );
    CREATE TABLE measurement (
      id INTEGER PRIMARY KEY,
      run_id TEXT NOT NULL,
      machine_id INTEGER NOT NULL REFERENCES machine(id),
      layer_key TEXT NOT NULL REFERENCES layer(key),
      variant TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('completed', 'errored', 'skipped', 'mismatch')),
      reason TEXT,
      median_ms REAL,
      min_ms REAL,
      p10_ms REAL,
      p90_ms REAL,
      cv REAL,
      samples INTEGER,
      batch INTEGER,
      wall_median_ms REAL,
      max_abs_error REAL,
      samples_ms TEXT,
      created_at TEXT NOT NULL
    );
    CREATE INDEX measurement_lookup ON measurement (machine_id, layer_key, variant, id);
  `,
};
