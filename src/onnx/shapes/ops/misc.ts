/**
 * Ops that fit no family: data-dependent outputs (TopK with an unknown K, NonZero, Unique,
 * NonMaxSuppression: their sizes are fresh symbols unless the input values are known), random
 * generators, Det, Col2Im, CenterCropPad, GridSample/AffineGrid, signal processing (DFT, STFT,
 * windows, MelWeightMatrix). Semantics per the ONNX operator spec.
 */
import type { Dim } from '../types.js';
import type { DType } from '../../dtype.js';
import type { ConstValue } from '../../tensor.js';
import type { InferCtx, OpSpec } from '../types.js';
import { castNumber, normAxis, product, strides } from '../util.js';
import { dtypeAttr, intsValue, scalarValue, shapeAtLeast, unify } from './nn-util.js';

// ---------------------------------------------------------------------------------------------
// Data-dependent sizes

/** TopK: K is an attribute before opset 10, then a 1-element input; unknown K gives a symbol. */
const topK: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const axis = normAxis(ctx, ctx.attr.int('axis', -1), xs.length);
    if (ctx.opset >= 11) {
      ctx.attr.int('largest', 1);
      ctx.attr.int('sorted', 1);
    }
    let k: Dim;
    if (ctx.opset < 10) k = ctx.attr.int('k');
    else {
      const kv = scalarValue(ctx, 1);
      k = kv ?? ctx.symbol('topk');
    }
    if (typeof k === 'number') {
      if (k < 0) ctx.fail(`K must be non-negative, got ${k}`);
      if (typeof xs[axis] === 'number' && k > xs[axis]) ctx.fail(`K = ${k} exceeds the axis size ${xs[axis]}`);
    }
    const shape = xs.map((d, i) => (i === axis ? k : d));
    return [{ dtype: ctx.dtype(0), shape }, { dtype: 'int64', shape }];
  },
};

function nonZeroIndices(v: ConstValue): number[][] {
  const st = strides(v.shape);
  const out: number[][] = v.shape.map(() => []);
  (v.data as Array<number | string>).forEach((x, flat) => {
    if (x === 0 || x === '') return;
    let r = flat;
    st.forEach((s, ax) => { out[ax].push(Math.floor(r / s)); r %= s; });
  });
  return out;
}

const nonZero: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const v = ctx.value(0);
    const count: Dim = v ? (v.data as Array<number | string>).filter((x) => x !== 0 && x !== '').length : ctx.symbol('nonzero');
    return [{ dtype: 'int64', shape: [xs.length, count] }];
  },
  evaluate: (_ctx, [v]) => {
    const idx = nonZeroIndices(v!);
    const n = idx.length ? idx[0].length : 0;
    return [{ dtype: 'int64', shape: [v!.shape.length, n], data: idx.flat() }];
  },
};

interface UniqueResult { y: ConstValue; indices: number[]; inverse: number[]; counts: number[] }

/**
 * numpy.unique semantics over whole tensor (no axis) or sub-tensors along `axis`: sorted
 * (lexicographically, for slices) or in order of first occurrence.
 */
function computeUnique(v: ConstValue, axis: number | undefined, sorted: boolean): UniqueResult {
  const data = v.data as Array<number | string>;
  const shape = axis === undefined ? [data.length] : v.shape;
  const ax = axis ?? 0;
  const outer = product(shape.slice(0, ax));
  const n = shape[ax];
  const inner = product(shape.slice(ax + 1));
  const slice = (i: number): Array<number | string> => {
    const s: Array<number | string> = [];
    for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) s.push(data[(o * n + i) * inner + j]);
    return s;
  };
  const slices = Array.from({ length: n }, (_, i) => slice(i));
  const firstOf = new Map<string, number>();
  const order: number[] = [];
  slices.forEach((s, i) => {
    const key = JSON.stringify(s);
    if (!firstOf.has(key)) { firstOf.set(key, i); order.push(i); }
  });
  if (sorted) {
    order.sort((a, b) => {
      const sa = slices[a];
      const sb = slices[b];
      for (let j = 0; j < sa.length; j++) if (sa[j] !== sb[j]) return sa[j] < sb[j] ? -1 : 1;
      return 0;
    });
  }
  const pos = new Map(order.map((i, p) => [JSON.stringify(slices[i]), p]));
  const inverse = slices.map((s) => pos.get(JSON.stringify(s))!);
  const counts = order.map(() => 0);
  for (const p of inverse) counts[p]++;
  const u = order.length;
  const yShape = axis === undefined ? [u] : shape.map((d, i) => (i === ax ? u : d));
  const yData: Array<number | string> = new Array(product(yShape));
  order.forEach((src, p) => {
    const s = slices[src];
    let k = 0;
    for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) yData[(o * u + p) * inner + j] = s[k++];
  });
  return { y: { dtype: v.dtype, shape: yShape, data: yData as number[] | string[] }, indices: order, inverse, counts };
}

