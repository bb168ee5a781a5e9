/**
 * Small additions beside the pool, normalization and generator families:
 *  - LpPool / GlobalLpPool: (Σ |x|ᵖ)^(1/p) over each window (padding contributes nothing) or over
 *    each whole (n, c) plane. `naive`: one output element per invocation.
 *  - MaxUnpool: Y[I[i]] = X[i] over a zero output, I being MaxPool's flat indices. `owner-computes`:
 *    one output element per invocation looks only at the inputs whose pooling window covers it
 *    (⌈k/s⌉ per dim) and takes the last (in input order) whose index names it — no scatter, so no
 *    races. An index outside its own window cannot come from MaxPool; kernel and reference both
 *    ignore such indices (onnxruntime would write them anywhere), which keeps arbitrary test data
 *    deterministic. Indices are flat over the default output ((in − 1)·s + k − pads); a larger
 *    output_shape keeps those coordinates (the extra rows and columns at the end stay zero), as
 *    ONNX's conformance data has it.
 *  - MeanVarianceNormalization: (x − mean) / (√(E[x²] − mean²) + 1e-9) over `axes` (ONNX's
 *    function body, epsilon included; the variance is clamped at 0 so that rounding on a constant
 *    slice cannot give √(negative)). `two-pass`: one invocation per slice computes mean and std
 *    into scratch, then one invocation per element normalizes.
 *  - Range (start + i·delta), EyeLike (ones on diagonal k) and ConstantOfShape (the `value` fill):
 *    generators, one output element per invocation (`naive`). Range reads start and delta from
 *    its inputs; the count is the output's length.
 * All float arithmetic is f32 (f16 tensors are converted on load and store).
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import type { TensorType } from '../ir/types.js';
import { elements, entry1d, header, lit, prod, stridesOf } from './wgsl.js';
import { WG, attrInts, attrNum, checkTensors, decl, emptyPlan, gt, isFloat, nz, pass1d, values } from './movement.js';
import { simpleKernel, type Simple } from './indexing.js';
import { count, noFlops, numsAttr } from './flops.js';


function dataArray(t: TensorType, n: number): HostTensor['data'] {
  if (isFloat(t.dtype) || t.dtype === 'float64') return new Float32Array(n);
  if (t.dtype === 'bool' || t.dtype === 'uint8') return new Uint8Array(n);
  if (t.dtype.startsWith('uint')) return new Uint32Array(n);
  return new Int32Array(n);
}

function floatIn(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
  if (x.shape.length < 3) return unsupported('input must be [N, C, spatial…]');
  return supported;
}

// ---------------------------------------------------------------------------------------------
// LpPool / GlobalLpPool

interface LpWin { nd: number; ins: number[]; outs: number[]; k: number[]; s: number[]; d: number[]; pb: number[]; p: number }

function lpWin(c: LayerCase): LpWin {
  const xs = c.layer.inputs[0]!.shape;
  const nd = xs.length - 2;
  const ones = new Array<number>(nd).fill(1);
  const global = c.layer.op === 'GlobalLpPool';
  return {
    nd, ins: xs.slice(2), outs: c.layer.outputs[0].shape.slice(2),
    k: global ? xs.slice(2) : attrInts(c, 'kernel_shape') ?? ones,
    s: global ? ones : attrInts(c, 'strides') ?? ones,
    d: global ? ones : attrInts(c, 'dilations') ?? ones,
    pb: global ? new Array<number>(nd).fill(0) : (attrInts(c, 'pads') ?? new Array<number>(2 * nd).fill(0)).slice(0, nd),
    p: attrNum(c, 'p', 2),
  };
}

/** |v|ᵖ and its inverse for the common p = 1, 2 exactly; pow otherwise. */
const powP = (p: number, v: string): string => (p === 1 ? `abs(${v})` : p === 2 ? `(${v} * ${v})` : `pow(abs(${v}), ${lit(p, 'f32')})`);
const rootP = (p: number, v: string): string => (p === 1 ? v : p === 2 ? `sqrt(${v})` : `pow(${v}, ${lit(1 / p, 'f32')})`);

