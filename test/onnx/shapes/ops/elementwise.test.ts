import { describe, expect, it } from 'vitest';
import { float, infer1, ints, scalar, shapes, values, x } from './build.js';

describe('binary ops', () => {
  it('broadcast and fold integer division by truncation', () => {
    const n = infer1('Div', [ints(-7, 7, 9), ints(2)]);
    expect(n.kind).toBe('host');
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'int64', shape: [3] });
    expect(values(n)).toEqual([-3, 3, 4]);
  });

  it('Mod takes the sign of the divisor unless fmod=1', () => {
    expect(values(infer1('Mod', [ints(-7, 7), ints(3)]))).toEqual([2, 1]);
    expect(values(infer1('Mod', [ints(-7, 7), ints(3)], { fmod: 1 }))).toEqual([-1, 1]);
    expect(infer1('Mod', [ints(1), ints(1)]).attrs).toEqual({ fmod: 0 });
  });

  it('comparisons give bool and Where selects', () => {
    const eq = infer1('Equal', [x(2, 1, 4), x(3, 1)]);
    expect(eq.outputInfos[0]).toEqual({ dtype: 'bool', shape: [2, 3, 4] });
    const w = infer1('Where', [{ dtype: 'bool', shape: [3], data: [1, 0, 1] }, ints(1, 2, 3), ints(-1)]);
    expect(values(w)).toEqual([1, -1, 3]);
  });

  it('rejects shapes that do not broadcast', () => {
    const n = infer1('Add', [x(2, 3), x(4, 3)]);
    expect(n.kind).toBe('failed');
    expect(n.reason).toMatch(/broadcast/);
  });

  it('variadic Max/Sum broadcast all inputs', () => {
    expect(shapes(infer1('Sum', [x(3, 1), x(1, 4), x(4)]))).toEqual([[3, 4]]);
    expect(values(infer1('Max', [ints(1, 5), ints(3), ints(2, 2)]))).toEqual([3, 5]);
  });
});

describe('attribute normalization', () => {
  it('activations record their defaults', () => {
    const bare = infer1('LeakyRelu', [x(2, 3)]);
    const explicit = infer1('LeakyRelu', [x(2, 3)], { alpha: 0.01 });
    expect(bare.attrs).toEqual(explicit.attrs);
    expect(bare.attrs.alpha).toBeCloseTo(0.01, 6);
    expect(infer1('HardSigmoid', [x(1)]).attrs).toMatchObject({ alpha: expect.closeTo(0.2, 6), beta: 0.5 });
  });

  it('Clip: opset-6 attributes and opset-13 inputs give the same attributes', () => {
    const old = infer1('Clip', [x(2, 3)], { min: float(0), max: float(6) }, { opset: 6 });
    const now = infer1('Clip', [x(2, 3), scalar(0, 'float32'), scalar(6, 'float32')], {}, { opset: 13 });
    expect(old.attrs).toEqual({ min: 0, max: 6 });
    expect(now.attrs).toEqual(old.attrs);
    expect(shapes(now)).toEqual([[2, 3]]);
    // No bounds at all: both forms record the float limits.
    expect(infer1('Clip', [x(2)], {}, { opset: 6 }).attrs).toEqual(infer1('Clip', [x(2)], {}, { opset: 13 }).attrs);
  });

  it('Cast records saturate in every opset and folds', () => {
    const a = infer1('Cast', [ints(1, 2)], { to: 1 }, { opset: 13 });
    const b = infer1('Cast', [ints(1, 2)], { to: 1, saturate: 1 }, { opset: 19 });
    expect(a.attrs).toEqual(b.attrs);
    expect(a.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2], value: { data: [1, 2] } });
    // float → int truncates toward zero; narrow ints wrap.
    expect(values(infer1('Cast', [{ dtype: 'float32', shape: [3], data: [-1.7, 2.9, 300] }], { to: 3 }))).toEqual([-1, 2, 44]);
  });

  it('Dropout: the ratio attribute (opset 10) and input (opset 13) record the same ratio', () => {
    const old = infer1('Dropout', [x(2, 3)], {}, { opset: 10, outputs: 2 });
    const now = infer1('Dropout', [x(2, 3)], {}, { opset: 13, outputs: 2 });
    expect(old.attrs).toEqual({ ratio: 0.5 });
    expect(now.attrs).toEqual(old.attrs);
    expect(now.outputInfos[1]).toEqual({ dtype: 'bool', shape: [2, 3] });
  });
});

describe('unary ops', () => {
  it('fold with the dtype of the input', () => {
    expect(values(infer1('Neg', [ints(1, -2)]))).toEqual([-1, 2]);
    expect(values(infer1('Round', [{ dtype: 'float32', shape: [4], data: [0.5, 1.5, 2.5, -1.5] }]))).toEqual([0, 2, 2, -2]);
    expect(infer1('IsNaN', [x(3)]).outputInfos[0]).toEqual({ dtype: 'bool', shape: [3] });
  });
});