const unique: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const sorted = ctx.attr.int('sorted', 1) !== 0;
    const axis = ctx.attr.has('axis') ? normAxis(ctx, ctx.attr.int('axis'), xs.length) : undefined;
    const v = ctx.value(0);
    const u: Dim = v ? computeUnique(v, axis, sorted).indices.length : ctx.symbol('unique');
    const n: Dim = axis === undefined ? (xs.every((d) => typeof d === 'number') ? product(xs as number[]) : ctx.symbol('numel')) : xs[axis];
    const y = axis === undefined ? [u] : xs.map((d, i) => (i === axis ? u : d));
    return [{ dtype: ctx.dtype(0), shape: y }, { dtype: 'int64', shape: [u] }, { dtype: 'int64', shape: [n] }, { dtype: 'int64', shape: [u] }];
  },
  evaluate: (ctx, [v]) => {
    const axis = ctx.attr.has('axis') ? normAxis(ctx, ctx.attr.int('axis'), v!.shape.length) : undefined;
    const r = computeUnique(v!, axis, ctx.attr.int('sorted', 1) !== 0);
    const i64 = (data: number[]): ConstValue => ({ dtype: 'int64', shape: [data.length], data });
    return [r.y, i64(r.indices), i64(r.inverse), i64(r.counts)];
  },
};

const nonMaxSuppression: OpSpec = {
  infer: (ctx) => {
    const bs = ctx.shape(0);
    const ss = ctx.shape(1);
    if (bs.length !== 3 || ss.length !== 3) ctx.fail(`boxes [${bs.join(',')}] and scores [${ss.join(',')}] must be 3-D`);
    unify(ctx, bs[2], 4, 'boxes last dim');
    ctx.attr.int('center_point_box', 0);
    return [{ dtype: 'int64', shape: [ctx.symbol('selected'), 3] }];
  },
};

// ---------------------------------------------------------------------------------------------
// Random generators (shapes only; values are never folded)

const seed = (ctx: InferCtx): void => { if (ctx.attr.has('seed')) ctx.attr.float('seed'); };

const bernoulli: OpSpec = {
  infer: (ctx) => {
    seed(ctx);
    return [{ dtype: dtypeAttr(ctx, 'dtype', ctx.dtype(0)), shape: ctx.shape(0) }];
  },
};

function randomOp(params: Record<string, number>, like: boolean): OpSpec {
  return {
    infer: (ctx) => {
      for (const [k, def] of Object.entries(params)) ctx.attr.float(k, def);
      seed(ctx);
      if (like) return [{ dtype: dtypeAttr(ctx, 'dtype', ctx.dtype(0)), shape: ctx.shape(0) }];
      const dtype = dtypeAttr(ctx, 'dtype', 'float32');
      const shape = ctx.attr.ints('shape');
      if (shape.some((d) => d < 0)) ctx.fail(`shape [${shape.join(',')}] has a negative dim`);
      return [{ dtype, shape }];
    },
  };
}

const multinomial: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (xs.length !== 2) ctx.fail(`input must be 2-D [batch, classes], got [${xs.join(',')}]`);
    const n = ctx.attr.int('sample_size', 1);
    seed(ctx);
    return [{ dtype: dtypeAttr(ctx, 'dtype', 'int32'), shape: [xs[0], n] }];
  },
};

// ---------------------------------------------------------------------------------------------
// Linear algebra and image ops

