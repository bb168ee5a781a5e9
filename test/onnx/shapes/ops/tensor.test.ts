import { describe, expect, it } from 'vitest';
import { float, GraphBuilder, infer1, inferGraph, ints, scalar, shapes, values, x } from './build.js';

describe('exporter shape subgraphs fold to constants', () => {
  /** PyTorch's `x.view(x.size(0), -1)`: Shape → Gather → Unsqueeze → Concat → Reshape. */
  function viewModel(opset: number): GraphBuilder {
    const b = new GraphBuilder('view');
    const inp = b.input('x', 'float32', [2, 3, 4, 5]);
    const shape = b.op('Shape', [inp]);
    const n = b.op('Gather', [shape, b.init('zero', 'int64', [], [0])], { axis: 0 });
    const u = opset >= 13 ? b.op('Unsqueeze', [n, b.ints('axes', [0])]) : b.op('Unsqueeze', [n], { axes: [0] });
    const target = b.op('Concat', [u, b.ints('minus1', [-1])], { axis: 0 });
    b.output(b.op('Reshape', [inp, target], {}, { output: 'y' }));
    return b;
  }

  for (const opset of [11, 13, 17]) {
    it(`opset ${opset}: the Reshape target becomes concrete and the shape math is host work`, () => {
      const res = inferGraph(viewModel(opset), opset);
      const byOp = Object.fromEntries(res.nodes.map((n) => [n.op, n]));
      for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Concat']) expect(byOp[op].kind).toBe('host');
      expect(byOp.Concat.outputInfos[0].value?.data).toEqual([2, -1]);
      expect(byOp.Reshape.kind).toBe('layer');
      expect(byOp.Reshape.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2, 60] });
      expect(res.outputs[0].info.shape).toEqual([2, 60]);
    });
  }

  it('folds Shape → Slice → ReduceProd → Concat, Range/ConstantOfShape, Cast and Equal/Where', () => {
    // A transformer-style mask and reshape: flatten the last two dims, and build a [seq] range.
    const b = new GraphBuilder('mask');
    const inp = b.input('x', 'float32', [2, 8, 4, 16]);
    const shape = b.op('Shape', [inp]);
    const head = b.op('Slice', [shape, b.ints('s0', [0]), b.ints('e0', [2])]);
    const tail = b.op('Slice', [shape, b.ints('s1', [-2]), b.ints('e1', [2 ** 53])]);
    const prod = b.op('ReduceProd', [tail], { keepdims: 1 });
    const target = b.op('Concat', [head, prod], { axis: 0 });
    b.output(b.op('Reshape', [inp, target], {}, { output: 'y' }));
    const seq = b.op('Gather', [shape, b.init('one', 'int64', [], [1])]);
    const seqF = b.op('Cast', [seq], { to: 1 });
    const r = b.op('Range', [b.init('r0', 'float32', [], [0]), seqF, b.init('r1', 'float32', [], [1])]);
    const zeros = b.op('ConstantOfShape', [b.op('Unsqueeze', [seq, b.ints('a', [0])])], { value: { dtype: 'int64', shape: [1], data: [0] } });
    const isZero = b.op('Equal', [zeros, b.init('z', 'int64', [], [0])]);
    const sel = b.op('Where', [isZero, b.op('Cast', [r], { to: 7 }), zeros]);
    b.output(b.op('Expand', [sel, b.ints('e', [2, 8])], {}, { output: 'mask' }));
    const res = inferGraph(b, 17);
    expect(res.outputs[0].info.shape).toEqual([2, 8, 64]);
    expect(res.outputs[1].info).toMatchObject({ dtype: 'int64', shape: [2, 8] });
    expect(res.outputs[1].info.value?.data).toEqual([...Array(8).keys(), ...Array(8).keys()]);
    expect(res.nodes.filter((n) => n.kind === 'host').map((n) => n.op)).not.toContain('Reshape');
    expect(res.nodes.find((n) => n.op === 'Reshape')?.kind).toBe('layer');
    for (const n of res.nodes) if (n.op !== 'Reshape') expect([n.op, n.kind]).toEqual([n.op, 'host']);
  });
});

