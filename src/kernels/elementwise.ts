/**
 * Elementwise ops: unary math and activations, binary arithmetic/comparison/logic with numpy
 * (multidirectional) broadcasting, variadic Max/Min/Sum/Mean, Where, Clip, Cast, Identity and
 * inference-mode Dropout — one kernel family, one op table.
 *
 * Each op is an expression over its operands in a *compute type* (float data is computed in f32,
 * also when stored as f16; integers in i32/u32; bool is u32 0/1). The same expression serves both
 * variants because WGSL's builtins and arithmetic are component-wise:
 *  - `naive`: one element per invocation; broadcast inputs are indexed by unravelling the output
 *    index (a div/mod per dimension).
 *  - `vec4`: four consecutive elements per invocation with vec4 loads and stores; each input is
 *    classified (same shape, scalar, outer-dim broadcast, row broadcast, or splat along the last
 *    dim) so that no per-lane index math is needed. Needs element count % 4 = 0.
 */
import type { Layer, LayerSignature, TensorType } from '../ir/types.js';
import type { DType } from '../onnx/dtype.js';
import {
  supported, unsupported,
  type DeviceCaps, type Epilogue, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { FloatAttr, type GraphBuilder } from '../onnx/write.js';
import { broadcastOffset, dispatch1d, elements, entry1d, gpuTypeOf, header, stridesOf, unravel } from './wgsl.js';
import { count } from './flops.js';

const KERNEL = 'elementwise';
const WG = 256;

// ---------------------------------------------------------------------------------------------
// Expression context

/** What an op's expression generator may use: the compute type (scalar or vec4) and helpers. */
interface Ex {
  /** WGSL type of the operands, e.g. `f32` or `vec4<f32>`. */
  T: string;
  /** Scalar compute type. */
  S: GpuType;
  vec: boolean;
  /** A constant of the compute type (splatted in vec4 mode). */
  k(v: number): string;
  /** A constant of scalar type `t`, splatted in vec4 mode. */
  kt(v: number, t: GpuType): string;
  /** The type `t` with the expression's shape: `t` or `vec4<t>`. */
  ty(t: GpuType): string;
  /** bool (or vec4<bool>) → u32 0/1 of matching shape. */
  b2u(cond: string): string;
  /** Registers a helper function (named per compute type) and returns its name. */
  fn(base: string, code: (name: string, T: string, ex: Ex) => string): string;
  /** Registers a scalar helper under exactly `name` (for use with `map`). */
  sfn(name: string, code: () => string): string;
  /** Applies a scalar helper component-wise (vec4 mode) or directly. */
  map(scalarFn: string, args: string[], resultScalar: GpuType): string;
  /** isnan as bit test (NIR may fold `x != x` under relaxed float rules). */
  isnan(x: string): string;
  layer: Layer;
}

function wgslType(t: GpuType, vec: boolean): string {
  return vec ? `vec4<${t}>` : t;
}

/** A scalar WGSL literal of type `t`; integers are clamped to the type's range (Clip's ±FLT_MAX defaults). */
function scalarLit(v: number, t: GpuType): string {
  if (t === 'f32' || t === 'f16') {
    // A NaN constant expression is a WGSL error: read the bits from a private variable instead.
    if (Number.isNaN(v)) return `bitcast<f32>(NAN_BITS)`;
    const big = t === 'f16' ? 65504 : 3.4028234663852886e38;
    const x = Number.isFinite(v) ? Math.max(-big, Math.min(big, v)) : v > 0 ? big : -big;
    const s = Number.isInteger(x) && Math.abs(x) < 1e21 ? `${x}.0` : `${x}`;
    return `${t}(${s})`;
  }
  if (t === 'u32') return `${Math.max(0, Math.min(4294967295, Number.isFinite(v) ? Math.trunc(v) : v > 0 ? 4294967295 : 0))}u`;
  // -2147483648i is the negation of an out-of-range literal in WGSL: stop one short.
  return `${Math.max(-2147483647, Math.min(2147483647, Number.isFinite(v) ? Math.trunc(v) : v > 0 ? 2147483647 : -2147483647))}i`;
}

function makeEx(S: GpuType, vec: boolean, layer: Layer, helpers: Map<string, string>): Ex {
  const T = wgslType(S, vec);
  const ex: Ex = {
    T, S, vec, layer,
    k: (v) => (vec ? `${T}(${scalarLit(v, S)})` : scalarLit(v, S)),
    kt: (v, t) => (vec ? `vec4<${t}>(${scalarLit(v, t)})` : scalarLit(v, t)),
    ty: (t) => wgslType(t, vec),
    b2u: (cond) => `select(${ex.kt(0, 'u32')}, ${ex.kt(1, 'u32')}, ${cond})`,
    fn: (base, code) => {
      const name = `${base}_${vec ? 'v4' : ''}${S}`;
      if (!helpers.has(name)) helpers.set(name, code(name, T, ex));
      return name;
    },
    sfn: (name, code) => {
      if (!helpers.has(name)) helpers.set(name, code());
      return name;
    },
    map: (f, args, r) => (vec ? `vec4<${r}>(${['x', 'y', 'z', 'w'].map((c) => `${f}(${args.map((a) => `${a}.${c}`).join(', ')})`).join(', ')})` : `${f}(${args.join(', ')})`),
    isnan: (x) => `((bitcast<${vec ? 'vec4<u32>' : 'u32'}>(${x}) & ${ex.kt(0x7fffffff, 'u32')}) > ${ex.kt(0x7f800000, 'u32')})`,
  };
  return ex;
}

// ---------------------------------------------------------------------------------------------
// Op table

type Accept = 'float' | 'numeric' | 'int' | 'uint' | 'bool' | 'any';

interface OpDef {
  accepts: Accept;
  /** Which inputs are operands (in order): default unary [0], binary [0, 1]. */
  arity: 'unary' | 'binary' | 'variadic' | 'where' | 'clip' | 'copy';
  /** The result (in the result compute type) from the operands (in the operand compute type). */
  expr(x: string[], e: Ex): string;
  /** CPU reference of one element. */
  ref(x: number[], layer: Layer, dts: DType[]): number;
}

const num = (l: Layer, k: string, d: number): number => (typeof l.attrs[k] === 'number' ? (l.attrs[k] as number) : d);
const str = (l: Layer, k: string, d: string): string => (typeof l.attrs[k] === 'string' ? (l.attrs[k] as string) : d);

const isFloatType = (d: DType): boolean => d === 'float32' || d === 'float16';
const isUnsigned = (d: DType): boolean => d.startsWith('uint') || d === 'bool';

/** Stable tanh: sign(x)·(1 − e)/(1 + e) with e = exp(−2|x|) never overflows (exp(2x) would, giving inf/inf). */
function tanhFn(e: Ex): string {
  return e.fn('tanh_s', (n, T) => `fn ${n}(x: ${T}) -> ${T} {\n  let q = exp(${e.k(-2)} * abs(x));\n  return sign(x) * (${e.k(1)} - q) / (${e.k(1)} + q);\n}`);
}

/** softplus(x) = max(x, 0) + log(1 + exp(−|x|)): exact identity, no overflow for large |x|. */
function softplusFn(e: Ex): string {
  return e.fn('softplus', (n, T) => `fn ${n}(x: ${T}) -> ${T} {\n  return max(x, ${e.k(0)}) + log(${e.k(1)} + exp(-abs(x)));\n}`);
}

/**
 * erf: Abramowitz & Stegun, Handbook of Mathematical Functions, formula 7.1.26
 * (|error| ≤ 1.5e-7): erf(x) ≈ 1 − (a1·t + … + a5·t⁵)·exp(−x²), t = 1/(1 + p·x), x ≥ 0; odd.
 */
function erfFn(e: Ex): string {
  return e.fn('erf', (n, T) => `fn ${n}(x: ${T}) -> ${T} {
  let z = abs(x);
  let t = ${e.k(1)} / (${e.k(1)} + ${e.k(0.3275911)} * z);
  let p = t * (${e.k(0.254829592)} + t * (${e.k(-0.284496736)} + t * (${e.k(1.421413741)} + t * (${e.k(-1.453152027)} + t * ${e.k(1.061405429)}))));
  return sign(x) * (${e.k(1)} - p * exp(-z * z));
}`);
}

/** Float pow with numpy's real results for a negative base and an integral exponent; pow(x, 0) = 1. */
function powFn(e: Ex): string {
  return e.fn('pow_r', (n, T) => `fn ${n}(a: ${T}, b: ${T}) -> ${T} {
  let m = pow(abs(a), b);
  let integral = b == floor(b);
  let odd = integral & (b - ${e.k(2)} * floor(b * ${e.k(0.5)}) == ${e.k(1)});
  let neg = a < ${e.k(0)};
  var r = select(m, -m, neg & odd);
  r = select(r, ${e.k(NaN)}, neg & !integral);
  return select(r, ${e.k(1)}, b == ${e.k(0)});
}`);
}

/** Integer pow by squaring (exact, wrapping); negative exponents give 0 except for bases ±1. */
function ipowFn(e: Ex, t: GpuType): string {
  const name = `ipow_${t}`;
  return e.sfn(name, () => `fn ${name}(a: ${t}, b: ${t}) -> ${t} {
  ${t === 'i32' ? `if (b < 0i) { return select(select(0i, select(-1i, 1i, (b & 1i) == 0i), a == -1i), 1i, a == 1i); }` : ''}
  var r = ${t === 'i32' ? '1i' : '1u'};
  var base = a;
  var k = ${t === 'i32' ? 'u32(b)' : 'b'};
  loop {
    if (k == 0u) { break; }
    if ((k & 1u) == 1u) { r = r * base; }
    base = base * base;
    k = k >> 1u;
  }
  return r;
}`);
}

function refErf(x: number): number {
  // Taylor series for small |x|, else the continued fraction of erfc evaluated backwards: ~1e-15.
  const z = Math.abs(x);
  if (z < 2.5) {
    let sum = z;
    let term = z;
    for (let k = 1; k < 80; k++) {
      term *= (-z * z) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(z) = exp(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + …)))).
  let f = z;
  for (let k = 60; k >= 1; k--) f = z + (k / 2) / f;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const isInt = (d: DType): boolean => !isFloatType(d) && d !== 'float64';

function u(f: (x: number, l: Layer, d: DType) => number, expr: (x: string, e: Ex) => string, accepts: Accept = 'float'): OpDef {
  return { accepts, arity: 'unary', expr: (xs, e) => expr(xs[0], e), ref: (xs, l, d) => f(xs[0], l, d[0]) };
}

function b(f: (a: number, bb: number, l: Layer, d: DType) => number, expr: (a: string, bb: string, e: Ex) => string, accepts: Accept = 'numeric'): OpDef {
  return { accepts, arity: 'binary', expr: (xs, e) => expr(xs[0], xs[1], e), ref: (xs, l, d) => f(xs[0], xs[1], l, d[0]) };
}

/** Comparison → bool (u32 0/1). */
function cmp(f: (a: number, bb: number) => boolean, op: string, accepts: Accept = 'numeric'): OpDef {
  return b((a, bb) => (f(a, bb) ? 1 : 0), (a, bb, e) => e.b2u(`${a} ${op} ${bb}`), accepts);
}

/** Python-style modulo (sign of the divisor) for ints, C fmod for fmod=1; x mod 0 = 0 for ints. */
function modExpr(a: string, bb: string, e: Ex): string {
  const fmod = num(e.layer, 'fmod', 0) !== 0;
  if (e.S === 'f32') {
    const q = fmod ? `trunc(${a} / ${bb})` : `floor(${a} / ${bb})`;
    return `(${a} - ${bb} * ${q})`;
  }
  const safe = `select(${bb}, ${e.k(1)}, ${bb} == ${e.k(0)})`;
  const zero = `${bb} == ${e.k(0)}`;
  if (e.S === 'u32' || fmod) return `select(${a} % ${safe}, ${e.k(0)}, ${zero})`;
  const m = e.fn('pymod', (n, T) => `fn ${n}(a: ${T}, b: ${T}) -> ${T} {
  let z = b == ${e.k(0)};
  let r = a % select(b, ${e.k(1)}, z);
  let fix = (r != ${e.k(0)}) & ((r < ${e.k(0)}) != (b < ${e.k(0)}));
  return select(select(r, r + b, fix), ${e.k(0)}, z);
}`);
  return `${m}(${a}, ${bb})`;
}

function refMod(a: number, bb: number, fmod: boolean, dt: DType): number {
  if (bb === 0) return isInt(dt) ? 0 : NaN;
  if (!isInt(dt)) return fmod ? a - bb * Math.trunc(a / bb) : a - bb * Math.floor(a / bb);
  const r = a % bb;
  if (fmod) return r;
  return r !== 0 && (r < 0) !== (bb < 0) ? r + bb : r;
}

function refPow(a: number, bb: number, dA: DType, dB: DType): number {
  if (isInt(dA) && isInt(dB)) {
    if (bb < 0) return a === 1 ? 1 : a === -1 ? (bb % 2 === 0 ? 1 : -1) : 0;
    let r = 1;
    for (let i = 0; i < bb; i++) r = Math.imul(r, a);
    return r;
  }
  const r = a ** bb;
  return isInt(dA) ? Math.round(r) : r;
}

function nanMax(xs: number[]): number {
  return xs.reduce((a, c) => (Number.isNaN(a) || a >= c ? a : c));
}
function nanMin(xs: number[]): number {
  return xs.reduce((a, c) => (Number.isNaN(a) || a <= c ? a : c));
}

/** Max/Min of two operands; floats propagate NaN as numpy does (WGSL's max leaves it undefined). */
function maxMinExpr(xs: string[], e: Ex, f: 'max' | 'min'): string {
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) {
    const y = xs[i];
    acc = e.S === 'f32' ? e.map(e.sfn(`nan${f}_f32`, () => `fn nan${f}_f32(a: f32, b: f32) -> f32 {
  let an = (bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u;
  let bn = (bitcast<u32>(b) & 0x7fffffffu) > 0x7f800000u;
  return select(select(${f}(a, b), b, bn), a, an);
}`), [acc, y], 'f32') : `${f}(${acc}, ${y})`;
  }
  return acc;
}