const lpPool: Simple = {
  name: 'lp-pool',
  ops: ['LpPool', 'GlobalLpPool'],
  variant: 'naive',
  description: 'one output element per invocation, the window as nested loops',
  // As the other pools (pool.ts): LpPool Π(Y)·Π(kernel_shape), GlobalLpPool one per input element.
  cost: (l) => (l.op === 'GlobalLpPool' ? count(l.inputs[0]) : count(l.outputs[0]) * prod(numsAttr(l.attrs.kernel_shape) ?? [])),
  bound: () => [0],
  check(c) {
    const s = floatIn(c);
    if (!s.ok) return s;
    const w = lpWin(c);
    if (!(w.p > 0)) return unsupported(`p = ${w.p} must be positive`);
    if ([w.k, w.s, w.d, w.pb].some((a) => a.length !== w.nd)) return unsupported('kernel, strides, dilations or pads do not match the spatial rank');
    return supported;
  },
  body(c) {
    const w = lpWin(c);
    const t = gt(c.layer.outputs[0]);
    const os = stridesOf(w.outs), is = stridesOf(w.ins);
    const OS = prod(w.outs), IS = prod(w.ins);
    const dims = Array.from({ length: w.nd }, (_, i) => i);
    const open = dims.map((i) => `  for (var k${i} = 0u; k${i} < ${w.k[i]}u; k${i}++) {
    let p${i} = i32(o${i} * ${w.s[i]}u + k${i} * ${w.d[i]}u) - ${w.pb[i]}i;
    if (p${i} < 0i || p${i} >= ${w.ins[i]}i) { continue; }`).join('\n');
    return `  let sp = gid % ${nz(OS)}u;
  let plane = gid / ${nz(OS)}u;
${dims.map((i) => `  let o${i} = (sp / ${os[i]}u) % ${w.outs[i]}u;`).join('\n')}
  var acc = 0.0f;
${open}
    let v = f32(in0[plane * ${IS}u + ${dims.map((i) => `u32(p${i}) * ${is[i]}u`).join(' + ')}]);
    acc += ${powP(w.p, 'v')};
${dims.map(() => '  }').join('\n')}
  y[gid] = ${t}(${rootP(w.p, 'acc')});`;
  },
  reference(c, inputs) {
    const w = lpWin(c);
    const x = values(inputs[0]!);
    const o = c.layer.outputs[0];
    const y = dataArray(o, elements(o));
    const OS = prod(w.outs), IS = prod(w.ins), KS = prod(w.k);
    const os = stridesOf(w.outs), is = stridesOf(w.ins), ks = stridesOf(w.k);
    for (let g = 0; g < y.length; g++) {
      const sp = g % OS, plane = Math.floor(g / OS);
      let acc = 0;
      for (let kk = 0; kk < KS; kk++) {
        let off = 0, inside = true;
        for (let i = 0; i < w.nd; i++) {
          const p = (Math.floor(sp / os[i]) % w.outs[i]) * w.s[i] + (Math.floor(kk / ks[i]) % w.k[i]) * w.d[i] - w.pb[i];
          if (p < 0 || p >= w.ins[i]) { inside = false; break; }
          off += p * is[i];
        }
        if (inside) acc += Math.abs(x[plane * IS + off]) ** w.p;
      }
      y[g] = acc ** (1 / w.p);
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

// ---------------------------------------------------------------------------------------------
// MaxUnpool

interface Unpool { nd: number; ins: number[]; outs: number[]; k: number[]; s: number[]; pb: number[]; planes: number; /** The default output's spatial dims, which the indices address. */ defs: number[] }

function unpoolGeo(c: LayerCase): Unpool {
  const xs = c.layer.inputs[0]!.shape;
  const nd = xs.length - 2;
  const k = attrInts(c, 'kernel_shape') ?? [];
  const st = attrInts(c, 'strides') ?? new Array<number>(nd).fill(1);
  const pads = attrInts(c, 'pads') ?? new Array<number>(2 * nd).fill(0);
  return {
    nd, ins: xs.slice(2), outs: c.layer.outputs[0].shape.slice(2), k, s: st, pb: pads.slice(0, nd), planes: xs[0] * xs[1],
    defs: xs.slice(2).map((d, i) => (d - 1) * st[i] + k[i] - pads[i] - pads[i + nd]),
  };
}

/** Whether flat output index t lies in the pooling window of input position q (spatial) of plane `plane`. */
function targetOf(g: Unpool, plane: number, q: number[], t: number): number[] | null {
  const DS = prod(g.defs), dst = stridesOf(g.defs);
  if (Math.floor(t / DS) !== plane) return null;
  const r = t % DS;
  const p = g.defs.map((d, i) => Math.floor(r / dst[i]) % d);
  const inside = p.every((v, i) => v >= q[i] * g.s[i] - g.pb[i] && v < q[i] * g.s[i] - g.pb[i] + g.k[i] && v < g.outs[i]);
  return inside ? p : null;
}

const maxUnpool: Simple = {
  name: 'max-unpool',
  ops: ['MaxUnpool'],
  variant: 'owner-computes',
  description: 'one output element per invocation scans the inputs whose window covers it',
  bound: () => [0, 1],
  check(c) {
    const [x, ind] = c.layer.inputs;
    if (!x || x.shape.length < 3) return unsupported('X must be [N, C, spatial…]');
    if (!ind || (ind.dtype !== 'int64' && ind.dtype !== 'int32') || ind.shape.join() !== x.shape.join()) return unsupported('indices must be int64 of X\'s shape');
    if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('input and output types differ');
    const g = unpoolGeo(c);
    if (g.k.length !== g.nd || g.s.length !== g.nd || g.pb.length !== g.nd) return unsupported('kernel_shape, strides or pads do not match the spatial rank');
    if (g.s.some((v) => v < 1) || g.k.some((v) => v < 1)) return unsupported('kernel and strides must be positive');
    if (g.defs.some((d, i) => d > g.outs[i] || d < 1)) return unsupported('output_shape is smaller than the unpooled shape');
    return supported;
  },
  body(c) {
    const g = unpoolGeo(c);
    const t = gt(c.layer.outputs[0]);
    const OS = prod(g.outs), IS = prod(g.ins), DS = prod(g.defs);
    const ost = stridesOf(g.outs), ist = stridesOf(g.ins), dst = stridesOf(g.defs);
    const dims = Array.from({ length: g.nd }, (_, i) => i);
    // Inputs q covering p: q·s − pb ≤ p < q·s − pb + k, i.e. q ∈ [⌈(p + pb − k + 1)/s⌉, ⌊(p + pb)/s⌋].
    const open = dims.map((i) => `  let hi${i} = min((i32(p${i}) + ${g.pb[i]}i) / ${g.s[i]}i, ${g.ins[i] - 1}i);
  // ⌈a/s⌉ = ⌊(a + s − 1)/s⌋, shifted by s·(k + 1) so the division sees a non-negative numerator.
  let lo${i} = max((i32(p${i}) + ${g.pb[i] - g.k[i] + g.s[i]}i + ${g.s[i] * (g.k[i] + 1)}i) / ${g.s[i]}i - ${g.k[i] + 1}i, 0i);
  for (var q${i} = lo${i}; q${i} <= hi${i}; q${i}++) {`).join('\n');
    return `  let sp = gid % ${OS}u;
  let plane = gid / ${OS}u;
${dims.map((i) => `  let p${i} = (sp / ${ost[i]}u) % ${g.outs[i]}u;`).join('\n')}
  var v = ${t}(0);
  // The flat index naming this element in the default output (none beyond its extent).
  let want = select(-1i, i32(plane * ${DS}u + ${dims.map((i) => `p${i} * ${dst[i]}u`).join(' + ')}), ${dims.map((i) => `p${i} < ${g.defs[i]}u`).join(' && ')});
${open}
    let qi = plane * ${IS}u + ${dims.map((i) => `u32(q${i}) * ${ist[i]}u`).join(' + ')};
    if (in1[qi] == want) { v = in0[qi]; }
${dims.map(() => '  }').join('\n')}
  y[gid] = v;`;
  },
  reference(c, inputs) {
    const g = unpoolGeo(c);
    const X = values(inputs[0]!), I = values(inputs[1]!);
    const o = c.layer.outputs[0];
    const Y = dataArray(o, elements(o));
    const IS = prod(g.ins), ist = stridesOf(g.ins), ost = stridesOf(g.outs), OS = prod(g.outs);
    for (let i = 0; i < X.length; i++) {
      const plane = Math.floor(i / IS), r = i % IS;
      const q = g.ins.map((d, k) => Math.floor(r / ist[k]) % d);
      const p = targetOf(g, plane, q, I[i]);
      if (p) Y[plane * OS + p.reduce((a, v, k) => a + v * ost[k], 0)] = X[i];
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
  },
};

// ---------------------------------------------------------------------------------------------
// MeanVarianceNormalization

interface MvnGeo { kept: number[]; red: number[]; shape: number[]; groups: number; R: number }

function mvnGeo(c: LayerCase): MvnGeo | string {
  const shape = c.layer.inputs[0]!.shape;
  const r = shape.length;
  const axes = (attrInts(c, 'axes') ?? [0, 2, 3]).map((a) => (a < 0 ? a + r : a));
  if (axes.some((a) => a < 0 || a >= r) || new Set(axes).size !== axes.length) return `axes [${attrInts(c, 'axes')}] do not fit rank ${r}`;
  const red = [...axes].sort((a, b) => a - b);
  const kept = shape.map((_, i) => i).filter((i) => !red.includes(i));
  return { kept, red, shape, groups: prod(kept.map((i) => shape[i])), R: prod(red.map((i) => shape[i])) };
}

/** WGSL: flat element offset from group index `gv` (over kept dims) and reduced index `rv`. */
function mvnOffset(g: MvnGeo, gv: string, rv: string): string {
  const st = stridesOf(g.shape);
  const part = (dims: number[], v: string) => {
    const sub = stridesOf(dims.map((d) => g.shape[d]));
    return dims.map((d, j) => `((${v} / ${sub[j]}u) % ${g.shape[d]}u) * ${st[d]}u`);
  };
  const terms = [...part(g.kept, gv), ...part(g.red, rv)];
  return terms.length ? terms.join(' + ') : '0u';
}

function mvnHostOffset(g: MvnGeo, gi: number, ri: number): number {
  const st = stridesOf(g.shape);
  let off = 0;
  for (const [dims, v] of [[g.kept, gi], [g.red, ri]] as const) {
    const sub = stridesOf(dims.map((d) => g.shape[d]));
    dims.forEach((d, j) => { off += (Math.floor(v / sub[j]) % g.shape[d]) * st[d]; });
  }
  return off;
}

const MVN_EPS = 1e-9;

function mvnPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = mvnGeo(c) as MvnGeo;
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = 'mvn/two-pass MeanVarianceNormalization';
  if (n === 0) return emptyPlan(label, t);
  const stats = `${header([t])}${decl(0, 'x', t, 'read')}\n${decl(1, 'st', 'f32', 'read_write')}\n\n${entry1d(WG, g.groups, `  var s = 0.0f;
  var s2 = 0.0f;
  for (var r = 0u; r < ${g.R}u; r++) {
    let v = f32(x[${mvnOffset(g, 'gid', 'r')}]);
    s += v;
    s2 += v * v;
  }
  let mean = s / ${lit(g.R, 'f32')};
  st[2u * gid] = mean;
  st[2u * gid + 1u] = sqrt(max(s2 / ${lit(g.R, 'f32')} - mean * mean, 0.0f)) + ${lit(MVN_EPS, 'f32')};`)}\n`;
  // Element → its group: the kept dims of its multi-index, flattened.
  const st = stridesOf(g.shape);
  const sub = stridesOf(g.kept.map((d) => g.shape[d]));
  const grp = g.kept.length ? g.kept.map((d, j) => `((gid / ${st[d]}u) % ${g.shape[d]}u) * ${sub[j]}u`).join(' + ') : '0u';
  const norm = `${header([t])}${decl(0, 'x', t, 'read')}\n${decl(1, 'st', 'f32', 'read')}\n${decl(2, 'y', t, 'read_write')}\n\n${entry1d(WG, n, `  let g = ${grp};
  y[gid] = ${t}((f32(x[gid]) - st[2u * g]) / st[2u * g + 1u]);`)}\n`;
  return {
    passes: [
      pass1d(`${label} stats`, stats, g.groups, caps, [{ kind: 'input', index: 0 }, { kind: 'scratch', index: 0 }]),
      pass1d(`${label} normalize`, norm, n, caps, [{ kind: 'input', index: 0 }, { kind: 'scratch', index: 0 }, { kind: 'output', index: 0 }]),
    ],
    scratch: [Math.max(8, g.groups * 8)],
  };
}

function mvnReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = mvnGeo(c) as MvnGeo;
  const x = values(inputs[0]!);
  const o = c.layer.outputs[0];
  const y = new Float32Array(elements(o));
  for (let gi = 0; gi < g.groups; gi++) {
    let s = 0, s2 = 0;
    for (let r = 0; r < g.R; r++) { const v = x[mvnHostOffset(g, gi, r)]; s += v; s2 += v * v; }
    const mean = s / g.R;
    const std = Math.sqrt(Math.max(s2 / g.R - mean * mean, 0)) + MVN_EPS;
    for (let r = 0; r < g.R; r++) { const off = mvnHostOffset(g, gi, r); y[off] = (x[off] - mean) / std; }
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
}

const mvnKernel: Kernel = {
  name: 'mvn',
  ops: ['MeanVarianceNormalization'],
  variants: [{ name: 'two-pass', description: 'one invocation per slice for mean and std, then one per element' }],
  defaultVariant: () => 'two-pass',
  supports(c, variant, caps) {
    if (variant !== 'two-pass') return unsupported(`unknown variant ${variant}`);
    const x = c.layer.inputs[0];
    if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
    const g = mvnGeo(c);
    if (typeof g === 'string') return unsupported(g);
    if (g.groups * 8 > caps.maxStorageBufferBindingSize) return unsupported('the statistics scratch exceeds the storage binding limit');
    return checkTensors(c, caps, [0], elements(c.layer.outputs[0]));
  },
  plan: (c, _v, caps) => mvnPlan(c, caps),
  reference: mvnReference,
  // As LayerNormalization (normalization.ts): 8 per input element.
  cost: (l) => 8 * count(l.inputs[0]),
};

// ---------------------------------------------------------------------------------------------
// Generators

/** The fill of ConstantOfShape: its `value` attribute's single element (0 when absent). */
function fillValue(c: LayerCase): number | undefined {
  const v = c.layer.attrs.value;
  if (v === undefined) return 0;
  if (typeof v === 'object' && !Array.isArray(v) && v.kind === 'tensor') {
    const x = v.values?.[0];
    return typeof x === 'number' ? x : undefined;
  }
  return undefined;
}

const outType = (c: LayerCase): GpuType => gt(c.layer.outputs[0]);

/** A WGSL literal of the output type (f16 via f32 conversion, so any f32-representable fill). */
const litOut = (c: LayerCase, v: number): string => {
  const t = outType(c);
  return t === 'f16' ? `f16(${lit(v, 'f32')})` : lit(v, t);
};

const constantOfShape: Simple = {
  name: 'constant-of-shape',
  ops: ['ConstantOfShape'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: noFlops, // writes generated values: counted as data movement
  bound: () => [],
  check(c) {
    const v = fillValue(c);
    if (v === undefined) return unsupported('the value attribute is not a small numeric tensor');
    if (outType(c) === 'u32' && v < 0) return unsupported('negative fill of an unsigned type');
    return supported;
  },
  body: (c) => `  y[gid] = ${litOut(c, fillValue(c)!)};`,
  reference(c) {
    const o = c.layer.outputs[0];
    const y = dataArray(o, elements(o));
    y.fill(fillValue(c)!);
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

const eyeLike: Simple = {
  name: 'eye-like',
  ops: ['EyeLike'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: noFlops, // writes generated values: counted as data movement
  bound: () => [],
  check(c) {
    if (c.layer.outputs[0].shape.length !== 2) return unsupported('output must be 2-D');
    return supported;
  },
  body(c) {
    const [, C] = c.layer.outputs[0].shape;
    const k = attrNum(c, 'k', 0);
    return `  let col = i32(gid % ${nz(C)}u);
  let row = i32(gid / ${nz(C)}u);
  y[gid] = select(${litOut(c, 0)}, ${litOut(c, 1)}, col - row == ${Math.trunc(k)}i);`;
  },
  reference(c) {
    const o = c.layer.outputs[0];
    const [, C] = o.shape;
    const k = attrNum(c, 'k', 0);
    const y = dataArray(o, elements(o));
    for (let i = 0; i < y.length; i++) y[i] = (i % C) - Math.floor(i / C) === k ? 1 : 0;
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

const range: Simple = {
  name: 'range',
  ops: ['Range'],
  variant: 'naive',
  description: 'one output element per invocation: start + i·delta',
  cost: noFlops, // writes generated values: counted as data movement
  bound: () => [0, 2],
  check(c) {
    const [a, , d] = c.layer.inputs;
    if (!a || !d || elements(a) !== 1 || elements(d) !== 1) return unsupported('start and delta must be scalars');
    if (gt(a) !== outType(c) || gt(d) !== outType(c)) return unsupported('start, delta and output types differ');
    return supported;
  },
  body(c) {
    const t = outType(c);
    // Floats: start + i·delta (as the reference); integers: wrapping i32/u32 arithmetic.
    return isFloat(c.layer.outputs[0].dtype)
      ? `  y[gid] = ${t}(f32(in0[0]) + f32(gid) * f32(in2[0]));`
      : `  y[gid] = in0[0] + ${t}(gid) * in2[0];`;
  },
  reference(c, inputs) {
    const o = c.layer.outputs[0];
    const a = values(inputs[0]!)[0], d = values(inputs[2]!)[0];
    const y = dataArray(o, elements(o));
    for (let i = 0; i < y.length; i++) y[i] = isFloat(o.dtype) ? Math.fround(a + Math.fround(i * d)) : a + i * d;
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

export const kernels: Kernel[] = [...[lpPool, maxUnpool, constantOfShape, eyeLike, range].map(simpleKernel), mvnKernel];