const det: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 2, 'input X');
    unify(ctx, xs[xs.length - 1], xs[xs.length - 2], 'Det needs square matrices');
    return [{ dtype: ctx.dtype(0), shape: xs.slice(0, -2) }];
  },
};

/** Col2Im (18): [N, C·∏block, L] → [N, C, image…]. */
const col2Im: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (xs.length !== 3) ctx.fail(`input must be 3-D [N, C·∏block, L], got [${xs.join(',')}]`);
    const image = intsValue(ctx, 1);
    const block = intsValue(ctx, 2);
    const n = image?.length ?? block?.length ?? (typeof ctx.shape(1)[0] === 'number' ? ctx.shape(1)[0] as number : ctx.fail('image_shape has unknown length'));
    ctx.attr.ints('dilations', new Array<number>(n).fill(1));
    ctx.attr.ints('pads', new Array<number>(2 * n).fill(0));
    ctx.attr.ints('strides', new Array<number>(n).fill(1));
    let c: Dim = ctx.symbol('channels');
    if (block && typeof xs[1] === 'number') {
      const b = product(block);
      if (xs[1] % b !== 0) ctx.fail(`input dim 1 (${xs[1]}) is not a multiple of ∏block_shape (${b})`);
      c = xs[1] / b;
    }
    const spatial: Dim[] = image ?? Array.from({ length: n }, () => ctx.symbol('image'));
    return [{ dtype: ctx.dtype(0), shape: [xs[0], c, ...spatial] }];
  },
};

/** CenterCropPad (18): the dims on `axes` (default all) become the values of `shape`. */
const centerCropPad: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const axes = ctx.attr.ints('axes', xs.map((_, i) => i)).map((a) => normAxis(ctx, a, xs.length));
    const target = intsValue(ctx, 1);
    if (target && target.length !== axes.length) ctx.fail(`shape has ${target.length} values for ${axes.length} axes`);
    const out = [...xs];
    axes.forEach((a, i) => { out[a] = target ? target[i] : ctx.symbol('crop'); });
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
};

/** GridSample: X [N, C, in…] sampled at grid [N, out…, r] → [N, C, out…]. */
const gridSample: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 3, 'input X');
    const gs = ctx.shape(1);
    if (gs.length !== xs.length) ctx.fail(`grid has rank ${gs.length}, X has rank ${xs.length}`);
    unify(ctx, gs[gs.length - 1], xs.length - 2, 'grid last dim vs spatial rank');
    unify(ctx, gs[0], xs[0], 'grid batch vs X batch');
    ctx.attr.int('align_corners', 0);
    ctx.attr.string('mode', ctx.opset >= 20 ? 'linear' : 'bilinear');
    ctx.attr.string('padding_mode', 'zeros');
    return [{ dtype: ctx.dtype(0), shape: [xs[0], xs[1], ...gs.slice(1, -1)] }];
  },
};

/** AffineGrid (20): theta [N, r, r+1], size [N, C, spatial…] → grid [N, spatial…, r]. */
const affineGrid: OpSpec = {
  infer: (ctx) => {
    const ts = ctx.shape(0);
    ctx.attr.int('align_corners', 0);
    const size = intsValue(ctx, 1);
    let spatial: Dim[];
    if (size) spatial = size.slice(2);
    else {
      const d = ctx.shape(1)[0];
      const len = typeof d === 'number' ? d : ctx.fail('size has unknown length');
      spatial = Array.from({ length: len - 2 }, () => ctx.symbol('grid'));
    }
    return [{ dtype: ctx.dtype(0), shape: [size ? size[0] : ts[0], ...spatial, spatial.length] }];
  },
};

// ---------------------------------------------------------------------------------------------
// Signal processing

/**
 * DFT: the signal axis becomes dft_length (when given), halved + 1 when onesided; the last dim
 * (1 real or 2 complex) becomes 2. Opset 17 has `axis` as an attribute (default 1), opset 20 as an
 * optional input (default −2).
 */