const OPS: Record<string, OpDef> = {
  // Unary math.
  Abs: u(Math.abs, (x, e) => (e.S === 'u32' ? x : `abs(${x})`), 'numeric'),
  Neg: u((x) => -x, (x, e) => (e.S === 'u32' ? `(${e.k(0)} - ${x})` : `-(${x})`), 'numeric'),
  Exp: u(Math.exp, (x) => `exp(${x})`),
  Log: u(Math.log, (x) => `log(${x})`),
  Sqrt: u(Math.sqrt, (x) => `sqrt(${x})`),
  Reciprocal: u((x) => 1 / x, (x, e) => `(${e.k(1)} / ${x})`),
  Floor: u(Math.floor, (x) => `floor(${x})`),
  Ceil: u(Math.ceil, (x) => `ceil(${x})`),
  Round: u((x) => { const f = Math.floor(x); const d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; }, (x) => `round(${x})`),
  Sign: u(Math.sign, (x, e) => (e.S === 'u32' ? `select(${e.k(0)}, ${e.k(1)}, ${x} > ${e.k(0)})`
    : `select(select(${e.k(0)}, ${e.k(-1)}, ${x} < ${e.k(0)}), ${e.k(1)}, ${x} > ${e.k(0)})`), 'numeric'),
  Sin: u(Math.sin, (x) => `sin(${x})`), Cos: u(Math.cos, (x) => `cos(${x})`), Tan: u(Math.tan, (x) => `tan(${x})`),
  Asin: u(Math.asin, (x) => `asin(${x})`), Acos: u(Math.acos, (x) => `acos(${x})`), Atan: u(Math.atan, (x) => `atan(${x})`),
  Sinh: u(Math.sinh, (x) => `sinh(${x})`), Cosh: u(Math.cosh, (x) => `cosh(${x})`),
  Asinh: u(Math.asinh, (x) => `asinh(${x})`), Acosh: u(Math.acosh, (x) => `acosh(${x})`), Atanh: u(Math.atanh, (x) => `atanh(${x})`),
  Erf: u(refErf, (x, e) => `${erfFn(e)}(${x})`),
  IsNaN: u((x) => (Number.isNaN(x) ? 1 : 0), (x, e) => e.b2u(e.isnan(x))),
  IsInf: u((x, l) => ((x === Infinity && num(l, 'detect_positive', 1)) || (x === -Infinity && num(l, 'detect_negative', 1)) ? 1 : 0), (x, e) => {
    const bits = `bitcast<${e.ty('u32')}>(${x})`;
    const pos = num(e.layer, 'detect_positive', 1) !== 0;
    const neg = num(e.layer, 'detect_negative', 1) !== 0;
    const conds = [pos ? `${bits} == ${e.kt(0x7f800000, 'u32')}` : '', neg ? `${bits} == ${e.kt(0xff800000, 'u32')}` : ''].filter(Boolean);
    return conds.length ? e.b2u(conds.map((c) => `(${c})`).join(' | ')) : e.kt(0, 'u32');
  }),
  Not: u((x) => (x ? 0 : 1), (x, e) => `(${x} ^ ${e.k(1)})`, 'bool'),
  BitwiseNot: u((x) => ~x, (x) => `(~${x})`, 'int'),

  // Activations.
  Relu: u((x) => Math.max(x, 0), (x, e) => `max(${x}, ${e.k(0)})`, 'numeric'),
  LeakyRelu: u((x, l) => (x >= 0 ? x : Math.fround(num(l, 'alpha', 0.01)) * x), (x, e) => `select(${e.k(num(e.layer, 'alpha', 0.01))} * ${x}, ${x}, ${x} >= ${e.k(0)})`),
  Elu: u((x, l) => (x >= 0 ? x : num(l, 'alpha', 1) * (Math.exp(x) - 1)), (x, e) => `select(${e.k(num(e.layer, 'alpha', 1))} * (exp(${x}) - ${e.k(1)}), ${x}, ${x} >= ${e.k(0)})`),
  Selu: u((x, l) => num(l, 'gamma', 1.0507009873554805) * (x > 0 ? x : num(l, 'alpha', 1.6732632423543772) * (Math.exp(x) - 1)),
    (x, e) => `${e.k(num(e.layer, 'gamma', 1.0507009873554805))} * select(${e.k(num(e.layer, 'alpha', 1.6732632423543772))} * (exp(${x}) - ${e.k(1)}), ${x}, ${x} > ${e.k(0)})`),
  Celu: u((x, l) => { const a = num(l, 'alpha', 1); return Math.max(0, x) + Math.min(0, a * (Math.exp(x / a) - 1)); },
    (x, e) => { const a = num(e.layer, 'alpha', 1); return `(max(${x}, ${e.k(0)}) + min(${e.k(0)}, ${e.k(a)} * (exp(${x} / ${e.k(a)}) - ${e.k(1)})))`; }),
  Sigmoid: u(sigmoid, (x, e) => `(${e.k(1)} / (${e.k(1)} + exp(-${x})))`),
  HardSigmoid: u((x, l) => Math.max(0, Math.min(1, num(l, 'alpha', 0.2) * x + num(l, 'beta', 0.5))),
    (x, e) => `clamp(${e.k(num(e.layer, 'alpha', 0.2))} * ${x} + ${e.k(num(e.layer, 'beta', 0.5))}, ${e.k(0)}, ${e.k(1)})`),
  HardSwish: u((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)), (x, e) => `(${x} * clamp(${x} * ${e.k(1 / 6)} + ${e.k(0.5)}, ${e.k(0)}, ${e.k(1)}))`),
  Softplus: u(softplus, (x, e) => `${softplusFn(e)}(${x})`),
  Softsign: u((x) => x / (1 + Math.abs(x)), (x, e) => `(${x} / (${e.k(1)} + abs(${x})))`),
  Tanh: u(Math.tanh, (x, e) => `${tanhFn(e)}(${x})`),
  Gelu: u((x, l) => (str(l, 'approximate', 'none') === 'tanh'
    ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
    : 0.5 * x * (1 + refErf(x / Math.SQRT2))), (x, e) => (str(e.layer, 'approximate', 'none') === 'tanh'
    ? `(${e.k(0.5)} * ${x} * (${e.k(1)} + ${tanhFn(e)}(${e.k(Math.sqrt(2 / Math.PI))} * (${x} + ${e.k(0.044715)} * ${x} * ${x} * ${x}))))`
    : `(${e.k(0.5)} * ${x} * (${e.k(1)} + ${erfFn(e)}(${x} * ${e.k(Math.SQRT1_2)})))`)),
  Mish: u((x) => x * Math.tanh(softplus(x)), (x, e) => `(${x} * ${tanhFn(e)}(${softplusFn(e)}(${x})))`),
  ThresholdedRelu: u((x, l) => (x > num(l, 'alpha', 1) ? x : 0), (x, e) => `select(${e.k(0)}, ${x}, ${x} > ${e.k(num(e.layer, 'alpha', 1))})`),
  Shrink: u((x, l) => { const bias = num(l, 'bias', 0); const lam = num(l, 'lambd', 0.5); return x < -lam ? x + bias : x > lam ? x - bias : 0; },
    (x, e) => { const bias = e.k(num(e.layer, 'bias', 0)); const lam = num(e.layer, 'lambd', 0.5);
      return `select(select(${e.k(0)}, ${x} - ${bias}, ${x} > ${e.k(lam)}), ${x} + ${bias}, ${x} < ${e.k(-lam)})`; }, 'numeric'),
  PRelu: b((x, s) => (x < 0 ? s * x : x), (x, s, e) => `select(${x}, ${s} * ${x}, ${x} < ${e.k(0)})`),

  // Binary arithmetic.
  Add: b((a, c) => a + c, (a, c) => `(${a} + ${c})`),
  Sub: b((a, c) => a - c, (a, c) => `(${a} - ${c})`),
  Mul: b((a, c, _l, d) => (isInt(d) ? Math.imul(a, c) : a * c), (a, c) => `(${a} * ${c})`),
  Div: b((a, c, _l, d) => (isInt(d) ? (c === 0 ? 0 : Math.trunc(a / c)) : a / c),
    (a, c, e) => (e.S === 'f32' ? `(${a} / ${c})` : `select(${a} / select(${c}, ${e.k(1)}, ${c} == ${e.k(0)}), ${e.k(0)}, ${c} == ${e.k(0)})`)),
  Pow: { accepts: 'numeric', arity: 'binary', expr: () => '', ref: (xs, _l, d) => refPow(xs[0], xs[1], d[0], d[1]) },
  Mod: b((a, c, l, d) => refMod(a, c, num(l, 'fmod', 0) !== 0, d), modExpr),
  BitShift: b((a, c, l) => (str(l, 'direction', 'LEFT') === 'LEFT' ? (c >= 32 ? 0 : (a << c) >>> 0) : (c >= 32 ? 0 : a >>> c)),
    (a, c, e) => `(${a} ${str(e.layer, 'direction', 'LEFT') === 'LEFT' ? '<<' : '>>'} ${c})`, 'uint'),
  BitwiseAnd: b((a, c) => a & c, (a, c) => `(${a} & ${c})`, 'int'),
  BitwiseOr: b((a, c) => a | c, (a, c) => `(${a} | ${c})`, 'int'),
  BitwiseXor: b((a, c) => a ^ c, (a, c) => `(${a} ^ ${c})`, 'int'),

  // Comparison and logic → bool.
  Equal: cmp((a, c) => a === c, '==', 'any'),
  Less: cmp((a, c) => a < c, '<'),
  Greater: cmp((a, c) => a > c, '>'),
  LessOrEqual: cmp((a, c) => a <= c, '<='),
  GreaterOrEqual: cmp((a, c) => a >= c, '>='),
  And: b((a, c) => (a && c ? 1 : 0), (a, c) => `(${a} & ${c})`, 'bool'),
  Or: b((a, c) => (a || c ? 1 : 0), (a, c) => `(${a} | ${c})`, 'bool'),
  Xor: b((a, c) => (!a !== !c ? 1 : 0), (a, c) => `(${a} ^ ${c})`, 'bool'),

  // Variadic.
  Max: { accepts: 'numeric', arity: 'variadic', expr: (xs, e) => maxMinExpr(xs, e, 'max'), ref: (xs) => nanMax(xs) },
  Min: { accepts: 'numeric', arity: 'variadic', expr: (xs, e) => maxMinExpr(xs, e, 'min'), ref: (xs) => nanMin(xs) },
  Sum: { accepts: 'numeric', arity: 'variadic', expr: (xs) => `(${xs.join(' + ')})`, ref: (xs) => xs.reduce((a, c) => a + c, 0) },
  Mean: { accepts: 'float', arity: 'variadic', expr: (xs, e) => `((${xs.join(' + ')}) * ${e.k(1 / xs.length)})`, ref: (xs) => xs.reduce((a, c) => a + c, 0) / xs.length },

  // Where, Clip, Cast and Pow mix operand types: their expressions are built in resultExpr.
  Where: { accepts: 'any', arity: 'where', expr: () => '', ref: (xs) => (xs[0] ? xs[1] : xs[2]) },
  Clip: { accepts: 'numeric', arity: 'clip', expr: () => '', ref: (xs) => xs[0] },
  Cast: { accepts: 'any', arity: 'unary', expr: () => '', ref: (xs) => xs[0] },
  CastLike: { accepts: 'any', arity: 'unary', expr: () => '', ref: (xs) => xs[0] },
  Identity: { accepts: 'any', arity: 'copy', expr: (xs) => xs[0], ref: (xs) => xs[0] },
  Dropout: { accepts: 'float', arity: 'copy', expr: (xs) => xs[0], ref: (xs) => xs[0] },
};

