import { describe, expect, it } from 'vitest';
import type { Dim } from '../../../../src/ir/types.js';
import type { DType } from '../../../../src/onnx/dtype.js';
import type { InferredNode } from '../../../../src/onnx/shapes/engine.js';
import type { AttrInput } from '../../../../src/onnx/write.js';
import { infer1 as shared, type In } from './build.js';

/** The shared one-node builder, with this file's (outputs, opset) argument order. */
const infer1 = (op: string, inputs: Array<In | null>, attrs: Record<string, AttrInput> = {}, outputs = 1, opset = 17): InferredNode =>
  shared(op, inputs, attrs, { outputs, opset });

const f = (...shape: number[]): In => ({ shape });
const i64 = (...data: number[]): In => ({ dtype: 'int64', shape: [data.length], data });
const scalar = (dtype: DType, v: number): In => ({ dtype, shape: [], data: [v] });
const shapes = (n: InferredNode): Array<Dim[] | undefined> => n.outputInfos.map((o) => o.shape);
const isSymbol = (d: Dim | undefined): boolean => typeof d === 'string';

describe('TopK', () => {
  it('uses a constant K input (opset ≥ 10)', () => {
    const n = infer1('TopK', [f(3, 10), i64(4)], { axis: 1 }, 2);
    expect(n.outputInfos).toEqual([{ dtype: 'float32', shape: [3, 4] }, { dtype: 'int64', shape: [3, 4] }]);
    expect(n.attrs).toEqual({ axis: 1, largest: 1, sorted: 1 });
  });

  it('gives a symbol for an unknown K', () => {
    const n = infer1('TopK', [f(3, 10), { dtype: 'int64', shape: [1] }], {}, 2);
    expect(n.outputInfos[0].shape?.[0]).toBe(3);
    expect(isSymbol(n.outputInfos[0].shape?.[1])).toBe(true);
    expect(n.kind).toBe('failed');
    expect(n.reason).toMatch(/depends on data/);
  });

  it('reads the k attribute before opset 10', () => {
    expect(shapes(infer1('TopK', [f(5, 6)], { k: 2, axis: 0 }, 2, 9))).toEqual([[2, 6], [2, 6]]);
  });
});

describe('data-dependent sizes', () => {
  it('NonZero folds a known input', () => {
    const n = infer1('NonZero', [{ dtype: 'int64', shape: [2, 3], data: [0, 1, 0, 2, 0, 3] }]);
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'int64', shape: [2, 3] });
    expect(n.outputInfos[0].value?.data).toEqual([0, 1, 1, 1, 0, 2]);
    expect(n.kind).toBe('host');
  });

  it('NonZero of a runtime tensor has a symbolic count', () => {
    const n = infer1('NonZero', [f(4, 5)]);
    expect(n.outputInfos[0].shape?.[0]).toBe(2);
    expect(isSymbol(n.outputInfos[0].shape?.[1])).toBe(true);
  });

  it('Unique of a known tensor along an axis', () => {
    const n = infer1('Unique', [{ dtype: 'int64', shape: [3, 2], data: [1, 2, 0, 5, 1, 2] }], { axis: 0 }, 4);
    expect(shapes(n)).toEqual([[2, 2], [2], [3], [2]]);
    expect(n.outputInfos[0].value?.data).toEqual([0, 5, 1, 2]);
    expect(n.outputInfos[2].value?.data).toEqual([1, 0, 1]);
    expect(n.outputInfos[3].value?.data).toEqual([1, 2]);
  });

  it('Unique of a runtime tensor keeps the inverse length and symbolizes the rest', () => {
    const n = infer1('Unique', [f(4, 5)], {}, 4);
    const [y, idx, inv, counts] = shapes(n);
    expect(isSymbol(y?.[0])).toBe(true);
    expect(idx).toEqual(y);
    expect(counts).toEqual(y);
    expect(inv).toEqual([20]);
  });

  it('NonMaxSuppression selects a symbolic number of boxes', () => {
    const n = infer1('NonMaxSuppression', [f(1, 6, 4), f(1, 1, 6)]);
    expect(n.outputInfos[0].dtype).toBe('int64');
    expect(isSymbol(n.outputInfos[0].shape?.[0])).toBe(true);
    expect(n.outputInfos[0].shape?.[1]).toBe(3);
  });
});

