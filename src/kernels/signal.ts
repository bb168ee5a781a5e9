/**
 * Signal processing (ONNX opset 17+): DFT, STFT and the cosine windows.
 *  - DFT: Y[k] = Σₜ x[t]·e^(∓2πi·kt/N) along `axis` (inverse: + and a 1/N scale), N = dft_length
 *    (the signal zero-padded or truncated to it) or the axis length; onesided keeps bins
 *    0…⌊N/2⌋. Real (last dim 1) or complex (last dim 2) input, complex output.
 *  - STFT: frame f of the signal (frame_step apart, frame_length long, times the window when
 *    given) transformed the same way: [batch, frames, bins, 2].
 *  - HannWindow, HammingWindow, BlackmanWindow: w[n] = Σₖ (−1)ᵏ aₖ cos(2πkn/M), M = size
 *    (periodic) or size − 1 (symmetric). Shape inference folds small constant-size windows, so a
 *    window layer is one too large to fold.
 *  - MelWeightMatrix: triangular mel filters over the DFT bins, [dft_length/2 + 1, num_mel_bins].
 *    The filter edges (integer bin indices) come from the constant inputs on the host, as ONNX's
 *    reference computes them (mel points spaced by (high − low)/(num_mel_bins + 2), bin =
 *    ⌊(dft_length + 1)·hz / sample_rate⌋); the pass evaluates each element's rising or falling edge.
 * `naive`: one invocation per complex output value (its real and imaginary parts), an O(N) sum —
 * an O(N²) transform, the straightforward baseline an FFT would be measured against. The phase
 * k·t is reduced modulo N in integers before the float multiply, so twiddles stay accurate for
 * long transforms.
 */
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, lit, prod } from './wgsl.js';
import { WG, attrNum, checkTensors, constInts, decl, emptyPlan, gt, isFloat, pass1d, values } from './movement.js';


// ---------------------------------------------------------------------------------------------
// DFT

interface DftGeo { outer: number; L: number; inner: number; c: number; N: number; bins: number; inverse: boolean }

/** The transform axis: the attribute before opset 20 (normalized in), then input 2 (default −2). */
function dftAxis(c: LayerCase): number | undefined {
  const r = c.layer.inputs[0]!.shape.length;
  let a: number | undefined;
  if (typeof c.layer.attrs.axis === 'number') a = c.layer.attrs.axis;
  else if (c.layer.inputs[2]) a = constInts(c, 2)?.[0];
  else a = -2;
  if (a === undefined) return undefined;
  return a < 0 ? a + r : a;
}

function dftGeo(c: LayerCase): DftGeo | string {
  const x = c.layer.inputs[0];
  if (!x || x.shape.length < 3) return 'input must be [batch, signal…, 1|2]';
  const axis = dftAxis(c);
  if (axis === undefined || axis <= 0 || axis >= x.shape.length - 1) return 'axis is unknown or not a signal axis';
  const ch = x.shape[x.shape.length - 1];
  if (ch !== 1 && ch !== 2) return 'last dim must be 1 (real) or 2 (complex)';
  let N = x.shape[axis];
  if (c.layer.inputs[1]) {
    const v = constInts(c, 1)?.[0];
    if (v === undefined) return 'dft_length is not a constant';
    N = v;
  }
  const bins = c.layer.outputs[0].shape[axis];
  return {
    outer: prod(x.shape.slice(0, axis)), L: x.shape[axis], inner: prod(x.shape.slice(axis + 1, -1)), c: ch, N, bins,
    inverse: attrNum(c, 'inverse', 0) !== 0,
  };
}

/** WGSL helpers: the twiddle for phase index p of an N-point transform. */
const twiddle = (N: number, sign: number) => `fn tw(p: u32) -> vec2<f32> {
  let a = ${lit(sign * 2 * Math.PI / N, 'f32')} * f32(p);
  return vec2<f32>(cos(a), sin(a));
}`;

function complexPass(label: string, types: GpuType[], decls: string, helper: string, total: number, body: string, caps: DeviceCaps, buffers: BufferRef[]) {
  return pass1d(label, `${header(types)}${decls}\n${helper}\n\n${entry1d(WG, total, body)}\n`, total, caps, buffers);
}

function dftPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = dftGeo(c) as DftGeo;
  const t = gt(c.layer.outputs[0]);
  const total = elements(c.layer.outputs[0]) / 2;
  if (total === 0) return emptyPlan('signal/naive DFT', t);
  const T = Math.min(g.L, g.N);
  const im = g.c === 2 ? `f32(x[src + 1u])` : '0.0f';
  const body = `  let inr = gid % ${g.inner}u;
  let k = (gid / ${g.inner}u) % ${g.bins}u;
  let o = gid / ${g.inner * g.bins}u;
  var acc = vec2<f32>(0.0f);
  for (var n = 0u; n < ${T}u; n++) {
    let src = ((o * ${g.L}u + n) * ${g.inner}u + inr) * ${g.c}u;
    let v = vec2<f32>(f32(x[src]), ${im});
    let w = tw((k * n) % ${g.N}u);
    acc += vec2<f32>(v.x * w.x - v.y * w.y, v.x * w.y + v.y * w.x);
  }
${g.inverse ? `  acc = acc / ${lit(g.N, 'f32')};\n` : ''}  y[2u * gid] = ${t}(acc.x);
  y[2u * gid + 1u] = ${t}(acc.y);`;
  const decls = `${decl(0, 'x', gt(c.layer.inputs[0]!), 'read')}\n${decl(1, 'y', t, 'read_write')}`;
  return { passes: [complexPass('signal/naive DFT', [t], decls, twiddle(g.N, g.inverse ? 1 : -1), total, body, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
}

function dftReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = dftGeo(c) as DftGeo;
  const x = values(inputs[0]!);
  const o = c.layer.outputs[0];
  const y = new Float32Array(elements(o));
  const T = Math.min(g.L, g.N);
  const s = g.inverse ? 1 : -1;
  for (let i = 0; i < y.length / 2; i++) {
    const inr = i % g.inner, k = Math.floor(i / g.inner) % g.bins, oo = Math.floor(i / (g.inner * g.bins));
    let re = 0, imv = 0;
    for (let n = 0; n < T; n++) {
      const src = ((oo * g.L + n) * g.inner + inr) * g.c;
      const a = (s * 2 * Math.PI * ((k * n) % g.N)) / g.N;
      const vr = x[src], vi = g.c === 2 ? x[src + 1] : 0;
      re += vr * Math.cos(a) - vi * Math.sin(a);
      imv += vr * Math.sin(a) + vi * Math.cos(a);
    }
    y[2 * i] = g.inverse ? re / g.N : re;
    y[2 * i + 1] = g.inverse ? imv / g.N : imv;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
}

// ---------------------------------------------------------------------------------------------
// STFT

interface StftGeo { B: number; L: number; c: number; step: number; fl: number; frames: number; bins: number; window: boolean }

function stftGeo(c: LayerCase): StftGeo | string {
  const x = c.layer.inputs[0];
  if (!x || x.shape.length !== 3) return 'signal must be [batch, length, 1|2]';
  const step = constInts(c, 1)?.[0];
  if (step === undefined || step < 1) return 'frame_step is not a positive constant';
  const w = c.layer.inputs[2];
  const fl = c.layer.inputs[3] ? constInts(c, 3)?.[0] : w?.shape[0];
  if (fl === undefined) return 'frame_length is unknown';
  if (w && (w.shape.length !== 1 || w.shape[0] !== fl)) return 'window length differs from frame_length';
  const ch = x.shape[2];
  if (ch !== 1 && ch !== 2) return 'last dim must be 1 (real) or 2 (complex)';
  const [, frames, bins] = c.layer.outputs[0].shape;
  return { B: x.shape[0], L: x.shape[1], c: ch, step, fl, frames, bins, window: !!w };
}

function stftPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = stftGeo(c) as StftGeo;
  const t = gt(c.layer.outputs[0]);
  const total = elements(c.layer.outputs[0]) / 2;
  if (total === 0) return emptyPlan('signal/naive STFT', t);
  const xt = gt(c.layer.inputs[0]!);
  const win = g.window ? ' * f32(w[n])' : '';
  const body = `  let k = gid % ${g.bins}u;
  let f = (gid / ${g.bins}u) % ${g.frames}u;
  let b = gid / ${g.bins * g.frames}u;
  var acc = vec2<f32>(0.0f);
  for (var n = 0u; n < ${g.fl}u; n++) {
    let src = (b * ${g.L}u + f * ${g.step}u + n) * ${g.c}u;
    let v = vec2<f32>(f32(x[src]), ${g.c === 2 ? 'f32(x[src + 1u])' : '0.0f'})${win};
    let tw0 = tw((k * n) % ${g.fl}u);
    acc += vec2<f32>(v.x * tw0.x - v.y * tw0.y, v.x * tw0.y + v.y * tw0.x);
  }
  y[2u * gid] = ${t}(acc.x);
  y[2u * gid + 1u] = ${t}(acc.y);`;
  const decls = [decl(0, 'x', xt, 'read'), ...(g.window ? [decl(1, 'w', gt(c.layer.inputs[2]!), 'read')] : []), decl(g.window ? 2 : 1, 'y', t, 'read_write')].join('\n');
  const buffers: BufferRef[] = [{ kind: 'input', index: 0 }, ...(g.window ? [{ kind: 'input' as const, index: 2 }] : []), { kind: 'output', index: 0 }];
  return { passes: [complexPass('signal/naive STFT', [xt, t], decls, twiddle(g.fl, -1), total, body, caps, buffers)], scratch: [] };
}

function stftReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = stftGeo(c) as StftGeo;
  const x = values(inputs[0]!);
  const w = g.window ? values(inputs[2]!) : null;
  const o = c.layer.outputs[0];
  const y = new Float32Array(elements(o));
  for (let i = 0; i < y.length / 2; i++) {
    const k = i % g.bins, f = Math.floor(i / g.bins) % g.frames, b = Math.floor(i / (g.bins * g.frames));
    let re = 0, imv = 0;
    for (let n = 0; n < g.fl; n++) {
      const src = (b * g.L + f * g.step + n) * g.c;
      const s = w ? w[n] : 1;
      const vr = x[src] * s, vi = (g.c === 2 ? x[src + 1] : 0) * s;
      const a = (-2 * Math.PI * ((k * n) % g.fl)) / g.fl;
      re += vr * Math.cos(a) - vi * Math.sin(a);
      imv += vr * Math.sin(a) + vi * Math.cos(a);
    }
    y[2 * i] = re;
    y[2 * i + 1] = imv;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
}

// ---------------------------------------------------------------------------------------------
// Windows

const WINDOWS: Record<string, number[]> = {
  HannWindow: [0.5, 0.5],
  HammingWindow: [25 / 46, 21 / 46],
  BlackmanWindow: [0.42, 0.5, 0.08],
};

function windowM(c: LayerCase): number {
  const size = c.layer.outputs[0].shape[0];
  return attrNum(c, 'periodic', 1) !== 0 ? size : size - 1;
}

function windowPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `signal/naive ${c.layer.op}`;
  if (n === 0) return emptyPlan(label, t);
  const M = windowM(c);
  // WGSL has no unary plus: the first term carries no sign.
  const terms = WINDOWS[c.layer.op].map((a, k) => `${k % 2 ? '-' : k ? '+' : ''} ${lit(a, 'f32')} * ${k === 0 || M === 0 ? '1.0f' : `cos(${lit((2 * Math.PI * k) / M, 'f32')} * f32(gid))`}`);
  const body = `  y[gid] = ${t}(${terms.join(' ')});`;
  return { passes: [pass1d(label, `${header([t])}${decl(0, 'y', t, 'read_write')}\n\n${entry1d(WG, n, body)}\n`, n, caps, [{ kind: 'output', index: 0 }])], scratch: [] };
}

