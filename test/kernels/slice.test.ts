/**
 * Slice: `naive` and `vec4` against the reference — positive and negative steps, negative and
 * out-of-range starts/ends, default axes and steps, negative axes, the opset-9 attribute form,
 * channel slices of NCHW (whole trailing axes merged into one contiguous run, vec4 when aligned),
 * int64 and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function slice(shape: number[], starts: number[], ends: number[], axes?: number[], steps?: number[], dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    const ins = ['x', g.ints('b', starts), g.ints('e', ends)];
    if (axes || steps) ins.push(axes ? g.ints('a', axes) : '');
    if (steps) ins.push(g.ints('s', steps));
    g.output(g.op('Slice', ins), dtype);
  })[0];
}

describe('slice', () => {
  it('steps, negative steps, negative and out-of-range bounds', async () => {
    await agree(slice([10, 7], [1, 0], [9, 7]));
    await agree(slice([10, 7], [-3], [1000], [0]));
    await agree(slice([6, 9, 5], [8, 4], [-100, 0], [1, -1], [-2, -3]));
    await agree(slice([6, 9, 5], [-1], [-7], [0], [-1]));
    await agree(slice([20, 3], [1, 0], [20, 3], [0, 1], [3, 2]));
    const c = slice([5, 6, 7], [-1, 1], [-100, 9], [0, -1], [-2, 2]);
    expect(c.layer.outputs[0].shape).toEqual([3, 6, 3]);
    await agree(c);
  });
  it('opset 9 attributes', async () => {
    const c = casesFrom((g) => {
      g.input('x', 'float32', [4, 5, 8]);
      g.output(g.op('Slice', ['x'], { starts: [1, -4], ends: [3, 100], axes: [0, 2] }));
    }, { '': 9 })[0];
    expect(c.layer.outputs[0].shape).toEqual([2, 5, 4]);
    expect(c.layer.attrs.starts).toEqual([1, 4]);
    expect(await agree(c)).toEqual(['naive', 'vec4']);
  });
  it('channel slices of NCHW merge trailing axes; vec4 needs a 4-aligned contiguous run', async () => {
    // Channels 2..5 of 8 with 3×5 pixels: one run of 60 elements from 30 per image (not aligned).
    expect(await agree(slice([2, 8, 3, 5], [2], [6], [1]))).toEqual(['naive']);
    expect(await agree(slice([2, 8, 3, 4], [1], [6], [1]))).toEqual(['naive', 'vec4']);
    expect(await agree(slice([3, 16], [4], [12], [1]))).toEqual(['naive', 'vec4']);
    const odd = slice([3, 16], [2], [10], [1]);
    expect(await agree(odd)).toEqual(['naive']);
    expect((await reasons(odd)).vec4).toMatch(/not 4-aligned/);
    expect(await agree(slice([3, 16], [14], [2], [1], [-1]))).toEqual(['naive']);
  });
  it('int64 and float16', async () => {
    expect(await agree(slice([5, 8], [1, 4], [4, 8], undefined, undefined, 'int64'))).toEqual(['naive', 'vec4']);
    await agree(slice([7, 3], [5], [0], [0], [-2], 'int64'));
    expect(await agree(slice([4, 12], [0, 4], [3, 12], undefined, undefined, 'float16'))).toEqual(['naive', 'vec4']);
  });
});

describe('slice ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Slice']), runMovementConformance);
    printTally('slice', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Slice')!.cases).toBeGreaterThanOrEqual(8);
    expect(t.perOp.get('Slice')!.skip).toBe(0);
  }, 60_000);
});
