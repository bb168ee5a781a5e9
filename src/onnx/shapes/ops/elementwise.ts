/**
 * Elementwise ops: unary math, activations, binary arithmetic/comparison/logic with
 * multidirectional broadcasting, variadic Max/Min/Sum/Mean, Where, Clip, Cast, Identity, Dropout.
 * Every op can evaluate on known values (the shape math exporters emit uses many of them).
 */
import type { Dim } from '../types.js';
import { dtypeFromOnnx, type DType } from '../../dtype.js';
import type { ConstValue } from '../../tensor.js';
import type { InferCtx, OpSpec, TensorInfo } from '../types.js';
import { broadcastEval, broadcastShapes, castNumber, isIntType, nums, roundHalfEven } from '../util.js';

/** A unary op whose output has the input's shape; `f` computes one element (attrs read in `prep`). */
function unary(f: (x: number, a: number[]) => number, prep: (ctx: InferCtx) => number[] = () => [], out?: (d: DType) => DType): OpSpec {
  return {
    infer: (ctx) => {
      prep(ctx);
      const dt = ctx.dtype(0);
      return [{ dtype: out ? out(dt) : dt, shape: ctx.shape(0) }];
    },
    evaluate: (ctx, v) => {
      const x = v[0]!;
      if (x.dtype === 'string') return undefined;
      const a = prep(ctx);
      const dt = out ? out(x.dtype) : x.dtype;
      return [{ dtype: dt, shape: x.shape, data: nums(x).map((e) => castNumber(f(e, a), dt)) }];
    },
  };
}

/** Binary ops with broadcasting; output dtype = input 0's unless `out` says otherwise. */
function binary(f: (a: number, b: number, dt: DType, attrs: number[]) => number, opts: { out?: DType; prep?: (ctx: InferCtx) => number[] } = {}): OpSpec {
  return {
    infer: (ctx) => {
      opts.prep?.(ctx);
      return [{ dtype: opts.out ?? ctx.dtype(0), shape: broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1)]) }];
    },
    evaluate: (ctx, v) => {
      if (v[0]!.dtype === 'string' || v[1]!.dtype === 'string') return undefined;
      const attrs = opts.prep?.(ctx) ?? [];
      const shape = broadcastShapes(ctx, [v[0]!.shape, v[1]!.shape]) as number[];
      const inDt = v[0]!.dtype;
      const dt = opts.out ?? inDt;
      return [broadcastEval(shape, dt, [v[0]!, v[1]!], (a, b) => castNumber(f(a, b, inDt, attrs), dt))];
    },
  };
}

/** Variadic broadcasting ops (Max, Min, Sum, Mean). */
function variadic(f: (xs: number[]) => number): OpSpec {
  const shapeOf = (ctx: InferCtx, shapes: Dim[][]): Dim[] => broadcastShapes(ctx, shapes);
  return {
    infer: (ctx) => {
      if (ctx.inputs.length === 0) ctx.fail('needs at least one input');
      return [{ dtype: ctx.dtype(0), shape: shapeOf(ctx, ctx.inputs.map((_, i) => ctx.shape(i))) }];
    },
    evaluate: (ctx, v) => {
      const vals = v as ConstValue[];
      const shape = shapeOf(ctx, vals.map((x) => x.shape)) as number[];
      const dt = vals[0].dtype;
      return [broadcastEval(shape, dt, vals, (...xs) => castNumber(f(xs), dt))];
    },
  };
}

/** Integer division as ONNX runtimes do it (truncation); floats divide normally. */
function div(a: number, b: number, dt: DType): number {
  if (!isIntType(dt)) return a / b;
  return b === 0 ? 0 : Math.trunc(a / b);
}