function windowReference(c: LayerCase): HostTensor[] {
  const o = c.layer.outputs[0];
  const M = windowM(c);
  const a = WINDOWS[c.layer.op];
  const y = new Float32Array(elements(o));
  for (let i = 0; i < y.length; i++) y[i] = a.reduce((s, ak, k) => s + (k % 2 ? -1 : 1) * ak * (M === 0 ? 1 : Math.cos((2 * Math.PI * k * i) / M)), 0);
  return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
}

// ---------------------------------------------------------------------------------------------
// MelWeightMatrix

/** The num_mel_bins + 2 filter edge bins, from the five constant inputs; undefined when not all are constants. */
function melBins(c: LayerCase): number[] | undefined {
  const v = [0, 1, 2, 3, 4].map((i) => c.consts[i]?.data[0]);
  if (v.some((x) => x === undefined || typeof x !== 'number')) return undefined;
  const [mel, len, rate, lo, hi] = v as number[];
  const toMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const step = (toMel(hi) - toMel(lo)) / (mel + 2);
  return Array.from({ length: mel + 2 }, (_, i) => {
    const hz = 700 * (10 ** ((i * step + toMel(lo)) / 2595) - 1);
    return Math.floor(((len + 1) * hz) / rate);
  });
}

/** Host value of element (j, i): the rising edge, then the falling edge over it. */
function melValue(b: number[], j: number, i: number): number {
  const [lo, c, hi] = [b[i], b[i + 1], b[i + 2]];
  let v = 0;
  if (c === lo) { if (j === c) v = 1; } else if (j >= lo && j <= c) v = (j - lo) / (c - lo);
  if (hi > c && j >= c && j < hi) v = (hi - j) / (hi - c);
  return v;
}

function melPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = 'signal/naive MelWeightMatrix';
  if (n === 0) return emptyPlan(label, t);
  const b = melBins(c)!;
  const M = c.layer.outputs[0].shape[1];
  const body = `  let i = gid % ${M}u;
  let j = i32(gid / ${M}u);
  let lo = edges[i];
  let c = edges[i + 1u];
  let hi = edges[i + 2u];
  var v = 0.0f;
  if (c == lo) { v = select(0.0f, 1.0f, j == c); } else if (j >= lo && j <= c) { v = f32(j - lo) / f32(c - lo); }
  if (hi > c && j >= c && j < hi) { v = f32(hi - j) / f32(hi - c); }
  y[gid] = ${t}(v);`;
  const wgsl = `${header([t])}${decl(0, 'y', t, 'read_write')}
const edges = array<i32, ${b.length}>(${b.map((x) => `${x}i`).join(', ')});

${entry1d(WG, n, body)}
`;
  return { passes: [pass1d(label, wgsl, n, caps, [{ kind: 'output', index: 0 }])], scratch: [] };
}

function melReference(c: LayerCase): HostTensor[] {
  const o = c.layer.outputs[0];
  const b = melBins(c)!;
  const M = o.shape[1];
  const y = new Float32Array(elements(o));
  for (let g = 0; g < y.length; g++) y[g] = melValue(b, Math.floor(g / M), g % M);
  return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
}

function melCheck(c: LayerCase): Support {
  const w = windowCheck(c);
  if (!w.ok) return w;
  const b = melBins(c);
  if (!b) return unsupported('num_mel_bins, dft_length, sample_rate and the edge frequencies must be constants');
  if (b.some((x) => !Number.isFinite(x) || Math.abs(x) > 2 ** 31)) return unsupported('filter edges out of range');
  return supported;
}

// ---------------------------------------------------------------------------------------------

function floatCheck(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
  if (gt(c.layer.outputs[0]) !== gt(x)) return unsupported('input and output types differ');
  return supported;
}

function kernel(name: string, ops: string[], description: string, check: (c: LayerCase) => Support, bound: (c: LayerCase) => number[],
  plan: (c: LayerCase, caps: DeviceCaps) => KernelPlan, reference: Kernel['reference']): Kernel {
  return {
    name, ops,
    variants: [{ name: 'naive', description }],
    defaultVariant: () => 'naive',
    supports(c, variant, caps) {
      if (variant !== 'naive') return unsupported(`unknown variant ${variant}`);
      const s = check(c);
      if (!s.ok) return s;
      return checkTensors(c, caps, bound(c), elements(c.layer.outputs[0]));
    },
    plan: (c, _v, caps) => plan(c, caps),
    reference,
  };
}

const asSupport = (g: unknown): Support => (typeof g === 'string' ? unsupported(g) : supported);
const both = (a: Support, b: () => Support): Support => (a.ok ? b() : a);

function windowCheck(c: LayerCase): Support {
  const o = c.layer.outputs[0];
  if (!isFloat(o.dtype)) return unsupported(`${o.dtype} output: only float32/float16`);
  return supported;
}

export const kernels: Kernel[] = [
  kernel('dft', ['DFT'], 'one invocation per complex output, an O(N) sum over the signal', (c) => both(floatCheck(c), () => asSupport(dftGeo(c))), () => [0], dftPlan, dftReference),
  kernel('stft', ['STFT'], 'one invocation per complex output, an O(frame_length) sum over the frame', (c) => both(floatCheck(c), () => asSupport(stftGeo(c))),
    (c) => (c.layer.inputs[2] ? [0, 2] : [0]), stftPlan, stftReference),
  kernel('window', Object.keys(WINDOWS), 'one output element per invocation', windowCheck, () => [], windowPlan, windowReference),
  kernel('mel-weight-matrix', ['MelWeightMatrix'], 'one output element per invocation, filter edges baked in', melCheck, () => [], melPlan, melReference),
];