// ---------------------------------------------------------------------------------------------
// Types

const NO_GPU_TYPE: ReadonlySet<DType> = new Set(['float64', 'bfloat16', 'string', 'complex64', 'complex128',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'uint4', 'int4']);

/** Compute type of stored values: f16 data is computed in f32. */
function computeOf(d: DType): GpuType {
  const g = gpuTypeOf(d);
  return g === 'f16' ? 'f32' : g;
}

function accepts(a: Accept, d: DType): boolean {
  switch (a) {
    case 'float': return isFloatType(d);
    case 'numeric': return d !== 'bool';
    case 'int': return isInt(d) && d !== 'bool';
    case 'uint': return isUnsigned(d) && d !== 'bool';
    case 'bool': return d === 'bool';
    default: return true;
  }
}

/** Small integer types live in 32-bit lanes: results wrap to the dtype's width on store. */
function wrapInt(x: string, d: DType, e: Ex): string {
  switch (d) {
    case 'int8': return `((${x} << ${e.kt(24, 'u32')}) >> ${e.kt(24, 'u32')})`;
    case 'int16': return `((${x} << ${e.kt(16, 'u32')}) >> ${e.kt(16, 'u32')})`;
    case 'uint8': return `(${x} & ${e.k(0xff)})`;
    case 'uint16': return `(${x} & ${e.k(0xffff)})`;
    default: return x;
  }
}

