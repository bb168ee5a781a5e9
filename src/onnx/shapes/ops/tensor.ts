/**
 * Tensor manipulation ops: reshaping, slicing, gathering/scattering, padding, tiling, resizing,
 * and the generators of shape math (Shape, Size, Constant, ConstantOfShape, Range).
 *
 * Several of these moved attributes to inputs across opsets (Reshape 5, Slice 10, Pad 11/18,
 * Squeeze/Unsqueeze/Split 13, Resize 11/13/18); each records the resolved values under the old
 * attribute names (`ctx.setAttr`) so that the same layer has the same attributes in any opset.
 */
import type { AttrValue, Dim } from '../types.js';
import { dtypeFromOnnx, onnxFromDtype, type DType } from '../../dtype.js';
import { decodeTensor, MAX_FOLD_ELEMENTS, tensorDims, tensorDtype, type ConstValue } from '../../tensor.js';
import type { InferCtx, OpSpec, TensorInfo } from '../types.js';
import {
  broadcastEval, broadcastShapes, castNumber, concrete, dimProduct, dimSum, forEachIndex, gatherValue, intValues,
  normAxis, nums, product, reshaped, roundHalfEven, scalarOf, strides, transposeValue,
} from '../util.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Normalizes axes (negative allowed) for `rank`, failing on duplicates. */
function normAxes(ctx: InferCtx, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(ctx, a, rank));
  if (new Set(out).size !== out.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  return out;
}

/**
 * Integer values of optional input i: undefined when omitted, 'unknown' when present but not a
 * known constant.
 */
function optInts(ctx: InferCtx, i: number, v?: Array<ConstValue | undefined>): number[] | undefined | 'unknown' {
  if (!ctx.has(i)) return undefined;
  const x = intValues(v?.[i] ?? ctx.value(i));
  return x ?? 'unknown';
}

/** Fresh symbols for an output whose rank is known but whose dims depend on data. */
function symbols(ctx: InferCtx, n: number, hint: string): Dim[] {
  return range(n).map(() => ctx.symbol(hint));
}

/** The rank of a tensor whose value is a shape (a 1-D int64 tensor of known length), or fail. */
function shapeInputRank(ctx: InferCtx, i: number): number {
  const s = ctx.shape(i);
  if (s.length !== 1 || typeof s[0] !== 'number') ctx.fail(`input ${i} must be a 1-D tensor of known length`);
  return s[0] as number;
}

// ---------------------------------------------------------------------------------------------
// Reshape family

/** The -1 of a Reshape: elements of `inShape` divided by the product of `known`, with symbols cancelled. */
function inferredDim(ctx: InferCtx, inShape: readonly Dim[], known: readonly Dim[]): Dim {
  const num = inShape.filter((d): d is string => typeof d === 'string');
  const den = known.filter((d): d is string => typeof d === 'string');
  const n = product(inShape.filter((d): d is number => typeof d === 'number'));
  const m = product(known.filter((d): d is number => typeof d === 'number'));
  for (const s of [...den]) {
    const k = num.indexOf(s);
    if (k >= 0) { num.splice(k, 1); den.splice(den.indexOf(s), 1); }
  }
  if (den.length > 0) return ctx.symbol('reshape');
  if (num.length > 0) return num.length === 1 && n === m ? num[0] : ctx.symbol('reshape');
  if (m === 0) {
    if (n === 0) return 0;
    ctx.fail(`cannot infer the -1 dimension: the other dims multiply to 0 but the input has ${n} elements`);
  }
  if (n % m !== 0) ctx.fail(`cannot reshape ${n} elements into [${known.join(',')},-1]`);
  return n / m;
}

function reshapeShape(ctx: InferCtx, inShape: readonly Dim[], target: readonly number[], allowzero: number): Dim[] {
  const out: Dim[] = [];
  let minus = -1;
  target.forEach((t, i) => {
    if (t === 0 && !allowzero) {
      if (i >= inShape.length) ctx.fail(`shape entry ${i} is 0 (copy) but the input has rank ${inShape.length}`);
      out.push(inShape[i]);
    } else if (t === -1) {
      if (minus >= 0) ctx.fail('shape has more than one -1');
      minus = i;
      out.push(-1);
    } else if (t < 0) ctx.fail(`invalid shape entry ${t}`);
    else out.push(t);
  });
  if (minus >= 0) out[minus] = inferredDim(ctx, inShape, out.filter((_, i) => i !== minus));
  else if (concrete(inShape) && concrete(out) && product(inShape) !== product(out)) {
    ctx.fail(`cannot reshape [${inShape.join(',')}] (${product(inShape)} elements) into [${out.join(',')}]`);
  }
  return out;
}

