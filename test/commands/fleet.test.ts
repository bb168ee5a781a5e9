import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

/** The H200's end-to-end time for resnet-tiny, measured there by `analyze` (fixtures/README.md). */
const H200_RESNET_TINY_MS = 0.57;

/** The H200's results as another machine would receive them: its store (schema 6) exported to a file. */
async function h200Export(): Promise<string> {
  const dir = tempDir();
  const src = path.join(dir, 'h200-src.sqlite');
  fs.copyFileSync(fixture('h200-resnet-tiny.sqlite'), src);
  fs.chmodSync(src, 0o644);
  const file = path.join(dir, 'h200.json');
  const r = await dlprof(['export', file, '--machine', 'h200', '--db', src, '--json']);
  expect(r.status, r.stderr).toBe(0);
  expect(schemaErrors('export', r.json())).toBe('');
  expect(r.json().measurements).toBeGreaterThan(100);
  return file;
}

describe('across machines', () => {
  it('imports an H200 into a store, once, and predicts resnet-tiny there without running anything', async () => {
    const file = await h200Export();
    const db = path.join(tempDir(), 'fleet.sqlite');
    const first = await dlprof(['import', file, '--db', db, '--json']);
    expect(first.status, first.stderr).toBe(0);
    expect(schemaErrors('import', first.json())).toBe('');
    expect(first.json().files[0]).toMatchObject({ machines: 1, alreadyPresent: 0 });
    const again = await dlprof(['import', file, '--db', db]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/nothing new \(\d+ measurements already here\)/);

    const m = await dlprof(['machines', '--db', db, '--json']);
    expect(schemaErrors('machines', m.json())).toBe('');
    expect(m.json().machines).toHaveLength(1);
    expect(m.json().machines[0]).toMatchObject({ name: 'nvidia-h200', layers: 42, imported: first.json().files[0].measurements });
    expect((await dlprof(['machines', '--db', db])).stdout).toContain('nvidia-h200');

    const p = await dlprof(['predict', fixture('resnet-tiny.onnx'), '--machine', 'h200', '--db', db, '--json']);
    expect(p.status, p.stderr).toBe(0);
    const doc = p.json();
    expect(schemaErrors('predict', doc)).toBe('');
    expect(doc.coverage).toMatchObject({ layers: 73, measuredLayers: 73, uniqueLayers: 42, measuredUniqueLayers: 42, timeShare: 1 });
    expect(doc.missing).toEqual([]);
    // The sum it reports is the sum of its layers, and the bounds sit below it.
    const sum = doc.layers.reduce((a: number, l: { count: number; ms: number }) => a + l.count * l.ms, 0);
    expect(doc.predictedMs).toBeCloseTo(sum, 9);
    expect(doc.sequentialLowerBoundMs).toBeLessThanOrEqual(doc.predictedMs);
    expect(doc.parallelLowerBoundMs).toBeLessThanOrEqual(doc.sequentialLowerBoundMs + 1e-12);
    // Against what the H200 measured end to end: the layer sum over-predicts a model run there
    // (inside one submission the GPU overlaps small layers), but stays within 2×.
    expect(doc.predictedMs).toBeGreaterThan(H200_RESNET_TINY_MS);
    expect(doc.predictedMs).toBeLessThan(2 * H200_RESNET_TINY_MS);
    const human = await dlprof(['predict', fixture('resnet-tiny.onnx'), '--machine', 'h200', '--db', db]);
    expect(human.stdout).toMatch(/predicted end-to-end: 0\.\d+ ms/);
    expect(human.stdout).toContain('73/73 layers');

    // A model the H200 measured only in part: the missing layers are listed, with their share.
    const part = (await dlprof(['predict', fixture('mobilenet-tiny.onnx'), '--machine', '99c7f1b6', '--db', db, '--json'])).json();
    expect(part.coverage.measuredUniqueLayers).toBeLessThan(part.coverage.uniqueLayers);
    expect(part.missing.length).toBe(part.coverage.uniqueLayers - part.coverage.measuredUniqueLayers);
    expect(part.coverage.timeShare).toBeGreaterThan(0);
    expect(part.coverage.timeShare).toBeLessThan(1);
  });

  it('names the known machines for an unknown one, and leaves the store alone on a bad file', async () => {
    const file = await h200Export();
    const db = path.join(tempDir(), 'bad.sqlite');
    expect((await dlprof(['import', file, '--db', db])).status).toBe(0);
    const r = await dlprof(['predict', fixture('resnet-tiny.onnx'), '--machine', 'mi300', '--db', db, '--json']);
    expect(r.status).toBe(2);
    expect(schemaErrors('error', r.json())).toBe('');
    expect(r.json().error.code).toBe('E_UNKNOWN_MACHINE');
    expect(r.json().error.message).toMatch(/known: 99c7f1b6a7dfa2af \(nvidia-h200/);

    const before = (await dlprof(['machines', '--db', db, '--json'])).json();
    const text = fs.readFileSync(file, 'utf8');
    const cut = path.join(tempDir(), 'cut.json');
    fs.writeFileSync(cut, text.slice(0, text.length - 1000));
    const foreign = path.join(tempDir(), 'foreign.json');
    fs.writeFileSync(foreign, JSON.stringify({ hello: 'world' }));
    for (const f of [cut, foreign, fixture('resnet-tiny.onnx')]) {
      const bad = await dlprof(['import', file, f, '--db', db, '--json']);
      expect(bad.status, f).toBe(3);
      expect(bad.json().error.code).toBe('E_IMPORT_FORMAT');
      expect(bad.json().error.message).toContain(path.basename(f));
    }
    expect((await dlprof(['machines', '--db', db, '--json'])).json()).toEqual(before);
    // A bad file never creates a store either.
    const none = path.join(tempDir(), 'none.sqlite');
    expect((await dlprof(['import', cut, '--db', none])).status).toBe(3);
    expect(fs.existsSync(none)).toBe(false);
  });

  it('keeps lavapipe with LP_NUM_THREADS=0 and =2 apart, and compares this machine with the H200', async () => {
    const db = path.join(tempDir(), 'here.sqlite');
    for (const threads of ['0', '2']) {
      const b = await dlprof(['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--variant', 'naive', '--budget-ms', '200', '--db', db, '--json'], { LP_NUM_THREADS: threads });
      expect(b.status, b.stderr).toBe(0);
      expect(b.json().machine.driverSettings).toBe(`LP_NUM_THREADS=${threads}`);
    }
    expect((await dlprof(['import', await h200Export(), '--db', db])).status).toBe(0);
    const ms = (await dlprof(['machines', '--db', db, '--json'])).json().machines;
    expect(ms).toHaveLength(3);
    const lp = ms.filter((m: { driverSettings: string }) => m.driverSettings);
    expect(lp.map((m: { driverSettings: string }) => m.driverSettings).sort()).toEqual(['LP_NUM_THREADS=0', 'LP_NUM_THREADS=2']);
    expect(new Set(lp.map((m: { fingerprint: string }) => m.fingerprint)).size).toBe(2);
    // Both measured resnet-tiny's Relu layers (9 of them), each with its own numbers.
    expect(lp.every((m: { layers: number }) => m.layers === 9)).toBe(true);

    const c = await dlprof(['compare', '--machine', lp[0].fingerprint, '--machine', 'h200', fixture('resnet-tiny.onnx'), '--db', db, '--json']);
    expect(c.status, c.stderr).toBe(0);
    const doc = c.json();
    expect(schemaErrors('compare', doc)).toBe('');
    expect(doc.mode).toBe('machines');
    expect(doc.summary.shared).toBe(9);
    expect(doc.layers.every((l: { op: string }) => l.op === 'Relu')).toBe(true);
    expect(doc.onlyBase).toEqual([]);
    expect(doc.onlyHead).toHaveLength(42 - 9);
    expect(doc.byOp.map((o: { op: string }) => o.op)).toEqual(['Relu']);
    for (const l of doc.layers) expect(l.ratio).toBeCloseTo(l.headMs / l.baseMs, 12);
    expect(doc.models[0]).toMatchObject({ name: 'resnet-tiny', headCoverage: 1 });
    expect(doc.models[0].baseCoverage).toBeCloseTo(19 / 73, 12);
    const human = await dlprof(['compare', '--machine', lp[0].fingerprint, '--machine', 'h200', '--db', db]);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/9 shared layers: nvidia-h200 takes [\d.]+× /);
    expect(human.stdout).toContain('33 layers');
  });
});
