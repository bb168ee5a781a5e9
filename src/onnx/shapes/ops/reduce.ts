/**
 * Reductions (Reduce*) and ArgMax/ArgMin. The reduced axes moved from an attribute to an input
 * (ReduceSum in opset 13, the others in 18); both forms record the resolved, sorted, non-negative
 * axes as the attribute `axes`, so the same reduction has the same layer key in any opset.
 */
import type { Dim } from '../types.js';
import type { ConstValue } from '../../tensor.js';
import type { InferCtx, OpSpec } from '../types.js';
import { castNumber, forEachIndex, intValues, normAxis, nums, product, strides } from '../util.js';

interface Reducer {
  init: number;
  step: (acc: number, x: number) => number;
  finish?: (acc: number, n: number) => number;
}

const REDUCERS: Record<string, Reducer> = {
  ReduceSum: { init: 0, step: (a, x) => a + x },
  ReduceMean: { init: 0, step: (a, x) => a + x, finish: (a, n) => a / n },
  ReduceMax: { init: -Infinity, step: (a, x) => (x > a || Number.isNaN(x) ? x : a) },
  ReduceMin: { init: Infinity, step: (a, x) => (x < a || Number.isNaN(x) ? x : a) },
  ReduceProd: { init: 1, step: (a, x) => a * x },
  ReduceL1: { init: 0, step: (a, x) => a + Math.abs(x) },
  ReduceL2: { init: 0, step: (a, x) => a + x * x, finish: Math.sqrt },
  ReduceLogSum: { init: 0, step: (a, x) => a + x, finish: Math.log },
  ReduceLogSumExp: { init: 0, step: (a, x) => a + Math.exp(x), finish: Math.log },
  ReduceSumSquare: { init: 0, step: (a, x) => a + x * x },
};

/**
 * The resolved axes (sorted, non-negative) or 'unknown' when the axes input is not a known
 * constant; records `axes`, `keepdims` and `noop_with_empty_axes`.
 */
function reduceAxes(ctx: InferCtx, rank: number, v?: Array<ConstValue | undefined>): number[] | 'unknown' {
  ctx.attr.int('keepdims', 1);
  const noop = ctx.attr.int('noop_with_empty_axes', 0);
  const axesAsInput = ctx.op === 'ReduceSum' ? ctx.opset >= 13 : ctx.opset >= 18;
  let axes: number[] | undefined;
  if (!axesAsInput) axes = ctx.attr.has('axes') ? ctx.attr.ints('axes') : undefined;
  else if (ctx.has(1)) {
    axes = intValues(v?.[1] ?? ctx.value(1));
    if (!axes) return 'unknown';
  }
  let out: number[];
  if (!axes || axes.length === 0) out = noop ? [] : Array.from({ length: rank }, (_, i) => i);
  else out = [...new Set(axes.map((a) => normAxis(ctx, a, rank)))].sort((a, b) => a - b);
  ctx.setAttr('axes', out);
  return out;
}

function reducedShape(s: readonly Dim[], axes: number[], keep: number): Dim[] {
  const out: Dim[] = [];
  s.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

/** Reduces known values over `axes` with `r`. */
function reduceValue(x: ConstValue, axes: number[], keep: number, r: Reducer): ConstValue {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const kst = strides(kept);
  const acc = new Array<number>(product(kept)).fill(r.init);
  const src = nums(x);
  forEachIndex(x.shape, (k, idx) => {
    let o = 0;
    for (let i = 0; i < idx.length; i++) if (!axes.includes(i)) o += idx[i] * kst[i];
    acc[o] = r.step(acc[o], src[k]);
  });
  const n = product(axes.map((a) => x.shape[a]));
  const data = acc.map((a) => castNumber(r.finish ? r.finish(a, n) : a, x.dtype));
  return { dtype: x.dtype, shape: reducedShape(x.shape, axes, keep) as number[], data };
}

function reduce(op: string): OpSpec {
  return {
    infer: (ctx) => {
      const s = ctx.shape(0);
      const axes = reduceAxes(ctx, s.length);
      const keep = ctx.attr.int('keepdims', 1);
      if (axes === 'unknown') {
        // Which axes go is unknown: with keepdims the rank stays, the dims are unknown.
        if (!keep) ctx.fail('axes input is not a known constant (and keepdims=0)');
        return [{ dtype: ctx.dtype(0), shape: s.map(() => ctx.symbol('reduce')) }];
      }
      return [{ dtype: ctx.dtype(0), shape: reducedShape(s, axes, keep) }];
    },
    evaluate: (ctx, v) => {
      const x = v[0]!;
      if (x.dtype === 'string') return undefined;
      const axes = reduceAxes(ctx, x.shape.length, v);
      if (axes === 'unknown') return undefined;
      return [reduceValue(x, axes, ctx.attr.int('keepdims', 1), REDUCERS[op])];
    },
  };
}

function argReduce(max: boolean): OpSpec {
  const params = (ctx: InferCtx, rank: number): [number, number, number] => {
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), rank);
    ctx.setAttr('axis', axis);
    const keep = ctx.attr.int('keepdims', 1);
    const last = ctx.attr.int('select_last_index', 0);
    return [axis, keep, last];
  };
  return {
    infer: (ctx) => {
      const s = ctx.shape(0);
      const [axis, keep] = params(ctx, s.length);
      return [{ dtype: 'int64', shape: reducedShape(s, [axis], keep) }];
    },
    evaluate: (ctx, v) => {
      const x = v[0]!;
      const [axis, keep, last] = params(ctx, x.shape.length);
      const kept = x.shape.map((d, i) => (i === axis ? 1 : d));
      const kst = strides(kept);
      const best = new Array<number>(product(kept)).fill(NaN);
      const at = new Array<number>(best.length).fill(0);
      const src = nums(x);
      forEachIndex(x.shape, (k, idx) => {
        let o = 0;
        for (let i = 0; i < idx.length; i++) if (i !== axis) o += idx[i] * kst[i];
        const e = src[k];
        const better = Number.isNaN(best[o]) || (max ? e > best[o] : e < best[o]) || (last && e === best[o]);
        if (better) { best[o] = e; at[o] = idx[axis]; }
      });
      return [{ dtype: 'int64', shape: reducedShape(x.shape, [axis], keep) as number[], data: at }];
    },
  };
}

export const reduceOps: Record<string, OpSpec> = {
  ...Object.fromEntries(Object.keys(REDUCERS).map((op) => [op, reduce(op)])),
  ArgMax: argReduce(true),
  ArgMin: argReduce(false),
};
