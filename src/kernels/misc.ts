/**
 * Small single-variant (`naive`) kernels, one output element per invocation:
 *  - DepthToSpace (DCR/CRD) and SpaceToDepth: index gathers between channel and spatial blocks.
 *  - Trilu: keep the upper/lower triangle (offset k from the constant second input), zero the rest.
 *  - CumSum: each element sums its prefix (or suffix, `reverse`) along the constant axis, with or
 *    without itself (`exclusive`).
 *  - Hardmax: 1 at the first maximum of each row along `axis` (or of the 2-D coerced row), else 0.
 *  - LRN: x / (bias + alpha/size · Σ x² over neighbouring channels)^beta.
 *  - QuantizeLinear / DequantizeLinear: per-tensor or per-axis scale and zero point (inputs);
 *    quantization rounds half to even and saturates to uint8/int8.
 *  - LpNormalization: x / ‖row‖ₚ along `axis`, p = 1 or 2.
 * Rows are walked by each invocation (O(length) per element); these ops are rare and small.
 */
import type { DType } from '../onnx/dtype.js';
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, lit, prod, stridesOf } from './wgsl.js';
import { WG, attrNum, attrStr, checkTensors, constInts, decl, emptyPlan, forEachIndex, gt, isFloat, pass1d, values } from './movement.js';
import { count, noFlops, numAttr, perOutputElement } from './flops.js';

type Data = HostTensor['data'];

interface Spec {
  name: string;
  ops: string[];
  description: string;
  /** Input slots bound to the pass, in binding order (named in0, in1… by slot). */
  bound(c: LayerCase): number[];
  check(c: LayerCase): Support;
  /** WGSL body using `gid`, the inputs `in<slot>` and the output `y`. */
  body(c: LayerCase): string;
  reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[];
  /** Kernel.cost. */
  cost: NonNullable<Kernel['cost']>;
}


function outArray(dtype: DType, n: number): Data {
  if (isFloat(dtype) || dtype === 'float64') return new Float32Array(n);
  if (dtype === 'bool' || dtype === 'uint8') return new Uint8Array(n);
  if (dtype.startsWith('uint')) return new Uint32Array(n);
  return new Int32Array(n);
}

function out(c: LayerCase, n = 0): HostTensor {
  const o = c.layer.outputs[n];
  return { dtype: o.dtype, shape: [...o.shape], data: outArray(o.dtype, elements(o)) };
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** A row along `axis`: its length and the stride between its elements. */
function rowOf(shape: readonly number[], axis: number): { len: number; inner: number } {
  return { len: shape[axis], inner: prod(shape.slice(axis + 1)) };
}

/** WGSL: `pos` (position in the row) and `base` (flat index of the row's first element). */
const rowPrelude = (len: number, inner: number): string =>
  `  let pos = (gid / ${inner}u) % ${Math.max(1, len)}u;
  let base = gid - pos * ${inner}u;`;

function makeKernel(s: Spec): Kernel {
  function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
    if (variant !== 'naive') return unsupported(`unknown variant ${variant}`);
    const chk = s.check(c);
    if (!chk.ok) return chk;
    return checkTensors(c, caps, s.bound(c), elements(c.layer.outputs[0]));
  }
  function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
    const t = gt(c.layer.outputs[0]);
    const n = elements(c.layer.outputs[0]);
    const label = `${s.name}/${variant} ${c.layer.op}`;
    if (n === 0) return emptyPlan(label, t);
    const slots = s.bound(c);
    const types: GpuType[] = [...slots.map((i) => gt(c.layer.inputs[i]!)), t];
    const decls = [...slots.map((i, k) => decl(k, `in${i}`, types[k], 'read')), decl(slots.length, 'y', t, 'read_write')];
    const wgsl = `${header(types)}${decls.join('\n')}

${entry1d(WG, n, s.body(c))}
`;
    const buffers = [...slots.map((index) => ({ kind: 'input' as const, index })), { kind: 'output' as const, index: 0 }];
    return { passes: [pass1d(label, wgsl, n, caps, buffers)], scratch: [] };
  }
  return {
    name: s.name,
    ops: s.ops,
    variants: [{ name: 'naive', description: s.description }],
    defaultVariant: () => 'naive',
    supports,
    plan,
    reference: s.reference,
    cost: s.cost,
  };
}

