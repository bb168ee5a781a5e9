/**
 * ReverseSequence (both axis layouts, lengths 0…T) and Det (batches, sizes 1–6, singular and
 * pivoting cases) against the reference, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, inputsFor, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

describe('rearrange kernels against the reference', () => {
  it('ReverseSequence: batch-major and time-major, every length, int data', async () => {
    const rs = (shape: number[], batch_axis: number, time_axis: number, dtype: DType = 'float32') => casesFrom((g) => {
      g.input('x', dtype, shape);
      g.input('l', 'int64', [shape[batch_axis]]);
      g.output(g.op('ReverseSequence', ['x', 'l'], { batch_axis, time_axis }), dtype);
    })[0];
    const lens = (n: number, T: number): HostTensor => ({ dtype: 'int64', shape: [n], data: Int32Array.from({ length: n }, (_, i) => i % (T + 1)) });
    let c = rs([4, 6, 3], 0, 1);
    let ins = inputsFor(c);
    ins[1] = lens(4, 6);
    expect(await agree(c, ins)).toEqual(['naive']);
    c = rs([5, 3, 2, 2], 1, 0, 'int32');
    ins = inputsFor(c);
    ins[1] = lens(3, 5);
    expect(await agree(c, ins)).toEqual(['naive']);
  });

  it('CenterCropPad (crop, pad, mixed, axes) and Col2Im (pads, strides, dilations)', async () => {
    const ccp = (shape: number[], target: number[], axes?: number[]) => casesFrom((g) => {
      g.input('x', 'float32', shape);
      g.output(g.op('CenterCropPad', ['x', g.ints('s', target)], axes ? { axes } : {}), 'float32');
    }, { '': 18 })[0];
    expect(await agree(ccp([5, 8], [3, 11]))).toEqual(['naive']);
    expect(await agree(ccp([2, 7, 6], [4, 9], [1, 2]))).toEqual(['naive']);
    const c2i = (x: number[], img: number[], block: number[], attrs: Record<string, number[]>) => casesFrom((g) => {
      g.input('x', 'float32', x);
      g.output(g.op('Col2Im', ['x', g.ints('i', img), g.ints('b', block)], attrs), 'float32');
    }, { '': 18 })[0];
    // 5×5 image, 2×2 blocks, stride 1: 4×4 = 16 columns; C = 2 → 8 rows.
    expect(await agree(c2i([1, 8, 16], [5, 5], [2, 2], {}))).toEqual(['naive']);
    // Pads 1, stride 2, dilation 2 on a 6×7 image with 3×2 blocks.
    const cols = [Math.floor((6 + 2 - 2 * 2 - 1) / 2) + 1, Math.floor((7 + 2 - 2 * 1 - 1) / 2) + 1];
    expect(await agree(c2i([2, 6, cols[0] * cols[1]], [6, 7], [3, 2], { pads: [1, 1, 1, 1], strides: [2, 2], dilations: [2, 2] }))).toEqual(['naive']);
  });

  it('Det: batches of small matrices, a singular one, one that needs pivoting', async () => {
    for (const shape of [[3, 3], [4, 2, 2], [2, 3, 5, 5], [6, 6], [3, 1, 1]]) {
      const c = casesFrom((g) => {
        g.input('x', 'float32', shape);
        g.output(g.op('Det', ['x']), 'float32');
      })[0];
      expect(await agree(c), `${shape}`).toEqual(['lu']);
    }
    const c = casesFrom((g) => {
      g.input('x', 'float32', [2, 3, 3]);
      g.output(g.op('Det', ['x']), 'float32');
    })[0];
    // A singular matrix (two equal rows) and a permutation-like one (zero first pivot): det 0 and −6.
    const x: HostTensor = { dtype: 'float32', shape: [2, 3, 3], data: Float32Array.of(1, 2, 3, 1, 2, 3, 4, 5, 6, 0, 2, 0, 3, 0, 0, 0, 0, 1) };
    expect(await agree(c, [x])).toEqual(['lu']);
    expect([...kernelFor('Det')!.reference(c, [x])[0].data]).toEqual([0, -6]);
  });
});

describe('rearrange ONNX conformance', () => {
  it('every case passes (reference and kernel)', async () => {
    await expectEveryCasePasses('rearrange', ['ReverseSequence', 'Det'], { cases: 4, passed: 8 });
  }, 120_000);
});
