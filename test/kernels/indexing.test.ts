/**
 * TopK, GatherND, ScatterND, ScatterElements/Scatter and OneHot against the reference with
 * indices in range (negative ones and duplicates included; the synthetic inputs would only give
 * 0 and 1), every reduction, ties for TopK — and ONNX's conformance cases (TopK's K and OneHot's
 * depth as constants, as in a model).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, gpu, inputsFor, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses, runOpConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

let seed = 99;
const rnd = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

/** Indices in [−d, d) (negative ones count from the end), or [0, d) when `positive`. */
function idx(shape: number[], d: number, positive = false, dtype: DType = 'int64'): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: Int32Array.from({ length: n }, () => Math.floor(rnd() * (positive ? d : 2 * d)) - (positive ? 0 : d)) };
}

function node(op: string, ins: Array<[string, DType, number[]] | string>, attrs: Record<string, AttrInput> = {}, outs = 1, opset = 18): LayerCase {
  return casesFrom((g) => {
    const names = ins.map((x) => (typeof x === 'string' ? x : g.input(x[0], x[1], x[2])));
    for (const o of g.node(op, names, attrs, { outputs: outs })) g.output(o);
  }, { '': opset })[0];
}

/** Synthetic inputs with slot i replaced. */
function withInput(c: LayerCase, i: number, t: HostTensor): Array<HostTensor | null> {
  const ins = inputsFor(c);
  ins[i] = t;
  return ins;
}