function refWrap(x: number, d: DType): number {
  switch (d) {
    case 'float32': return Math.fround(x);
    case 'float16': return x;
    case 'bool': return x ? 1 : 0;
    case 'int8': return (x << 24) >> 24;
    case 'int16': return (x << 16) >> 16;
    case 'uint8': return x & 0xff;
    case 'uint16': return x & 0xffff;
    case 'uint32': case 'uint64': return x >>> 0;
    default: return Number.isFinite(x) ? x | 0 : 0;
  }
}

/** A conversion of a value of compute type `from` to compute type `to`. */
function convert(x: string, from: GpuType, to: GpuType, e: Ex): string {
  if (from === to) return x;
  // float → unsigned goes through i32 so that negative values wrap, as numpy's casts do.
  if (from === 'f32' && to === 'u32') return `${e.ty('u32')}(${e.ty('i32')}(${x}))`;
  return `${e.ty(to)}(${x})`;
}

function hostArray(d: DType, n: number): HostTensor['data'] {
  if (isFloatType(d) || d === 'float64') return new Float32Array(n);
  if (d === 'bool' || d === 'uint8') return new Uint8Array(n);
  if (isUnsigned(d)) return new Uint32Array(n);
  return new Int32Array(n);
}

// ---------------------------------------------------------------------------------------------
// Operands and plans

