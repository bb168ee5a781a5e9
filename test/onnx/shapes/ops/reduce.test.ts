import { describe, expect, it } from 'vitest';
import { infer1, ints, shapes, values, x } from './build.js';

describe('Reduce*', () => {
  it('ReduceMean: axes attribute (opset 13) and axes input (opset 18) record the same attributes', () => {
    const a = infer1('ReduceMean', [x(2, 3, 4)], { axes: [-1] }, { opset: 13 });
    const b = infer1('ReduceMean', [x(2, 3, 4), ints(2)], {}, { opset: 18 });
    const c = infer1('ReduceMean', [x(2, 3, 4), ints(-1)], { keepdims: 1, noop_with_empty_axes: 0 }, { opset: 18 });
    expect(shapes(a)).toEqual([[2, 3, 1]]);
    expect(a.attrs).toEqual({ axes: [2], keepdims: 1, noop_with_empty_axes: 0 });
    expect(b.attrs).toEqual(a.attrs);
    expect(c.attrs).toEqual(a.attrs);
  });

  it('ReduceSum moved axes to an input in opset 13; no axes reduces all unless noop_with_empty_axes', () => {
    const a = infer1('ReduceSum', [x(2, 3)], { keepdims: 0 }, { opset: 11 });
    const b = infer1('ReduceSum', [x(2, 3)], { keepdims: 0 }, { opset: 13 });
    expect(shapes(a)).toEqual([[]]);
    expect(b.attrs).toEqual(a.attrs);
    expect(a.attrs.axes).toEqual([0, 1]);
    expect(shapes(infer1('ReduceSum', [x(2, 3)], { noop_with_empty_axes: 1 }, { opset: 13 }))).toEqual([[2, 3]]);
  });

  it('folds small known values', () => {
    expect(values(infer1('ReduceProd', [ints(2, 3, 4)], { keepdims: 0 }))).toEqual([24]);
    expect(values(infer1('ReduceMax', [{ dtype: 'int64', shape: [2, 2], data: [1, 5, 7, 2] }], { axes: [1] }))).toEqual([5, 7]);
  });
});

describe('ArgMax/ArgMin', () => {
  it('give int64, record defaults and honour select_last_index when folding', () => {
    const n = infer1('ArgMax', [x(2, 5)], { axis: -1, keepdims: 0 });
    expect(n.outputInfos[0]).toEqual({ dtype: 'int64', shape: [2] });
    expect(n.attrs).toEqual({ axis: 1, keepdims: 0, select_last_index: 0 });
    expect(values(infer1('ArgMin', [ints(3, 1, 1)], { select_last_index: 1 }))).toEqual([2]);
    expect(values(infer1('ArgMin', [ints(3, 1, 1)]))).toEqual([1]);
  });
});