describe('indexing kernels against the reference', () => {
  it('TopK: largest/smallest, inner and last axes, ties, int32 data, K = L', async () => {
    const k = (shape: number[], K: number, attrs: Record<string, AttrInput>, dtype: DType = 'float32') => casesFrom((g) => {
      g.input('x', dtype, shape);
      for (const o of g.node('TopK', ['x', g.ints('k', [K])], attrs, { outputs: 2 })) g.output(o);
    })[0];
    const both = ['rank', 'selection'];
    expect(await agree(k([3, 7, 4], 3, { axis: 1 }))).toEqual(both);
    expect(await agree(k([5, 9], 4, { axis: -1, largest: 0 }))).toEqual(both);
    expect(await agree(k([3, 8], 3, { axis: 1 }, 'float16'))).toEqual(both);
    // The default follows the row length: rank for short rows, selection for long ones.
    expect(kernelFor('TopK')!.defaultVariant(k([3, 8], 3, { axis: 1 }))).toBe('rank');
    expect(kernelFor('TopK')!.defaultVariant(k([2, 500], 5, { axis: 1 }))).toBe('selection');
    // Ties: values on a coarse grid; the lower index wins.
    const tie = k([4, 10], 6, { axis: 1 });
    const x: HostTensor = { dtype: 'float32', shape: [4, 10], data: Float32Array.from({ length: 40 }, () => Math.round(rnd() * 4) / 4) };
    expect(await agree(tie, [x, null])).toEqual(both);
    const [, ti] = kernelFor('TopK')!.reference(tie, [{ dtype: 'float32', shape: [4, 10], data: Float32Array.from({ length: 40 }, (_, i) => (i % 10 < 5 ? 1 : 0)) }, null]);
    expect([...ti.data.slice(0, 6)]).toEqual([0, 1, 2, 3, 4, 5]);
    const ints = k([6, 5], 5, { axis: 1 }, 'int32');
    expect(await agree(ints, [{ dtype: 'int32', shape: [6, 5], data: Int32Array.from({ length: 30 }, () => Math.floor(rnd() * 7) - 3) }, null])).toEqual(both);
  });

  it('GatherND: tuples of 1 and 2 indices, batch_dims, int64 data', async () => {
    let c = node('GatherND', [['x', 'float32', [4, 5, 6]], ['i', 'int64', [2, 3, 2]]]);
    expect(c.layer.outputs[0].shape).toEqual([2, 3, 6]);
    expect(await agree(c, withInput(c, 1, { ...idx([2, 3, 2], 4), data: Int32Array.from({ length: 12 }, (_, j) => (j % 2 ? ((j * 5) % 10) - 5 : ((j * 3) % 8) - 4)) }))).toEqual(['naive']);
    c = node('GatherND', [['x', 'int64', [3, 4, 5]], ['i', 'int64', [3, 2, 1]]], { batch_dims: 1 });
    expect(await agree(c, withInput(c, 1, idx([3, 2, 1], 4)))).toEqual(['naive']);
    c = node('GatherND', [['x', 'float32', [3, 4]], ['i', 'int32', [5, 2]]]);
    expect(await agree(c, withInput(c, 1, { ...idx([5, 2], 3, true, 'int32') }))).toEqual(['naive']);
  });

  it('ScatterND: every reduction with duplicate rows; element tuples', async () => {
    for (const reduction of ['none', 'add', 'mul', 'max', 'min']) {
      const c = node('ScatterND', [['x', 'float32', [5, 4, 3]], ['i', 'int64', [4, 1]], ['u', 'float32', [4, 4, 3]]], { reduction });
      const i: HostTensor = { dtype: 'int64', shape: [4, 1], data: Int32Array.from([1, -1, 1, 3]) };
      expect(await agree(c, withInput(c, 1, i)), reduction).toEqual(['owner-computes']);
    }
    const c = node('ScatterND', [['x', 'int32', [4, 6]], ['i', 'int64', [3, 2]], ['u', 'int32', [3]]], { reduction: 'add' });
    expect(await agree(c, withInput(c, 1, { dtype: 'int64', shape: [3, 2], data: Int32Array.from([0, 5, -1, -6, 0, 5]) }))).toEqual(['owner-computes']);
  });

  it('ScatterElements and Scatter: axes, negative and duplicate indices, reductions, indices smaller than data', async () => {
    const se = (shape: number[], ishape: number[], axis: number, reduction = 'none', dtype: DType = 'float32') =>
      node('ScatterElements', [['x', dtype, shape], ['i', 'int64', ishape], ['u', dtype, ishape]], { axis, reduction });
    for (const [shape, ishape, axis, red] of [[[4, 5], [3, 5], 0, 'none'], [[4, 5], [4, 3], 1, 'add'], [[3, 4, 5], [2, 4, 2], -1, 'mul'], [[6, 3], [6, 3], 0, 'max'], [[6, 3], [2, 2], 1, 'min']] as Array<[number[], number[], number, string]>) {
      const c = se(shape, ishape, axis, red);
      const a = axis < 0 ? axis + shape.length : axis;
      expect(await agree(c, withInput(c, 1, idx(ishape, shape[a]))), `${shape} ${axis} ${red}`).toEqual(['owner-computes']);
    }
    const ints = se([3, 4], [3, 4], 1, 'add', 'int32');
    expect(await agree(ints, withInput(ints, 1, idx([3, 4], 4)))).toEqual(['owner-computes']);
    const old = node('Scatter', [['x', 'float32', [3, 5]], ['i', 'int64', [3, 2]], ['u', 'float32', [3, 2]]], { axis: 1 }, 1, 10);
    expect(await agree(old, withInput(old, 1, idx([3, 2], 5)))).toEqual(['owner-computes']);
  });

  it('OneHot: axes, negative indices, float indices, int values', async () => {
    const oh = (ishape: number[], itype: DType, depth: number, axis: number, vtype: DType = 'float32') => casesFrom((g) => {
      g.input('i', itype, ishape);
      g.input('v', vtype, [2]);
      g.output(g.op('OneHot', ['i', g.ints('d', [depth], []), 'v'], { axis }), vtype);
    })[0];
    let c = oh([3, 4], 'int64', 6, -1);
    expect(c.layer.outputs[0].shape).toEqual([3, 4, 6]);
    expect(await agree(c, withInput(c, 0, idx([3, 4], 6)))).toEqual(['naive']);
    c = oh([5], 'int32', 4, 0, 'int64');
    expect(await agree(c, [idx([5], 4, false, 'int32'), null, { dtype: 'int64', shape: [2], data: Int32Array.from([3, 7]) }])).toEqual(['naive']);
    c = oh([2, 3], 'float32', 5, 1);
    expect(await agree(c, withInput(c, 0, { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1.7, -1.2, 4, 3.9, -5]) }))).toEqual(['naive']);
  });

  it('bad layers are unsupported with a reason; out-of-range indices make the reference throw', async () => {
    const { runner } = await gpu();
    const c = node('GatherND', [['x', 'float32', [3, 4]], ['i', 'float32', [2, 1]]]);
    expect(kernelFor('GatherND')!.supports(c, 'naive', runner.caps)).toEqual({ ok: false, reason: 'float32 indices are not supported (int32/int64)' });
    const g = node('GatherND', [['x', 'float32', [3, 4]], ['i', 'int64', [2, 1]]]);
    expect(() => kernelFor('GatherND')!.reference(g, withInput(g, 1, { dtype: 'int64', shape: [2, 1], data: Int32Array.from([0, 3]) }))).toThrow(/out of range/);
  });
});

describe('indexing ONNX conformance', () => {
  it('every case passes (reference and variants)', async () => {
    const ops = ['TopK', 'GatherND', 'ScatterND', 'ScatterElements', 'Scatter', 'OneHot'];
    const constSlots = (name: string) => (name.startsWith('test_top_k') || name.startsWith('test_onehot') ? [1] : []);
    // Reference + one variant per case, two variants for the three TopK cases.
    await expectEveryCasePasses('indexing', ops, { cases: 19, passed: 19 * 2 + 3 }, (n) => runOpConformance(n, constSlots(n)));
  }, 120_000);
});
