/**
 * Model-level measurements in the store (src/store/model-runs.ts, migration 11): what a stored run
 * is the run of (the model as analyzed, the code, conditions, settings), and that only a run of
 * exactly that identity is found again.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, Store } from '../../src/store/db.js';
import { SCHEMA_VERSION } from '../../src/store/migrations/index.js';
import { MODEL_RUN_FORMAT, modelIdentity, storedModelRun, storeModelRun, type ModelRunKey } from '../../src/store/model-runs.js';
import { loadGraph } from '../../src/kernels/model.js';
import { fixture, noBindings, tempDir } from '../support/models.js';

const fp = { adapterVendor: 'mesa', adapterArchitecture: 'software', adapterDevice: 'llvmpipe', adapterDescription: 'llvmpipe: Mesa 25',
  backend: 'vulkan', cpu: 'cpu ×2', os: 'Linux', driverSettings: '', dlprofVersion: '0.1.0' };

describe('stored model runs', () => {
  it('migrates a version-8 database, keeping its rows, to one with the model_run table and its lookup index', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:', 8);
    db.prepare(`INSERT INTO machine (fingerprint, adapter_vendor, adapter_architecture, adapter_device, adapter_description, backend, cpu, os, dlprof_version, created_at)
      VALUES ('f', 'mesa', 'software', 'llvmpipe', 'd', 'vulkan', 'c', 'o', '0.1.0', 't')`).run();
    migrate(db, ':memory:');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT fingerprint FROM machine').all()).toEqual([{ fingerprint: 'f' }]);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT payload, created_at FROM model_run WHERE machine_id = ? AND model_hash = ? AND kind = ?
      AND code_hash = ? AND conditions = ? AND settings = ? ORDER BY id DESC LIMIT 1`).all(1, 'm', 'end-to-end', 'c', 'inference', '{}') as Array<{ detail: string }>)
      .map((r) => r.detail).join('; ');
    expect(plan).toMatch(/USING INDEX model_run_lookup/);
  });

  it('finds a run again only under the same machine, model, kind, code, conditions, settings and dlprof version', () => {
    const store = Store.open(path.join(tempDir(), 'runs.sqlite'));
    try {
      const s = { store, machineId: store.machineId(fp), fp };
      const key: ModelRunKey = { kind: 'end-to-end', model: 'm1', code: 'c1', conditions: 'inference', settings: { runs: 10, runBudgetMs: 10000 } };
      expect(storedModelRun(s, key)).toBeUndefined();
      const payload = { run: { totalMs: 1.2345678901234567, totalsMs: [1.1, 1.3], layers: [{ variant: 'naive', ms: 0.5, samplesMs: [0.5], startMs: 0 }] }, correctness: null };
      const at = storeModelRun(s, key, payload);
      // Numbers come back to the last bit: a reused latency is the measured one.
      expect(storedModelRun(s, key)).toEqual({ payload, measuredAt: at });
      expect(new Date(at).toISOString()).toBe(at);
      for (const other of [{ model: 'm2' }, { kind: 'framework' as const }, { code: 'c2' }, { conditions: 'warm' },
        { settings: { runs: 11, runBudgetMs: 10000 } }, { settings: { runs: 10, runBudgetMs: 0 } }]) {
        expect(storedModelRun(s, { ...key, ...other }), JSON.stringify(other)).toBeUndefined();
      }
      // The settings' order does not matter; dlprof's version and the payload format do.
      expect(storedModelRun(s, { ...key, settings: { runBudgetMs: 10000, runs: 10 } })?.measuredAt).toBe(at);
      expect(storedModelRun({ ...s, fp: { ...fp, dlprofVersion: '0.2.0' } }, key)).toBeUndefined();
      expect(JSON.parse((store.db.prepare('SELECT settings FROM model_run').get() as { settings: string }).settings))
        .toEqual({ dlprof: '0.1.0', format: MODEL_RUN_FORMAT, runBudgetMs: 10000, runs: 10 });
      // Another machine has none of this one's runs.
      expect(storedModelRun({ ...s, machineId: store.machineId({ ...fp, adapterDevice: 'other' }) }, key)).toBeUndefined();
      // The newest of an identity is the one found; an unreadable payload is none.
      const later = storeModelRun(s, key, { ...payload, correctness: { ok: true } });
      expect(storedModelRun<typeof payload>(s, key)?.payload.correctness).toEqual({ ok: true });
      expect(storedModelRun(s, key)?.measuredAt).toBe(later);
      store.db.prepare("UPDATE model_run SET payload = '{trunc' WHERE id = (SELECT MAX(id) FROM model_run)").run();
      expect(storedModelRun(s, key)).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it('identifies the model by its file, its external data, its bindings and its layers', () => {
    const dir = tempDir();
    const copy = (name: string): string => {
      const to = path.join(dir, name);
      fs.copyFileSync(fixture(name), to);
      return to;
    };
    const vit = copy('vit-tiny.onnx');
    const bound = (batch: number) => ({ ...noBindings(), dims: new Map([['batch', batch]]) });
    const id1 = modelIdentity(loadGraph(vit, bound(1)));
    expect(id1).toMatch(/^[0-9a-f]{64}$/);
    expect(modelIdentity(loadGraph(vit, bound(1)))).toBe(id1);
    expect(modelIdentity(loadGraph(vit, bound(2)))).not.toBe(id1);
    // A byte of the file changed (a weight's value: the layers' keys stay the same) is another model.
    const g = loadGraph(vit, bound(1));
    const weight = [...g.constTensors.values()].map((t) => t.weight?.proto.rawData).find((d) => d && d.length >= 64)!;
    const bytes = fs.readFileSync(vit);
    const at = bytes.indexOf(Buffer.from(weight));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1] ^= 0x01;
    fs.writeFileSync(vit, bytes);
    const changed = loadGraph(vit, bound(1));
    expect(changed.nodes.map((n) => n.key)).toEqual(g.nodes.map((n) => n.key));
    expect(modelIdentity(changed)).not.toBe(id1);

    // External data: its bytes count, though the .onnx file stays the same.
    const ext = copy('external-data.onnx');
    copy('external-data.bin');
    const e1 = modelIdentity(loadGraph(ext, noBindings()));
    const bin = fs.readFileSync(path.join(dir, 'external-data.bin'));
    bin[0] ^= 0x01;
    fs.writeFileSync(path.join(dir, 'external-data.bin'), bin);
    expect(modelIdentity(loadGraph(ext, noBindings()))).not.toBe(e1);
  });
});
