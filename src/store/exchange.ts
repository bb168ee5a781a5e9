/**
 * Results across machines: a store's machines, probes, layers and measurements written to one
 * portable, versioned JSON file (schemas/results-file.schema.json), and read into another store.
 *
 * Import is all or nothing (one transaction over every file given: a truncated or inconsistent file
 * leaves the store as it was), adds nothing it already has (a measurement is the same when its
 * machine, layer, conditions, variant, run and time are), records each import with the file's
 * digest and the store it came from, and refuses a file written by a newer dlprof.
 *
 * `analyze`'s model-level runs (table model_run, model-runs.ts) do not travel: a file carries what
 * commands on other machines read (layer results for predict and compare), and a model run is only
 * reused by the machine that made it, analyzing the same file, which measures and stores its own.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { KEY_VERSION } from '../ir/key.js';
import { kernelFor } from '../kernels/registry.js';
import type { TuneConfig } from '../kernels/types.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import { rowToMeasurement, type Store } from './db.js';
import { machineRecords, type MachineRecord } from './machines.js';
import { isPostgresUrl } from './sql.js';

export const EXPORT_FORMAT = 'dlprof-results';
/** Bumped whenever a reader of the previous version would misread a file. */
export const EXPORT_FORMAT_VERSION = 2;

export interface ExportProbe { kind: string; value: number; unit: string; medianMs: number; createdAt: string; origin: string }

export interface ExportMachine {
  fingerprint: string;
  adapterVendor: string; adapterArchitecture: string; adapterDevice: string; adapterDescription: string;
  backend: string; cpu: string; os: string; driverSettings: string; dlprofVersion: string; createdAt: string;
  probes: ExportProbe[];
}

export interface ExportLayer { key: string; keyVersion: number; op: string; attrs: unknown; inputs: unknown; outputs: unknown; flops: number; bytes: number }

export interface ExportRun { id: string; machine: string; startedAt: string; finishedAt: string; options: unknown; measurements: number }

export interface ExportMeasurement {
  machine: string;
  runId: string;
  layerKey: string;
  /** Kernel identity: the kernel (by op), its variant, and a hash of its program where the store records one. */
  kernel: string | null;
  variant: string;
  kernelHash: string | null;
  /** A tuned result's configuration and search effort (format 2 on; absent: the variant's own configuration). */
  config?: TuneConfig;
  autotune?: 'quick' | 'full';
  conditions: string;
  status: 'completed' | 'errored' | 'skipped' | 'mismatch';
  reason: string | null;
  medianMs: number | null; minMs: number | null; p10Ms: number | null; p90Ms: number | null; cv: number | null;
  samples: number | null; batch: number | null; wallMedianMs: number | null; maxAbsError: number | null;
  samplesMs: number[] | null;
  createdAt: string;
  /** The store it was first written to. */
  origin: string;
}

export interface ExportFile {
  format: typeof EXPORT_FORMAT;
  formatVersion: number;
  dlprofVersion: string;
  keyVersion: number;
  exportedAt: string;
  /** The exporting store: host and file, or its URL without the password. */
  source: string;
  machines: ExportMachine[];
  layers: ExportLayer[];
  runs: ExportRun[];
  measurements: ExportMeasurement[];
}

/** How a store names itself as a results' origin. */
export function storeSource(store: Store): string {
  return isPostgresUrl(store.file) ? store.file : `${os.hostname()}:${path.resolve(store.file)}`;
}

const parseJson = (s: unknown): unknown => (typeof s === 'string' ? JSON.parse(s) : s);

