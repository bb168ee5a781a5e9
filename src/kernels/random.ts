/**
 * Random generators: RandomUniform(Like), RandomNormal(Like), Bernoulli and Multinomial.
 *
 * ONNX fixes the distributions, not the generator, so the values here are not onnxruntime's:
 * they come from a counter-based generator — element i's k-th draw is a hash of (seed, i, k)
 * (the PCG output permutation applied twice; no state, so every element is independent and one
 * invocation per element suffices). The reference uses the same integer hash bit for bit, so the
 * kernels are checked exactly for uniform and Bernoulli draws and to float tolerance for the
 * transcendental ones (Box–Muller normals, Multinomial's softmax). A missing `seed` attribute
 * means seed 0 (runs are reproducible; ONNX leaves the seed unspecified then).
 *  - uniform: low + (high − low)·u, u = top 24 bits / 2²⁴ ∈ [0, 1) (exact in f32);
 *  - normal: mean + scale·√(−2 ln(1 − u₁))·cos(2π u₂) (Box–Muller; 1 − u₁ ∈ (0, 1]);
 *  - Bernoulli: 1 where u < p;
 *  - Multinomial: per sample, the first class whose cumulative softmax weight exceeds u·total.
 * `naive`: one output element per invocation.
 */
import type { DType } from '../onnx/dtype.js';
import { supported, unsupported, type HostTensor, type Kernel, type LayerCase, type Support } from './types.js';
import { elements, lit } from './wgsl.js';
import { attrNum, gt, isFloat, values } from './movement.js';
import { simpleKernel, type Simple } from './indexing.js';

/** The seed as a 32-bit key (the float attribute's bits, so 1.0 and 1.5 differ). */
function seedKey(c: LayerCase): number {
  const s = c.layer.attrs.seed;
  if (typeof s !== 'number') return 0;
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, s);
  return b.getUint32(0);
}