const dft: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 3, 'input');
    const inverse = ctx.attr.int('inverse', 0) !== 0;
    const onesided = ctx.attr.int('onesided', 0) !== 0;
    let axisRaw: number;
    if (ctx.opset >= 20) {
      axisRaw = (ctx.has(2) ? scalarValue(ctx, 2) : -2) ?? ctx.fail('axis input value is unknown');
    } else axisRaw = ctx.attr.int('axis', 1);
    const axis = normAxis(ctx, axisRaw, xs.length);
    if (axis === 0 || axis === xs.length - 1) ctx.fail(`axis ${axisRaw} must be a signal axis (not batch or the real/imaginary dim)`);
    if (onesided && inverse) ctx.fail('onesided and inverse cannot both be set');
    const last = xs[xs.length - 1];
    if (typeof last === 'number' && last !== 1 && last !== 2) ctx.fail(`last dim must be 1 (real) or 2 (complex), got ${last}`);
    let n: Dim = xs[axis];
    if (ctx.has(1)) n = scalarValue(ctx, 1) ?? ctx.symbol('dft_length');
    if (onesided) n = typeof n === 'number' ? Math.floor(n / 2) + 1 : ctx.symbol('dft_bins');
    const out = xs.map((d, i) => (i === axis ? n : d));
    out[out.length - 1] = 2;
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
};

/** STFT: [batch, frames, bins, 2], frames = ⌊(len − frame_length)/frame_step⌋ + 1. */
const stft: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (xs.length !== 3) ctx.fail(`signal must be [batch, length, 1|2], got [${xs.join(',')}]`);
    const onesided = ctx.attr.int('onesided', 1) !== 0;
    const step = scalarValue(ctx, 1);
    let fl: Dim | undefined = ctx.has(3) ? scalarValue(ctx, 3) : undefined;
    if (fl === undefined && ctx.has(2)) fl = ctx.shape(2)[0];
    if (fl === undefined) ctx.fail('frame_length is unknown (neither frame_length nor window is given)');
    const frames: Dim = typeof fl === 'number' && step !== undefined && typeof xs[1] === 'number'
      ? Math.floor((xs[1] - fl) / step) + 1 : ctx.symbol('frames');
    const bins: Dim = typeof fl === 'number' ? (onesided ? Math.floor(fl / 2) + 1 : fl) : ctx.symbol('bins');
    return [{ dtype: ctx.dtype(0), shape: [xs[0], frames, bins, 2] }];
  },
};

const melWeightMatrix: OpSpec = {
  infer: (ctx) => {
    const dtype = dtypeAttr(ctx, 'output_datatype', 'float32');
    const mel = scalarValue(ctx, 0);
    const len = scalarValue(ctx, 1);
    return [{ dtype, shape: [len !== undefined ? Math.floor(len / 2) + 1 : ctx.symbol('bins'), mel ?? ctx.symbol('mel_bins')] }];
  },
};

/**
 * Generalized cosine windows w[n] = Σ_k (−1)^k a_k cos(2πkn/N), N = size (periodic) or size − 1
 * (symmetric): Hann a = [0.5, 0.5], Hamming a = [25/46, 21/46], Blackman a = [0.42, 0.5, 0.08]
 * (ONNX HannWindow/HammingWindow/BlackmanWindow, opset 17).
 */
