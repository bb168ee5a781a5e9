/**
 * The results store: one SQLite file (better-sqlite3). Nothing but store/ touches SQLite.
 *
 * Location: --db, else $DLPROF_DB, else $XDG_DATA_HOME/dlprof/dlprof.sqlite
 * (~/.local/share/dlprof/dlprof.sqlite). WAL journaling and a busy timeout let several dlprof
 * processes write at once; each measurement is committed in its own transaction, so an
 * interrupted run keeps everything it finished and nothing half-written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { MachineFingerprint } from '../gpu/device.js';
import type { Layer } from '../ir/types.js';
import { KEY_VERSION } from '../ir/key.js';
import { DlprofError, EXIT } from '../util/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js';

export function defaultDbPath(): string {
  if (process.env.DLPROF_DB) return process.env.DLPROF_DB;
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'dlprof', 'dlprof.sqlite');
}

/** Applies pending migrations (each in a transaction). Refuses a database from a newer dlprof. */
function refuseNewer(version: number, file: string): void {
  if (version > SCHEMA_VERSION) {
    throw new DlprofError(`${file}: the database was written by a newer dlprof (schema ${version}; this dlprof knows up to ${SCHEMA_VERSION})`,
      'E_DB_NEWER', EXIT.store, ['Upgrade dlprof, or use another database with --db.']);
  }
}