describe('random generators', () => {
  it('RandomNormal takes dtype and shape from attributes', () => {
    const n = infer1('RandomNormal', [], { shape: [2, 3], dtype: 10 });
    expect(n.outputInfos[0]).toEqual({ dtype: 'float16', shape: [2, 3] });
    expect(n.attrs).toEqual({ shape: [2, 3], dtype: 10, mean: 0, scale: 1 });
  });

  it('RandomUniformLike defaults to the input dtype', () => {
    expect(infer1('RandomUniformLike', [{ dtype: 'float64', shape: [4] }]).outputInfos[0]).toEqual({ dtype: 'float64', shape: [4] });
  });

  it('Multinomial gives [batch, sample_size] int32', () => {
    expect(infer1('Multinomial', [f(3, 10)], { sample_size: 5 }).outputInfos[0]).toEqual({ dtype: 'int32', shape: [3, 5] });
  });
});

describe('image and linear algebra', () => {
  it('Det drops the matrix dims', () => {
    expect(shapes(infer1('Det', [f(2, 5, 3, 3)]))).toEqual([[2, 5]]);
    expect(infer1('Det', [f(3, 4)]).kind).toBe('failed');
  });

  it('Col2Im rebuilds [N, C, image…] (opset 18)', () => {
    const n = infer1('Col2Im', [f(1, 2 * 9, 16), i64(6, 6), i64(3, 3)], {}, 1, 18);
    expect(shapes(n)).toEqual([[1, 2, 6, 6]]);
  });

  it('CenterCropPad sets the given axes (opset 18)', () => {
    expect(shapes(infer1('CenterCropPad', [f(3, 20, 8), i64(10, 12)], { axes: [1, 2] }, 1, 18))).toEqual([[3, 10, 12]]);
  });

  it('GridSample samples at the grid positions', () => {
    expect(shapes(infer1('GridSample', [f(2, 3, 8, 8), f(2, 5, 6, 2)], {}, 1, 16))).toEqual([[2, 3, 5, 6]]);
  });

  it('AffineGrid builds [N, H, W, 2] (opset 20)', () => {
    expect(shapes(infer1('AffineGrid', [f(2, 2, 3), i64(2, 3, 5, 6)], {}, 1, 20))).toEqual([[2, 5, 6, 2]]);
  });
});

describe('signal processing', () => {
  it('DFT onesided halves the signal axis and makes it complex', () => {
    expect(shapes(infer1('DFT', [f(2, 10, 1)], { onesided: 1 }))).toEqual([[2, 6, 2]]);
    expect(shapes(infer1('DFT', [f(2, 10, 1), scalar('int64', 16)]))).toEqual([[2, 16, 2]]);
  });

  it('STFT counts frames from frame_step and frame_length', () => {
    const n = infer1('STFT', [f(1, 128, 1), scalar('int64', 8), null, scalar('int64', 16)]);
    expect(shapes(n)).toEqual([[1, 15, 9, 2]]);
  });

  it('HannWindow folds its values', () => {
    const n = infer1('HannWindow', [scalar('int32', 4)]);
    expect(n.outputInfos[0].shape).toEqual([4]);
    const v = n.outputInfos[0].value?.data as number[];
    [0, 0.5, 1, 0.5].forEach((x, i) => expect(v[i]).toBeCloseTo(x, 6));
  });

  it('MelWeightMatrix is [dft_length/2 + 1, num_mel_bins]', () => {
    const n = infer1('MelWeightMatrix', [scalar('int64', 8), scalar('int64', 16), scalar('int64', 8192), scalar('float32', 0), scalar('float32', 4096)]);
    expect(shapes(n)).toEqual([[9, 8]]);
  });
});