interface Operand {
  /** Layer input index. */
  input: number;
  type: TensorType;
}

/** Clip bounds known at plan time (attributes, recorded by shape inference when constant). */
function clipBound(c: LayerCase, name: 'min' | 'max', slot: number): number | 'input' {
  const v = c.layer.attrs[name];
  if (typeof v === 'number') return v;
  if (c.layer.inputs[slot]) {
    const cv = c.consts[slot];
    if (cv && typeof cv.data[0] === 'number') return cv.data[0];
    return 'input';
  }
  return name === 'min' ? -Infinity : Infinity;
}

function operandsOf(c: LayerCase): Operand[] {
  const def = OPS[c.layer.op];
  const ins = c.layer.inputs;
  const pick = (idx: number[]): Operand[] => idx.filter((i) => ins[i]).map((i) => ({ input: i, type: ins[i]! }));
  switch (def.arity) {
    case 'unary': case 'copy': return pick([0]);
    case 'binary': return pick([0, 1]);
    case 'where': return pick([0, 1, 2]);
    case 'variadic': return pick(ins.map((_, i) => i));
    case 'clip': return pick([0, ...[1, 2].filter((s) => clipBound(c, s === 1 ? 'min' : 'max', s) === 'input')]);
  }
}

type VecClass = 'same' | 'scalar' | 'outer' | 'row' | 'splat';

/**
 * How a vec4 invocation (4 consecutive output elements from a multiple of 4) reads an input:
 * 'same' (identical flat index), 'scalar' (one element), 'outer' (the input is the output's
 * trailing dims, broadcast over leading ones: flat index mod its size), 'row' (the input's last dim
 * is the output's: a contiguous vec4 at the broadcast offset), 'splat' (broadcast along the last
 * dim: one element for all four lanes). Undefined when none applies.
 */