function sameType(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x) return unsupported('input 0 is missing');
  if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  return supported;
}

function floatOnly(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
  return supported;
}

// ---------------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth

/** Input multi-index [n, c, h, w] of output index [n, c, h, w]. */
function blockSource(c: LayerCase, o: readonly number[]): number[] {
  const b = attrNum(c, 'blocksize', 1);
  const C = c.layer.inputs[0]!.shape[1];
  const [n, oc, h, w] = o;
  if (c.layer.op === 'DepthToSpace') {
    const cOut = C / (b * b);
    const bh = h % b, bw = w % b;
    const ic = attrStr(c, 'mode', 'DCR') === 'CRD' ? oc * b * b + bh * b + bw : (bh * b + bw) * cOut + oc;
    return [n, ic, Math.floor(h / b), Math.floor(w / b)];
  }
  const blk = Math.floor(oc / C);
  return [n, oc % C, h * b + Math.floor(blk / b), w * b + (blk % b)];
}

const blockSpec: Spec = {
  name: 'depth-space',
  ops: ['DepthToSpace', 'SpaceToDepth'],
  description: 'one output element per invocation, gathering its input element',
  cost: noFlops, // moves blocks between channels and space
  bound: () => [0],
  check(c) {
    const s = sameType(c);
    if (!s.ok) return s;
    const x = c.layer.inputs[0]!.shape;
    const b = attrNum(c, 'blocksize', 0);
    if (x.length !== 4) return unsupported(`rank ${x.length} input: only 4-D (NCHW)`);
    if (!(b >= 1)) return unsupported('blocksize must be positive');
    const mode = attrStr(c, 'mode', 'DCR');
    if (c.layer.op === 'DepthToSpace' && mode !== 'DCR' && mode !== 'CRD') return unsupported(`mode ${mode}`);
    if (c.layer.op === 'DepthToSpace' && x[1] % (b * b) !== 0) return unsupported('channels not divisible by blocksize²');
    if (c.layer.op === 'SpaceToDepth' && (x[2] % b !== 0 || x[3] % b !== 0)) return unsupported('spatial dims not divisible by blocksize');
    return supported;
  },
  body(c) {
    const b = attrNum(c, 'blocksize', 1);
    const [, C, H, W] = c.layer.inputs[0]!.shape;
    const [, oC, oH, oW] = c.layer.outputs[0].shape;
    let src: string;
    if (c.layer.op === 'DepthToSpace') {
      const cOut = C / (b * b);
      const ic = attrStr(c, 'mode', 'DCR') === 'CRD' ? `c * ${b * b}u + bh * ${b}u + bw` : `(bh * ${b}u + bw) * ${cOut}u + c`;
      src = `  let bh = h % ${b}u;
  let bw = w % ${b}u;
  let ic = ${ic};
  let ih = h / ${b}u;
  let iw = w / ${b}u;`;
    } else {
      src = `  let blk = c / ${C}u;
  let ic = c % ${C}u;
  let ih = h * ${b}u + blk / ${b}u;
  let iw = w * ${b}u + blk % ${b}u;`;
    }
    return `  let w = gid % ${oW}u;
  let h = (gid / ${oW}u) % ${oH}u;
  let c = (gid / ${oW * oH}u) % ${oC}u;
  let n = gid / ${oW * oH * oC}u;
${src}
  y[gid] = in0[((n * ${C}u + ic) * ${H}u + ih) * ${W}u + iw];`;
  },
  reference(c, inputs) {
    const x = inputs[0]!;
    const src = values(x);
    const st = stridesOf(x.shape);
    const y = out(c);
    forEachIndex(c.layer.outputs[0].shape, (k, idx) => {
      const s = blockSource(c, idx);
      y.data[k] = src[s[0] * st[0] + s[1] * st[1] + s[2] * st[2] + s[3] * st[3]];
    });
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// Trilu

const triluK = (c: LayerCase): number => (c.layer.inputs[1] ? constInts(c, 1)?.[0] ?? NaN : 0);

const triluSpec: Spec = {
  name: 'trilu',
  ops: ['Trilu'],
  description: 'one output element per invocation',
  cost: noFlops, // keeps or zeroes elements: counted as data movement
  bound: () => [0],
  check(c) {
    const s = sameType(c);
    if (!s.ok) return s;
    if (c.layer.inputs[0]!.shape.length < 2) return unsupported('input rank below 2');
    if (!Number.isFinite(triluK(c))) return unsupported('k is not a constant');
    return supported;
  },
  body(c) {
    const x = c.layer.inputs[0]!.shape;
    const [M, N] = x.slice(-2);
    const k = Math.max(-2e9, Math.min(2e9, triluK(c)));
    const upper = attrNum(c, 'upper', 1) !== 0;
    const t = gt(c.layer.outputs[0]);
    return `  let col = i32(gid % ${N}u);
  let row = i32((gid / ${N}u) % ${M}u);
  let keep = col - row ${upper ? '>=' : '<='} ${k}i;
  y[gid] = select(${t}(0), in0[gid], keep);`;
  },
  reference(c, inputs) {
    const src = values(inputs[0]!);
    const x = c.layer.inputs[0]!.shape;
    const [M, N] = x.slice(-2);
    const k = triluK(c);
    const upper = attrNum(c, 'upper', 1) !== 0;
    const y = out(c);
    for (let i = 0; i < y.data.length; i++) {
      const col = i % N, row = Math.floor(i / N) % M;
      y.data[i] = (upper ? col - row >= k : col - row <= k) ? src[i] : 0;
    }
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// CumSum

function cumAxis(c: LayerCase): number | undefined {
  const a = constInts(c, 1)?.[0];
  const r = c.layer.inputs[0]!.shape.length;
  if (a === undefined || a < -r || a >= r) return undefined;
  return normAxis(a, r);
}

const cumsumSpec: Spec = {
  name: 'cumsum',
  ops: ['CumSum'],
  description: 'each invocation sums its prefix (or suffix) along the axis',
  cost: perOutputElement, // one add per output element (a running sum)
  bound: () => [0],
  check(c) {
    const s = sameType(c);
    if (!s.ok) return s;
    if (c.layer.inputs[0]!.dtype === 'bool') return unsupported('bool input');
    if (cumAxis(c) === undefined) return unsupported('axis is not a constant in range');
    return supported;
  },
  body(c) {
    const shape = c.layer.inputs[0]!.shape;
    const { len, inner } = rowOf(shape, cumAxis(c)!);
    const excl = attrNum(c, 'exclusive', 0) !== 0;
    const rev = attrNum(c, 'reverse', 0) !== 0;
    const t = gt(c.layer.outputs[0]);
    const acc = t === 'f16' ? 'f32' : t;
    const lo = rev ? (excl ? 'pos + 1u' : 'pos') : '0u';
    const hi = rev ? `${len}u` : excl ? 'pos' : 'pos + 1u';
    return `${rowPrelude(len, inner)}
  var acc = ${acc}(0);
  for (var i = ${lo}; i < ${hi}; i++) { acc += ${acc}(in0[base + i * ${inner}u]); }
  y[gid] = ${t}(acc);`;
  },
  reference(c, inputs) {
    const src = values(inputs[0]!);
    const shape = c.layer.inputs[0]!.shape;
    const { len, inner } = rowOf(shape, cumAxis(c)!);
    const excl = attrNum(c, 'exclusive', 0) !== 0;
    const rev = attrNum(c, 'reverse', 0) !== 0;
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const pos = Math.floor(g / inner) % len;
      const base = g - pos * inner;
      const lo = rev ? pos + (excl ? 1 : 0) : 0;
      const hi = rev ? len : pos + (excl ? 0 : 1);
      let acc = 0;
      for (let i = lo; i < hi; i++) acc += src[base + i * inner];
      y.data[g] = acc;
    }
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// Hardmax

/** The reduced row: length and stride (2-D coercion before opset 13 makes it every dim from axis on). */
function hardmaxRow(c: LayerCase): { len: number; inner: number } {
  const shape = c.layer.inputs[0]!.shape;
  const r = shape.length;
  if (r === 0) return { len: 1, inner: 1 };
  const axis = normAxis(typeof c.layer.attrs.axis === 'number' ? c.layer.attrs.axis : -1, r);
  if (c.layer.attrs.coerce_2d === 1) return { len: prod(shape.slice(axis)), inner: 1 };
  return rowOf(shape, axis);
}

const hardmaxSpec: Spec = {
  name: 'hardmax',
  ops: ['Hardmax'],
  description: 'each invocation finds the first maximum of its row',
  cost: (l) => 2 * count(l.inputs[0]), // a comparison to find the row's maximum, a select to write: 2 per input element
  bound: () => [0],
  check: (c) => { const s = floatOnly(c); return s.ok ? sameType(c) : s; },
  body(c) {
    const { len, inner } = hardmaxRow(c);
    const t = gt(c.layer.outputs[0]);
    return `${rowPrelude(len, inner)}
  var best = in0[base];
  var bi = 0u;
  for (var i = 1u; i < ${len}u; i++) {
    let v = in0[base + i * ${inner}u];
    if (v > best) { best = v; bi = i; }
  }
  y[gid] = select(${t}(0), ${t}(1), bi == pos);`;
  },
  reference(c, inputs) {
    const src = values(inputs[0]!);
    const { len, inner } = hardmaxRow(c);
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const pos = Math.floor(g / inner) % len;
      const base = g - pos * inner;
      let bi = 0;
      for (let i = 1; i < len; i++) if (src[base + i * inner] > src[base + bi * inner]) bi = i;
      y.data[g] = bi === pos ? 1 : 0;
    }
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// LRN

function lrnParams(c: LayerCase) {
  const size = attrNum(c, 'size', 0);
  return {
    size, alpha: attrNum(c, 'alpha', 1e-4), beta: attrNum(c, 'beta', 0.75), bias: attrNum(c, 'bias', 1),
    before: Math.floor((size - 1) / 2), after: Math.ceil((size - 1) / 2),
  };
}

const lrnSpec: Spec = {
  name: 'lrn',
  ops: ['LRN'],
  description: 'each invocation sums squares over its channel window',
  cost: (l) => count(l.outputs[0]) * (2 * numAttr(l.attrs.size, 1) + 4), // a square and an add per neighbour, then scale, add, pow, divide
  bound: () => [0],
  check(c) {
    const s = floatOnly(c);
    if (!s.ok) return s;
    if (c.layer.inputs[0]!.shape.length < 2) return unsupported('input rank below 2');
    if (!(lrnParams(c).size >= 1)) return unsupported('size must be positive');
    return supported;
  },
  body(c) {
    const shape = c.layer.inputs[0]!.shape;
    const { len: C, inner } = rowOf(shape, 1);
    const p = lrnParams(c);
    const t = gt(c.layer.outputs[0]);
    return `${rowPrelude(C, inner)}
  let lo = u32(max(i32(pos) - ${p.before}i, 0i));
  let hi = min(pos + ${p.after}u, ${C - 1}u);
  var sq = 0.0f;
  for (var i = lo; i <= hi; i++) { let v = f32(in0[base + i * ${inner}u]); sq += v * v; }
  let d = pow(${lit(p.bias, 'f32')} + ${lit(p.alpha / p.size, 'f32')} * sq, ${lit(p.beta, 'f32')});
  y[gid] = ${t}(f32(in0[gid]) / d);`;
  },
  reference(c, inputs) {
    const src = values(inputs[0]!);
    const shape = c.layer.inputs[0]!.shape;
    const { len: C, inner } = rowOf(shape, 1);
    const p = lrnParams(c);
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const pos = Math.floor(g / inner) % C;
      const base = g - pos * inner;
      let sq = 0;
      for (let i = Math.max(0, pos - p.before); i <= Math.min(C - 1, pos + p.after); i++) sq += src[base + i * inner] ** 2;
      y.data[g] = src[g] / (p.bias + (p.alpha / p.size) * sq) ** p.beta;
    }
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear

/** Per-tensor (length 1) or per-axis scale: the WGSL index expression and a host index function. */
function scaleIndex(c: LayerCase): { wgsl: string; host: (g: number) => number } | undefined {
  const x = c.layer.inputs[0]!.shape;
  const s = c.layer.inputs[1]!;
  if (elements(s) === 1) return { wgsl: '0u', host: () => 0 };
  if (s.shape.length !== 1 || x.length === 0) return undefined;
  const a = normAxis(attrNum(c, 'axis', 1), x.length);
  if (a < 0 || a >= x.length || x[a] !== s.shape[0]) return undefined;
  const { len, inner } = rowOf(x, a);
  return { wgsl: `(gid / ${inner}u) % ${len}u`, host: (g) => Math.floor(g / inner) % len };
}

/** Value range of the 8-bit quantized types. */
export const Q_RANGE: Partial<Record<DType, [number, number]>> = { uint8: [0, 255], int8: [-128, 127] };

/** Rounding as ONNX's QuantizeLinear specifies it (half to even). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function quantCheck(c: LayerCase): Support {
  const [x, s, z] = c.layer.inputs;
  if (!x || !s) return unsupported('missing input or scale');
  if (attrNum(c, 'block_size', 0) !== 0) return unsupported('blocked quantization');
  if (!isFloat(s.dtype)) return unsupported(`${s.dtype} scale`);
  if (!scaleIndex(c)) return unsupported('scale is neither per-tensor nor per-axis');
  if (z && elements(z) !== elements(s)) return unsupported('zero point and scale differ in size');
  const q = c.layer.op === 'QuantizeLinear' ? c.layer.outputs[0].dtype : x.dtype;
  if (!Q_RANGE[q]) return unsupported(`${q} quantized type: only uint8/int8`);
  if (z && z.dtype !== q) return unsupported('zero point type differs from the quantized type');
  if (c.layer.op === 'QuantizeLinear' ? !isFloat(x.dtype) : !isFloat(c.layer.outputs[0].dtype)) return unsupported('non-float data');
  return supported;
}

const quantBound = (c: LayerCase): number[] => (c.layer.inputs[2] ? [0, 1, 2] : [0, 1]);

const quantizeSpec: Spec = {
  name: 'quantize',
  ops: ['QuantizeLinear'],
  description: 'one element per invocation; round half to even, saturate',
  cost: (l) => 3 * count(l.inputs[0]), // divide by the scale, round, add the zero point: 3 per element
  bound: quantBound,
  check: quantCheck,
  body(c) {
    const si = scaleIndex(c)!.wgsl;
    const [lo, hi] = Q_RANGE[c.layer.outputs[0].dtype]!;
    const t = gt(c.layer.outputs[0]);
    const z = c.layer.inputs[2] ? `f32(in2[si])` : '0.0f';
    return `  let si = ${si};
  let q = round(f32(in0[gid]) / f32(in1[si])) + ${z};
  y[gid] = ${t}(clamp(q, ${lit(lo, 'f32')}, ${lit(hi, 'f32')}));`;
  },
  reference(c, inputs) {
    const x = values(inputs[0]!), s = values(inputs[1]!), z = inputs[2] ? values(inputs[2]) : undefined;
    const si = scaleIndex(c)!.host;
    const [lo, hi] = Q_RANGE[c.layer.outputs[0].dtype]!;
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const k = si(g);
      const q = roundHalfEven(Math.fround(x[g] / s[k])) + (z ? z[k] : 0);
      y.data[g] = Math.max(lo, Math.min(hi, q));
    }
    return [y];
  },
};

const dequantizeSpec: Spec = {
  name: 'dequantize',
  ops: ['DequantizeLinear'],
  description: 'one element per invocation',
  cost: (l) => 3 * count(l.inputs[0]), // counted as QuantizeLinear: 3 per element
  bound: quantBound,
  check: quantCheck,
  body(c) {
    const si = scaleIndex(c)!.wgsl;
    const t = gt(c.layer.outputs[0]);
    const z = c.layer.inputs[2] ? `f32(in2[si])` : '0.0f';
    return `  let si = ${si};
  y[gid] = ${t}((f32(in0[gid]) - ${z}) * f32(in1[si]));`;
  },
  reference(c, inputs) {
    const x = values(inputs[0]!), s = values(inputs[1]!), z = inputs[2] ? values(inputs[2]) : undefined;
    const si = scaleIndex(c)!.host;
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const k = si(g);
      y.data[g] = (x[g] - (z ? z[k] : 0)) * s[k];
    }
    return [y];
  },
};

// ---------------------------------------------------------------------------------------------
// LpNormalization

function lpRow(c: LayerCase): { len: number; inner: number } {
  const shape = c.layer.inputs[0]!.shape;
  return rowOf(shape, normAxis(attrNum(c, 'axis', -1), shape.length));
}

const lpSpec: Spec = {
  name: 'lp-normalization',
  ops: ['LpNormalization'],
  description: 'each invocation computes the norm of its row',
  cost: (l) => 3 * count(l.inputs[0]), // |x| or x² and an add per element for the norm, a divide to normalize
  bound: () => [0],
  check(c) {
    const s = floatOnly(c);
    if (!s.ok) return s;
    const r = c.layer.inputs[0]!.shape.length;
    const a = attrNum(c, 'axis', -1);
    if (r === 0 || a < -r || a >= r) return unsupported('axis out of range');
    const p = attrNum(c, 'p', 2);
    if (p !== 1 && p !== 2) return unsupported(`p = ${p}: only 1 or 2`);
    return supported;
  },
  body(c) {
    const { len, inner } = lpRow(c);
    const p = attrNum(c, 'p', 2);
    const t = gt(c.layer.outputs[0]);
    return `${rowPrelude(len, inner)}
  var acc = 0.0f;
  for (var i = 0u; i < ${len}u; i++) { let v = f32(in0[base + i * ${inner}u]); acc += ${p === 1 ? 'abs(v)' : 'v * v'}; }
  y[gid] = ${t}(f32(in0[gid]) / ${p === 1 ? 'acc' : 'sqrt(acc)'});`;
  },
  reference(c, inputs) {
    const src = values(inputs[0]!);
    const { len, inner } = lpRow(c);
    const p = attrNum(c, 'p', 2);
    const y = out(c);
    for (let g = 0; g < y.data.length; g++) {
      const pos = Math.floor(g / inner) % len;
      const base = g - pos * inner;
      let acc = 0;
      for (let i = 0; i < len; i++) { const v = src[base + i * inner]; acc += p === 1 ? Math.abs(v) : v * v; }
      y.data[g] = src[g] / (p === 1 ? acc : Math.sqrt(acc));
    }
    return [y];
  },
};

export const kernels: Kernel[] = [
  blockSpec, triluSpec, cumsumSpec, hardmaxSpec, lrnSpec, quantizeSpec, dequantizeSpec, lpSpec,
].map(makeKernel);