describe('Reshape', () => {
  it('copies 0 dims, infers -1, and records allowzero and the target', () => {
    const n = infer1('Reshape', [x(2, 3, 4), ints(0, -1)]);
    expect(shapes(n)).toEqual([[2, 12]]);
    expect(n.attrs).toEqual({ allowzero: 0, shape: [2, 12] });
    expect(infer1('Reshape', [x(2, 3, 4), ints(2, 12)]).attrs).toEqual(n.attrs);
    expect(infer1('Reshape', [x(2, 3, 4), ints(0, -1)], { allowzero: 0 }).attrs).toEqual(n.attrs);
  });

  it('fails on an element-count mismatch', () => {
    expect(infer1('Reshape', [x(2, 3), ints(4, 2)]).kind).toBe('failed');
  });
});

describe('opset forms record the same attributes', () => {
  it('Squeeze/Unsqueeze: attribute (11) and input (13) axes, negatives normalized', () => {
    const a = infer1('Squeeze', [x(1, 3, 1, 5)], { axes: [-2, 0] }, { opset: 11 });
    const b = infer1('Squeeze', [x(1, 3, 1, 5), ints(0, 2)], {}, { opset: 13 });
    const c = infer1('Squeeze', [x(1, 3, 1, 5)], {}, { opset: 13 });
    expect(shapes(a)).toEqual([[3, 5]]);
    expect(a.attrs).toEqual({ axes: [0, 2] });
    expect(b.attrs).toEqual(a.attrs);
    expect(c.attrs).toEqual(a.attrs);
    const u = infer1('Unsqueeze', [x(3, 5)], { axes: [0, -1] }, { opset: 11 });
    const v = infer1('Unsqueeze', [x(3, 5), ints(-1, 0)], {}, { opset: 13 });
    expect(shapes(u)).toEqual([[1, 3, 5, 1]]);
    expect(v.attrs).toEqual(u.attrs);
  });

  it('Slice: opset-1 attributes and opset-10+ inputs (INT64_MAX end, default axes and steps)', () => {
    const a = infer1('Slice', [x(4, 10)], { starts: [2], ends: [1000], axes: [1] }, { opset: 9 });
    const b = infer1('Slice', [x(4, 10), ints(2), { dtype: 'int64', shape: [1], data: [2n ** 63n - 1n] }, ints(-1), ints(1)], {}, { opset: 13 });
    expect(shapes(a)).toEqual([[4, 8]]);
    expect(shapes(b)).toEqual([[4, 8]]);
    expect(b.attrs).toEqual(a.attrs);
    expect(a.attrs).toEqual({ starts: [2], ends: [10], axes: [1], steps: [1] });
  });

  it('Slice with a negative step and clamping', () => {
    const n = infer1('Slice', [ints(0, 1, 2, 3, 4), ints(-1), ints(-(2 ** 63)), ints(0), ints(-2)]);
    expect(values(n)).toEqual([4, 2, 0]);
  });

  it('Pad: opset-2 attributes and opset-11 inputs', () => {
    const a = infer1('Pad', [x(1, 3, 4, 4)], { pads: [0, 0, 1, 2, 0, 0, 1, 2], mode: 'constant', value: float(0) }, { opset: 2 });
    const b = infer1('Pad', [x(1, 3, 4, 4), ints(0, 0, 1, 2, 0, 0, 1, 2)], {}, { opset: 13 });
    const c = infer1('Pad', [x(1, 3, 4, 4), ints(1, 2, 1, 2), null, ints(2, 3)], {}, { opset: 18 });
    expect(shapes(a)).toEqual([[1, 3, 6, 8]]);
    expect(b.attrs).toEqual(a.attrs);
    expect(c.attrs).toEqual(a.attrs);
  });

  it('Split: attribute, input and num_outputs (uneven, opset 18)', () => {
    const a = infer1('Split', [x(2, 6)], { axis: 1, split: [2, 4] }, { opset: 11, outputs: 2 });
    const b = infer1('Split', [x(2, 6), ints(2, 4)], { axis: -1 }, { opset: 13, outputs: 2 });
    expect(shapes(a)).toEqual([[2, 2], [2, 4]]);
    expect(b.attrs).toEqual(a.attrs);
    const c = infer1('Split', [x(7)], { num_outputs: 3 }, { opset: 18, outputs: 3 });
    expect(shapes(c)).toEqual([[3], [3], [1]]);
  });

  it('Resize: sizes and the equivalent scales record the same attributes', () => {
    const bySizes = infer1('Resize', [x(1, 3, 8, 8), null, null, ints(1, 3, 16, 16)], { mode: 'linear' }, { opset: 13 });
    const byScales = infer1('Resize', [x(1, 3, 8, 8), null, { shape: [4], data: [1, 1, 2, 2] }], { mode: 'linear' }, { opset: 13 });
    expect(shapes(bySizes)).toEqual([[1, 3, 16, 16]]);
    expect(byScales.attrs).toEqual(bySizes.attrs);
    const axes = infer1('Resize', [x(1, 3, 8, 8), null, null, ints(16, 16)], { mode: 'linear', axes: [2, 3] }, { opset: 18 });
    expect(shapes(axes)).toEqual([[1, 3, 16, 16]]);
    expect(axes.attrs).toEqual({ ...bySizes.attrs, axes: [0, 1, 2, 3] });
    const keep = infer1('Resize', [x(1, 3, 8, 4), null, null, ints(16, 16)], { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }, { opset: 18 });
    expect(shapes(keep)).toEqual([[1, 3, 16, 8]]);
  });

  it('Transpose records the default (reversed) perm', () => {
    const n = infer1('Transpose', [x(2, 3, 4)]);
    expect(shapes(n)).toEqual([[4, 3, 2]]);
    expect(n.attrs).toEqual(infer1('Transpose', [x(2, 3, 4)], { perm: [2, 1, 0] }).attrs);
  });

  it('Concat and Gather normalize negative axes', () => {
    expect(infer1('Concat', [x(2, 3), x(2, 5)], { axis: -1 }).attrs).toEqual({ axis: 1 });
    const g = infer1('Gather', [x(5, 4, 3), ints(0, 2)], { axis: -2 });
    expect(shapes(g)).toEqual([[5, 2, 3]]);
    expect(g.attrs).toEqual({ axis: 1 });
  });
});

