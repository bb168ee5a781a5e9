import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fingerprintId, migrate, Store } from '../../src/store/db.js';
import { SCHEMA_VERSION } from '../../src/store/migrations/index.js';
import { DlprofError } from '../../src/util/errors.js';
import { tempDir } from '../support/models.js';

const fp = { adapterVendor: 'mesa', adapterArchitecture: 'software', adapterDevice: 'llvmpipe', adapterDescription: 'llvmpipe: Mesa 25',
  backend: 'vulkan', cpu: 'cpu ×2', os: 'Linux', driverSettings: '', dlprofVersion: '0.1.0' };
const layer = { key: '0123456789abcdef', op: 'Relu', attrs: {}, inputs: [{ dtype: 'float32' as const, shape: [2, 3] }],
  outputs: [{ dtype: 'float32' as const, shape: [2, 3] }], weights: [], flops: 6, bytes: 48, params: 0 };

describe('results store', () => {
  it('migrates a version-1 database with rows to the current schema, keeping the rows', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:', 1);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os, dlprof_version, created_at)
      VALUES ('f', 'mesa', 'software', 'llvmpipe', 'd', 'vulkan', 'c', 'o', '0.0.9', 't')`).run();
    db.prepare(`INSERT INTO layer VALUES ('k', 1, 'Relu', '{}', '[]', '[]', 6, 48)`).run();
    db.prepare(`INSERT INTO measurement (run_id, machine_id, layer_key, variant, status, median_ms, samples, created_at)
      VALUES ('r', 1, 'k', 'naive', 'completed', 0.5, 5, 't')`).run();
    migrate(db, ':memory:');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    // Kept, as `legacy`: timed by the older method, never reused.
    expect(db.prepare('SELECT variant, median_ms, conditions FROM measurement').all()).toEqual([{ variant: 'naive', median_ms: 0.5, conditions: 'legacy' }]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'probe'").get()).toEqual({ name: 'probe' });
    // The hot lookups use their indexes, not table scans.
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1, 'k', 'warm', 'naive') as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    expect(plan('SELECT * FROM measurement WHERE machine_id = ? AND layer_key = ? AND conditions = ? AND variant = ? ORDER BY id DESC LIMIT 1'))
      .toMatch(/USING (COVERING )?INDEX measurement_lookup/);
    expect((db.prepare('EXPLAIN QUERY PLAN SELECT value FROM probe WHERE machine_id = ? AND kind = ? ORDER BY id DESC LIMIT 1').all(1, 'copy') as Array<{ detail: string }>)
      .map((r) => r.detail).join('; ')).toMatch(/INDEX probe_lookup/);
  });

  it('migrates a version-3 database\'s probes, keeping them, to a table that also takes the pass overhead', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:', 3);
    db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os, dlprof_version, created_at)
      VALUES ('f', 'mesa', 'software', 'llvmpipe', 'd', 'vulkan', 'c', 'o', '0.0.9', 't')`).run();
    db.prepare("INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (1, 'copy', 2.5, 'GB/s', 50, 't')").run();
    expect(() => db.prepare("INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (1, 'pass-overhead', 0.002, 'ms', 0.05, 't')").run()).toThrow(/CHECK/);
    migrate(db, ':memory:');
    db.prepare("INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (1, 'pass-overhead', 0.002, 'ms', 0.05, 't')").run();
    expect(() => db.prepare("INSERT INTO probe (machine_id, kind, value, unit, median_ms, created_at) VALUES (1, 'bogus', 1, 'x', 1, 't')").run()).toThrow(/CHECK/);
    expect(db.prepare('SELECT id, kind, value FROM probe ORDER BY id').all()).toEqual([{ id: 1, kind: 'copy', value: 2.5 }, { id: 2, kind: 'pass-overhead', value: 0.002 }]);
    expect((db.prepare('EXPLAIN QUERY PLAN SELECT value FROM probe WHERE machine_id = ? AND kind = ? ORDER BY id DESC LIMIT 1').all(1, 'copy') as Array<{ detail: string }>)
      .map((r) => r.detail).join('; ')).toMatch(/INDEX probe_lookup/);
  });

  it('migrates a version-4 database\'s machines, keeping them, with no driver settings recorded', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:', 4);
    db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os, dlprof_version, created_at)
      VALUES ('f', 'mesa', 'software', 'llvmpipe', 'd', 'vulkan', 'c', 'o', '0.0.9', 't')`).run();
    migrate(db, ':memory:');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT fingerprint, adapter_device, driver_settings FROM machine').all()).toEqual([{ fingerprint: 'f', adapter_device: 'llvmpipe', driver_settings: '' }]);
  });

  it('migrates a version-5 database\'s `inference` results, keeping them, to `legacy-inference` (never reused), other conditions untouched', () => {
    const file = path.join(tempDir(), 'v5.sqlite');
    const db = new Database(file);
    migrate(db, file, 5);
    db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os, dlprof_version, created_at)
      VALUES ('f', 'mesa', 'software', 'llvmpipe', 'd', 'vulkan', 'c', 'o', '0.0.9', 't')`).run();
    db.prepare(`INSERT INTO layer VALUES ('k', 1, 'Relu', '{}', '[]', '[]', 6, 48)`).run();
    const insert = db.prepare(`INSERT INTO measurement (run_id, machine_id, layer_key, variant, conditions, status, median_ms, samples, created_at)
      VALUES ('r', 1, 'k', 'naive', ?, 'completed', 0.5, 5, 't')`);
    for (const c of ['inference', 'warm', 'cold-weights']) insert.run(c);
    db.close();
    const store = Store.open(file);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(store.db.prepare('SELECT conditions FROM measurement ORDER BY id').all()).toEqual([{ conditions: 'legacy-inference' }, { conditions: 'warm' }, { conditions: 'cold-weights' }]);
      expect(store.latestForLayer(1, 'k', 'inference')).toEqual([]);
      expect(store.latestForLayer(1, 'k', 'warm').map((r) => r.conditions)).toEqual(['warm']);
    } finally {
      store.close();
    }
  });

  it('refuses a database written by a newer dlprof, and leaves it untouched', () => {
    const file = path.join(tempDir(), 'newer.sqlite');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const before = fs.readFileSync(file);
    expect(() => Store.open(file)).toThrowError(DlprofError);
    try { Store.open(file); } catch (e) {
      expect((e as DlprofError).code).toBe('E_DB_NEWER');
      expect((e as DlprofError).exit).toBe(6);
      expect((e as DlprofError).message).toContain('newer dlprof');
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file that is not a database', () => {
    const file = path.join(tempDir(), 'not-a-db.sqlite');
    fs.writeFileSync(file, 'this is not sqlite '.repeat(100));
    expect(() => Store.open(file)).toThrowError(/not a dlprof database|cannot open/);
  });

  it('stores machines by fingerprint, measurements, and completed runs', () => {
    const s = Store.open(path.join(tempDir(), 'store.sqlite'));
    const id = s.machineId(fp);
    expect(s.machineId({ ...fp, dlprofVersion: '0.2.0' })).toBe(id); // same machine after an upgrade
    expect(s.machineId({ ...fp, adapterDevice: 'other' })).not.toBe(id);
    // A software driver's settings are part of the identity; without any, the identity is what it
    // was before they were recorded (the fingerprint of the other fields alone).
    const { dlprofVersion: _v, driverSettings: _d, ...before } = fp;
    expect(fingerprintId(fp)).toBe(createHash('sha256').update(JSON.stringify(before)).digest('hex').slice(0, 16));
    const single = s.machineId({ ...fp, driverSettings: 'LP_NUM_THREADS=0' });
    expect(single).not.toBe(id);
    expect(s.machineId({ ...fp, driverSettings: 'LP_NUM_THREADS=2' })).not.toBe(single);
    expect(s.machineId({ ...fp, driverSettings: 'LP_NUM_THREADS=0', dlprofVersion: '0.2.0' })).toBe(single);
    expect(s.db.prepare('SELECT driver_settings FROM machine WHERE id = ?').get(single)).toEqual({ driver_settings: 'LP_NUM_THREADS=0' });
    s.upsertLayers([layer]);
    const runId = s.newRunId();
    const row = { runId, machineId: id, layerKey: layer.key, conditions: 'cold-weights' };
    s.insertMeasurement({ ...row, variant: 'naive', status: 'completed', medianMs: 1, samplesMs: [1, 1.1, 0.9] });
    s.insertMeasurement({ ...row, variant: 'vec4', status: 'mismatch', reason: 'disagrees' });
    s.insertMeasurement({ ...row, variant: 'naive', status: 'completed', medianMs: 2, samplesMs: [2] });
    // Under other conditions: a result of its own, replacing neither.
    s.insertMeasurement({ ...row, conditions: 'warm', variant: 'naive', status: 'completed', medianMs: 0.5, samplesMs: [0.5] });
    expect(s.latest(id, layer.key, 'cold-weights', 'naive')?.medianMs).toBe(2);
    expect(s.latest(id, layer.key, 'warm', 'naive')?.medianMs).toBe(0.5);
    expect(s.latest(id, layer.key, 'cold', 'naive')).toBeUndefined();
    expect(s.latestForLayer(id, layer.key, 'cold-weights').map((m) => [m.variant, m.status, m.conditions]).sort())
      .toEqual([['naive', 'completed', 'cold-weights'], ['vec4', 'mismatch', 'cold-weights']]);
    expect(s.latestForLayer(id, layer.key, 'warm').map((m) => m.medianMs)).toEqual([0.5]);
    expect(s.runs()).toEqual([]);
    s.finishRun({ id: runId, machineId: id, startedAt: new Date().toISOString(), options: {}, measurements: 3 });
    expect(s.runs().map((r) => r.id)).toEqual([runId]);
    s.saveProbe(id, 'copy', 2.5, 'GB/s', 40);
    expect(s.latestProbe(id, 'copy')?.value).toBe(2.5);
    s.close();
  });
});
