/**
 * The results store: one SQLite file (better-sqlite3), or a PostgreSQL database shared by a fleet
 * of machines (--db postgres://…). Nothing but store/ touches a database.
 *
 * Location: --db, else $DLPROF_DB, else $XDG_DATA_HOME/dlprof/dlprof.sqlite
 * (~/.local/share/dlprof/dlprof.sqlite). WAL journaling and a busy timeout let several dlprof
 * processes write at once (PostgreSQL: its own concurrency); each measurement is committed in its
 * own transaction, so an interrupted run keeps everything it finished and nothing half-written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { MachineFingerprint } from '../gpu/device.js';
import type { Layer } from '../ir/types.js';
import type { TuneConfig } from '../kernels/types.js';
import { KEY_VERSION } from '../ir/key.js';
import { DlprofError, EXIT } from '../util/errors.js';
import { forPostgres, MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js';
import { PgError, PostgresSql } from './postgres.js';
import { isPostgresUrl, redactUrl, SqliteSql, type Sql } from './sql.js';

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
  migrateSql(new SqliteSql(db), file, upTo);
}

/** A lock number of dlprof's own, held by the migrating transaction on PostgreSQL. */
const PG_MIGRATION_LOCK = 0x646c7072;

function schemaVersion(sql: Sql): number {
  if (sql.dialect === 'sqlite') return sql.get<{ user_version: number }>('PRAGMA user_version')!.user_version;
  return sql.get<{ version: number }>('SELECT version FROM dlprof_schema')?.version ?? 0;
}

