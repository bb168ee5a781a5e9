import type { Migration } from './migration.js';

/**
 * Model-level measurements, kept and reused as the layer benchmarks are (store/model-runs.ts):
 * the model run end to end on dlprof's kernels with its output check, the f16 what-if re-run, and
 * onnxruntime's WebGPU framework run with its profile. A row is one such measurement, its figures
 * a JSON payload, under the identity it is reused by: the machine, the model (a hash of what was
 * analyzed), the kind, the code that ran (the kernels' code identities, or onnxruntime's version and
 * provider), the layers' timing conditions where the measurement depends on them ('' where not),
 * and the settings (--runs, --run-budget-ms, dlprof's version…, as canonical JSON). Rows are
 * appended; the newest of an identity is the one reused.
 *
 * `kind` has no CHECK constraint: a new kind then needs no table rebuild (as 0004 needed for a
 * probe kind); store/model-runs.ts writes only the kinds it knows.
 */
export const m0011: Migration = {
  version: 11,
  name: 'model-runs',
  up: `
    CREATE TABLE model_run (
      id INTEGER PRIMARY KEY,
      machine_id INTEGER NOT NULL REFERENCES machine(id),
      model_hash TEXT NOT NULL,
      kind TEXT NOT NULL,
      code_hash TEXT NOT NULL,
      conditions TEXT NOT NULL,
      settings TEXT NOT NULL,
      payload TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE INDEX model_run_lookup ON model_run (machine_id, model_hash, kind, code_hash, conditions, settings, id);
  `,
};
