/**
 * DFT, STFT and the cosine windows against the reference (real and complex input, inner and outer
 * axes, dft_length padding and truncation, onesided, inverse, windowed frames) and ONNX's
 * conformance cases (dft_length, frame_step and frame_length as constants; the windows, folded
 * by the model processor, rebuilt as layers).
 */
import { afterAll, describe, expect, it } from 'vitest';

import { kernelFor } from '../../src/kernels/registry.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { MAX_FOLD_ELEMENTS } from '../../src/onnx/tensor.js';
import { agree, casesFrom, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, expectEveryCasePasses, rebuiltLayer, runOpConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function dft(shape: number[], attrs: Record<string, AttrInput>, length?: number) {
  return casesFrom((g) => {
    g.input('x', 'float32', shape);
    g.output(g.op('DFT', ['x', ...(length !== undefined ? [g.ints('n', [length], [])] : [])], attrs), 'float32');
  }, { '': 17 })[0];
}

describe('signal kernels against the reference', () => {
  it('DFT: real and complex, axes, dft_length, onesided, inverse', async () => {
    expect(await agree(dft([2, 12, 1], { axis: 1 }))).toEqual(['naive']);
    expect(await agree(dft([2, 5, 9, 2], { axis: 2 }))).toEqual(['naive']);
    expect(await agree(dft([1, 10, 3, 1], { axis: 1, onesided: 1 }))).toEqual(['naive']);
    expect(await agree(dft([2, 7, 2], { axis: 1, inverse: 1 }, 12))).toEqual(['naive']);
    expect(await agree(dft([2, 16, 1], { axis: 1 }, 9))).toEqual(['naive']);
    // A constant signal's transform is N at bin 0 and 0 elsewhere.
    const c = dft([1, 4, 1], { axis: 1 });
    const y = kernelFor('DFT')!.reference(c, [{ dtype: 'float32', shape: [1, 4, 1], data: Float32Array.of(1, 1, 1, 1) }])[0];
    expect([...y.data].map((v) => Math.round(v * 1e6) / 1e6 + 0)).toEqual([4, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('STFT: with and without a window, real and complex, onesided or not', async () => {
    const stft = (shape: number[], step: number, fl: number, window: boolean, onesided: number) => casesFrom((g) => {
      g.input('x', 'float32', shape);
      if (window) g.input('w', 'float32', [fl]);
      g.output(g.op('STFT', ['x', g.ints('s', [step], []), window ? 'w' : '', window ? '' : g.ints('l', [fl], [])], { onesided }), 'float32');
    }, { '': 17 })[0];
    expect(await agree(stft([2, 64, 1], 8, 16, true, 1))).toEqual(['naive']);
    expect(await agree(stft([1, 50, 2], 5, 12, false, 0))).toEqual(['naive']);
  });

  it('MelWeightMatrix above the folding limit', async () => {
    const c = casesFrom((g) => {
      const f = (n: string, v: number) => g.init(n, 'float32', [], Float32Array.of(v));
      g.output(g.op('MelWeightMatrix', [g.ints('m', [160], []), g.ints('n', [1024], []), g.ints('r', [16000], []), f('lo', 20), f('hi', 7600)]), 'float32');
    }, { '': 17 })[0];
    expect(c.layer.outputs[0].shape).toEqual([513, 160]);
    expect(await agree(c)).toEqual(['naive']);
  });

  it('windows above the folding limit', async () => {
    for (const [op, periodic] of [['HannWindow', 1], ['HammingWindow', 0], ['BlackmanWindow', 1]] as Array<[string, number]>) {
      const c = casesFrom((g) => g.output(g.op(op, [g.ints('n', [MAX_FOLD_ELEMENTS + 10], [])], { periodic }), 'float32'), { '': 17 })[0];
      expect(await agree(c), op).toEqual(['naive']);
    }
  });
});

describe('signal ONNX conformance', () => {
  it('DFT and STFT cases pass; windows rebuilt as layers pass', async () => {
    await expectEveryCasePasses('signal', ['DFT', 'STFT'], { cases: 5, passed: 10 }, (n) => runOpConformance(n, n.startsWith('test_stft') ? [1, 3] : [1, 2]));
    const windows = conformanceCasesFor(['HannWindow', 'HammingWindow', 'BlackmanWindow', 'MelWeightMatrix']);
    for (const name of windows) await rebuiltLayer(name);
    expect(windows.length).toBe(7);
  }, 120_000);
});