const Reshape: OpSpec = {
  infer: (ctx) => {
    const allowzero = ctx.attr.int('allowzero', 0);
    const target = ctx.opset < 5 ? ctx.attr.ints('shape') : intValues(ctx.value(1));
    if (!target) return [{ dtype: ctx.dtype(0), shape: symbols(ctx, shapeInputRank(ctx, 1), 'reshape') }];
    const out = reshapeShape(ctx, ctx.shape(0), target, allowzero);
    // The resolved shape (0s copied, -1 inferred), so [0,-1] and [2,12] are the same reshape.
    ctx.setAttr('shape', concrete(out) ? out : target);
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
  evaluate: (ctx, v) => {
    const target = ctx.opset < 5 ? ctx.attr.ints('shape') : intValues(v[1]);
    if (!target) return undefined;
    return [reshaped(v[0]!, reshapeShape(ctx, v[0]!.shape, target, ctx.attr.int('allowzero', 0)) as number[])];
  },
};

function flattenShape(ctx: InferCtx, s: readonly Dim[]): Dim[] {
  let axis = ctx.attr.int('axis', 1);
  if (axis < 0) axis += s.length;
  if (axis < 0 || axis > s.length) ctx.fail(`axis ${axis} is out of range for rank ${s.length}`);
  ctx.setAttr('axis', axis);
  return [dimProduct(ctx, s.slice(0, axis)), dimProduct(ctx, s.slice(axis))];
}

const Flatten: OpSpec = {
  infer: (ctx) => [{ dtype: ctx.dtype(0), shape: flattenShape(ctx, ctx.shape(0)) }],
  evaluate: (ctx, v) => [reshaped(v[0]!, flattenShape(ctx, v[0]!.shape) as number[])],
};

/** Squeeze's axes (attr before 13, input after), normalized; all unit dims when none given. */
function squeezeAxes(ctx: InferCtx, s: readonly Dim[], v?: Array<ConstValue | undefined>): number[] {
  let axes: number[] | undefined;
  if (ctx.opset < 13) {
    axes = ctx.attr.has('axes') ? ctx.attr.ints('axes') : undefined;
  } else {
    const x = optInts(ctx, 1, v);
    if (x === 'unknown') ctx.fail('axes input is not a known constant');
    axes = x;
  }
  const r = axes ? normAxes(ctx, axes, s.length).sort((a, b) => a - b) : range(s.length).filter((i) => s[i] === 1);
  for (const a of r) if (typeof s[a] === 'number' && s[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${s[a]}`);
  ctx.setAttr('axes', r);
  return r;
}

const Squeeze: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const axes = squeezeAxes(ctx, s);
    return [{ dtype: ctx.dtype(0), shape: s.filter((_, i) => !axes.includes(i)) }];
  },
  evaluate: (ctx, v) => {
    const axes = squeezeAxes(ctx, v[0]!.shape, v);
    return [reshaped(v[0]!, v[0]!.shape.filter((_, i) => !axes.includes(i)))];
  },
};

function unsqueezeShape(ctx: InferCtx, s: readonly Dim[], v?: Array<ConstValue | undefined>): Dim[] {
  let axes: number[];
  if (ctx.opset < 13) axes = ctx.attr.ints('axes');
  else {
    const x = optInts(ctx, 1, v);
    if (x === undefined) ctx.fail('axes input is required');
    if (x === 'unknown') ctx.fail('axes input is not a known constant');
    axes = x;
  }
  const r = s.length + axes.length;
  const norm = normAxes(ctx, axes, r).sort((a, b) => a - b);
  ctx.setAttr('axes', norm);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(norm.includes(i) ? 1 : s[j++]);
  return out;
}

const Unsqueeze: OpSpec = {
  infer: (ctx) => [{ dtype: ctx.dtype(0), shape: unsqueezeShape(ctx, ctx.shape(0)) }],
  evaluate: (ctx, v) => [reshaped(v[0]!, unsqueezeShape(ctx, v[0]!.shape, v) as number[])],
};

function transposePerm(ctx: InferCtx, rank: number): number[] {
  const perm = ctx.attr.ints('perm', range(rank).reverse());
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) {
    ctx.fail(`perm [${perm.join(',')}] is not a permutation of ${rank} axes`);
  }
  return perm;
}

const Transpose: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    return [{ dtype: ctx.dtype(0), shape: transposePerm(ctx, s.length).map((p) => s[p]) }];
  },
  evaluate: (ctx, v) => [transposeValue(v[0]!, transposePerm(ctx, v[0]!.shape.length))],
};

// ---------------------------------------------------------------------------------------------
// Concat, Split, Slice

const Concat: OpSpec = {
  infer: (ctx) => {
    const shapes = ctx.inputs.map((_, i) => ctx.shape(i));
    if (shapes.length === 0) ctx.fail('needs at least one input');
    const rank = shapes[0].length;
    const axis = normAxis(ctx, ctx.attr.int('axis'), rank);
    ctx.setAttr('axis', axis);
    const out = [...shapes[0]];
    for (const [k, s] of shapes.entries()) {
      if (s.length !== rank) ctx.fail(`input ${k} has rank ${s.length}, input 0 has rank ${rank}`);
      for (let i = 0; i < rank; i++) {
        if (i === axis) continue;
        if (typeof out[i] === 'number' && typeof s[i] === 'number' && out[i] !== s[i]) {
          ctx.fail(`input ${k} has dim ${s[i]} at axis ${i}, input 0 has ${out[i]}`);
        }
        if (typeof out[i] === 'string' && typeof s[i] === 'number') out[i] = s[i];
      }
    }
    out[axis] = dimSum(ctx, shapes.map((s) => s[axis]), 'concat');
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
  evaluate: (ctx, v) => {
    const vals = v as ConstValue[];
    const rank = vals[0].shape.length;
    const axis = normAxis(ctx, ctx.attr.int('axis'), rank);
    const outer = product(vals[0].shape.slice(0, axis));
    const data: Array<number | string> = [];
    for (let o = 0; o < outer; o++) {
      for (const x of vals) {
        const chunk = product(x.shape.slice(axis));
        for (let k = 0; k < chunk; k++) data.push(x.data[o * chunk + k]);
      }
    }
    const shape = [...vals[0].shape];
    shape[axis] = vals.reduce((a, x) => a + x.shape[axis], 0);
    return [{ dtype: vals[0].dtype, shape, data: data as number[] }];
  },
};

/** Split sizes (attr before 13, input after, num_outputs from 18, else equal parts). */
function splitSizes(ctx: InferCtx, dim: Dim, v?: Array<ConstValue | undefined>): Dim[] {
  let split: number[] | undefined;
  if (ctx.opset < 13) split = ctx.attr.has('split') ? ctx.attr.ints('split') : undefined;
  else {
    const x = optInts(ctx, 1, v);
    if (x === 'unknown') return symbols(ctx, ctx.numOutputs, 'split');
    split = x;
  }
  let n = ctx.numOutputs;
  if (!split && ctx.opset >= 18 && ctx.attr.has('num_outputs')) n = ctx.attr.int('num_outputs');
  ctx.setAttr('num_outputs', n);
  if (!split) {
    if (typeof dim === 'string') return symbols(ctx, n, 'split');
    if (dim % n === 0) split = range(n).map(() => dim / n);
    else if (ctx.opset >= 18) {
      const c = Math.ceil(dim / n);
      split = range(n).map((i) => Math.max(0, Math.min(c, dim - i * c)));
    } else ctx.fail(`cannot split a dimension of ${dim} into ${n} equal parts`);
  }
  if (split.length !== ctx.numOutputs) ctx.fail(`split has ${split.length} entries for ${ctx.numOutputs} outputs`);
  if (typeof dim === 'number' && split.reduce((a, b) => a + b, 0) !== dim) ctx.fail(`split [${split.join(',')}] does not sum to ${dim}`);
  ctx.setAttr('split', split);
  return split;
}

const Split: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), s.length);
    ctx.setAttr('axis', axis);
    return splitSizes(ctx, s[axis]).map((d) => ({ dtype: ctx.dtype(0), shape: s.map((x, i) => (i === axis ? d : x)) }));
  },
  evaluate: (ctx, v) => {
    const x = v[0]!;
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), x.shape.length);
    const sizes = splitSizes(ctx, x.shape[axis], v) as number[];
    const st = strides(x.shape);
    let start = 0;
    return sizes.map((n) => {
      const shape = x.shape.map((d, i) => (i === axis ? n : d));
      const base = start;
      start += n;
      return gatherValue(x, shape, (idx) => idx.reduce((o, k, i) => o + (i === axis ? k + base : k) * st[i], 0));
    });
  },
};

interface SliceAxis { start: number; step: number; len: Dim }

/** Resolved per-axis slicing (clamped as the spec says), or undefined when an input is unknown. */
function sliceAxes(ctx: InferCtx, s: readonly Dim[], v?: Array<ConstValue | undefined>): SliceAxis[] | undefined {
  let starts: number[]; let ends: number[]; let axes: number[] | undefined; let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = ctx.attr.ints('starts');
    ends = ctx.attr.ints('ends');
    axes = ctx.attr.ints('axes', range(starts.length));
  } else {
    const st = optInts(ctx, 1, v); const en = optInts(ctx, 2, v);
    const ax = optInts(ctx, 3, v); const sp = optInts(ctx, 4, v);
    if (st === undefined || en === undefined) ctx.fail('starts and ends are required');
    if (st === 'unknown' || en === 'unknown' || ax === 'unknown' || sp === 'unknown') return undefined;
    starts = st; ends = en; axes = ax; steps = sp;
  }
  axes = normAxes(ctx, axes ?? range(starts.length), s.length);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    ctx.fail('starts, ends, axes and steps differ in length');
  }
  const out: SliceAxis[] = s.map((d) => ({ start: 0, step: 1, len: d }));
  const nStarts: number[] = []; const nEnds: number[] = [];
  axes.forEach((a, k) => {
    const d = s[a];
    const step = steps![k];
    if (step === 0) ctx.fail('slice step is 0');
    let b = starts[k]; let e = ends[k];
    if (typeof d === 'string') {
      // Unknown extent: only "the whole axis" keeps the symbol.
      const whole = step === 1 && b === 0 && e >= 2 ** 31 - 1;
      out[a] = { start: b, step, len: whole ? d : ctx.symbol('slice') };
      nStarts.push(b); nEnds.push(e);
      return;
    }
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (step > 0) { b = Math.min(Math.max(b, 0), d); e = Math.min(Math.max(e, 0), d); }
    else { b = Math.min(Math.max(b, 0), d - 1); e = Math.min(Math.max(e, -1), d - 1); }
    out[a] = { start: b, step, len: Math.max(0, Math.ceil((e - b) / step)) };
    nStarts.push(b); nEnds.push(e);
  });
  ctx.setAttr('starts', nStarts);
  ctx.setAttr('ends', nEnds);
  ctx.setAttr('axes', axes);
  ctx.setAttr('steps', steps);
  return out;
}

const Slice: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const ax = sliceAxes(ctx, s);
    if (!ax) {
      // Unknown bounds: the sliced axes get symbolic extents; the others keep theirs when we
      // know which axes are sliced (the axes input, or all of the first len(starts)).
      const axes = optInts(ctx, 3);
      const n = ctx.shape(1)[0];
      const sliced = Array.isArray(axes) ? axes.map((a) => normAxis(ctx, a, s.length))
        : axes === undefined && typeof n === 'number' ? range(n) : range(s.length);
      return [{ dtype: ctx.dtype(0), shape: s.map((d, i) => (sliced.includes(i) ? ctx.symbol('slice') : d)) }];
    }
    return [{ dtype: ctx.dtype(0), shape: ax.map((a) => a.len) }];
  },
  evaluate: (ctx, v) => {
    const x = v[0]!;
    const ax = sliceAxes(ctx, x.shape, v);
    if (!ax) return undefined;
    const st = strides(x.shape);
    return [gatherValue(x, ax.map((a) => a.len as number), (idx) => idx.reduce((o, k, i) => o + (ax[i].start + k * ax[i].step) * st[i], 0))];
  },
};

// ---------------------------------------------------------------------------------------------
// Gather / scatter

const Gather: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), s.length);
    ctx.setAttr('axis', axis);
    return [{ dtype: ctx.dtype(0), shape: [...s.slice(0, axis), ...ctx.shape(1), ...s.slice(axis + 1)] }];
  },
  evaluate: (ctx, v) => {
    const [x, ind] = [v[0]!, v[1]!];
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), x.shape.length);
    const q = ind.shape.length;
    const d = x.shape[axis];
    const st = strides(x.shape);
    const ist = strides(ind.shape);
    const shape = [...x.shape.slice(0, axis), ...ind.shape, ...x.shape.slice(axis + 1)];
    const idata = nums(ind);
    return [gatherValue(x, shape, (idx) => {
      let off = 0;
      for (let i = 0; i < axis; i++) off += idx[i] * st[i];
      let io = 0;
      for (let i = 0; i < q; i++) io += idx[axis + i] * ist[i];
      let k = idata[io];
      if (k < 0) k += d;
      if (k < 0 || k >= d) ctx.fail(`index ${idata[io]} is out of range for a dimension of ${d}`);
      off += k * st[axis];
      for (let i = axis + 1; i < x.shape.length; i++) off += idx[q + i - 1] * st[i];
      return off;
    })];
  },
};

const GatherElements: OpSpec = {
  infer: (ctx) => {
    const r = ctx.shape(0).length;
    ctx.setAttr('axis', normAxis(ctx, ctx.attr.int('axis', 0), r));
    if (ctx.shape(1).length !== r) ctx.fail('indices must have the rank of data');
    return [{ dtype: ctx.dtype(0), shape: ctx.shape(1) }];
  },
  evaluate: (ctx, v) => {
    const [x, ind] = [v[0]!, v[1]!];
    const axis = normAxis(ctx, ctx.attr.int('axis', 0), x.shape.length);
    const st = strides(x.shape);
    const idata = nums(ind);
    let k = 0;
    return [gatherValue(x, ind.shape, (idx) => {
      let j = idata[k++];
      if (j < 0) j += x.shape[axis];
      return idx.reduce((o, e, i) => o + (i === axis ? j : e) * st[i], 0);
    })];
  },
};

const GatherND: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0); const q = ctx.shape(1);
    const b = ctx.attr.int('batch_dims', 0);
    const last = q[q.length - 1];
    if (typeof last !== 'number') return ctx.fail('the last dimension of indices must be known');
    if (b + last > s.length) ctx.fail(`indices address ${b + last} dims of a rank-${s.length} tensor`);
    return [{ dtype: ctx.dtype(0), shape: [...q.slice(0, -1), ...s.slice(b + last)] }];
  },
  evaluate: (ctx, v) => {
    const [x, ind] = [v[0]!, v[1]!];
    const b = ctx.attr.int('batch_dims', 0);
    const last = ind.shape[ind.shape.length - 1];
    const st = strides(x.shape);
    const shape = [...ind.shape.slice(0, -1), ...x.shape.slice(b + last)];
    const ist = strides(ind.shape);
    const idata = nums(ind);
    const qr = ind.shape.length - 1;
    return [gatherValue(x, shape, (idx) => {
      let off = 0;
      for (let i = 0; i < b; i++) off += idx[i] * st[i];
      let io = 0;
      for (let i = 0; i < qr; i++) io += idx[i] * ist[i];
      for (let j = 0; j < last; j++) {
        let k = idata[io + j];
        if (k < 0) k += x.shape[b + j];
        off += k * st[b + j];
      }
      for (let i = b + last; i < x.shape.length; i++) off += idx[qr + i - b - last] * st[i];
      return off;
    })];
  },
};

function reduceFn(ctx: InferCtx): (a: number, b: number) => number {
  const r = ctx.attr.string('reduction', 'none');
  switch (r) {
    case 'none': return (_a, b) => b;
    case 'add': return (a, b) => a + b;
    case 'mul': return (a, b) => a * b;
    case 'max': return Math.max;
    case 'min': return Math.min;
    default: return ctx.fail(`unknown reduction '${r}'`);
  }
}

function scatterElements(ctx: InferCtx, v: Array<ConstValue | undefined>): ConstValue[] {
  const [x, ind, upd] = [v[0]!, v[1]!, v[2]!];
  const axis = normAxis(ctx, ctx.attr.int('axis', 0), x.shape.length);
  const f = ctx.op === 'Scatter' ? (_a: number, b: number) => b : reduceFn(ctx);
  const data = [...nums(x)];
  const st = strides(x.shape);
  const idata = nums(ind); const u = nums(upd);
  forEachIndex(ind.shape, (k, idx) => {
    let j = idata[k];
    if (j < 0) j += x.shape[axis];
    const off = idx.reduce((o, e, i) => o + (i === axis ? j : e) * st[i], 0);
    data[off] = castNumber(f(data[off], u[k]), x.dtype);
  });
  return [{ dtype: x.dtype, shape: x.shape, data }];
}

const scatterLike = (evaluate: OpSpec['evaluate']): OpSpec => ({
  infer: (ctx) => {
    if (ctx.op !== 'ScatterND') ctx.setAttr('axis', normAxis(ctx, ctx.attr.int('axis', 0), ctx.shape(0).length));
    // reduction (opset 16) is recorded in every opset: earlier scatters behave as its default.
    if (ctx.op !== 'Scatter') ctx.attr.string('reduction', 'none');
    return [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];
  },
  evaluate,
});

// ---------------------------------------------------------------------------------------------
// Pad, Tile, Expand

interface PadSpec { pads: number[]; mode: string; value: number }

function padSpec(ctx: InferCtx, rank: number, v?: Array<ConstValue | undefined>): PadSpec | undefined {
  const mode = ctx.attr.string('mode', 'constant');
  if (ctx.opset < 11) {
    const pads = ctx.attr.has('paddings') ? ctx.attr.ints('paddings') : ctx.attr.ints('pads');
    ctx.setAttr('pads', pads);
    return { pads, mode, value: ctx.attr.float('value', 0) };
  }
  const p = optInts(ctx, 1, v);
  if (p === undefined) ctx.fail('pads input is required');
  if (p === 'unknown') return undefined;
  let value = 0;
  if (ctx.has(2)) {
    const cv = scalarOf(v?.[2] ?? ctx.value(2));
    if (cv === undefined) return undefined;
    value = cv;
  }
  const ax = ctx.opset >= 18 ? optInts(ctx, 3, v) : undefined;
  if (ax === 'unknown') return undefined;
  let pads = p;
  if (ax) {
    const axes = normAxes(ctx, ax, rank);
    if (p.length !== 2 * axes.length) ctx.fail(`pads has ${p.length} entries for ${axes.length} axes`);
    pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, k) => { pads[a] = p[k]; pads[a + rank] = p[k + axes.length]; });
  }
  ctx.setAttr('pads', pads);
  ctx.setAttr('value', value);
  return { pads, mode, value };
}

const Pad: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const p = padSpec(ctx, s.length);
    if (!p) return [{ dtype: ctx.dtype(0), shape: symbols(ctx, s.length, 'pad') }];
    if (p.pads.length !== 2 * s.length) ctx.fail(`pads has ${p.pads.length} entries for rank ${s.length}`);
    return [{ dtype: ctx.dtype(0), shape: s.map((d, i) => {
      const extra = p.pads[i] + p.pads[i + s.length];
      return typeof d === 'number' ? d + extra : extra === 0 ? d : ctx.symbol('pad');
    }) }];
  },
  evaluate: (ctx, v) => {
    const x = v[0]!;
    const r = x.shape.length;
    const p = padSpec(ctx, r, v);
    if (!p) return undefined;
    const shape = x.shape.map((d, i) => d + p.pads[i] + p.pads[i + r]);
    const st = strides(x.shape);
    const src = x.data as Array<number | string>;
    const data: Array<number | string> = new Array(product(shape));
    forEachIndex(shape, (k, idx) => {
      let off = 0;
      for (let i = 0; i < r; i++) {
        let j = idx[i] - p.pads[i];
        const d = x.shape[i];
        if (j < 0 || j >= d) {
          if (p.mode === 'constant' || d === 0) { off = -1; break; }
          if (p.mode === 'edge') j = Math.min(Math.max(j, 0), d - 1);
          else if (p.mode === 'reflect') {
            const period = 2 * (d - 1);
            j = period === 0 ? 0 : ((j % period) + period) % period;
            if (j >= d) j = period - j;
          } else if (p.mode === 'wrap') j = ((j % d) + d) % d;
        }
        off += j * st[i];
      }
      data[k] = off < 0 ? p.value : src[off];
    });
    return [{ dtype: x.dtype, shape, data: data as number[] }];
  },
};

const Tile: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const reps = intValues(ctx.value(1));
    if (!reps) return [{ dtype: ctx.dtype(0), shape: symbols(ctx, s.length, 'tile') }];
    if (reps.length !== s.length) ctx.fail(`repeats has ${reps.length} entries for rank ${s.length}`);
    ctx.setAttr('repeats', reps);
    return [{ dtype: ctx.dtype(0), shape: s.map((d, i) => (typeof d === 'number' ? d * reps[i] : reps[i] === 1 ? d : ctx.symbol('tile'))) }];
  },
  evaluate: (_ctx, v) => {
    const x = v[0]!; const reps = intValues(v[1])!;
    const st = strides(x.shape);
    return [gatherValue(x, x.shape.map((d, i) => d * reps[i]), (idx) => idx.reduce((o, k, i) => o + (k % x.shape[i]) * st[i], 0))];
  },
};

const Expand: OpSpec = {
  infer: (ctx) => {
    const target = intValues(ctx.value(1));
    if (!target) return [{ dtype: ctx.dtype(0), shape: symbols(ctx, Math.max(shapeInputRank(ctx, 1), ctx.shape(0).length), 'expand') }];
    return [{ dtype: ctx.dtype(0), shape: broadcastShapes(ctx, [ctx.shape(0), target]) }];
  },
  evaluate: (ctx, v) => {
    const shape = broadcastShapes(ctx, [v[0]!.shape, intValues(v[1])!]) as number[];
    return [broadcastEval(shape, v[0]!.dtype, [v[0]!], (a) => a)];
  },
};

// ---------------------------------------------------------------------------------------------
// Resize / Upsample, DepthToSpace / SpaceToDepth

/** Output dims from per-axis scales: floor(d * scale) (the spec's formula). */
function scaledDims(ctx: InferCtx, s: readonly Dim[], scales: readonly number[]): Dim[] {
  if (scales.length !== s.length) ctx.fail(`scales has ${scales.length} entries for rank ${s.length}`);
  return s.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales[i] + 1e-9) : scales[i] === 1 ? d : ctx.symbol('resize')));
}

const Resize: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const r = s.length;
    const dt = ctx.dtype(0);
    ctx.attr.string('mode', 'nearest');
    if (ctx.opset < 11) {
      ctx.setAttr('coordinate_transformation_mode', 'asymmetric');
      const scales = ctx.value(1);
      if (!scales) return [{ dtype: dt, shape: symbols(ctx, r, 'resize') }];
      ctx.setAttr('scales', nums(scales));
      return [{ dtype: dt, shape: scaledDims(ctx, s, nums(scales)) }];
    }
    ctx.attr.string('coordinate_transformation_mode', 'half_pixel');
    ctx.attr.float('cubic_coeff_a', -0.75);
    ctx.attr.int('exclude_outside', 0);
    ctx.attr.float('extrapolation_value', 0);
    ctx.attr.string('nearest_mode', 'round_prefer_floor');
    // Opset-18 attributes are recorded in every opset (at their defaults before 18), and scales
    // are recorded for all axes, so the same resize has the same attributes in any form.
    const axes = ctx.opset >= 18 ? normAxes(ctx, ctx.attr.ints('axes', range(r)), r) : range(r);
    const policy = ctx.opset >= 18 ? ctx.attr.string('keep_aspect_ratio_policy', 'stretch') : 'stretch';
    ctx.setAttr('antialias', ctx.opset >= 18 ? ctx.attr.int('antialias', 0) : 0);
    ctx.setAttr('axes', range(r));
    ctx.setAttr('keep_aspect_ratio_policy', 'stretch');
    const scalesV = ctx.has(2) ? ctx.value(2) : undefined;
    const sizesV = ctx.has(3) ? ctx.value(3) : undefined;
    if ((ctx.has(2) && !scalesV) || (ctx.has(3) && !sizesV)) return [{ dtype: dt, shape: symbols(ctx, r, 'resize') }];
    const full = (part: number[], fill: number): number[] => {
      if (part.length !== axes.length) ctx.fail(`got ${part.length} values for ${axes.length} axes`);
      const f = new Array<number>(r).fill(fill);
      axes.forEach((a, k) => { f[a] = part[k]; });
      return f;
    };
    if (sizesV && sizesV.data.length > 0) {
      let sizes = full(intValues(sizesV)!, -1);
      if (policy !== 'stretch') {
        const ratios = axes.map((a) => sizes[a] / (s[a] as number));
        const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        sizes = s.map((d, i) => (axes.includes(i) ? roundHalfEven(scale * (d as number)) : d as number));
      }
      const out: Dim[] = s.map((d, i) => (axes.includes(i) ? sizes[i] : d));
      if (concrete(s)) ctx.setAttr('scales', s.map((d, i) => (d === 0 ? 1 : (out[i] as number) / d)));
      return [{ dtype: dt, shape: out }];
    }
    if (!scalesV || scalesV.data.length === 0) return ctx.fail('Resize needs scales or sizes');
    const scales = full(nums(scalesV), 1);
    ctx.setAttr('scales', scales);
    return [{ dtype: dt, shape: scaledDims(ctx, s, scales) }];
  },
};

const Upsample: OpSpec = {
  infer: (ctx) => {
    ctx.attr.string('mode', 'nearest');
    const s = ctx.shape(0);
    let scales: number[] | undefined;
    if (ctx.opset < 9) scales = ctx.attr.floats('scales');
    else {
      scales = ctx.value(1) && nums(ctx.value(1)!);
      if (scales) ctx.setAttr('scales', scales);
    }
    if (!scales) return [{ dtype: ctx.dtype(0), shape: symbols(ctx, s.length, 'upsample') }];
    return [{ dtype: ctx.dtype(0), shape: scaledDims(ctx, s, scales) }];
  },
};

function blockShape(ctx: InferCtx, toSpace: boolean): Dim[] {
  const s = ctx.shape(0);
  if (s.length !== 4) ctx.fail(`expects a 4-D input, got rank ${s.length}`);
  const b = ctx.attr.int('blocksize');
  if (toSpace) ctx.attr.string('mode', 'DCR');
  const [n, c, h, w] = s;
  const mul = (d: Dim, k: number): Dim => (typeof d === 'number' ? d * k : ctx.symbol('block'));
  const div = (d: Dim, k: number): Dim => {
    if (typeof d !== 'number') return ctx.symbol('block');
    if (d % k !== 0) ctx.fail(`dimension ${d} is not divisible by ${k}`);
    return d / k;
  };
  return toSpace ? [n, div(c, b * b), mul(h, b), mul(w, b)] : [n, mul(c, b * b), div(h, b), div(w, b)];
}

// ---------------------------------------------------------------------------------------------
// Shape, Size, Constant, ConstantOfShape, Range, EyeLike, OneHot

const Shape: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const r = s.length;
    let start = 0; let end = r;
    if (ctx.opset >= 15) {
      start = ctx.attr.int('start', 0);
      if (ctx.attr.has('end')) end = ctx.attr.int('end');
    }
    const clamp = (x: number): number => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
    start = clamp(start); end = Math.max(start, clamp(end));
    // Recorded in every opset, so that explicit and default start/end give the same attributes.
    ctx.setAttr('start', start);
    ctx.setAttr('end', end);
    const dims = s.slice(start, Math.max(start, end));
    const info: TensorInfo = { dtype: 'int64', shape: [dims.length] };
    if (concrete(dims)) info.value = { dtype: 'int64', shape: [dims.length], data: dims };
    return [info];
  },
};

const Size: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const info: TensorInfo = { dtype: 'int64', shape: [] };
    if (concrete(s)) info.value = { dtype: 'int64', shape: [], data: [product(s)] };
    return [info];
  },
};

function constantValue(ctx: InferCtx): TensorInfo {
  const a = ctx.attr;
  const t = a.tensor('value');
  if (t) {
    const dtype = tensorDtype(t) ?? ctx.fail('Constant value has an unknown element type');
    const info: TensorInfo = { dtype, shape: tensorDims(t), weight: { proto: t } };
    const v = decodeTensor(t);
    if (v) info.value = v;
    return info;
  }
  const small = (dtype: DType, shape: number[], data: number[] | string[]): TensorInfo => ({ dtype, shape, value: { dtype, shape, data } });
  if (a.has('value_float')) return small('float32', [], [Math.fround(a.float('value_float'))]);
  if (a.has('value_floats')) { const f = a.floats('value_floats').map(Math.fround); return small('float32', [f.length], f); }
  if (a.has('value_int')) return small('int64', [], [a.int('value_int')]);
  if (a.has('value_ints')) { const f = a.ints('value_ints'); return small('int64', [f.length], f); }
  if (a.has('value_string')) return small('string', [], [a.string('value_string')]);
  if (a.has('value_strings')) { const f = a.strings('value_strings'); return small('string', [f.length], f); }
  if (a.has('sparse_value')) return ctx.fail('Constant with sparse_value is not supported');
  return ctx.fail('Constant has no value attribute');
}

const ZERO_F32: AttrValue = { kind: 'tensor', dtype: 'float32', shape: [1], values: [0] };

function constantOfShapeFill(ctx: InferCtx): ConstValue {
  const t = ctx.attr.tensor('value');
  if (!t) {
    ctx.setAttr('value', ZERO_F32);
    return { dtype: 'float32', shape: [1], data: [0] };
  }
  return decodeTensor(t) ?? ctx.fail('ConstantOfShape value could not be decoded');
}

const ConstantOfShape: OpSpec = {
  infer: (ctx) => {
    const fill = constantOfShapeFill(ctx);
    const target = intValues(ctx.value(0));
    if (!target) return [{ dtype: fill.dtype, shape: symbols(ctx, shapeInputRank(ctx, 0), 'const') }];
    if (target.some((d) => d < 0)) ctx.fail(`negative dimension in [${target.join(',')}]`);
    return [{ dtype: fill.dtype, shape: target }];
  },
  evaluate: (ctx, v) => {
    const fill = constantOfShapeFill(ctx);
    const shape = intValues(v[0])!;
    return [{ dtype: fill.dtype, shape, data: new Array(product(shape)).fill(fill.data[0]) }];
  },
};

function rangeCount(start: number, limit: number, delta: number): number {
  return Math.max(Math.ceil((limit - start) / delta), 0);
}

const Range: OpSpec = {
  infer: (ctx) => {
    const dt = ctx.dtype(0);
    const [a, b, c] = [scalarOf(ctx.value(0)), scalarOf(ctx.value(1)), scalarOf(ctx.value(2))];
    if (a === undefined || b === undefined || c === undefined) return [{ dtype: dt, shape: [ctx.symbol('range')] }];
    if (c === 0) ctx.fail('delta is 0');
    return [{ dtype: dt, shape: [rangeCount(a, b, c)] }];
  },
  evaluate: (ctx, v) => {
    const [a, b, c] = [scalarOf(v[0])!, scalarOf(v[1])!, scalarOf(v[2])!];
    const n = rangeCount(a, b, c);
    const dt = ctx.dtype(0);
    return [{ dtype: dt, shape: [n], data: range(n).map((i) => castNumber(a + i * c, dt)) }];
  },
};

const EyeLike: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    if (s.length !== 2) ctx.fail(`expects a 2-D input, got rank ${s.length}`);
    const inDt = ctx.dtype(0);
    const dt = ctx.attr.has('dtype') ? (dtypeOf(ctx, ctx.attr.int('dtype'))) : inDt;
    ctx.setAttr('dtype', onnxFromDtype(dt));
    const k = ctx.attr.int('k', 0);
    const info: TensorInfo = { dtype: dt, shape: s };
    if (concrete(s) && product(s) <= MAX_FOLD_ELEMENTS) {
      const data = new Array<number>(product(s)).fill(0);
      for (let i = 0; i < s[0]; i++) if (i + k >= 0 && i + k < s[1]) data[i * s[1] + i + k] = 1;
      info.value = { dtype: dt, shape: s, data };
    }
    return [info];
  },
};

function dtypeOf(ctx: InferCtx, code: number): DType {
  return dtypeFromOnnx(code) ?? ctx.fail(`unknown element type ${code}`);
}

const OneHot: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const axis = ctx.attr.int('axis', -1);
    const a = axis < 0 ? axis + s.length + 1 : axis;
    if (a < 0 || a > s.length) ctx.fail(`axis ${axis} is out of range`);
    ctx.setAttr('axis', a);
    const depth = scalarOf(ctx.value(1));
    const out = [...s];
    out.splice(a, 0, depth === undefined ? ctx.symbol('onehot') : Math.trunc(depth));
    return [{ dtype: ctx.dtype(2), shape: out }];
  },
  evaluate: (ctx, v) => {
    const [ind, dv, vals] = [v[0]!, v[1]!, v[2]!];
    const depth = Math.trunc(scalarOf(dv)!);
    const axis = ctx.attr.int('axis', -1);
    const a = axis < 0 ? axis + ind.shape.length + 1 : axis;
    const shape = [...ind.shape];
    shape.splice(a, 0, depth);
    const ist = strides(ind.shape);
    const [off, on] = nums(vals);
    const data = new Array<number>(product(shape));
    forEachIndex(shape, (k, idx) => {
      let io = 0;
      for (let i = 0, j = 0; i < idx.length; i++) if (i !== a) io += idx[i] * ist[j++];
      let x = Math.trunc(nums(ind)[io]);
      if (x < 0) x += depth;
      data[k] = x === idx[a] ? on : off;
    });
    return [{ dtype: vals.dtype, shape, data }];
  },
};

// ---------------------------------------------------------------------------------------------
// Trilu, CumSum, ReverseSequence, Compress

const sameShape = (ctx: InferCtx): TensorInfo[] => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];

const Trilu: OpSpec = {
  infer: (ctx) => {
    ctx.attr.int('upper', 1);
    const k = ctx.has(1) ? scalarOf(ctx.value(1)) : 0;
    if (k !== undefined) ctx.setAttr('k', k);
    if (ctx.shape(0).length < 2) ctx.fail('expects rank ≥ 2');
    return sameShape(ctx);
  },
  evaluate: (ctx, v) => {
    const x = v[0]!;
    const upper = ctx.attr.int('upper', 1);
    const k = ctx.has(1) ? scalarOf(v[1]) ?? 0 : 0;
    const r = x.shape.length;
    const data = [...(x.data as number[])];
    forEachIndex(x.shape, (o, idx) => {
      const d = idx[r - 1] - idx[r - 2];
      if (upper ? d < k : d > k) data[o] = 0;
    });
    return [{ dtype: x.dtype, shape: x.shape, data }];
  },
};

const CumSum: OpSpec = {
  infer: (ctx) => {
    ctx.attr.int('exclusive', 0);
    ctx.attr.int('reverse', 0);
    const axis = scalarOf(ctx.value(1));
    if (axis !== undefined) ctx.setAttr('axis', normAxis(ctx, axis, ctx.shape(0).length));
    return sameShape(ctx);
  },
  evaluate: (ctx, v) => {
    const x = v[0]!;
    const axis = normAxis(ctx, scalarOf(v[1])!, x.shape.length);
    const excl = ctx.attr.int('exclusive', 0); const rev = ctx.attr.int('reverse', 0);
    const st = strides(x.shape); const d = x.shape[axis];
    const src = nums(x);
    const data = new Array<number>(src.length);
    forEachIndex(x.shape, (o, idx) => {
      if (idx[axis] !== 0) return;
      let acc = 0;
      for (let t = 0; t < d; t++) {
        const j = rev ? d - 1 - t : t;
        const off = o + j * st[axis];
        if (excl) { data[off] = castNumber(acc, x.dtype); acc += src[off]; } else { acc += src[off]; data[off] = castNumber(acc, x.dtype); }
      }
    });
    return [{ dtype: x.dtype, shape: x.shape, data }];
  },
};

const ReverseSequence: OpSpec = {
  infer: (ctx) => {
    ctx.attr.int('batch_axis', 1);
    ctx.attr.int('time_axis', 0);
    return sameShape(ctx);
  },
};

function compressCount(cond: ConstValue, dim: number): number {
  return nums(cond).slice(0, dim).filter((c) => c).length;
}

const Compress: OpSpec = {
  infer: (ctx) => {
    const s = ctx.shape(0);
    const cond = ctx.value(1);
    if (!ctx.attr.has('axis')) {
      const n = dimProduct(ctx, s);
      return [{ dtype: ctx.dtype(0), shape: [cond && typeof n === 'number' ? compressCount(cond, n) : ctx.symbol('compress')] }];
    }
    const axis = normAxis(ctx, ctx.attr.int('axis'), s.length);
    const d = s[axis];
    const out = [...s];
    out[axis] = cond && typeof d === 'number' ? compressCount(cond, d) : ctx.symbol('compress');
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
  evaluate: (ctx, v) => {
    const x = v[0]!; const c = nums(v[1]!);
    const hasAxis = ctx.attr.has('axis');
    const shape = hasAxis ? x.shape : [x.data.length];
    const axis = hasAxis ? normAxis(ctx, ctx.attr.int('axis'), shape.length) : 0;
    const keep = range(shape[axis]).filter((i) => c[i]);
    const st = strides(shape);
    const out = shape.map((d, i) => (i === axis ? keep.length : d));
    return [gatherValue(x, out, (idx) => idx.reduce((o, k, i) => o + (i === axis ? keep[k] : k) * st[i], 0))];
  },
};

// ---------------------------------------------------------------------------------------------

export const tensorOps: Record<string, OpSpec> = {
  Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
  Gather, GatherElements, GatherND,
  ScatterElements: scatterLike(scatterElements),
  Scatter: scatterLike(scatterElements),
  ScatterND: scatterLike((ctx, v) => {
    const [x, ind, upd] = [v[0]!, v[1]!, v[2]!];
    const f = reduceFn(ctx);
    const data = [...nums(x)];
    const st = strides(x.shape);
    const last = ind.shape[ind.shape.length - 1];
    const slice = product(x.shape.slice(last));
    const idata = nums(ind); const u = nums(upd);
    const n = product(ind.shape.slice(0, -1));
    for (let q = 0; q < n; q++) {
      let off = 0;
      for (let j = 0; j < last; j++) {
        let k = idata[q * last + j];
        if (k < 0) k += x.shape[j];
        off += k * st[j];
      }
      for (let e = 0; e < slice; e++) data[off + e] = castNumber(f(data[off + e], u[q * slice + e]), x.dtype);
    }
    return [{ dtype: x.dtype, shape: x.shape, data }];
  }),
  Pad, Tile, Expand, Resize, Upsample,
  DepthToSpace: { infer: (ctx) => [{ dtype: ctx.dtype(0), shape: blockShape(ctx, true) }] },
  SpaceToDepth: { infer: (ctx) => [{ dtype: ctx.dtype(0), shape: blockShape(ctx, false) }] },
  Shape, Size,
  Constant: { infer: (ctx) => [constantValue(ctx)] },
  ConstantOfShape, Range, EyeLike, OneHot, Trilu, CumSum, ReverseSequence, Compress,
};