export function migrate(db: Database.Database, file: string, upTo = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  refuseNewer(current, file);
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    db.transaction(() => {
      // Another process may have migrated since we looked: check again under the write lock.
      if ((db.pragma('user_version', { simple: true }) as number) >= m.version) return;
      db.exec(m.up);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

export interface MeasurementRow {
  runId: string;
  machineId: number;
  layerKey: string;
  variant: string;
  /** The state each timed execution started in (bench/measure.ts CONDITIONS). */
  conditions: string;
  status: 'completed' | 'errored' | 'skipped' | 'mismatch';
  reason?: string | null;
  medianMs?: number | null;
  minMs?: number | null;
  p10Ms?: number | null;
  p90Ms?: number | null;
  cv?: number | null;
  samples?: number | null;
  batch?: number | null;
  wallMedianMs?: number | null;
  maxAbsError?: number | null;
  samplesMs?: number[] | null;
  /** The hash of the code that was timed (kernels/specialize.ts planHash); null for rows from before it was recorded. */
  kernelHash?: string | null;
  createdAt?: string;
}

/** A variant's stored check against its reference (bench/reference.ts). */
export interface VerificationRow {
  machineId: number;
  layerKey: string;
  variant: string;
  kernelHash: string;
  maxAbsError: number | null;
  reference: string;
}

export function fingerprintId(fp: MachineFingerprint): string {
  // The dlprof version is recorded but not part of identity: the same machine across upgrades.
  // A software driver's settings count only where there are some, so a hardware adapter's identity
  // stays what it was before they were recorded.
  const { dlprofVersion: _v, driverSettings, ...rest } = fp;
  const identity = driverSettings ? { ...rest, driverSettings } : rest;
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

export class Store {
  private constructor(readonly db: Database.Database, readonly file: string) {}

  /** Opens (creating if needed) and migrates the database. */
  static open(file = defaultDbPath()): Store {
    if (file !== ':memory:') {
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
        throw new DlprofError(`${file}: is a directory; --db takes a database file`, 'E_DB_PATH', EXIT.store);
      }
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    }
    let db: Database.Database;
    try {
      // The busy timeout first (it changes nothing on disk): every later step may contend with
      // another dlprof process creating or migrating the same file.
      db = new Database(file, { timeout: 30000 });
      // Refuse a newer schema before changing anything in the file (WAL mode rewrites its header).
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) db.close();
      refuseNewer(version, file);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
    } catch (e) {
      if (e instanceof DlprofError) throw e;
      throw new DlprofError(`${file}: cannot open the results database: ${(e as Error).message}`, 'E_DB_OPEN', EXIT.store,
        ['Pass another file with --db or DLPROF_DB.']);
    }
    try {
      migrate(db, file);
    } catch (e) {
      db.close();
      if (e instanceof DlprofError) throw e;
      throw new DlprofError(`${file}: not a dlprof database or corrupt: ${(e as Error).message}`, 'E_DB_CORRUPT', EXIT.store);
    }
    return new Store(db, file);
  }

  close(): void {
    this.db.close();
  }

  newRunId(): string {
    return randomUUID();
  }

  machineId(fp: MachineFingerprint): number {
    const id = fingerprintId(fp);
    this.db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description,
      backend, cpu, os, driver_settings, dlprof_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET dlprof_version = excluded.dlprof_version`)
      .run(id, fp.adapterVendor, fp.adapterArchitecture, fp.adapterDevice, fp.adapterDescription, fp.backend, fp.cpu, fp.os, fp.driverSettings, fp.dlprofVersion, new Date().toISOString());
    return (this.db.prepare('SELECT id FROM machine WHERE fingerprint = ?').get(id) as { id: number }).id;
  }

  upsertLayers(layers: Layer[]): void {
    const ins = this.db.prepare(`INSERT OR IGNORE INTO layer (key, key_version, op, attrs, inputs, outputs, flops, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const l of layers) ins.run(l.key, KEY_VERSION, l.op, JSON.stringify(l.attrs), JSON.stringify(l.inputs), JSON.stringify(l.outputs), l.flops, l.bytes);
    })();
  }

  /** Records a model and its layer multiset; returns its id. */
  upsertModel(m: { path: string; name: string; fileBytes: number; layers: Array<{ key: string; count: number; firstPosition: number }> }): number {
    return this.db.transaction(() => {
      const total = m.layers.reduce((s, l) => s + l.count, 0);
      this.db.prepare(`INSERT INTO model (path, name, file_bytes, layer_count, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
        .run(path.resolve(m.path), m.name, m.fileBytes, total, new Date().toISOString());
      const { id } = this.db.prepare('SELECT id FROM model WHERE path = ? AND file_bytes = ? AND layer_count = ?').get(path.resolve(m.path), m.fileBytes, total) as { id: number };
      const ins = this.db.prepare('INSERT OR REPLACE INTO model_layer (model_id, layer_key, count, first_position) VALUES (?, ?, ?, ?)');
      for (const l of m.layers) ins.run(id, l.key, l.count, l.firstPosition);
      return id;
    })();
  }

  /** The newest measurement of (machine, layer, conditions, variant), if any. */
  latest(machineId: number, layerKey: string, conditions: string, variant: string): MeasurementRow | undefined {
    const r = this.db.prepare(`SELECT * FROM measurement WHERE machine_id = ? AND layer_key = ? AND conditions = ? AND variant = ? ORDER BY id DESC LIMIT 1`)
      .get(machineId, layerKey, conditions, variant) as Record<string, unknown> | undefined;
    return r ? rowToMeasurement(r) : undefined;
  }

  /** Every newest measurement of a layer on a machine under `conditions`, one per variant. */
  latestForLayer(machineId: number, layerKey: string, conditions: string): MeasurementRow[] {
    const rows = this.db.prepare(`SELECT m.* FROM measurement m WHERE m.machine_id = ? AND m.layer_key = ? AND m.conditions = ?
      AND m.id = (SELECT MAX(id) FROM measurement x WHERE x.machine_id = m.machine_id AND x.layer_key = m.layer_key
        AND x.conditions = m.conditions AND x.variant = m.variant)`)
      .all(machineId, layerKey, conditions) as Array<Record<string, unknown>>;
    return rows.map(rowToMeasurement);
  }

  /** Inserts one measurement in its own transaction (durable when this returns). */
  insertMeasurement(m: MeasurementRow): void {
    this.db.prepare(`INSERT INTO measurement (run_id, machine_id, layer_key, variant, conditions, status, reason, median_ms, min_ms, p10_ms, p90_ms, cv,
      samples, batch, wall_median_ms, max_abs_error, samples_ms, kernel_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(m.runId, m.machineId, m.layerKey, m.variant, m.conditions, m.status, m.reason ?? null, m.medianMs ?? null, m.minMs ?? null, m.p10Ms ?? null,
        m.p90Ms ?? null, m.cv ?? null, m.samples ?? null, m.batch ?? null, m.wallMedianMs ?? null,
        m.maxAbsError === undefined || m.maxAbsError === null || !Number.isFinite(m.maxAbsError) ? null : m.maxAbsError,
        m.samplesMs ? JSON.stringify(m.samplesMs) : null, m.kernelHash ?? null, m.createdAt ?? new Date().toISOString());
  }

  /** Records that a variant's code agreed with its reference on a layer (once; a later check of the same code changes nothing). */
  saveVerification(v: VerificationRow): void {
    this.db.prepare(`INSERT OR IGNORE INTO verification (machine_id, layer_key, variant, kernel_hash, max_abs_error, reference, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(v.machineId, v.layerKey, v.variant, v.kernelHash,
      v.maxAbsError === null || !Number.isFinite(v.maxAbsError) ? null : v.maxAbsError, v.reference, new Date().toISOString());
  }

  /** The stored check of (machine, layer, variant, code), if that code was checked there. */
  verification(machineId: number, layerKey: string, variant: string, kernelHash: string): VerificationRow | undefined {
    const r = this.db.prepare('SELECT * FROM verification WHERE machine_id = ? AND layer_key = ? AND variant = ? AND kernel_hash = ?')
      .get(machineId, layerKey, variant, kernelHash) as Record<string, unknown> | undefined;
    return r ? { machineId, layerKey, variant, kernelHash, maxAbsError: r.max_abs_error as number | null, reference: String(r.reference) } : undefined;
  }

  /** Marks a run complete: the run row appears only now. */
  finishRun(run: { id: string; machineId: number; startedAt: string; options: unknown; measurements: number }): void {
    this.db.prepare('INSERT INTO run (id, machine_id, started_at, finished_at, options, measurements) VALUES (?, ?, ?, ?, ?, ?)')
      .run(run.id, run.machineId, run.startedAt, new Date().toISOString(), JSON.stringify(run.options), run.measurements);
  }

  runs(): Array<{ id: string; machineId: number; startedAt: string; finishedAt: string; measurements: number }> {
    return (this.db.prepare('SELECT id, machine_id, started_at, finished_at, measurements FROM run ORDER BY started_at').all() as Array<Record<string, unknown>>)
      .map((r) => ({ id: String(r.id), machineId: Number(r.machine_id), startedAt: String(r.started_at), finishedAt: String(r.finished_at), measurements: Number(r.measurements) }));
  }

  saveProbe(machineId: number, kind: string, value: number, unit: string, medianMs: number): void {
    this.db.prepare('INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(machineId, kind, value, unit, medianMs, new Date().toISOString());
  }

  latestProbe(machineId: number, kind: string): { value: number; unit: string; createdAt: string } | undefined {
    const r = this.db.prepare('SELECT value, unit, created_at FROM probe WHERE machine_id = ? AND kind = ? ORDER BY id DESC LIMIT 1').get(machineId, kind) as
      { value: number; unit: string; created_at: string } | undefined;
    return r ? { value: r.value, unit: r.unit, createdAt: r.created_at } : undefined;
  }
}

function rowToMeasurement(r: Record<string, unknown>): MeasurementRow {
  return {
    runId: String(r.run_id), machineId: Number(r.machine_id), layerKey: String(r.layer_key), variant: String(r.variant),
    conditions: String(r.conditions), status: r.status as MeasurementRow['status'], reason: (r.reason as string | null) ?? null,
    medianMs: r.median_ms as number | null, minMs: r.min_ms as number | null, p10Ms: r.p10_ms as number | null, p90Ms: r.p90_ms as number | null,
    cv: r.cv as number | null, samples: r.samples as number | null, batch: r.batch as number | null, wallMedianMs: r.wall_median_ms as number | null,
    maxAbsError: r.max_abs_error as number | null, samplesMs: r.samples_ms ? JSON.parse(String(r.samples_ms)) : null,
    kernelHash: (r.kernel_hash as string | null) ?? null, createdAt: String(r.created_at),
  };
}