/** The store's results for `machines` (default all) and, when given, only `layerKeys`. */
export function exportResults(store: Store, opts: { machines?: MachineRecord[]; layerKeys?: Set<string>; dlprofVersion: string }): ExportFile {
  const source = storeSource(store);
  const machines = opts.machines ?? machineRecords(store);
  const byId = new Map(machines.map((m) => [m.id, m]));
  const importSource = new Map(store.sql.all<{ id: number; source: string }>('SELECT id, source FROM import_batch').map((r) => [Number(r.id), r.source]));
  const origin = (r: Record<string, unknown>): string => (r.origin as string | null) ?? (r.import_id !== null && r.import_id !== undefined ? importSource.get(Number(r.import_id)) : undefined) ?? source;
  const wantLayer = (k: string): boolean => !opts.layerKeys || opts.layerKeys.has(k);

  const measurements: ExportMeasurement[] = [];
  const layerKeys = new Set<string>();
  const runIds = new Set<string>();
  for (const m of machines) {
    for (const r of store.sql.all('SELECT * FROM measurement WHERE machine_id = ? ORDER BY id', [m.id])) {
      if (!wantLayer(String(r.layer_key))) continue;
      const row = rowToMeasurement(r);
      layerKeys.add(row.layerKey);
      runIds.add(row.runId);
      measurements.push({
        machine: m.fingerprint, runId: row.runId, layerKey: row.layerKey, kernel: null, variant: row.variant, kernelHash: row.kernelHash ?? null,
        ...(row.config ? { config: row.config, autotune: row.autotune ?? undefined } : {}),
        conditions: row.conditions, status: row.status, reason: row.reason ?? null, medianMs: row.medianMs ?? null, minMs: row.minMs ?? null,
        p10Ms: row.p10Ms ?? null, p90Ms: row.p90Ms ?? null, cv: row.cv ?? null, samples: row.samples ?? null, batch: row.batch ?? null,
        wallMedianMs: row.wallMedianMs ?? null, maxAbsError: row.maxAbsError ?? null, samplesMs: row.samplesMs ?? null, createdAt: row.createdAt!, origin: origin(r),
      });
    }
  }
  const layers: ExportLayer[] = store.sql.all('SELECT * FROM layer ORDER BY key').filter((r) => layerKeys.has(String(r.key))).map((r) => ({
    key: String(r.key), keyVersion: Number(r.key_version), op: String(r.op), attrs: parseJson(r.attrs), inputs: parseJson(r.inputs), outputs: parseJson(r.outputs),
    flops: Number(r.flops), bytes: Number(r.bytes),
  }));
  const opOf = new Map(layers.map((l) => [l.key, l.op]));
  for (const m of measurements) m.kernel = kernelFor(opOf.get(m.layerKey) ?? '')?.name ?? null;
  const runs: ExportRun[] = store.sql.all('SELECT * FROM run ORDER BY started_at').filter((r) => runIds.has(String(r.id)) && byId.has(Number(r.machine_id))).map((r) => ({
    id: String(r.id), machine: byId.get(Number(r.machine_id))!.fingerprint, startedAt: String(r.started_at), finishedAt: String(r.finished_at),
    options: parseJson(r.options), measurements: Number(r.measurements),
  }));
  return {
    format: EXPORT_FORMAT, formatVersion: EXPORT_FORMAT_VERSION, dlprofVersion: opts.dlprofVersion, keyVersion: KEY_VERSION,
    exportedAt: new Date().toISOString(), source,
    machines: machines.map((m) => ({
      fingerprint: m.fingerprint, adapterVendor: m.adapterVendor, adapterArchitecture: m.adapterArchitecture, adapterDevice: m.adapterDevice,
      adapterDescription: m.adapterDescription, backend: m.backend, cpu: m.cpu, os: m.os, driverSettings: m.driverSettings, dlprofVersion: m.dlprofVersion,
      createdAt: m.createdAt,
      probes: store.sql.all('SELECT * FROM probe WHERE machine_id = ? ORDER BY id', [m.id]).map((p) => ({
        kind: String(p.kind), value: Number(p.value), unit: String(p.unit), medianMs: Number(p.median_ms), createdAt: String(p.created_at), origin: origin(p),
      })),
    })),
    layers, runs, measurements,
  };
}

let validator: ValidateFunction | undefined;

