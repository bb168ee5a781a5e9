/**
 * Reshape/Flatten/Squeeze/Unsqueeze as copies: both variants against the reference on odd and
 * vec4-sized tensors, int64 (i32 on the GPU), bool and float16 data, attribute and input forms of
 * the axes (opset 11 and 13), and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function reshape(shape: number[], target: number[], dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op('Reshape', ['x', g.ints('s', target)]), dtype);
  })[0];
}

describe('copy', () => {
  it('Reshape: vec4-sized and odd element counts, -1 and 0 entries', async () => {
    expect(await agree(reshape([2, 3, 4], [4, -1]))).toEqual(['copy', 'copy-vec4']);
    expect(await agree(reshape([3, 5, 7], [0, -1]))).toEqual(['copy']);
    expect(await agree(reshape([1, 1, 1], [1]))).toEqual(['copy']);
    expect((await reasons(reshape([3, 5, 7], [0, -1])))['copy-vec4']).toMatch(/multiple of 4/);
    const c = reshape([2, 3, 4], [4, -1]);
    expect(kernelFor('Reshape')!.defaultVariant(c)).toBe('copy-vec4');
    expect(kernelFor('Reshape')!.defaultVariant(reshape([3, 5, 7], [0, -1]))).toBe('copy');
  });
  it('int64, int32, bool and float16 data', async () => {
    expect(await agree(reshape([4, 6], [24], 'int64'))).toEqual(['copy', 'copy-vec4']);
    expect(await agree(reshape([3, 3], [9], 'int32'))).toEqual(['copy']);
    expect(await agree(reshape([2, 8], [16], 'bool'))).toEqual(['copy', 'copy-vec4']);
    expect(await agree(reshape([5, 4], [20], 'float16'))).toEqual(['copy', 'copy-vec4']);
    expect(await agree(reshape([5, 3], [15], 'float16'))).toEqual(['copy']);
  });
  it('a larger copy spans many workgroups', async () => {
    expect(await agree(reshape([64, 1001], [-1]))).toEqual(['copy', 'copy-vec4']);
    expect(await agree(reshape([63, 1001], [-1]))).toEqual(['copy']);
  });
  it('Flatten, Squeeze and Unsqueeze, negative axes, opset 11 attributes and opset 13 inputs', async () => {
    const flat = casesFrom((g) => { g.input('x', 'float32', [2, 3, 5]); g.output(g.op('Flatten', ['x'], { axis: -1 })); })[0];
    expect(flat.layer.outputs[0].shape).toEqual([6, 5]);
    await agree(flat);
    await agree(casesFrom((g) => { g.input('x', 'int64', [2, 3, 5]); g.output(g.op('Flatten', ['x'], { axis: 0 }), 'int64'); })[0]);
    const sq13 = casesFrom((g) => { g.input('x', 'float32', [1, 3, 1, 4]); g.output(g.op('Squeeze', ['x', g.ints('a', [-2, 0])])); })[0];
    expect(sq13.layer.outputs[0].shape).toEqual([3, 4]);
    expect(await agree(sq13)).toEqual(['copy', 'copy-vec4']);
    const sq11 = casesFrom((g) => { g.input('x', 'float32', [1, 3, 1, 5]); g.output(g.op('Squeeze', ['x'], { axes: [0] })); }, { '': 11 })[0];
    expect(sq11.layer.outputs[0].shape).toEqual([3, 1, 5]);
    await agree(sq11);
    const un13 = casesFrom((g) => { g.input('x', 'float32', [3, 5]); g.output(g.op('Unsqueeze', ['x', g.ints('a', [-1, 0])])); })[0];
    expect(un13.layer.outputs[0].shape).toEqual([1, 3, 5, 1]);
    await agree(un13);
    await agree(casesFrom((g) => { g.input('x', 'int64', [3, 4]); g.output(g.op('Unsqueeze', ['x'], { axes: [1] }), 'int64'); }, { '': 11 })[0]);
  });
  it('an empty tensor runs as one empty dispatch', async () => {
    // Shape inference folds empty tensors away; a layer like this arises in a model with empty
    // activations, so it is built from a regular case.
    const r = reshape([2, 3], [3, 2]);
    const c = { ...r, layer: { ...r.layer, inputs: [{ dtype: 'float32' as const, shape: [0, 3] }, r.layer.inputs[1]], outputs: [{ dtype: 'float32' as const, shape: [3, 0] }] } };
    expect(await agree(c)).toEqual(['copy']);
  });
});

describe('copy ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']), runMovementConformance);
    printTally('copy', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Reshape')!.pass).toBeGreaterThanOrEqual(10);
    expect(t.perOp.get('Flatten')!.pass).toBeGreaterThanOrEqual(9);
    expect(t.perOp.get('Squeeze')!.pass).toBeGreaterThanOrEqual(2);
    expect(t.perOp.get('Unsqueeze')!.pass).toBeGreaterThanOrEqual(7);
  }, 60_000);
});
