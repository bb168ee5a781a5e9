/**
 * `dlprof analyze --value` end to end (slow: lavapipe): the branch the value selects is measured,
 * the whole model runs on dlprof's kernels with the value fed to it, and onnxruntime's output check
 * gets the same value (fed another, it would take the other branch, whose weights differ, and the
 * outputs would not match).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

const FAST = ['--budget-ms', '80', '--runs', '3', '--run-budget-ms', '0', '--no-probe', '--no-framework'];

describe('dlprof analyze --value (slow: end-to-end on lavapipe)', () => {
  const db = path.join(tempDir(), 'value.sqlite');

  it.each([
    ['16000', ['Conv', 'Relu', 'Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']],
    ['8000', ['AveragePool', 'Conv', 'Relu', 'Conv', 'Sigmoid', 'GlobalAveragePool', 'Flatten', 'Gemm']],
  ])('sample_rate=%s: measures the branch taken and checks its outputs against onnxruntime', async (rate, layers) => {
    const r = await dlprof(['analyze', '--value', `sample_rate=${rate}`, fixture('if-gated.onnx'), '--db', db, ...FAST, '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = r.json();
    expect(schemaErrors('analyze', doc)).toBe('');
    expect(doc.model.inputs.find((i: { name: string }) => i.name === 'sample_rate').value).toEqual([Number(rate)]);
    expect(doc.layers.map((l: { op: string }) => l.op)).toEqual(layers);
    expect(doc.latency.measuredMs).toBeGreaterThan(0);
    expect(doc.correctness.reference).toContain('onnxruntime');
    expect(doc.correctness.ok).toBe(true);
    expect(doc.notes.join('\n')).not.toContain('--value');
  });

  it('without --value, the note names the input to bind, and nothing is called a mismatch', async () => {
    const r = await dlprof(['analyze', fixture('if-gated.onnx'), '--db', db, ...FAST, '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = r.json();
    expect(schemaErrors('analyze', doc)).toBe('');
    const notes = doc.notes.join('\n');
    expect(notes).toContain("depends on input 'sample_rate' (int64 scalar) for which branch runs: bind it with --value sample_rate=V");
    // The graph's output comes from the untimed If: the whole model is not run, nor checked.
    expect(notes).toContain("graph output 'output' is computed by nodes dlprof does not run");
    expect(doc.correctness).toBeNull();
  });
});
