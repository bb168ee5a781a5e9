/**
 * Compress: both variants against the reference (an inner axis, a negative axis with a condition
 * shorter than it, no axis, integer data), its cost (data movement: 0), and ONNX's conformance
 * cases with the condition a constant, as in a model where the layer has a static shape.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compressKernel } from '../../src/kernels/compress.js';
import { kernelFor, layerFlops } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses, runOpConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function compress(shape: number[], condition: number[], axis?: number, dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    const c = g.init('c', 'bool', [condition.length], condition);
    g.output(g.op('Compress', ['x', c], axis === undefined ? {} : { axis }), dtype);
  }, { '': 11 })[0];
}

describe('compress kernel against the reference', () => {
  it('is the registry\'s kernel for Compress, and moves data only', () => {
    const c = compress([2, 5, 3], [1, 0, 1, 1, 0], 1);
    expect(kernelFor('Compress')).toBe(compressKernel);
    expect(c.layer.outputs[0].shape).toEqual([2, 3, 3]);
    expect(c.layer.flops).toBe(0);
    expect(layerFlops(c.layer)).toBe(0);
  });

  it('an inner axis, a negative axis with a short condition, no axis, integer data', async () => {
    expect(await agree(compress([2, 5, 3], [1, 0, 1, 1, 0], 1))).toEqual(['scan', 'table']);
    // The condition covers 3 of 6 columns: the rest are dropped.
    const short = compress([4, 6], [0, 1, 1], -1);
    expect(short.layer.outputs[0].shape).toEqual([4, 2]);
    expect(await agree(short)).toEqual(['scan', 'table']);
    // Without an axis the input is flattened: 7 of its 12 elements are covered, 4 kept.
    const flat = compress([3, 4], [1, 0, 0, 1, 1, 0, 1]);
    expect(flat.layer.outputs[0].shape).toEqual([4]);
    expect(await agree(flat)).toEqual(['scan', 'table']);
    expect(await agree(compress([5, 8], [1, 1, 0, 0, 1], 0, 'int32'))).toEqual(['scan', 'table']);
  });
});

describe('compress ONNX conformance', () => {
  it('every case passes (reference and both variants), the condition a constant', async () => {
    await expectEveryCasePasses('compress', ['Compress'], { cases: 4, passed: 4 * 3 }, (n) => runOpConformance(n, [1]));
  }, 120_000);
});