/** Applies pending migrations to either database, each in its own transaction. */
export function migrateSql(sql: Sql, file: string, upTo = SCHEMA_VERSION): void {
  if (sql.dialect === 'postgres') {
    sql.transaction(() => {
      sql.run('SELECT pg_advisory_xact_lock(?)', [PG_MIGRATION_LOCK]);
      sql.exec('CREATE TABLE IF NOT EXISTS dlprof_schema (version INTEGER NOT NULL)');
      if (!sql.get('SELECT version FROM dlprof_schema')) sql.run('INSERT INTO dlprof_schema (version) VALUES (0)');
    });
  }
  const current = schemaVersion(sql);
  refuseNewer(current, file);
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    sql.transaction(() => {
      if (sql.dialect === 'postgres') sql.run('SELECT pg_advisory_xact_lock(?)', [PG_MIGRATION_LOCK]);
      // Another process may have migrated since we looked: check again under the write lock.
      if (schemaVersion(sql) >= m.version) return;
      if (sql.dialect === 'sqlite') {
        sql.exec(m.up);
        sql.exec(`PRAGMA user_version = ${m.version}`);
      } else {
        sql.exec(forPostgres(m));
        sql.run('UPDATE dlprof_schema SET version = ?', [m.version]);
      }
    });
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
  /** The store a result was first written to, when it came here by `dlprof import` (null: measured into this one). */
  origin?: string | null;
  /** A tuned result's configuration (Kernel.tuning); null: the variant's own. */
  config?: TuneConfig | null;
  /** A tuned result's search effort. */
  autotune?: 'quick' | 'full' | null;
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

/**
 * A model-level measurement's identity in the store (table model_run, migration 11; store/model-runs.ts
 * builds it): reused only when every part matches.
 */
export interface ModelRunIdentity {
  machineId: number;
  modelHash: string;
  kind: string;
  codeHash: string;
  conditions: string;
  /** Canonical JSON of the settings it was measured with. */
  settings: string;
}

/**
 * A measurement row `m` that is the newest of its (machine, layer, conditions, variant), in the
 * variant's own configuration or tuned (a config): a variant has at most one of each.
 */
const NEWEST = `m.id = (SELECT MAX(id) FROM measurement x WHERE x.machine_id = m.machine_id AND x.layer_key = m.layer_key
  AND x.conditions = m.conditions AND x.variant = m.variant AND (x.config IS NULL) = (m.config IS NULL))`;

export function fingerprintId(fp: MachineFingerprint): string {
  // The dlprof version is recorded but not part of identity: the same machine across upgrades.
  // A software driver's settings count only where there are some, so a hardware adapter's identity
  // stays what it was before they were recorded.
  const { dlprofVersion: _v, driverSettings, ...rest } = fp;
  const identity = driverSettings ? { ...rest, driverSettings } : rest;
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

export class Store {
  private constructor(readonly sql: Sql, readonly file: string) {}

  /** The SQLite connection underneath (the store's own SQLite-only checks and tests). */
  get db(): Database.Database {
    if (!(this.sql instanceof SqliteSql)) throw new Error(`${this.file}: a PostgreSQL store has no SQLite connection`);
    return this.sql.db;
  }

  get dialect(): 'sqlite' | 'postgres' {
    return this.sql.dialect;
  }

  /** Opens (creating if needed) and migrates the database: a SQLite file, or a postgres:// URL. */
  static open(file = defaultDbPath()): Store {
    return isPostgresUrl(file) ? Store.openPostgres(file) : Store.openSqlite(file);
  }

  private static openSqlite(file: string): Store {
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
    return new Store(new SqliteSql(db), file);
  }

  /** The password never leaves this function: messages and reports name the URL without it. */
  private static openPostgres(url: string): Store {
    const shown = redactUrl(url);
    const scrub = (msg: string): string => {
      const pw = (() => { try { return decodeURIComponent(new URL(url).password); } catch { return ''; } })();
      return pw ? msg.split(pw).join('***') : msg;
    };
    let sql: PostgresSql;
    try {
      sql = PostgresSql.connect(url);
    } catch (e) {
      throw new DlprofError(`${shown}: cannot connect to the PostgreSQL results database: ${scrub((e as Error).message)}`, 'E_DB_OPEN', EXIT.store,
        ['Check the host, port, user and database in the URL, and that the server accepts connections from this machine.']);
    }
    try {
      migrateSql(sql, shown);
    } catch (e) {
      sql.close();
      if (e instanceof DlprofError) throw e;
      const code = e instanceof PgError && e.code ? ` (SQLSTATE ${e.code})` : '';
      throw new DlprofError(`${shown}: cannot prepare the PostgreSQL results database${code}: ${scrub((e as Error).message)}`, 'E_DB_CORRUPT', EXIT.store,
        ['The user needs the right to create tables in this database, or use a database of its own.']);
    }
    return new Store(sql, shown);
  }

  close(): void {
    this.sql.close();
  }

  newRunId(): string {
    return randomUUID();
  }

  machineId(fp: MachineFingerprint): number {
    const id = fingerprintId(fp);
    this.sql.run(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description,
      backend, cpu, os, driver_settings, dlprof_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET dlprof_version = excluded.dlprof_version`,
    [id, fp.adapterVendor, fp.adapterArchitecture, fp.adapterDevice, fp.adapterDescription, fp.backend, fp.cpu, fp.os, fp.driverSettings, fp.dlprofVersion, new Date().toISOString()]);
    return this.sql.get<{ id: number }>('SELECT id FROM machine WHERE fingerprint = ?', [id])!.id;
  }

  upsertLayers(layers: Layer[]): void {
    this.sql.transaction(() => {
      for (const l of layers) {
        this.sql.run(`INSERT INTO layer (key, key_version, op, attrs, inputs, outputs, flops, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          [l.key, KEY_VERSION, l.op, JSON.stringify(l.attrs), JSON.stringify(l.inputs), JSON.stringify(l.outputs), l.flops, l.bytes]);
      }
    });
  }

  /** Records a model and its layer multiset; returns its id. */
  upsertModel(m: { path: string; name: string; fileBytes: number; layers: Array<{ key: string; count: number; firstPosition: number }> }): number {
    return this.sql.transaction(() => {
      const total = m.layers.reduce((s, l) => s + l.count, 0);
      this.sql.run(`INSERT INTO model (path, name, file_bytes, layer_count, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [path.resolve(m.path), m.name, m.fileBytes, total, new Date().toISOString()]);
      const { id } = this.sql.get<{ id: number }>('SELECT id FROM model WHERE path = ? AND file_bytes = ? AND layer_count = ?', [path.resolve(m.path), m.fileBytes, total])!;
      for (const l of m.layers) {
        this.sql.run(`INSERT INTO model_layer (model_id, layer_key, count, first_position) VALUES (?, ?, ?, ?)
          ON CONFLICT (model_id, layer_key) DO UPDATE SET count = excluded.count, first_position = excluded.first_position`, [id, l.key, l.count, l.firstPosition]);
      }
      return id;
    });
  }

  /** The newest measurement of (machine, layer, conditions, variant), if any. */
  latest(machineId: number, layerKey: string, conditions: string, variant: string): MeasurementRow | undefined {
    const r = this.sql.get(`SELECT * FROM measurement WHERE machine_id = ? AND layer_key = ? AND conditions = ? AND variant = ? ORDER BY id DESC LIMIT 1`,
      [machineId, layerKey, conditions, variant]);
    return r ? rowToMeasurement(r) : undefined;
  }

  /** Every newest measurement of a layer on a machine under `conditions`, one per variant. */
  latestForLayer(machineId: number, layerKey: string, conditions: string): MeasurementRow[] {
    const rows = this.sql.all(`SELECT m.* FROM measurement m WHERE m.machine_id = ? AND m.layer_key = ? AND m.conditions = ?
      AND ${NEWEST}`, [machineId, layerKey, conditions]);
    return rows.map(rowToMeasurement);
  }

  /** The newest measurement of every (layer, variant) a machine has under `conditions`, with the layer's op. */
  latestForMachine(machineId: number, conditions: string): Array<MeasurementRow & { op: string }> {
    const rows = this.sql.all(`SELECT m.*, l.op AS layer_op FROM measurement m JOIN layer l ON l.key = m.layer_key WHERE m.machine_id = ? AND m.conditions = ?
      AND ${NEWEST} ORDER BY m.id`, [machineId, conditions]);
    return rows.map((r) => ({ ...rowToMeasurement(r), op: String(r.layer_op) }));
  }

  /** Inserts one measurement in its own transaction (durable when this returns). */
  insertMeasurement(m: MeasurementRow): void {
    this.sql.run(`INSERT INTO measurement (run_id, machine_id, layer_key, variant, conditions, status, reason, median_ms, min_ms, p10_ms, p90_ms, cv,
      samples, batch, wall_median_ms, max_abs_error, samples_ms, kernel_hash, config, autotune, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [m.runId, m.machineId, m.layerKey, m.variant, m.conditions, m.status, m.reason ?? null, m.medianMs ?? null, m.minMs ?? null, m.p10Ms ?? null,
      m.p90Ms ?? null, m.cv ?? null, m.samples ?? null, m.batch ?? null, m.wallMedianMs ?? null,
      m.maxAbsError === undefined || m.maxAbsError === null || !Number.isFinite(m.maxAbsError) ? null : m.maxAbsError,
      m.samplesMs ? JSON.stringify(m.samplesMs) : null, m.kernelHash ?? null, m.config ? JSON.stringify(m.config) : null, m.autotune ?? null,
      m.createdAt ?? new Date().toISOString()]);
  }

  /** Records that a variant's code agreed with its reference on a layer (once; a later check of the same code changes nothing). */
  saveVerification(v: VerificationRow): void {
    this.sql.run(`INSERT INTO verification (machine_id, layer_key, variant, kernel_hash, max_abs_error, reference, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [v.machineId, v.layerKey, v.variant, v.kernelHash,
      v.maxAbsError === null || !Number.isFinite(v.maxAbsError) ? null : v.maxAbsError, v.reference, new Date().toISOString()]);
  }

  /** The stored check of (machine, layer, variant, code), if that code was checked there. */
  verification(machineId: number, layerKey: string, variant: string, kernelHash: string): VerificationRow | undefined {
    const r = this.sql.get('SELECT * FROM verification WHERE machine_id = ? AND layer_key = ? AND variant = ? AND kernel_hash = ?',
      [machineId, layerKey, variant, kernelHash]);
    return r ? { machineId, layerKey, variant, kernelHash, maxAbsError: r.max_abs_error as number | null, reference: String(r.reference) } : undefined;
  }

  /** Marks a run complete: the run row appears only now. */
  finishRun(run: { id: string; machineId: number; startedAt: string; options: unknown; measurements: number }): void {
    this.sql.run('INSERT INTO run (id, machine_id, started_at, finished_at, options, measurements) VALUES (?, ?, ?, ?, ?, ?)',
      [run.id, run.machineId, run.startedAt, new Date().toISOString(), JSON.stringify(run.options), run.measurements]);
  }

  runs(): Array<{ id: string; machineId: number; startedAt: string; finishedAt: string; measurements: number }> {
    return this.sql.all('SELECT id, machine_id, started_at, finished_at, measurements FROM run ORDER BY started_at')
      .map((r) => ({ id: String(r.id), machineId: Number(r.machine_id), startedAt: String(r.started_at), finishedAt: String(r.finished_at), measurements: Number(r.measurements) }));
  }

  saveProbe(machineId: number, kind: string, value: number, unit: string, medianMs: number): void {
    this.sql.run('INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [machineId, kind, value, unit, medianMs, new Date().toISOString()]);
  }

  latestProbe(machineId: number, kind: string): { value: number; unit: string; createdAt: string } | undefined {
    const r = this.sql.get<{ value: number; unit: string; created_at: string }>('SELECT value, unit, created_at FROM probe WHERE machine_id = ? AND kind = ? ORDER BY id DESC LIMIT 1',
      [machineId, kind]);
    return r ? { value: r.value, unit: r.unit, createdAt: r.created_at } : undefined;
  }

  /** Appends a model-level measurement (its payload as JSON) in its own transaction; returns its created_at. */
  saveModelRun(id: ModelRunIdentity, payload: string): string {
    const createdAt = new Date().toISOString();
    this.sql.run(`INSERT INTO model_run (machine_id, model_hash, kind, code_hash, conditions, settings, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [id.machineId, id.modelHash, id.kind, id.codeHash, id.conditions, id.settings, payload, createdAt]);
    return createdAt;
  }

  /** The newest model-level measurement of exactly this identity, if any: its payload (JSON) and when it was taken. */
  latestModelRun(id: ModelRunIdentity): { payload: string; createdAt: string } | undefined {
    const r = this.sql.get<{ payload: string; created_at: string }>(`SELECT payload, created_at FROM model_run WHERE machine_id = ? AND model_hash = ? AND kind = ?
      AND code_hash = ? AND conditions = ? AND settings = ? ORDER BY id DESC LIMIT 1`, [id.machineId, id.modelHash, id.kind, id.codeHash, id.conditions, id.settings]);
    return r ? { payload: String(r.payload), createdAt: String(r.created_at) } : undefined;
  }
}

export function rowToMeasurement(r: Record<string, unknown>): MeasurementRow {
  return {
    runId: String(r.run_id), machineId: Number(r.machine_id), layerKey: String(r.layer_key), variant: String(r.variant),
    conditions: String(r.conditions), status: r.status as MeasurementRow['status'], reason: (r.reason as string | null) ?? null,
    medianMs: r.median_ms as number | null, minMs: r.min_ms as number | null, p10Ms: r.p10_ms as number | null, p90Ms: r.p90_ms as number | null,
    cv: r.cv as number | null, samples: r.samples as number | null, batch: r.batch as number | null, wallMedianMs: r.wall_median_ms as number | null,
    maxAbsError: r.max_abs_error as number | null, samplesMs: r.samples_ms ? JSON.parse(String(r.samples_ms)) : null, createdAt: String(r.created_at),
    // Columns a store has only from some schema version on (kernel_hash: 7, origin: 8, config and autotune: 10): null before.
    kernelHash: (r.kernel_hash as string | null | undefined) ?? null, origin: (r.origin as string | null | undefined) ?? null,
    config: r.config ? JSON.parse(String(r.config)) as TuneConfig : null, autotune: (r.autotune as MeasurementRow['autotune'] | undefined) ?? null,
  };
}