/** schemas/results-file.schema.json, found from this module (dist/src/store or src/store) up. */
function validateExport(doc: unknown): string {
  if (!validator) {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    while (!fs.existsSync(path.join(dir, 'schemas', 'results-file.schema.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    const schema = JSON.parse(fs.readFileSync(path.join(dir, 'schemas', 'results-file.schema.json'), 'utf8'));
    validator = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true }).compile(schema);
  }
  return validator(doc) ? '' : (validator.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

export interface ImportInput { file: string; text: string }

export interface ImportSummary {
  files: Array<{ file: string; sha256: string; source: string; exportedAt: string; dlprofVersion: string; importId: number | null;
    machines: number; layers: number; runs: number; measurements: number; probes: number; alreadyPresent: number }>;
}

/** Parses and checks one export file; every problem is an error naming the file. */
export function parseExport(input: ImportInput): ExportFile {
  const where = printable(input.file);
  let doc: unknown;
  try {
    doc = JSON.parse(input.text);
  } catch (e) {
    throw new DlprofError(`${where}: not a dlprof results file, or truncated: ${(e as Error).message}`, 'E_IMPORT_FORMAT', EXIT.input,
      ['Export it again with dlprof export FILE.']);
  }
  const d = doc as Partial<ExportFile> | null;
  if (!d || typeof d !== 'object' || d.format !== EXPORT_FORMAT) {
    throw new DlprofError(`${where}: not a dlprof results file (no "format": "${EXPORT_FORMAT}")`, 'E_IMPORT_FORMAT', EXIT.input,
      ['dlprof import reads files written by dlprof export.']);
  }
  if (typeof d.formatVersion === 'number' && d.formatVersion > EXPORT_FORMAT_VERSION) {
    throw new DlprofError(`${where}: written by a newer dlprof (${printable(String(d.dlprofVersion))}, format ${d.formatVersion}; this dlprof reads up to ${EXPORT_FORMAT_VERSION})`,
      'E_IMPORT_NEWER', EXIT.input, ['Upgrade dlprof on this machine.']);
  }
  const problems = validateExport(doc);
  if (problems) throw new DlprofError(`${where}: not a valid dlprof results file: ${printable(problems, 400)}`, 'E_IMPORT_FORMAT', EXIT.input);
  const file = doc as ExportFile;
  if (file.keyVersion !== KEY_VERSION) {
    throw new DlprofError(`${where}: its layers are keyed by key version ${file.keyVersion}, this dlprof's by ${KEY_VERSION}: the same layer would not match`,
      'E_IMPORT_KEYS', EXIT.input, ['Export it with the same dlprof version as this one.']);
  }
  // References inside the file: checked before anything is written.
  const fps = new Set(file.machines.map((m) => m.fingerprint));
  const keys = new Set(file.layers.map((l) => l.key));
  for (const [i, m] of file.measurements.entries()) {
    if (!fps.has(m.machine)) throw new DlprofError(`${where}: measurements[${i}] names machine ${printable(m.machine)}, which the file does not list`, 'E_IMPORT_FORMAT', EXIT.input);
    if (!keys.has(m.layerKey)) throw new DlprofError(`${where}: measurements[${i}] names layer ${printable(m.layerKey)}, which the file does not list`, 'E_IMPORT_FORMAT', EXIT.input);
  }
  for (const [i, r] of file.runs.entries()) {
    if (!fps.has(r.machine)) throw new DlprofError(`${where}: runs[${i}] names machine ${printable(r.machine)}, which the file does not list`, 'E_IMPORT_FORMAT', EXIT.input);
  }
  return file;
}

/** A lock number of dlprof's own: imports into one PostgreSQL store take turns. */
const PG_IMPORT_LOCK = 0x646c7069;

function measurementColumns(store: Store): Set<string> {
  const rows = store.dialect === 'sqlite'
    ? store.sql.all<{ name: string }>("SELECT name FROM pragma_table_info('measurement')")
    : store.sql.all<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'measurement' AND table_schema = current_schema()");
  return new Set(rows.map((r) => r.name));
}

/** Imports every file in one transaction; parse them all first (parseExport), so a bad one writes nothing. */
export function importResults(store: Store, inputs: ImportInput[]): ImportSummary {
  const files = inputs.map((i) => ({ input: i, doc: parseExport(i), sha256: createHash('sha256').update(i.text).digest('hex') }));
  const columns = measurementColumns(store);
  const hasHash = columns.has('kernel_hash');
  const hasConfig = columns.has('config');
  const sql = store.sql;
  return sql.transaction(() => {
    if (store.dialect === 'postgres') sql.run('SELECT pg_advisory_xact_lock(?)', [PG_IMPORT_LOCK]);
    const summary: ImportSummary = { files: [] };
    for (const { input, doc, sha256 } of files) {
      const now = new Date().toISOString();
      sql.run(`INSERT INTO import_batch (file, sha256, format_version, dlprof_version, source, exported_at, imported_at, measurements, probes)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)`, [path.basename(input.file), sha256, doc.formatVersion, doc.dlprofVersion, doc.source, doc.exportedAt, now]);
      const importId = sql.get<{ id: number }>('SELECT MAX(id) AS id FROM import_batch')!.id;
      const n = { machines: 0, layers: 0, runs: 0, measurements: 0, probes: 0, alreadyPresent: 0 };
      const machineId = new Map<string, number>();
      for (const m of doc.machines) {
        let row = sql.get<{ id: number }>('SELECT id FROM machine WHERE fingerprint = ?', [m.fingerprint]);
        if (!row) {
          sql.run(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os,
            driver_settings, dlprof_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [m.fingerprint, m.adapterVendor, m.adapterArchitecture, m.adapterDevice, m.adapterDescription, m.backend, m.cpu, m.os, m.driverSettings, m.dlprofVersion, m.createdAt]);
          row = sql.get<{ id: number }>('SELECT id FROM machine WHERE fingerprint = ?', [m.fingerprint])!;
          n.machines++;
        }
        machineId.set(m.fingerprint, Number(row.id));
        for (const p of m.probes) {
          if (sql.get('SELECT 1 AS x FROM probe WHERE machine_id = ? AND kind = ? AND value = ? AND created_at = ?', [row.id, p.kind, p.value, p.createdAt])) continue;
          sql.run('INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at, origin, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [row.id, p.kind, p.value, p.unit, p.medianMs, p.createdAt, p.origin, importId]);
          n.probes++;
        }
      }
      for (const l of doc.layers) {
        if (sql.get('SELECT 1 AS x FROM layer WHERE key = ?', [l.key])) continue;
        sql.run('INSERT INTO layer (key, key_version, op, attrs, inputs, outputs, flops, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [l.key, l.keyVersion, l.op, JSON.stringify(l.attrs), JSON.stringify(l.inputs), JSON.stringify(l.outputs), l.flops, l.bytes]);
        n.layers++;
      }
      for (const r of doc.runs) {
        if (sql.get('SELECT 1 AS x FROM run WHERE id = ?', [r.id])) continue;
        sql.run('INSERT INTO run (id, machine_id, started_at, finished_at, options, measurements) VALUES (?, ?, ?, ?, ?, ?)',
          [r.id, machineId.get(r.machine), r.startedAt, r.finishedAt, JSON.stringify(r.options), r.measurements]);
        n.runs++;
      }
      for (const m of doc.measurements) {
        const mid = machineId.get(m.machine)!;
        // A variant's result and its tuned one can share a run and a millisecond: the configuration tells them apart.
        const config = m.config ? JSON.stringify(m.config) : '';
        if (sql.get(`SELECT 1 AS x FROM measurement WHERE machine_id = ? AND layer_key = ? AND conditions = ? AND variant = ? AND run_id = ? AND created_at = ?${hasConfig ? " AND COALESCE(config, '') = ?" : ''}`,
          [mid, m.layerKey, m.conditions, m.variant, m.runId, m.createdAt, ...(hasConfig ? [config] : [])])) {
          n.alreadyPresent++;
          continue;
        }
        const cols = ['run_id', 'machine_id', 'layer_key', 'variant', 'conditions', 'status', 'reason', 'median_ms', 'min_ms', 'p10_ms', 'p90_ms', 'cv',
          'samples', 'batch', 'wall_median_ms', 'max_abs_error', 'samples_ms', 'created_at', 'origin', 'import_id'];
        const vals: unknown[] = [m.runId, mid, m.layerKey, m.variant, m.conditions, m.status, m.reason, m.medianMs, m.minMs, m.p10Ms, m.p90Ms, m.cv,
          m.samples, m.batch, m.wallMedianMs, m.maxAbsError, m.samplesMs ? JSON.stringify(m.samplesMs) : null, m.createdAt, m.origin, importId];
        if (hasHash) { cols.push('kernel_hash'); vals.push(m.kernelHash); }
        if (hasConfig && m.config) { cols.push('config', 'autotune'); vals.push(config, m.autotune ?? null); }
        sql.run(`INSERT INTO measurement (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, vals);
        n.measurements++;
      }
      const added = n.machines + n.layers + n.runs + n.measurements + n.probes;
      if (added) sql.run('UPDATE import_batch SET measurements = ?, probes = ? WHERE id = ?', [n.measurements, n.probes, importId]);
      // A file whose every row the store already has leaves no trace: importing twice adds nothing.
      else sql.run('DELETE FROM import_batch WHERE id = ?', [importId]);
      summary.files.push({ file: input.file, sha256, source: doc.source, exportedAt: doc.exportedAt, dlprofVersion: doc.dlprofVersion,
        importId: added ? importId : null, ...n });
    }
    return summary;
  });
}