function vecClass(out: number[], inShape: number[]): VecClass | undefined {
  const n = elements({ shape: out });
  const m = elements({ shape: inShape });
  if (m === 1) return 'scalar';
  const stripped = [...inShape];
  while (stripped.length && stripped[0] === 1) stripped.shift();
  const tail = out.slice(out.length - stripped.length);
  if (m === n && stripped.every((d, i) => d === tail[i])) return 'same';
  const last = out[out.length - 1];
  if (stripped.every((d, i) => d === tail[i]) && m % 4 === 0) return 'outer';
  const inLast = inShape.length ? inShape[inShape.length - 1] : 1;
  if (inShape.length && inLast === last && last % 4 === 0) return 'row';
  if (inLast === 1 && last % 4 === 0) return 'splat';
  return undefined;
}

function outShapeOf(c: LayerCase): number[] {
  return c.layer.outputs[0].shape;
}

function checkTypes(c: LayerCase, caps: DeviceCaps): Support {
  const op = c.layer.op;
  const def = OPS[op];
  if (!def) return unsupported(`op ${op} is not elementwise`);
  const types = [...c.layer.inputs.filter((t): t is TensorType => !!t), ...c.layer.outputs];
  for (const t of types) {
    if (NO_GPU_TYPE.has(t.dtype)) return unsupported(`${t.dtype} tensors have no WGSL element type`);
    if (t.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  }
  const x = c.layer.inputs[def.arity === 'where' ? 1 : 0];
  if (!x) return unsupported('input 0 is missing');
  if (!accepts(def.accepts, x.dtype)) return unsupported(`${op} on ${x.dtype} is not supported`);
  if (op === 'Dropout') {
    const tm = c.layer.inputs[2];
    if (tm) {
      const v = c.consts[2];
      if (!v) return unsupported('training_mode is not a constant');
      if (v.data[0]) return unsupported('training-mode Dropout is random; only inference is supported');
    }
  }
  for (const t of types) {
    const bytes = elements(t) * (t.dtype === 'float16' ? 2 : 4);
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte binding limit`);
  }
  const bound = operandsOf(c).length + c.layer.outputs.length;
  if (bound > caps.maxStorageBuffersPerShaderStage) return unsupported(`${bound} buffers exceed the ${caps.maxStorageBuffersPerShaderStage} storage bindings per stage`);
  return supported;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const s = checkTypes(c, caps);
  if (!s.ok) return s;
  if (variant === 'naive') return supported;
  if (variant !== 'vec4') return unsupported(`unknown variant ${variant}`);
  const out = outShapeOf(c);
  const n = elements({ shape: out });
  if (n === 0 || n % 4 !== 0) return unsupported(`element count ${n} is not a positive multiple of 4`);
  for (const o of operandsOf(c)) {
    if (!vecClass(out, o.type.shape)) return unsupported(`input ${o.input} [${o.type.shape.join(',')}] broadcasts along inner dims of [${out.join(',')}] in a way vec4 loads cannot follow`);
  }
  return supported;
}

/** The op's result expression in the output's compute type, from the operand values. */
function resultExpr(c: LayerCase, vals: string[], ops: Operand[], e: (S: GpuType) => Ex): { expr: string; type: GpuType } {
  const l = c.layer;
  const def = OPS[l.op];
  const outT = computeOf(l.outputs[0].dtype);
  const in0 = ops[0].type.dtype;
  const ct0 = computeOf(in0);
  const conv = (i: number, to: GpuType): string => convert(vals[i], computeOf(ops[i].type.dtype), to, e(to));
  switch (l.op) {
    case 'Cast': case 'CastLike': {
      const to = l.outputs[0].dtype;
      const ex = e(ct0);
      if (to === 'bool') return { expr: ex.b2u(`${vals[0]} != ${ex.k(0)}`), type: 'u32' };
      return { expr: convert(vals[0], ct0, outT, e(outT)), type: outT };
    }
    case 'Pow': {
      const d1 = ops[1].type.dtype;
      if (isInt(in0) && isInt(d1)) {
        const ex = e(ct0);
        return { expr: ex.map(ipowFn(ex, ct0), [vals[0], conv(1, ct0)], ct0), type: ct0 };
      }
      const ef = e('f32');
      const r = `${powFn(ef)}(${conv(0, 'f32')}, ${conv(1, 'f32')})`;
      return { expr: isInt(in0) ? convert(`round(${r})`, 'f32', ct0, e(ct0)) : r, type: ct0 };
    }
    case 'Clip': {
      const ex = e(ct0);
      const bound = (name: 'min' | 'max', slot: number): string => {
        const v = clipBound(c, name, slot);
        if (v !== 'input') return ex.k(v);
        return conv(ops.findIndex((o) => o.input === slot), ct0);
      };
      const x = vals[0];
      const r = `min(max(${x}, ${bound('min', 1)}), ${bound('max', 2)})`;
      return { expr: ct0 === 'f32' ? `select(${r}, ${x}, ${ex.isnan(x)})` : r, type: ct0 };
    }
    case 'Where': {
      const ct = computeOf(ops[1].type.dtype);
      const ex = e(ct);
      return { expr: `select(${conv(2, ct)}, ${conv(1, ct)}, ${vals[0]} != ${ex.kt(0, 'u32')})`, type: ct };
    }
    default: {
      const ex = e(ct0);
      const xs = vals.map((_, i) => conv(i, ct0));
      const r = def.expr(xs, ex);
      const type = l.outputs[0].dtype === 'bool' && l.inputs[0]?.dtype !== 'bool' ? 'u32' : ct0;
      return { expr: r, type };
    }
  }
}

function bindingLine(i: number, name: string, type: string, access: 'read' | 'read_write'): string {
  return `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<${type}>;`;
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const vec = variant === 'vec4';
  const out = outShapeOf(c);
  const n = elements({ shape: out });
  const ops = operandsOf(c);
  const helpers = new Map<string, string>();
  const ex = (S: GpuType): Ex => makeEx(S, vec, l, helpers);
  const gpuTypes: GpuType[] = [];
  const decls: string[] = [];
  const loads: string[] = [];
  const vals: string[] = [];
  let needIndex = false;
  const idxVar = vec ? 'e0' : 'gid';
  ops.forEach((o, k) => {
    const st = gpuTypeOf(o.type.dtype);
    gpuTypes.push(st);
    const ct = computeOf(o.type.dtype);
    const cls: VecClass | 'bcast' = vec ? vecClass(out, o.type.shape)! : elements(o.type) === 1 ? 'scalar' : elements(o.type) === n ? 'same' : 'bcast';
    const scalarArray = !vec || cls === 'scalar' || cls === 'splat';
    decls.push(bindingLine(k, `x${k}`, scalarArray ? st : `vec4<${st}>`, 'read'));
    const bo = (): string => { needIndex = true; return broadcastOffset(out, o.type.shape); };
    let raw: string;
    switch (cls) {
      case 'same': raw = vec ? `x${k}[g]` : `x${k}[gid]`; break;
      case 'scalar': raw = `x${k}[0]`; break;
      case 'outer': raw = `x${k}[g % ${elements(o.type) / 4}u]`; break;
      case 'row': raw = `x${k}[(${bo()}) / 4u]`; break;
      case 'splat': case 'bcast': raw = `x${k}[${bo()}]`; break;
    }
    const vt = wgslType(ct, vec);
    const conv = st === ct ? raw : `${ct}(${raw})`;
    const loaded = vec && scalarArray ? `${vt}(${conv})` : vec ? (st === ct ? raw : `${vt}(${raw})`) : conv;
    loads.push(`  let v${k} = ${loaded};`);
    vals.push(`v${k}`);
  });
  const { expr, type } = resultExpr(c, vals, ops, ex);
  const stores: string[] = [];
  l.outputs.forEach((t, oi) => {
    const st = gpuTypeOf(t.dtype);
    gpuTypes.push(st);
    decls.push(bindingLine(ops.length + oi, `y${oi}`, vec ? `vec4<${st}>` : st, 'read_write'));
    const ct = computeOf(t.dtype);
    const e2 = ex(ct);
    let value: string;
    if (oi === 0) value = wrapInt(type === ct ? `r` : convert('r', type, ct, e2), t.dtype, e2);
    else value = e2.k(1); // Dropout's mask: every element kept.
    if (st !== ct) value = `${wgslType(st, vec)}(${value})`;
    stores.push(`  y${oi}[${vec ? 'g' : 'gid'}] = ${value};`);
  });
  const total = vec ? n / 4 : n;
  const body = [
    vec ? '  let g = gid;\n  let e0 = g * 4u;' : '',
    needIndex ? unravel(out, idxVar) : '',
    ...loads,
    `  let r = ${expr};`,
    ...stores,
  ].filter(Boolean).join('\n');
  const helperCode = [...helpers.values()].join('\n\n');
  const nanBits = helperCode.includes('NAN_BITS') || expr.includes('NAN_BITS') ? 'var<private> NAN_BITS: u32 = 0x7fc00000u;\n' : '';
  const wgsl = `${header(gpuTypes)}${decls.join('\n')}\n${nanBits}\n${[...helpers.values()].filter(Boolean).join('\n\n')}\n\n${entry1d(WG, total, body)}\n`;
  const pass: Pass = {
    label: `${KERNEL}/${variant} ${l.op}`,
    wgsl,
    workgroups: dispatch1d(total, WG, caps),
    buffers: [...ops.map((o) => ({ kind: 'input' as const, index: o.input })), ...l.outputs.map((_, i) => ({ kind: 'output' as const, index: i }))],
  };
  return { passes: [pass], scratch: [] };
}

// ---------------------------------------------------------------------------------------------
// Reference

/** Flat offsets into an input of `inShape` broadcast to `out`, for every output element in order. */
export function broadcastIndices(out: readonly number[], inShape: readonly number[]): Int32Array {
  const n = out.reduce((a, b2) => a * b2, 1);
  const idx = new Int32Array(n);
  const ist = stridesOf(inShape);
  const lead = out.length - inShape.length;
  const st = out.map((_, d) => (d < lead || inShape[d - lead] === 1 ? 0 : ist[d - lead]));
  const cnt = new Array<number>(out.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = out.length - 1; d >= 0; d--) {
      cnt[d]++;
      off += st[d];
      if (cnt[d] < out[d]) break;
      off -= st[d] * out[d];
      cnt[d] = 0;
    }
  }
  return idx;
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const l = c.layer;
  const out = outShapeOf(c);
  const n = elements({ shape: out });
  const ops = operandsOf(c);
  const def = OPS[l.op];
  const srcs = ops.map((o) => ({ data: inputs[o.input]!.data, idx: broadcastIndices(out, o.type.shape) }));
  const dts = ops.map((o) => o.type.dtype);
  const dOut = l.outputs[0].dtype;
  const y = hostArray(dOut, n);
  const xs = new Array<number>(ops.length);
  const bounds = l.op === 'Clip' ? (['min', 'max'] as const).map((name, j) => {
    const v = clipBound(c, name, j + 1);
    return v === 'input' ? Number(inputs[j + 1]!.data[0]) : v;
  }) : [];
  // f16 data is rounded on upload: the reference sees what the GPU sees (within f16 tolerance anyway).
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ops.length; k++) xs[k] = srcs[k].data[srcs[k].idx[i]];
    let r: number;
    if (l.op === 'Clip') {
      const x = xs[0];
      r = Number.isNaN(x) ? x : Math.min(Math.max(x, bounds[0]), bounds[1]);
    } else if (l.op === 'Cast' || l.op === 'CastLike') {
      const x = xs[0];
      r = dOut === 'bool' ? (x !== 0 ? 1 : 0) : isInt(dOut) && !isInt(dts[0]) ? Math.trunc(x) : x;
    } else {
      r = def.ref(xs, l, dts);
    }
    y[i] = refWrap(r, dOut);
  }
  const res: HostTensor[] = [{ dtype: dOut, shape: [...out], data: y }];
  for (let o = 1; o < l.outputs.length; o++) {
    const t = l.outputs[o];
    const m = hostArray(t.dtype, elements(t));
    m.fill(1);
    res.push({ dtype: t.dtype, shape: [...t.shape], data: m });
  }
  return res;
}

export const ELEMENTWISE_OPS = Object.keys(OPS);

/** Inputs outside which an op is not real (Kernel.inputDomain). */
const DOMAIN: Record<string, Record<number, [number, number]>> = {
  Log: { 0: [0.1, 2] }, Sqrt: { 0: [0, 2] }, Reciprocal: { 0: [0.5, 2] }, Pow: { 0: [0.1, 2] }, Acosh: { 0: [1, 3] },
  Div: { 1: [0.5, 2] }, Asin: { 0: [-0.9, 0.9] }, Acos: { 0: [-0.9, 0.9] }, Atanh: { 0: [-0.9, 0.9] },
};

// ---------------------------------------------------------------------------------------------
// Cost

/**
 * FLOPs per output element, where not 1 (the conventions are on Kernel.cost: a transcendental
 * function counts about as the instructions a GPU issues for it).
 */
const FLOPS_PER_ELEMENT: Record<string, number> = {
  // exp + add + div (sigmoid), or ~4 for tanh / erf approximations.
  Sigmoid: 4, Tanh: 4, Erf: 4, Softplus: 3, Softsign: 3, Elu: 3, Selu: 4, Celu: 4,
  // x * 0.5 * (1 + erf(x / sqrt 2)) ≈ erf (4) + 3.
  Gelu: 8, Mish: 8, HardSigmoid: 3, HardSwish: 4, LeakyRelu: 2, PRelu: 2, Clip: 2, Pow: 4,
  Exp: 2, Log: 2, Sqrt: 2, Reciprocal: 1, Sin: 4, Cos: 4,
  // Identity, Cast and inference-mode Dropout copy or convert, Where picks one of two inputs:
  // counted as data movement.
  Identity: 0, Cast: 0, CastLike: 0, Dropout: 0, Where: 0,
};

/** Variadic Sum/Max/Min/Mean: one add or comparison per output element per input after the first. */
const VARIADIC = new Set(['Sum', 'Max', 'Min', 'Mean']);

function cost(l: LayerSignature): number {
  const outN = count(l.outputs[0]);
  if (VARIADIC.has(l.op)) return outN * Math.max(1, l.inputs.filter(Boolean).length - 1);
  return outN * (FLOPS_PER_ELEMENT[l.op] ?? 1);
}

// ---------------------------------------------------------------------------------------------
// Fusion epilogues: the activations a fused layer applies before its store, from the op table

/** The activations that fuse into an epilogue, and the attributes their two parameters stand for. */
const EPILOGUE_ATTRS: Record<string, (alpha: number, beta: number) => Layer['attrs']> = {
  Relu: () => ({}),
  Clip: () => ({}),
  LeakyRelu: (alpha) => ({ alpha }),
  Sigmoid: () => ({}),
  HardSigmoid: (alpha, beta) => ({ alpha, beta }),
  HardSwish: () => ({}),
  Tanh: () => ({}),
  Gelu: () => ({ approximate: 'none' }),
};

/** The ops with a fusion epilogue. */
export const EPILOGUE_OPS = Object.keys(EPILOGUE_ATTRS);

/**
 * The epilogue of activation `op`: its expression and reference are the op table's (OPS), for
 * one f32 element with `alpha` and `beta` as its attributes; Clip takes them as its bounds.
 */
export function epilogueOf(op: string): Epilogue | undefined {
  const attrsOf = EPILOGUE_ATTRS[op];
  if (!attrsOf) return undefined;
  const one: TensorType = { dtype: 'float32', shape: [1] };
  const layerOf = (alpha: number, beta: number): Layer => ({
    key: `epilogue ${op}`, op, attrs: attrsOf(alpha, beta), weights: [], flops: 0, bytes: 0, params: 0, inputs: [one], outputs: [one],
  });
  return {
    wgsl: (alpha, beta) => {
      if (op === 'Clip') return { helpers: '', body: `min(max(x, ${scalarLit(alpha, 'f32')}), ${scalarLit(beta, 'f32')})` };
      const helpers = new Map<string, string>();
      const body = OPS[op].expr(['x'], makeEx('f32', false, layerOf(alpha, beta), helpers));
      return { helpers: [...helpers.values()].join('\n'), body };
    },
    ref: (alpha, beta) => (op === 'Clip' ? (x) => Math.min(Math.max(x, alpha), beta) : (x) => OPS[op].ref([x], layerOf(alpha, beta), ['float32'])),
    onnx: (b: GraphBuilder, x, alpha, beta) => {
      const scalar = (v: number): string => b.init('c', 'float32', [], [v]);
      switch (op) {
        case 'Clip': return b.op('Clip', [x, scalar(alpha), scalar(beta)]);
        case 'LeakyRelu': return b.op('LeakyRelu', [x], { alpha: new FloatAttr(alpha) });
        case 'HardSigmoid': return b.op('HardSigmoid', [x], { alpha: new FloatAttr(alpha), beta: new FloatAttr(beta) });
        // Gelu is an ONNX op from opset 20 only: as the Erf composition exporters write.
        case 'Gelu': {
          const erf = b.op('Erf', [b.op('Mul', [x, scalar(Math.SQRT1_2)])]);
          return b.op('Mul', [b.op('Mul', [x, scalar(0.5)]), b.op('Add', [erf, scalar(1)])]);
        }
        default: return b.op(op, [x]);
      }
    },
  };
}

export const kernels: Kernel[] = [{
  name: KERNEL,
  ops: ELEMENTWISE_OPS,
  variants: [
    { name: 'naive', description: 'one element per invocation; broadcast inputs indexed by unravelling the output index' },
    { name: 'vec4', description: 'four elements per invocation with vec4 loads and stores; broadcasting only where whole vec4s (or splats) can be read' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  inputDomain: (op, i) => DOMAIN[op]?.[i],
  cost,
  epilogue: epilogueOf,
}];
