/**
 * Split: the one-pass `fused` variant and the `per-output` copies against the reference — sizes
 * from an attribute (opset 11), an input (13), equal parts and opset-18 num_outputs with a short
 * last part, negative axes, more outputs than a pass can bind, vec4 and scalar per-output passes,
 * int64 and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, gpu, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function split(shape: number[], axis: number, outputs: number, opts: { split?: number[]; opset?: number; numOutputs?: boolean; dtype?: DType } = {}) {
  const opset = opts.opset ?? 17;
  const dtype = opts.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    const names = Array.from({ length: outputs }, (_, i) => `y${i}`);
    const inputs = ['x'];
    const attrs: Record<string, number | number[]> = { axis };
    if (opts.split && opset >= 13) inputs.push(g.ints('s', opts.split));
    if (opts.split && opset < 13) attrs.split = opts.split;
    if (opts.numOutputs) attrs.num_outputs = outputs;
    g.node('Split', inputs, attrs, { outputs: names });
    for (const n of names) g.output(n, dtype);
  }, { '': opset })[0];
}

describe('split', () => {
  it('sizes from an attribute, an input, equal parts and num_outputs', async () => {
    expect(await agree(split([7, 3], 0, 2, { split: [3, 4], opset: 11 }))).toEqual(['fused', 'per-output']);
    expect(await agree(split([2, 9, 4], 1, 3, { split: [2, 3, 4] }))).toEqual(['fused', 'per-output']);
    expect(await agree(split([2, 3, 12], -1, 3))).toEqual(['fused', 'per-output']);
    const c = split([2, 10], 1, 4, { opset: 18, numOutputs: true });
    expect(c.layer.outputs.map((t) => t.shape[1])).toEqual([3, 3, 3, 1]);
    expect(await agree(c)).toEqual(['fused', 'per-output']);
  });
  it('per-output passes use vec4 only where aligned', async () => {
    const { runner } = await gpu();
    const k = kernelFor('Split')!;
    const c = split([3, 4, 2], 1, 3, { split: [2, 1, 1] });
    expect(k.plan(c, 'per-output', runner.caps).passes.map((p) => p.label.endsWith('vec4'))).toEqual([true, false, false]);
    await agree(c);
  });
  it('more outputs than a pass can bind: fused says why, per-output runs', async () => {
    const { runner } = await gpu();
    const n = runner.caps.maxStorageBuffersPerShaderStage;
    const c = split([2, n, 3], 1, n);
    expect(await agree(c)).toEqual(['per-output']);
    expect((await reasons(c)).fused).toMatch(/storage bindings per stage/);
    expect(kernelFor('Split')!.defaultVariant(c)).toBe('per-output');
  });
  it('int64, bool and float16', async () => {
    expect(await agree(split([4, 6], 1, 2, { dtype: 'int64' }))).toEqual(['fused', 'per-output']);
    expect(await agree(split([5, 2], 0, 2, { split: [1, 4], dtype: 'bool' }))).toEqual(['fused', 'per-output']);
    expect(await agree(split([3, 8, 5], 1, 2, { split: [3, 5], dtype: 'float16' }))).toEqual(['fused', 'per-output']);
  });
});

describe('split ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Split']), runMovementConformance);
    printTally('split', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Split')!.cases).toBeGreaterThanOrEqual(7);
    expect(t.perOp.get('Split')!.skip).toBe(0);
  }, 60_000);
});
