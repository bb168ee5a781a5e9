import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/db.js';
import { EXPORT_FORMAT_VERSION, exportResults, importResults } from '../../src/store/exchange.js';
import { listMachines, resolveMachine } from '../../src/store/machines.js';
import { DlprofError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

let n = 0;
/** A fresh copy of the H200's store (schema 6): opening it migrates the copy, never the fixture. */
function h200Store(): Store {
  const file = path.join(tempDir(), `h200-${n++}.sqlite`);
  fs.copyFileSync(fixture('h200-resnet-tiny.sqlite'), file);
  fs.chmodSync(file, 0o644);
  return Store.open(file);
}
const emptyStore = (): Store => Store.open(path.join(tempDir(), `empty-${n++}.sqlite`));

/** Every row of every table, as text: equal digests mean an unchanged store. */
function digest(s: Store): string {
  const tables = s.sql.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map((r) => r.name);
  return createHash('sha256').update(JSON.stringify(tables.map((t) => s.sql.all(`SELECT * FROM ${t} ORDER BY rowid`)))).digest('hex');
}

describe('export and import', () => {
  it("round-trips the H200's store: every measurement with its raw samples, probes and provenance", () => {
    const src = h200Store();
    const doc = exportResults(src, { dlprofVersion: '0.1.0' });
    expect(schemaErrors('results-file', doc)).toBe('');
    const srcRows = src.sql.all<{ n: number }>('SELECT COUNT(*) AS n FROM measurement')[0].n;
    expect(doc.measurements).toHaveLength(srcRows);
    expect(doc.machines).toHaveLength(1);
    expect(doc.machines[0].adapterDevice).toBe('nvidia-h200');
    expect(doc.machines[0].probes.map((p) => p.kind)).toContain('pass-overhead');
    const conv = doc.measurements.find((m) => m.status === 'completed' && doc.layers.find((l) => l.key === m.layerKey)?.op === 'Conv')!;
    expect(conv.kernel).toBe('conv');
    expect(conv.samplesMs!.length).toBe(conv.samples);
    expect(conv.kernelHash).toBeNull();

    const dst = emptyStore();
    const text = JSON.stringify(doc);
    const first = importResults(dst, [{ file: 'h200.json', text }]);
    expect(first.files[0]).toMatchObject({ machines: 1, layers: doc.layers.length, measurements: srcRows, alreadyPresent: 0 });
    const [m] = listMachines(dst);
    expect(m).toMatchObject({ fingerprint: doc.machines[0].fingerprint, measurements: srcRows, imported: srcRows, layers: 42 });
    // Where each result came from: the import row and the original store.
    const row = dst.sql.get<{ origin: string; import_id: number }>('SELECT origin, import_id FROM measurement LIMIT 1')!;
    expect(row.origin).toBe(doc.source);
    expect(dst.sql.get<{ file: string; sha256: string }>('SELECT file, sha256 FROM import_batch WHERE id = ?', [row.import_id])).toEqual({
      file: 'h200.json', sha256: createHash('sha256').update(text).digest('hex') });
    // The same samples as in the source store.
    const id = resolveMachine(dst, 'h200').id;
    const srcId = resolveMachine(src, 'h200').id;
    expect(dst.latest(id, conv.layerKey, conv.conditions, conv.variant)!.samplesMs).toEqual(src.latest(srcId, conv.layerKey, conv.conditions, conv.variant)!.samplesMs);

    // Idempotent: the second import adds nothing, not even an import row.
    const before = digest(dst);
    const again = importResults(dst, [{ file: 'h200.json', text }]);
    expect(again.files[0]).toMatchObject({ importId: null, measurements: 0, probes: 0, alreadyPresent: srcRows });
    expect(digest(dst)).toBe(before);

    // Exported again from the importing store, results keep their first origin.
    const re = exportResults(dst, { dlprofVersion: '0.1.0' });
    expect(new Set(re.measurements.map((x) => x.origin))).toEqual(new Set([doc.source]));
    src.close();
    dst.close();
  });

  it('carries kernelHash (store schema 7: the code that made a result) across export and import', () => {
    const src = h200Store();
    // The H200's rows predate the column (schema 6): migrated, they carry none; give them some.
    expect(src.sql.all<{ kernel_hash: string | null }>('SELECT kernel_hash FROM measurement').every((r) => r.kernel_hash === null)).toBe(true);
    src.sql.run("UPDATE measurement SET kernel_hash = 'h' || id");
    const doc = exportResults(src, { dlprofVersion: '0.1.0' });
    expect(doc.measurements.every((m) => /^h\d+$/.test(m.kernelHash!))).toBe(true);
    const dst = emptyStore();
    importResults(dst, [{ file: 'x.json', text: JSON.stringify(doc) }]);
    expect(dst.sql.all<{ kernel_hash: string }>('SELECT kernel_hash FROM measurement').map((r) => r.kernel_hash).sort())
      .toEqual(doc.measurements.map((m) => m.kernelHash).sort());
    for (const s of [src, dst]) s.close();
  });

  it('exports only the machines and layers asked for', () => {
    const src = h200Store();
    const doc = exportResults(src, { dlprofVersion: '0.1.0' });
    const keys = new Set(doc.layers.slice(0, 3).map((l) => l.key));
    const part = exportResults(src, { dlprofVersion: '0.1.0', layerKeys: keys });
    expect(new Set(part.layers.map((l) => l.key))).toEqual(keys);
    expect(part.measurements.length).toBe(doc.measurements.filter((m) => keys.has(m.layerKey)).length);
    src.close();
  });

  it('refuses truncated, corrupt, foreign, inconsistent and newer files, leaving the store as it was', () => {
    const src = h200Store();
    const doc = exportResults(src, { dlprofVersion: '0.1.0' });
    const good = JSON.stringify(doc);
    const dst = emptyStore();
    importResults(dst, [{ file: 'first.json', text: JSON.stringify({ ...doc, measurements: doc.measurements.slice(0, 10) }) }]);
    const before = digest(dst);
    const bad: Array<[string, string, string, RegExp]> = [
      ['truncated', good.slice(0, Math.floor(good.length / 2)), 'E_IMPORT_FORMAT', /truncated/],
      ['foreign', JSON.stringify({ schemaVersion: 5, layers: [] }), 'E_IMPORT_FORMAT', /not a dlprof results file/],
      ['newer', JSON.stringify({ ...doc, formatVersion: EXPORT_FORMAT_VERSION + 1, dlprofVersion: '9.0.0' }), 'E_IMPORT_NEWER', /newer dlprof \(9\.0\.0/],
      ['corrupt', JSON.stringify({ ...doc, measurements: [...doc.measurements.slice(0, 50), { ...doc.measurements[50], status: 'bogus' }] }), 'E_IMPORT_FORMAT', /status/],
      ['dangling', JSON.stringify({ ...doc, layers: doc.layers.slice(1) }), 'E_IMPORT_FORMAT', /names layer/],
    ];
    for (const [name, text, code, message] of bad) {
      let err: unknown;
      try { importResults(dst, [{ file: `${name}.json`, text: good }, { file: `${name}.json`, text }]); } catch (e) { err = e; }
      expect(err, name).toBeInstanceOf(DlprofError);
      expect((err as DlprofError).code, name).toBe(code);
      expect((err as DlprofError).message, name).toMatch(message);
      expect((err as DlprofError).message, name).toContain(`${name}.json`);
      expect(digest(dst), name).toBe(before);
    }
    // A failure inside the transaction (here the database refusing the file's last measurement, after
    // a new probe and every other measurement were written) rolls back everything written before it.
    const broken = { ...doc, machines: [{ ...doc.machines[0], probes: [...doc.machines[0].probes, { ...doc.machines[0].probes[0], kind: 'fma-f32', createdAt: 'later', value: -1 }] }] };
    const db = dst.db;
    db.exec("CREATE TRIGGER fail_late BEFORE INSERT ON measurement WHEN NEW.layer_key = '" + doc.measurements[doc.measurements.length - 1].layerKey + "' BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => importResults(dst, [{ file: 'late.json', text: JSON.stringify(broken) }])).toThrow(/disk full/);
    db.exec('DROP TRIGGER fail_late');
    expect(digest(dst)).toBe(before);
    src.close();
    dst.close();
  });

  it('names the known machines when asked for an unknown one', () => {
    const s = h200Store();
    expect(() => resolveMachine(s, 'amd-mi300')).toThrowError(/no such machine.*known: 99c7f1b6a7dfa2af \(nvidia-h200/);
    expect(resolveMachine(s, '99c7').adapterDevice).toBe('nvidia-h200');
    expect(resolveMachine(s, 'H200').fingerprint).toBe('99c7f1b6a7dfa2af');
    s.close();
  });
});