/** fmod=1: C fmod (sign of the dividend); fmod=0: sign of the divisor, as Python's %. */
function mod(a: number, b: number, dt: DType, [fmod]: number[]): number {
  if (b === 0) return isIntType(dt) ? 0 : NaN;
  const r = a % b;
  if (fmod) return r;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

const BITS: Partial<Record<DType, number>> = { int8: 8, uint8: 8, int16: 16, uint16: 16, int32: 32, uint32: 32, int64: 64, uint64: 64 };

/** Bitwise operation on integers of any width (BigInt so that 64-bit values stay exact). */
function bitwise(op: (a: bigint, b: bigint) => bigint) {
  return (a: number, b: number, dt: DType): number => {
    const bits = BITS[dt] ?? 64;
    const r = op(BigInt(a), BigInt(b));
    return Number(dt.startsWith('u') ? BigInt.asUintN(bits, r) : BigInt.asIntN(bits, r));
  };
}

/** erf(x) for constant folding. */
function erf(x: number): number {
  // Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7 everywhere).
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus = (x: number): number => (x > 30 ? x : Math.log1p(Math.exp(x)));
const same = (ctx: InferCtx): TensorInfo[] => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];
const toBool = (): DType => 'bool';

const FLT_MAX = 3.4028234663852886e38;

/** Clip's bounds: attributes before opset 11, optional inputs after; recorded as attrs min/max. */
function clipBounds(ctx: InferCtx, v?: Array<ConstValue | undefined>): [number, number] | undefined {
  if (ctx.opset < 11) return [ctx.attr.float('min', -FLT_MAX), ctx.attr.float('max', FLT_MAX)];
  const bound = (i: number, def: number, name: string): number | undefined => {
    if (!ctx.has(i)) { ctx.setAttr(name, def); return def; }
    const x = (v?.[i] ?? ctx.value(i))?.data[0];
    if (typeof x !== 'number') return undefined;
    ctx.setAttr(name, x);
    return x;
  };
  const lo = bound(1, -FLT_MAX, 'min');
  const hi = bound(2, FLT_MAX, 'max');
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

function castTarget(ctx: InferCtx): DType {
  const to = ctx.attr.int('to');
  // saturate (opset 19) is recorded in every opset: earlier Casts behave as its default.
  ctx.attr.int('saturate', 1);
  return dtypeFromOnnx(to) ?? ctx.fail(`Cast to unknown element type ${to}`);
}

function castValue(x: ConstValue, to: DType): ConstValue | undefined {
  if (to === 'string') return { dtype: to, shape: x.shape, data: nums(x).map((e) => String(e)) };
  if (x.dtype === 'string') return { dtype: to, shape: x.shape, data: (x.data as string[]).map((s) => castNumber(Number(s), to)) };
  return { dtype: to, shape: x.shape, data: nums(x).map((e) => castNumber(e, to)) };
}

/** Dropout's attributes by opset (ratio moved to an input in 12), recorded as ratio. */
function dropoutRatio(ctx: InferCtx): void {
  if (ctx.opset < 12) {
    ctx.attr.float('ratio', 0.5);
  } else {
    const r = ctx.has(1) ? ctx.value(1)?.data[0] : 0.5;
    if (typeof r === 'number') ctx.setAttr('ratio', r);
  }
}

// FLOAT attributes are float32 in a model, so defaults that are not exact in float32 are rounded
// (Math.fround) for an explicit default and an absent attribute to record the same value.
export const elementwiseOps: Record<string, OpSpec> = {
  // Unary math.
  Abs: unary(Math.abs),
  Neg: unary((x) => -x),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((x) => 1 / x),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary(roundHalfEven),
  Sign: unary(Math.sign),
  Sin: unary(Math.sin), Cos: unary(Math.cos), Tan: unary(Math.tan),
  Asin: unary(Math.asin), Acos: unary(Math.acos), Atan: unary(Math.atan),
  Sinh: unary(Math.sinh), Cosh: unary(Math.cosh),
  Asinh: unary(Math.asinh), Acosh: unary(Math.acosh), Atanh: unary(Math.atanh),
  Erf: unary(erf),
  IsNaN: unary((x) => (Number.isNaN(x) ? 1 : 0), undefined, toBool),
  IsInf: unary((x, [neg, pos]) => ((x === Infinity && pos) || (x === -Infinity && neg) ? 1 : 0),
    (ctx) => [ctx.attr.int('detect_negative', 1), ctx.attr.int('detect_positive', 1)], toBool),
  Not: unary((x) => (x ? 0 : 1)),
  BitwiseNot: unary((x) => -x - 1),

  // Activations.
  Relu: unary((x) => Math.max(x, 0)),
  LeakyRelu: unary((x, [a]) => (x >= 0 ? x : a * x), (ctx) => [ctx.attr.float('alpha', Math.fround(0.01))]),
  Elu: unary((x, [a]) => (x >= 0 ? x : a * (Math.exp(x) - 1)), (ctx) => [ctx.attr.float('alpha', 1)]),
  Selu: unary((x, [a, g]) => g * (x > 0 ? x : a * (Math.exp(x) - 1)),
    (ctx) => [ctx.attr.float('alpha', 1.67326319217681884765625), ctx.attr.float('gamma', 1.05070102214813232421875)]),
  Celu: unary((x, [a]) => Math.max(0, x) + Math.min(0, a * (Math.exp(x / a) - 1)), (ctx) => [ctx.attr.float('alpha', 1)]),
  Sigmoid: unary(sigmoid),
  HardSigmoid: unary((x, [a, b]) => Math.max(0, Math.min(1, a * x + b)), (ctx) => [ctx.attr.float('alpha', Math.fround(0.2)), ctx.attr.float('beta', 0.5)]),
  HardSwish: unary((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  Softplus: unary(softplus),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  Tanh: unary(Math.tanh),
  Gelu: unary((x, [tanh]) => (tanh
    ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
    : 0.5 * x * (1 + erf(x / Math.SQRT2))),
  (ctx) => [ctx.attr.string('approximate', 'none') === 'tanh' ? 1 : 0]),
  Mish: unary((x) => x * Math.tanh(softplus(x))),
  ThresholdedRelu: unary((x, [a]) => (x > a ? x : 0), (ctx) => [ctx.attr.float('alpha', 1)]),
  Shrink: unary((x, [b, l]) => (x < -l ? x + b : x > l ? x - b : 0), (ctx) => [ctx.attr.float('bias', 0), ctx.attr.float('lambd', 0.5)]),
  PRelu: binary((x, s) => (x < 0 ? s * x : x)),

  // Binary arithmetic.
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary(div),
  Pow: binary((a, b) => a ** b),
  Mod: binary(mod, { prep: (ctx) => [ctx.attr.int('fmod', 0)] }),
  BitShift: binary((a, b, dt, [left]) => bitwise((x, y) => (left ? x << y : x >> y))(a, b, dt),
    { prep: (ctx) => { const d = ctx.attr.string('direction'); if (d !== 'LEFT' && d !== 'RIGHT') ctx.fail(`BitShift direction '${d}'`); return [d === 'LEFT' ? 1 : 0]; } }),
  BitwiseAnd: binary(bitwise((a, b) => a & b)),
  BitwiseOr: binary(bitwise((a, b) => a | b)),
  BitwiseXor: binary(bitwise((a, b) => a ^ b)),

  // Comparison and logic → bool.
  Equal: binary((a, b) => (a === b ? 1 : 0), { out: 'bool' }),
  Less: binary((a, b) => (a < b ? 1 : 0), { out: 'bool' }),
  Greater: binary((a, b) => (a > b ? 1 : 0), { out: 'bool' }),
  LessOrEqual: binary((a, b) => (a <= b ? 1 : 0), { out: 'bool' }),
  GreaterOrEqual: binary((a, b) => (a >= b ? 1 : 0), { out: 'bool' }),
  And: binary((a, b) => (a && b ? 1 : 0), { out: 'bool' }),
  Or: binary((a, b) => (a || b ? 1 : 0), { out: 'bool' }),
  Xor: binary((a, b) => (!a !== !b ? 1 : 0), { out: 'bool' }),

  // Variadic.
  Max: variadic((xs) => xs.reduce((a, b) => (Number.isNaN(a) || a >= b ? a : b))),
  Min: variadic((xs) => xs.reduce((a, b) => (Number.isNaN(a) || a <= b ? a : b))),
  Sum: variadic((xs) => xs.reduce((a, b) => a + b, 0)),
  Mean: variadic((xs) => xs.reduce((a, b) => a + b, 0) / xs.length),

  Where: {
    infer: (ctx) => [{ dtype: ctx.dtype(1), shape: broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1), ctx.shape(2)]) }],
    evaluate: (ctx, v) => {
      const shape = broadcastShapes(ctx, [v[0]!.shape, v[1]!.shape, v[2]!.shape]) as number[];
      return [broadcastEval(shape, v[1]!.dtype, [v[0]!, v[1]!, v[2]!], (c, a, b) => (c ? a : b))];
    },
  },

  Clip: {
    infer: (ctx) => { clipBounds(ctx); return same(ctx); },
    evaluate: (ctx, v) => {
      const b = clipBounds(ctx, v);
      const x = v[0]!;
      if (!b || x.dtype === 'string') return undefined;
      return [{ dtype: x.dtype, shape: x.shape, data: nums(x).map((e) => Math.min(Math.max(e, b[0]), b[1])) }];
    },
  },

  Cast: {
    infer: (ctx) => [{ dtype: castTarget(ctx), shape: ctx.shape(0) }],
    evaluate: (ctx, v) => { const r = castValue(v[0]!, castTarget(ctx)); return r && [r]; },
  },
  CastLike: {
    infer: (ctx) => {
      ctx.attr.int('saturate', 1);
      return [{ dtype: ctx.dtype(1), shape: ctx.shape(0) }];
    },
    evaluate: (ctx, v) => { const r = castValue(v[0]!, ctx.dtype(1)); return r && [r]; },
  },

  Identity: {
    // The output is the input: a weight stays a weight (exporters alias tied weights this way).
    infer: (ctx) => [{ ...ctx.input(0), dtype: ctx.dtype(0), shape: ctx.shape(0) }],
  },

  Dropout: {
    infer: (ctx) => {
      dropoutRatio(ctx);
      const shape = ctx.shape(0);
      const out: TensorInfo[] = [{ dtype: ctx.dtype(0), shape }];
      if (ctx.numOutputs > 1) out.push({ dtype: ctx.opset >= 10 ? 'bool' : ctx.dtype(0), shape });
      return out;
    },
    evaluate: (ctx, v) => {
      // Inference mode (no training_mode, or known false) passes data through; the mask is all ones.
      if (ctx.opset >= 12 && ctx.has(2) && v[2]?.data[0]) return undefined;
      const x = v[0]!;
      const mask: ConstValue = { dtype: ctx.opset >= 10 ? 'bool' : x.dtype, shape: x.shape, data: x.data.map(() => 1) };
      return ctx.numOutputs > 1 ? [x, mask] : [x];
    },
  },
};