function window(coeffs: number[]): OpSpec {
  const read = (ctx: InferCtx): { dtype: DType; periodic: boolean } => ({
    dtype: dtypeAttr(ctx, 'output_datatype', 'float32'),
    periodic: ctx.attr.int('periodic', 1) !== 0,
  });
  return {
    infer: (ctx) => {
      const { dtype } = read(ctx);
      const size = scalarValue(ctx, 0);
      if (size !== undefined && size < 0) ctx.fail(`size must be non-negative, got ${size}`);
      return [{ dtype, shape: [size ?? ctx.symbol('window')] }];
    },
    evaluate: (ctx, [v]) => {
      const { dtype, periodic } = read(ctx);
      const size = Number(v!.data[0]);
      const n = periodic ? size : size - 1;
      const data = Array.from({ length: size }, (_, i) => castNumber(
        coeffs.reduce((acc, a, k) => acc + (k % 2 ? -1 : 1) * a * (n === 0 ? 1 : Math.cos((2 * Math.PI * k * i) / n)), 0), dtype));
      return [{ dtype, shape: [size], data }];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Text

/** TfIdfVectorizer: [C] → [V] or [N, C] → [N, V], V = max(ngram_indexes) + 1, always float32. */
const tfIdfVectorizer: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (xs.length !== 1 && xs.length !== 2) ctx.fail(`input must be [C] or [N, C], got [${xs.join(',')}]`);
    ctx.attr.int('max_gram_length');
    ctx.attr.int('max_skip_count');
    ctx.attr.int('min_gram_length');
    ctx.attr.string('mode');
    ctx.attr.ints('ngram_counts');
    const idx = ctx.attr.ints('ngram_indexes');
    if (ctx.attr.has('pool_int64s')) ctx.attr.ints('pool_int64s');
    if (ctx.attr.has('pool_strings')) ctx.attr.strings('pool_strings');
    if (ctx.attr.has('weights')) ctx.attr.floats('weights');
    const v = idx.length ? Math.max(...idx) + 1 : 0;
    return [{ dtype: 'float32', shape: xs.length === 1 ? [v] : [xs[0], v] }];
  },
};

/** StringNormalizer's filtered, case-changed strings; an all-removed input leaves one ''. */
function normalizeStrings(ctx: InferCtx, data: string[]): string[] {
  const action = ctx.attr.string('case_change_action', 'NONE');
  const sensitive = ctx.attr.int('is_case_sensitive', 0) !== 0;
  const stop = new Set(ctx.attr.strings('stopwords', []).map((w) => (sensitive ? w : w.toLowerCase())));
  let kept = data.filter((x) => !stop.has(sensitive ? x : x.toLowerCase()));
  if (action === 'LOWER') kept = kept.map((x) => x.toLowerCase());
  else if (action === 'UPPER') kept = kept.map((x) => x.toUpperCase());
  return kept.length ? kept : [''];
}

/** StringNormalizer: [C] or [1, C] strings; stopwords make the length data-dependent. */
const stringNormalizer: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (!(xs.length === 1 || (xs.length === 2 && (xs[0] === 1 || typeof xs[0] === 'string')))) ctx.fail(`input must be [C] or [1, C], got [${xs.join(',')}]`);
    const action = ctx.attr.string('case_change_action', 'NONE');
    if (!['NONE', 'LOWER', 'UPPER'].includes(action)) ctx.fail(`case_change_action '${action}' is not NONE, LOWER or UPPER`);
    if (ctx.attr.has('locale')) ctx.attr.string('locale');
    const stop = ctx.attr.strings('stopwords', []);
    const v = ctx.value(0);
    const c: Dim = v ? normalizeStrings(ctx, v.data as string[]).length : stop.length === 0 ? xs[xs.length - 1] : ctx.symbol('strings');
    return [{ dtype: 'string', shape: xs.length === 1 ? [c] : [xs[0], c] }];
  },
  evaluate: (ctx, [v]) => {
    const out = normalizeStrings(ctx, v!.data as string[]);
    return [{ dtype: 'string', shape: v!.shape.length === 1 ? [out.length] : [1, out.length], data: out }];
  },
};

export const miscOps: Record<string, OpSpec> = {
  TopK: topK,
  NonZero: nonZero,
  Unique: unique,
  NonMaxSuppression: nonMaxSuppression,

  Bernoulli: bernoulli,
  RandomNormal: randomOp({ mean: 0, scale: 1 }, false),
  RandomNormalLike: randomOp({ mean: 0, scale: 1 }, true),
  RandomUniform: randomOp({ high: 1, low: 0 }, false),
  RandomUniformLike: randomOp({ high: 1, low: 0 }, true),
  Multinomial: multinomial,

  Det: det,
  Col2Im: col2Im,
  CenterCropPad: centerCropPad,
  GridSample: gridSample,
  AffineGrid: affineGrid,

  DFT: dft,
  STFT: stft,
  MelWeightMatrix: melWeightMatrix,
  HannWindow: window([0.5, 0.5]),
  HammingWindow: window([25 / 46, 21 / 46]),
  BlackmanWindow: window([0.42, 0.5, 0.08]),

  TfIdfVectorizer: tfIdfVectorizer,
  StringNormalizer: stringNormalizer,
};