describe('generators', () => {
  it('Constant forms give values', () => {
    const a = infer1('Constant', [], { value_ints: [1, 2, 3] });
    expect(a.kind).toBe('constant');
    expect(a.outputInfos[0]).toMatchObject({ dtype: 'int64', shape: [3], value: { data: [1, 2, 3] } });
    const t = infer1('Constant', [], { value: { dtype: 'float32', shape: [2, 2], data: [1, 2, 3, 4] } });
    expect(t.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2, 2], value: { data: [1, 2, 3, 4] } });
    expect(t.outputInfos[0].weight).toBeDefined();
  });

  it('Range counts ceil((limit-start)/delta) and folds', () => {
    const n = infer1('Range', [scalar(10), scalar(1), scalar(-3)]);
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'int64', shape: [3], value: { data: [10, 7, 4] } });
  });

  it('ConstantOfShape with an unknown shape has its rank, and folds small known ones', () => {
    const n = infer1('ConstantOfShape', [ints(2, 3)]);
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2, 3], value: { data: [0, 0, 0, 0, 0, 0] } });
    expect(n.attrs).toEqual(infer1('ConstantOfShape', [ints(2, 3)], { value: { dtype: 'float32', shape: [1], data: [0] } }).attrs);
    const sym = infer1('ConstantOfShape', [{ dtype: 'int64', shape: [3] }]);
    expect(sym.kind).toBe('failed');
    expect(sym.outputInfos[0].shape).toHaveLength(3);
  });

  it('Shape start/end are recorded the same with and without defaults', () => {
    const a = infer1('Shape', [x(2, 3, 4)], {}, { opset: 15 });
    const b = infer1('Shape', [x(2, 3, 4)], { start: 0, end: 3 }, { opset: 15 });
    expect(values(a)).toEqual([2, 3, 4]);
    expect(b.attrs).toEqual(a.attrs);
    expect(values(infer1('Shape', [x(2, 3, 4)], { start: -2 }, { opset: 15 }))).toEqual([3, 4]);
  });

  it('Compress with a known condition', () => {
    expect(shapes(infer1('Compress', [x(3, 2), { dtype: 'bool', shape: [3], data: [0, 1, 1] }], { axis: 0 }))).toEqual([[2, 2]]);
  });
});

describe('data-dependent sizes', () => {
  it('Slice with unknown bounds but known axes keeps the other dims', () => {
    const n = infer1('Slice', [x(2, 10, 4), { dtype: 'int64', shape: [1] }, ints(5), ints(1)]);
    expect(n.kind).toBe('failed');
    const s = n.outputInfos[0].shape!;
    expect([s[0], s[2]]).toEqual([2, 4]);
    expect(typeof s[1]).toBe('string');
  });
});