/** PCG's RXS-M-XS output permutation of a 32-bit state (a good 32-bit integer hash). */
function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Draw k of element i: u ∈ [0, 1) with 24 random bits. */
function uniformHost(key: number, i: number, k: number): number {
  const h = pcg((pcg((key ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0) + i) >>> 0);
  return (h >>> 8) / 16777216;
}

const WGSL_RNG = (key: number) => `fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn uni(i: u32, k: u32) -> f32 {
  let h = pcg(pcg(${key >>> 0}u ^ ((k + 1u) * 0x9e3779b9u)) + i);
  return f32(h >> 8u) / 16777216.0f;
}`;

const TWO_PI = 2 * Math.PI;

function normalHost(key: number, i: number, mean: number, scale: number): number {
  const u1 = uniformHost(key, i, 0), u2 = uniformHost(key, i, 1);
  return mean + scale * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(TWO_PI * u2);
}

function outArray(dtype: DType, n: number): HostTensor['data'] {
  if (isFloat(dtype)) return new Float32Array(n);
  if (dtype === 'bool' || dtype === 'uint8') return new Uint8Array(n);
  if (dtype.startsWith('uint')) return new Uint32Array(n);
  return new Int32Array(n);
}

function floatOut(c: LayerCase): Support {
  const o = c.layer.outputs[0];
  if (!isFloat(o.dtype)) return unsupported(`${o.dtype} output: only float32/float16`);
  return supported;
}

const uniformSpec: Simple = {
  name: 'random-uniform',
  ops: ['RandomUniform', 'RandomUniformLike'],
  variant: 'naive',
  description: 'one output element per invocation, a counter-based hash draw',
  bound: () => [],
  check: floatOut,
  helpers: (c) => WGSL_RNG(seedKey(c)),
  body(c) {
    const lo = attrNum(c, 'low', 0), hi = attrNum(c, 'high', 1);
    return `  y[gid] = ${gt(c.layer.outputs[0])}(${lit(lo, 'f32')} + ${lit(hi - lo, 'f32')} * uni(gid, 0u));`;
  },
  reference(c) {
    const o = c.layer.outputs[0];
    const lo = Math.fround(attrNum(c, 'low', 0)), span = Math.fround(attrNum(c, 'high', 1) - attrNum(c, 'low', 0));
    const key = seedKey(c);
    const y = new Float32Array(elements(o));
    for (let i = 0; i < y.length; i++) y[i] = lo + span * uniformHost(key, i, 0);
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

const normalSpec: Simple = {
  name: 'random-normal',
  ops: ['RandomNormal', 'RandomNormalLike'],
  variant: 'naive',
  description: 'one output element per invocation, Box–Muller on two hash draws',
  bound: () => [],
  check: floatOut,
  helpers: (c) => WGSL_RNG(seedKey(c)),
  body(c) {
    const mean = attrNum(c, 'mean', 0), scale = attrNum(c, 'scale', 1);
    return `  let r = sqrt(-2.0f * log(1.0f - uni(gid, 0u)));
  y[gid] = ${gt(c.layer.outputs[0])}(${lit(mean, 'f32')} + ${lit(scale, 'f32')} * r * cos(${lit(TWO_PI, 'f32')} * uni(gid, 1u)));`;
  },
  reference(c) {
    const o = c.layer.outputs[0];
    const key = seedKey(c);
    const y = new Float32Array(elements(o));
    for (let i = 0; i < y.length; i++) y[i] = normalHost(key, i, attrNum(c, 'mean', 0), attrNum(c, 'scale', 1));
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

const bernoulliSpec: Simple = {
  name: 'bernoulli',
  ops: ['Bernoulli'],
  variant: 'naive',
  description: 'one output element per invocation: 1 where a hash draw falls below p',
  bound: () => [0],
  check(c) {
    const x = c.layer.inputs[0];
    if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} probabilities: only float32/float16`);
    const o = c.layer.outputs[0];
    if (['float64', 'bfloat16', 'string'].includes(o.dtype)) return unsupported(`${o.dtype} output`);
    return supported;
  },
  helpers: (c) => WGSL_RNG(seedKey(c)),
  body(c) {
    const t = gt(c.layer.outputs[0]);
    return `  y[gid] = select(${t}(0), ${t}(1), uni(gid, 0u) < f32(in0[gid]));`;
  },
  reference(c, inputs) {
    const o = c.layer.outputs[0];
    const p = values(inputs[0]!);
    const key = seedKey(c);
    const y = outArray(o.dtype, elements(o));
    for (let i = 0; i < y.length; i++) y[i] = uniformHost(key, i, 0) < p[i] ? 1 : 0;
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

const multinomialSpec: Simple = {
  name: 'multinomial',
  ops: ['Multinomial'],
  variant: 'naive',
  description: 'one sample per invocation: a linear search of the cumulative softmax',
  bound: () => [0],
  check(c) {
    const x = c.layer.inputs[0];
    if (!x || !isFloat(x.dtype) || x.shape.length !== 2) return unsupported('input must be float32/float16 [batch, classes]');
    if (gt(c.layer.outputs[0]) !== 'i32') return unsupported(`${c.layer.outputs[0].dtype} output: only int32/int64`);
    return supported;
  },
  helpers: (c) => WGSL_RNG(seedKey(c)),
  body(c) {
    const [, C] = c.layer.inputs[0]!.shape;
    const S = c.layer.outputs[0].shape[1];
    return `  let b = gid / ${S}u;
  let base = b * ${C}u;
  var m = f32(in0[base]);
  for (var k = 1u; k < ${C}u; k++) { m = max(m, f32(in0[base + k])); }
  var total = 0.0f;
  for (var k = 0u; k < ${C}u; k++) { total += exp(f32(in0[base + k]) - m); }
  let goal = uni(gid, 0u) * total;
  var acc = 0.0f;
  var pick = ${C - 1}u;
  for (var k = 0u; k < ${C}u; k++) {
    acc += exp(f32(in0[base + k]) - m);
    if (acc > goal) { pick = k; break; }
  }
  y[gid] = i32(pick);`;
  },
  reference(c, inputs) {
    const [, C] = c.layer.inputs[0]!.shape;
    const o = c.layer.outputs[0];
    const S = o.shape[1];
    const x = values(inputs[0]!);
    const key = seedKey(c);
    const y = new Int32Array(elements(o));
    for (let g = 0; g < y.length; g++) {
      const base = Math.floor(g / S) * C;
      let m = -Infinity;
      for (let k = 0; k < C; k++) m = Math.max(m, x[base + k]);
      let total = 0;
      for (let k = 0; k < C; k++) total += Math.exp(x[base + k] - m);
      const target = uniformHost(key, g, 0) * total;
      let acc = 0, pick = C - 1;
      for (let k = 0; k < C; k++) {
        acc += Math.exp(x[base + k] - m);
        if (acc > target) { pick = k; break; }
      }
      y[g] = pick;
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

// Their reference is the kernels' own generator, bit for bit: onnxruntime draws other numbers.
export const kernels: Kernel[] = [uniformSpec, normalSpec, bernoulliSpec, multinomialSpec].map((s) => ({ ...simpleKernel(s), libraryReference: false }));
