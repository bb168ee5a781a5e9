/**
 * Concat: the one-pass `select` variant and the `per-input` copies against the reference on every
 * axis (negative too), inputs of different extents, one input, inputs with nothing along the axis,
 * more inputs than a pass can bind (groups of passes), vec4 and scalar per-input passes, int64
 * and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, gpu, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function concat(shapes: number[][], axis: number, dtype: DType = 'float32') {
  return casesFrom((g) => {
    const names = shapes.map((s, i) => g.input(`x${i}`, dtype, s));
    g.output(g.op('Concat', names, { axis }), dtype);
  })[0];
}

describe('concat', () => {
  it('every axis, negative axes, different extents', async () => {
    expect(await agree(concat([[2, 3, 4], [5, 3, 4]], 0))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[2, 3, 4], [2, 1, 4], [2, 6, 4]], 1))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[2, 3, 5], [2, 3, 2], [2, 3, 7]], -1))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[3, 7], [3, 7]], -2))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[5], [3], [1]], 0))).toEqual(['select', 'per-input']);
  });
  it('a single input, and inputs with nothing along the axis', async () => {
    await agree(concat([[4, 5]], 1));
    const c = concat([[2, 3], [2, 4]], 1);
    // An input empty along the axis (e.g. an empty KV cache at the first step), built by hand:
    // shape inference folds empty tensors.
    const empty = { ...c, layer: { ...c.layer, inputs: [{ dtype: 'float32' as const, shape: [2, 0] }, c.layer.inputs[1]], outputs: [{ dtype: 'float32' as const, shape: [2, 4] }] } };
    expect(await agree(empty)).toEqual(['select', 'per-input']);
  });
  it('per-input passes use vec4 only where chunks and destinations are 4-aligned', async () => {
    const { runner } = await gpu();
    const k = kernelFor('Concat')!;
    const aligned = concat([[3, 8], [3, 4], [3, 5]], 1);
    const labels = k.plan(aligned, 'per-input', runner.caps).passes.map((p) => p.label);
    expect(labels).toEqual(['concat/per-input input 0', 'concat/per-input input 1', 'concat/per-input input 2']);
    const aligned2 = concat([[3, 8], [5, 8], [1, 8]], 0);
    expect(k.plan(aligned2, 'per-input', runner.caps).passes.map((p) => p.label.endsWith('vec4'))).toEqual([true, true, true]);
    const mixed = concat([[2, 4, 1], [2, 3, 1], [2, 1, 1]], 1);
    expect(k.plan(mixed, 'per-input', runner.caps).passes.map((p) => p.label.endsWith('vec4'))).toEqual([true, false, false]);
    await agree(aligned);
    await agree(aligned2);
    await agree(mixed);
  });
  it('more inputs than a pass can bind: select runs in groups', async () => {
    const { runner } = await gpu();
    const k = kernelFor('Concat')!;
    const n = runner.caps.maxStorageBuffersPerShaderStage + 4;
    const c = concat(Array.from({ length: n }, (_, i) => [2, 1 + (i % 3), 3]), 1);
    const plan = k.plan(c, 'select', runner.caps);
    expect(plan.passes.length).toBe(2);
    for (const p of plan.passes) expect(p.buffers.length).toBeLessThanOrEqual(runner.caps.maxStorageBuffersPerShaderStage);
    expect(await agree(c)).toEqual(['select', 'per-input']);
    // With only 4 bindings per stage: groups of 3 inputs.
    const few = concat(Array.from({ length: 7 }, (_, i) => [3, 2 + i]), -1);
    expect(k.plan(few, 'select', { ...runner.caps, maxStorageBuffersPerShaderStage: 4 }).passes.length).toBe(3);
    expect(await agree(few, undefined, { maxStorageBuffersPerShaderStage: 4 })).toEqual(['select', 'per-input']);
  });
  it('int64, bool and float16', async () => {
    expect(await agree(concat([[2, 3], [2, 5]], 1, 'int64'))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[3, 3], [1, 3]], 0, 'bool'))).toEqual(['select', 'per-input']);
    expect(await agree(concat([[2, 3, 6], [2, 3, 2]], 2, 'float16'))).toEqual(['select', 'per-input']);
  });
});

describe('concat ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Concat']), runMovementConformance);
    printTally('concat', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Concat')!.cases).toBe(12);
    expect(t.perOp.get('Concat')!.skip).toBe(0);
  }, 60_000);
});
