/** Shared helpers for op shape inference and constant evaluation. */
import type { Dim } from './types.js';
import type { DType } from '../dtype.js';
import type { ConstValue } from '../tensor.js';
import type { InferCtx } from './types.js';

/** Numpy-style multidirectional broadcasting of shapes (ONNX "Broadcasting in ONNX"). */
export function broadcastShapes(ctx: InferCtx, shapes: Dim[][]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i] ?? 1;
      if (x === 1) continue;
      if (d === 1) d = x;
      else if (d !== x) {
        if (typeof d === 'string' || typeof x === 'string') d = typeof d === 'number' ? x : d;
        else ctx.fail(`shapes [${shapes.map((q) => q.join(',')).join('] and [')}] do not broadcast`);
      }
    }
    out.push(d);
  }
  return out;
}

/** Normalizes a possibly negative axis for a tensor of `rank`, failing when out of range. */
export function normAxis(ctx: InferCtx, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Evaluates an elementwise function over broadcast inputs (constant folding). */
export function broadcastEval(outShape: number[], dtype: DType, inputs: ConstValue[], f: (...xs: number[]) => number): ConstValue {
  const n = product(outShape);
  const data = new Array<number>(n);
  const rank = outShape.length;
  const inStrides = inputs.map((v) => {
    const st = strides(v.shape);
    // Broadcast dims get stride 0; align from the right.
    return outShape.map((_, i) => {
      const j = i - (rank - v.shape.length);
      return j < 0 || v.shape[j] === 1 ? 0 : st[j];
    });
  });
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < n; k++) {
    const args = inputs.map((v, vi) => {
      let off = 0;
      for (let i = 0; i < rank; i++) off += idx[i] * inStrides[vi][i];
      return (v.data as number[])[off];
    });
    data[k] = f(...args);
    for (let i = rank - 1; i >= 0; i--) { if (++idx[i] < outShape[i]) break; idx[i] = 0; }
  }
  return { dtype, shape: outShape, data };
}

/** Rounds x to the nearest value with `mantissa` explicit bits (ties to even), as a narrower float. */
function roundToFloat(x: number, mantissa: number, minExp: number, maxFinite: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const e = Math.max(Math.floor(Math.log2(a)), minExp);
  const q = 2 ** (e - mantissa);
  const r = roundHalfEven(a / q) * q;
  return Math.sign(x) * (r > maxFinite ? Infinity : r);
}

/** Round half to even (ONNX Round, and IEEE default rounding). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const INT_BITS: Partial<Record<DType, [bits: number, signed: boolean]>> = {
  int8: [8, true], int16: [16, true], int32: [32, true], uint8: [8, false], uint16: [16, false], uint32: [32, false],
  int4: [4, true], uint4: [4, false],
};

/** Rounds/wraps a computed number to what the dtype can hold (integer division, casts). */
export function castNumber(x: number, dtype: DType): number {
  switch (dtype) {
    case 'bool': return x ? 1 : 0;
    case 'int64': case 'uint64':
      return Number.isFinite(x) ? Math.trunc(x) : x;
    case 'float32': return Math.fround(x);
    case 'float16': return roundToFloat(x, 10, -14, 65504);
    case 'bfloat16': return roundToFloat(x, 7, -126, 3.3895313892515355e38);
    default: {
      const ib = INT_BITS[dtype];
      if (!ib) return x;
      if (!Number.isFinite(x)) return 0;
      const [bits, signed] = ib;
      const m = 2 ** bits;
      let t = Math.trunc(x) % m;
      if (t < 0) t += m;
      return signed && t >= m / 2 ? t - m : t;
    }
  }
}

export function isIntType(d: DType): boolean {
  return /^u?int/.test(d) || d === 'bool';
}

/** ONNX's INT64_MAX as a JS number (what "to the end" markers in Slice decode to). */
export const INT64_MAX = 2 ** 63;

/** The integer values of a known tensor (shape, axes, pads inputs), or undefined. */
export function intValues(v: ConstValue | undefined): number[] | undefined {
  if (!v || v.dtype === 'string') return undefined;
  return (v.data as number[]).map((x) => Math.trunc(x));
}

/** Known numeric data of a ConstValue (throws away strings). */
export function nums(v: ConstValue): number[] {
  return v.data as number[];
}

/** Whether every dim is a number. */
export function concrete(shape: readonly Dim[]): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

/**
 * The product of dims, where symbolic ones make it symbolic: a lone symbol times 1 stays that
 * symbol; anything else symbolic becomes a fresh symbol.
 */
export function dimProduct(ctx: InferCtx, dims: readonly Dim[], hint = 'prod'): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (syms.length === 0 || n === 0) return n;
  if (syms.length === 1 && n === 1) return syms[0];
  return ctx.symbol(hint);
}

/** The sum of dims (Concat), symbolic when any is. */
export function dimSum(ctx: InferCtx, dims: readonly Dim[], hint = 'sum'): Dim {
  let n = 0;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n += d;
    else syms.push(d);
  }
  if (syms.length === 0) return n;
  if (syms.length === 1 && n === 0) return syms[0];
  return ctx.symbol(hint);
}

/** The same values viewed with another shape. */
export function reshaped(v: ConstValue, shape: number[]): ConstValue {
  return { dtype: v.dtype, shape, data: v.data };
}

/** Calls f(offset, index) for every element of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], f: (k: number, idx: number[]) => void): void {
  const n = product(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(k, idx);
    for (let i = shape.length - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
  }
}

/** Builds a value of `shape` whose element at each index is read from `src` at `at(idx)` (an offset). */
export function gatherValue(src: ConstValue, shape: number[], at: (idx: number[]) => number, dtype: DType = src.dtype): ConstValue {
  const data = new Array<number | string>(product(shape));
  const s = src.data as Array<number | string>;
  forEachIndex(shape, (k, idx) => { data[k] = s[at(idx)]; });
  return { dtype, shape, data: data as number[] | string[] };
}

/** Transposes a known value. */
export function transposeValue(v: ConstValue, perm: number[]): ConstValue {
  const st = strides(v.shape);
  const out = perm.map((p) => v.shape[p]);
  return gatherValue(v, out, (idx) => {
    let off = 0;
    for (let i = 0; i < idx.length; i++) off += idx[i] * st[perm[i]];
    return off;
  });
}

/** Scalar number of a known one-element value. */
export function scalarOf(v: ConstValue | undefined): number | undefined {
  if (!v || v.data.length !== 1 || typeof v.data[0] !== 'number') return undefined;
  return v.data[0];
}
