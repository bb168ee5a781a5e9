/**
 * Recurrent layers: RNN, GRU and LSTM (ONNX semantics: forward, reverse and bidirectional;
 * optional bias, sequence_lens, initial states and LSTM peepholes; per-direction activations with
 * their alpha/beta; clip; GRU's linear_before_reset; LSTM's input_forget; layout 0 and 1).
 *
 * Gate equations (ONNX operator specification; W rows are ordered i,o,f,c for LSTM, z,r,h for GRU):
 *   RNN:  Hₜ = f(XₜWᵢᵀ + Hₜ₋₁Rᵢᵀ + Wbᵢ + Rbᵢ)
 *   GRU:  z = f(XWzᵀ + HRzᵀ + Wbz + Rbz), r = f(XWrᵀ + HRrᵀ + Wbr + Rbr)
 *         h̃ = g(XWhᵀ + (r⊙H)Rhᵀ + Rbh + Wbh)        (linear_before_reset = 0)
 *         h̃ = g(XWhᵀ + r⊙(HRhᵀ + Rbh) + Wbh)        (linear_before_reset = 1)
 *         Hₜ = (1 − z)⊙h̃ + z⊙Hₜ₋₁
 *   LSTM: i = f(XWiᵀ + HRiᵀ + Pi⊙C + Wbi + Rbi), f = f(… + Pf⊙C …) (or 1 − i with input_forget),
 *         c̃ = g(XWcᵀ + HRcᵀ + Wbc + Rbc), Cₜ = f⊙Cₜ₋₁ + i⊙c̃,
 *         o = f(XWoᵀ + HRoᵀ + Po⊙Cₜ + Wbo + Rbo), Hₜ = o⊙h(Cₜ)
 * `clip` bounds every gate pre-activation to [−clip, clip] (as onnxruntime does). With
 * sequence_lens, batch entry b runs lens[b] steps (the reverse direction walks its own valid
 * prefix backwards), Y is zero past lens[b] and Y_h/Y_c hold the state after its last valid step.
 *
 * The recurrence is inherently sequential: step t needs all of Hₜ₋₁. Every variant therefore
 * issues one dispatch (GRU without linear_before_reset: two) per time step, all directions and
 * batch entries at once, one invocation per (direction, batch, hidden unit) computing all the
 * unit's gates; the hidden (and cell) state lives in f32 scratch, double-buffered so a step never
 * reads what a neighbour of the same step writes. A first pass gathers bias, peepholes and
 * sequence lengths into one f32 scratch (binding count: devices may offer only 8 storage buffers
 * per stage), a second sets the initial state, the last copies the final state to Y_h/Y_c.
 * Variants:
 *  - `sequential`: each step computes its gates' input projections XₜWᵀ itself.
 *  - `precomputed-input`: one GEMM-shaped pass first computes XW = XWᵀ + Wb for all steps (the
 *    cuDNN optimisation: the input projections do not depend on the recurrence, so they become one
 *    large parallel product), then each step adds only the recurrent part HRᵀ. Costs a
 *    [dirs, seq, batch, gates·hidden] f32 scratch.
 * Float16 layers keep f16 in memory and compute in f32.
 */
import type { DType } from '../onnx/dtype.js';
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuSize, header, lit } from './wgsl.js';
import { attrNum, attrStr, decl, gt, isFloat, values } from './movement.js';
import type { LayerSignature } from '../ir/types.js';
import { numAttr } from './flops.js';

const KERNEL = 'recurrent';
/** Step passes have dirs·batch·hidden invocations — often a few hundred; small groups spread them over cores. */
const WG = 64;

// ---------------------------------------------------------------------------------------------
// Activations

interface Act { name: string; alpha: number; beta: number }

/** Activation functions ONNX allows in recurrent layers: [uses alpha, uses beta, default alpha, default beta]. */
const ACTS: Record<string, [boolean, boolean, number, number]> = {
  relu: [false, false, 0, 0], tanh: [false, false, 0, 0], sigmoid: [false, false, 0, 0],
  affine: [true, true, 1, 0], leakyrelu: [true, false, 0.01, 0], thresholdedrelu: [true, false, 1, 0],
  scaledtanh: [true, true, 1, 1], hardsigmoid: [true, true, 0.2, 0.5], elu: [true, false, 1, 0],
  softsign: [false, false, 0, 0], softplus: [false, false, 0, 0],
};

/** Stable forms: tanh via e^(−2|x|) and softplus via e^(−|x|) never overflow to inf/inf. */
function actWgsl(a: Act, x: string): string {
  const al = lit(a.alpha, 'f32'), be = lit(a.beta, 'f32');
  switch (a.name) {
    case 'relu': return `max(${x}, 0.0f)`;
    case 'tanh': return `tanh_s(${x})`;
    case 'sigmoid': return `(1.0f / (1.0f + exp(-(${x}))))`;
    case 'affine': return `(${al} * ${x} + ${be})`;
    case 'leakyrelu': return `select(${al} * ${x}, ${x}, ${x} >= 0.0f)`;
    case 'thresholdedrelu': return `select(0.0f, ${x}, ${x} > ${al})`;
    case 'scaledtanh': return `(${al} * tanh_s(${be} * ${x}))`;
    case 'hardsigmoid': return `clamp(${al} * ${x} + ${be}, 0.0f, 1.0f)`;
    case 'elu': return `select(${al} * (exp(${x}) - 1.0f), ${x}, ${x} >= 0.0f)`;
    case 'softsign': return `(${x} / (1.0f + abs(${x})))`;
    default: return `(max(${x}, 0.0f) + log(1.0f + exp(-abs(${x}))))`;
  }
}

function actHost(a: Act, x: number): number {
  switch (a.name) {
    case 'relu': return Math.max(x, 0);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'affine': return a.alpha * x + a.beta;
    case 'leakyrelu': return x >= 0 ? x : a.alpha * x;
    case 'thresholdedrelu': return x > a.alpha ? x : 0;
    case 'scaledtanh': return a.alpha * Math.tanh(a.beta * x);
    case 'hardsigmoid': return Math.min(1, Math.max(0, a.alpha * x + a.beta));
    case 'elu': return x >= 0 ? x : a.alpha * (Math.exp(x) - 1);
    case 'softsign': return x / (1 + Math.abs(x));
    default: return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }
}

// ---------------------------------------------------------------------------------------------
// Geometry

type Cell = 'RNN' | 'GRU' | 'LSTM';
const GATES: Record<Cell, number> = { RNN: 1, GRU: 3, LSTM: 4 };
const ACT_COUNT: Record<Cell, number> = { RNN: 1, GRU: 2, LSTM: 3 };
const DEFAULT_ACTS: Record<Cell, string[]> = { RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'] };

interface Geo {
  cell: Cell;
  G: number;
  T: number;
  N: number;
  I: number;
  H: number;
  dirs: number;
  /** Per direction index, whether it walks time backwards. */
  reverse: boolean[];
  layout: 0 | 1;
  /** acts[d][k]: activation k (f, g, h) of direction d. */
  acts: Act[][];
  clip: number | null;
  lbr: boolean;
  inputForget: boolean;
  hasB: boolean;
  hasLens: boolean;
  hasH0: boolean;
  hasC0: boolean;
  hasP: boolean;
  /** Element types of X (W, R, B, P, initial states share it) and of the outputs. */
  xt: GpuType;
  yt: GpuType;
  dtype: DType;
}

/** Offsets into the params scratch (f32): bias [dirs, 2·G·H], peepholes [dirs, 3H], lens [N] (u32 bits). */
function paramLayout(g: Geo): { bias: number; peep: number; lens: number; total: number } {
  const bias = 0;
  const peep = bias + g.dirs * 2 * g.G * g.H;
  const lens = peep + (g.cell === 'LSTM' ? g.dirs * 3 * g.H : 0);
  return { bias, peep, lens, total: lens + g.N };
}

function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}
function numList(v: unknown): number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : [];
}

/** The geometry, or the reason the layer cannot be run. */
function geometryOf(c: LayerCase): Geo | string {
  const l = c.layer;
  const cell = l.op as Cell;
  if (!(cell in GATES)) return `op ${l.op} is not RNN, GRU or LSTM`;
  const G = GATES[cell];
  const [x, w, r, b, lens, h0, c0, p] = l.inputs;
  if (!x || !w || !r) return 'X, W or R is missing';
  if (x.shape.length !== 3 || w.shape.length !== 3 || r.shape.length !== 3) return 'X, W and R must be 3-D';
  for (const t of [x, w, r, b, h0, c0, p]) {
    if (t && !isFloat(t.dtype)) return `${t.dtype} tensors: only float32/float16`;
    if (t && t.dtype !== x.dtype) return 'X, W, R, B, initial states and P must share one element type';
  }
  const direction = attrStr(c, 'direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) return `direction ${direction}`;
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const reverse = direction === 'bidirectional' ? [false, true] : [direction === 'reverse'];
  const layout = attrNum(c, 'layout', 0);
  if (layout !== 0 && layout !== 1) return `layout ${layout}`;
  const [T, N] = layout === 0 ? [x.shape[0], x.shape[1]] : [x.shape[1], x.shape[0]];
  const I = x.shape[2];
  const H = r.shape[2];
  if (attrNum(c, 'hidden_size', H) !== H) return 'hidden_size differs from R';
  const eq = (s: readonly number[] | undefined, want: number[]): boolean => !!s && s.length === want.length && s.every((v, i) => v === want[i]);
  if (!eq(w.shape, [dirs, G * H, I])) return `W is [${w.shape}], expected [${dirs},${G * H},${I}]`;
  if (!eq(r.shape, [dirs, G * H, H])) return `R is [${r.shape}], expected [${dirs},${G * H},${H}]`;
  if (b && !eq(b.shape, [dirs, 2 * G * H])) return `B is [${b.shape}], expected [${dirs},${2 * G * H}]`;
  if (lens && (lens.dtype !== 'int32' && lens.dtype !== 'int64')) return `${lens.dtype} sequence_lens`;
  if (lens && !eq(lens.shape, [N])) return `sequence_lens is [${lens.shape}], expected [${N}]`;
  const stateShape = layout === 0 ? [dirs, N, H] : [N, dirs, H];
  if (h0 && !eq(h0.shape, stateShape)) return `initial_h is [${h0.shape}], expected [${stateShape}]`;
  if (cell === 'LSTM' && c0 && !eq(c0.shape, stateShape)) return `initial_c is [${c0.shape}], expected [${stateShape}]`;
  if (cell === 'LSTM' && p && !eq(p.shape, [dirs, 3 * H])) return `P is [${p.shape}], expected [${dirs},${3 * H}]`;
  if (cell !== 'LSTM' && l.inputs.length > 6) return `${cell} takes at most 6 inputs`;
  const names = strList(l.attrs.activations) ?? Array.from({ length: dirs }, () => DEFAULT_ACTS[cell]).flat();
  const k = ACT_COUNT[cell];
  if (names.length !== k * dirs) return `${names.length} activations, expected ${k * dirs}`;
  const alphas = numList(l.attrs.activation_alpha);
  const betas = numList(l.attrs.activation_beta);
  let ai = 0, bi = 0;
  const flat: Act[] = [];
  for (const n of names) {
    const name = n.toLowerCase();
    const spec = ACTS[name];
    if (!spec) return `activation ${n} is not supported`;
    // Alphas and betas are consumed in order by the activations that take them (onnxruntime's rule).
    const alpha = spec[0] ? alphas[ai++] ?? spec[2] : spec[2];
    const beta = spec[1] ? betas[bi++] ?? spec[3] : spec[3];
    flat.push({ name, alpha, beta });
  }
  const acts = Array.from({ length: dirs }, (_, d) => flat.slice(d * k, d * k + k));
  const clipA = l.attrs.clip;
  const clip = typeof clipA === 'number' ? clipA : null;
  if (clip !== null && !(clip > 0)) return `clip ${clip} must be positive`;
  if (l.outputs.length < 1) return 'no outputs';
  const yt = gt(l.outputs[0]);
  if (l.outputs.some((o) => gt(o) !== yt)) return 'outputs differ in element type';
  return {
    cell, G, T, N, I, H, dirs, reverse, layout: layout as 0 | 1, acts, clip,
    lbr: cell === 'GRU' && attrNum(c, 'linear_before_reset', 0) !== 0,
    inputForget: cell === 'LSTM' && attrNum(c, 'input_forget', 0) !== 0,
    hasB: !!b, hasLens: !!lens, hasH0: !!h0, hasC0: cell === 'LSTM' && !!c0, hasP: cell === 'LSTM' && !!p,
    xt: gt(x), yt, dtype: x.dtype,
  };
}

// ---------------------------------------------------------------------------------------------
// WGSL

const u = (n: number): string => `${n}u`;

/** WGSL flat index of X[t, b, i] (t, b, i are WGSL expressions). */
function xIndex(g: Geo, t: string, b: string, i: string): string {
  return g.layout === 0 ? `(${t} * ${u(g.N)} + ${b}) * ${u(g.I)} + ${i}` : `(${b} * ${u(g.T)} + ${t}) * ${u(g.I)} + ${i}`;
}
function yIndex(g: Geo, t: string): string {
  return g.layout === 0 ? `((${t} * ${u(g.dirs)} + d) * ${u(g.N)} + b) * ${u(g.H)} + j` : `((b * ${u(g.T)} + ${t}) * ${u(g.dirs)} + d) * ${u(g.H)} + j`;
}
/** Index of a [dirs, batch, H] (layout 1: [batch, dirs, H]) state tensor at (d, b, j). */
function stateIndex(g: Geo): string {
  return g.layout === 0 ? `(d * ${u(g.N)} + b) * ${u(g.H)} + j` : `(b * ${u(g.dirs)} + d) * ${u(g.H)} + j`;
}

/** Helper functions shared by the passes: stable tanh, clip and the per-direction activations. */
function helpers(g: Geo): string {
  const clip = g.clip === null ? 'return x;' : `return clamp(x, ${lit(-g.clip, 'f32')}, ${lit(g.clip, 'f32')});`;
  const fns = Array.from({ length: ACT_COUNT[g.cell] }, (_, k) => {
    const cases = g.acts.map((a, d) => (d === g.acts.length - 1 ? `  return ${actWgsl(a[k], 'x')};` : `  if (d == ${u(d)}) { return ${actWgsl(a[k], 'x')}; }`));
    return `fn act${k}(d: u32, x0: f32) -> f32 {\n  let x = clipv(x0);\n${cases.join('\n')}\n}`;
  });
  return `fn tanh_s(x: f32) -> f32 {
  let q = exp(-2.0f * abs(x));
  return sign(x) * (1.0f - q) / (1.0f + q);
}
fn clipv(x: f32) -> f32 { ${clip} }
${fns.join('\n')}
/** The cell's h activation is applied to Cₜ unclipped (clip bounds gate inputs only). */
fn act2raw(d: u32, x: f32) -> f32 {
${g.cell === 'LSTM' ? g.acts.map((a, d) => (d === g.acts.length - 1 ? `  return ${actWgsl(a[2], 'x')};` : `  if (d == ${u(d)}) { return ${actWgsl(a[2], 'x')}; }`)).join('\n') : '  return x;'}
}`;
}

type Slot = 'x' | 'w' | 'r' | 'prm' | 'y' | 'h' | 'c' | 'gs' | 'xw';

/** Bindings of a pass: declarations and buffer refs, in the order given. */
function bind(g: Geo, slots: Slot[]): { decls: string; buffers: BufferRef[] } {
  const info: Record<Slot, [GpuType, 'read' | 'read_write', BufferRef]> = {
    x: [g.xt, 'read', { kind: 'input', index: 0 }],
    w: [g.xt, 'read', { kind: 'input', index: 1 }],
    r: [g.xt, 'read', { kind: 'input', index: 2 }],
    y: [g.yt, 'read_write', { kind: 'output', index: 0 }],
    prm: ['f32', 'read', { kind: 'scratch', index: 0 }],
    h: ['f32', 'read_write', { kind: 'scratch', index: 1 }],
    c: ['f32', 'read_write', { kind: 'scratch', index: 2 }],
    gs: ['f32', 'read_write', { kind: 'scratch', index: 3 }],
    xw: ['f32', 'read', { kind: 'scratch', index: 4 }],
  };
  return {
    decls: slots.map((s, i) => decl(i, s, info[s][0], info[s][1])).join('\n'),
    buffers: slots.map((s) => info[s][2]),
  };
}

const stepUniform = `struct Params { step: u32, par: u32, pad0: u32, pad1: u32 };`;

function uniformsFor(step: number): ArrayBuffer {
  const b = new ArrayBuffer(16);
  new Uint32Array(b).set([step, step % 2, 0, 0]);
  return b;
}

/**
 * WGSL statements shared by the step passes: (d, b, j) from gid, the sequence length, the time
 * index of this step, the state offsets `cur`/`nxt`, and whether the step is past the sequence.
 */
function stepPrelude(g: Geo): string {
  const P = paramLayout(g);
  const rev = g.reverse.every((r) => !r) ? 'false' : g.reverse.every((r) => r) ? 'true' : 'd == 1u';
  return `  let j = gid % ${u(g.H)};
  let b = (gid / ${u(g.H)}) % ${u(g.N)};
  let d = gid / ${u(g.H * g.N)};
  let s = params.step;
  let len = ${g.hasLens ? `min(bitcast<u32>(prm[${u(P.lens)} + b]), ${u(g.T)})` : u(g.T)};
  let live = s < len;
  let time = select(s, len - 1u - s, ${rev} && live);
  let cur = ((params.par * ${u(g.dirs)} + d) * ${u(g.N)} + b) * ${u(g.H)};
  let nxt = (((1u - params.par) * ${u(g.dirs)} + d) * ${u(g.N)} + b) * ${u(g.H)};`;
}

/**
 * WGSL accumulating the pre-activations of gates `gates` for unit j into `a<g>`: bias (both
 * biases unless `noRb` lists a gate whose Rb is applied elsewhere), the input projection (from X·W
 * or from the precomputed XW scratch) and, unless `noR` lists the gate, the recurrent part from
 * the state at `cur` (or from `src`, a different vector).
 */
function gateSums(g: Geo, gates: number[], pre: boolean, opts: { noRb?: number[]; noR?: number[] } = {}): string {
  const P = paramLayout(g);
  const GH = g.G * g.H;
  const lines: string[] = [];
  for (const k of gates) {
    const wb = `prm[${u(P.bias)} + d * ${u(2 * GH)} + ${u(k * g.H)} + j]`;
    const rb = `prm[${u(P.bias)} + d * ${u(2 * GH)} + ${u(GH + k * g.H)} + j]`;
    const bias = g.hasB ? (opts.noRb?.includes(k) ? (pre ? '0.0f' : wb) : (pre ? rb : `${wb} + ${rb}`)) : '0.0f';
    // With the precomputed input, Wb is already inside XW.
    const x = pre ? ` + xw[((d * ${u(g.T)} + time) * ${u(g.N)} + b) * ${u(GH)} + ${u(k * g.H)} + j]` : '';
    lines.push(`  var a${k} = ${bias}${x};`);
  }
  if (!pre && g.I > 0) {
    lines.push(`  for (var i = 0u; i < ${u(g.I)}; i++) {
    let xv = f32(x[${xIndex(g, 'time', 'b', 'i')}]);
${gates.map((k) => `    a${k} += xv * f32(w[(d * ${u(GH)} + ${u(k * g.H)} + j) * ${u(g.I)} + i]);`).join('\n')}
  }`);
  }
  const rec = gates.filter((k) => !opts.noR?.includes(k));
  if (rec.length) {
    lines.push(`  for (var q = 0u; q < ${u(g.H)}; q++) {
    let hv = h[cur + q];
${rec.map((k) => `    a${k} += hv * f32(r[(d * ${u(GH)} + ${u(k * g.H)} + j) * ${u(g.H)} + q]);`).join('\n')}
  }`);
  }
  return lines.join('\n');
}

/** Statements for a step past the sequence's end: carry the state over, zero Y. */
function pastEnd(g: Geo, hasY: boolean, withC: boolean): string {
  return `  if (!live) {
    h[nxt + j] = h[cur + j];
${withC ? '    c[nxt + j] = c[cur + j];\n' : ''}${hasY ? `    y[${yIndex(g, 's')}] = ${g.yt}(0.0f);\n` : ''}    return;
  }`;
}

/** Whether the step passes read the params scratch (bias, sequence lengths or peepholes). */
const usesParams = (g: Geo): boolean => g.hasB || g.hasLens || g.hasP;

function stepPasses(g: Geo, variant: string, caps: DeviceCaps, hasY: boolean): Pass[] {
  const pre = variant === 'precomputed-input';
  const inSlots: Slot[] = pre ? ['xw', 'r'] : ['x', 'w', 'r'];
  const total = g.dirs * g.N * g.H;
  const wg = dispatch1d(total, WG, caps);
  const hdr = header([g.xt, g.yt]);
  const yStore = hasY ? `  y[${yIndex(g, 'time')}] = ${g.yt}(hn);\n` : '';
  const make = (label: string, slots: Slot[], body: string): Pass[] => {
    const { decls, buffers } = bind(g, slots);
    const wgsl = `${hdr}${decls}
${stepUniform}
@group(0) @binding(${slots.length}) var<uniform> params: Params;
${helpers(g)}

${entry1d(WG, total, body)}
`;
    return Array.from({ length: g.T }, (_, s) => ({ label: `${KERNEL}/${variant} ${g.cell} ${label} t=${s}`, wgsl, workgroups: wg, buffers, uniforms: uniformsFor(s) }));
  };
  const ySlot: Slot[] = hasY ? ['y'] : [];
  // With layout 'auto' a declared but unused binding is not in the layout: bind prm only when read.
  const prmSlot: Slot[] = usesParams(g) ? ['prm'] : [];
  if (g.cell === 'RNN') {
    return make('step', [...inSlots, ...prmSlot, ...ySlot, 'h'], `${stepPrelude(g)}
${pastEnd(g, hasY, false)}
${gateSums(g, [0], pre)}
  let hn = act0(d, a0);
  h[nxt + j] = hn;
${yStore}`);
  }
  if (g.cell === 'LSTM') {
    const P = paramLayout(g);
    const peep = (k: number) => (g.hasP ? ` + prm[${u(P.peep)} + d * ${u(3 * g.H)} + ${u(k * g.H)} + j] * ` : '');
    return make('step', [...inSlots, ...prmSlot, ...ySlot, 'h', 'c'], `${stepPrelude(g)}
${pastEnd(g, hasY, true)}
${gateSums(g, [0, 1, 2, 3], pre)}
  let cp = c[cur + j];
  let ig = act0(d, a0${g.hasP ? `${peep(0)}cp` : ''});
  let fg = ${g.inputForget ? '1.0f - ig' : `act0(d, a2${g.hasP ? `${peep(2)}cp` : ''})`};
  let cc = act1(d, a3);
  let cn = fg * cp + ig * cc;
  let og = act0(d, a1${g.hasP ? `${peep(1)}cn` : ''});
  let hn = og * act2raw(d, cn);
  c[nxt + j] = cn;
  h[nxt + j] = hn;
${yStore}`);
  }
  const P = paramLayout(g);
  const GH = g.G * g.H;
  const rbh = g.hasB ? `prm[${u(P.bias)} + d * ${u(2 * GH)} + ${u(GH + 2 * g.H)} + j]` : '0.0f';
  if (g.lbr) {
    // h̃ = g(XWh + r⊙(HRh + Rbh) + Wbh): the recurrent product of gate h stays apart from its input part.
    return make('step', [...inSlots, ...prmSlot, ...ySlot, 'h'], `${stepPrelude(g)}
${pastEnd(g, hasY, false)}
${gateSums(g, [0, 1, 2], pre, { noRb: [2], noR: [2] })}
  var rh = ${rbh};
  for (var q = 0u; q < ${u(g.H)}; q++) { rh += h[cur + q] * f32(r[(d * ${u(GH)} + ${u(2 * g.H)} + j) * ${u(g.H)} + q]); }
  let z = act0(d, a0);
  let rr = act0(d, a1);
  let ht = act1(d, a2 + rr * rh);
  let hn = (1.0f - z) * ht + z * h[cur + j];
  h[nxt + j] = hn;
${yStore}`);
  }
  // linear_before_reset = 0: h̃ needs (r⊙Hₜ₋₁) over all units, so z and r (with r⊙H) are a first
  // pass into the gate scratch gs = [rh | z] (each [dirs, batch, H]), h̃ and Hₜ a second.
  const half = g.dirs * g.N * g.H;
  const a = make('gates', [...inSlots, ...prmSlot, 'h', 'gs'], `${stepPrelude(g)}
  if (!live) { return; }
${gateSums(g, [0, 1], pre)}
  let o = (d * ${u(g.N)} + b) * ${u(g.H)} + j;
  gs[o] = act0(d, a1) * h[cur + j];
  gs[${u(half)} + o] = act0(d, a0);`);
  const bpass = make('candidate', [...inSlots, ...prmSlot, ...ySlot, 'h', 'gs'], `${stepPrelude(g)}
${pastEnd(g, hasY, false)}
${gateSums(g, [2], pre, { noR: [2] })}
  let o0 = (d * ${u(g.N)} + b) * ${u(g.H)};
  for (var q = 0u; q < ${u(g.H)}; q++) { a2 += gs[o0 + q] * f32(r[(d * ${u(GH)} + ${u(2 * g.H)} + j) * ${u(g.H)} + q]); }
  let z = gs[${u(half)} + o0 + j];
  let ht = act1(d, a2);
  let hn = (1.0f - z) * ht + z * h[cur + j];
  h[nxt + j] = hn;
${yStore}`);
  return a.flatMap((p, i) => [p, bpass[i]]);
}

function planOf(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const g = geometryOf(c) as Geo;
  const P = paramLayout(g);
  const hasY = elements(c.layer.outputs[0]) > 0;
  const stateN = g.dirs * g.N * g.H;
  const passes: Pass[] = [];
  const label = (p: string) => `${KERNEL}/${variant} ${g.cell} ${p}`;
  const hdr = header([g.xt, g.yt]);

  // Pass 1: params scratch = [B or 0 | P | lens as u32 bits].
  if (usesParams(g)) {
    const slots: Array<[number, string]> = [];
    if (g.hasB) slots.push([3, 'bsrc']);
    if (g.hasP) slots.push([7, 'psrc']);
    if (g.hasLens) slots.push([4, 'lsrc']);
    const decls = [...slots.map(([, n], i) => decl(i, n, n === 'lsrc' ? 'i32' : g.xt, 'read')), decl(slots.length, 'prm', 'f32', 'read_write')];
    const body = `  if (gid < ${u(P.peep)}) { prm[gid] = ${g.hasB ? 'f32(bsrc[gid])' : '0.0f'}; return; }
  if (gid < ${u(P.lens)}) { prm[gid] = ${g.hasP ? `f32(psrc[gid - ${u(P.peep)}])` : '0.0f'}; return; }
  prm[gid] = ${g.hasLens ? `bitcast<f32>(u32(max(lsrc[gid - ${u(P.lens)}], 0i)))` : '0.0f'};`;
    passes.push({
      label: label('params'), wgsl: `${hdr}${decls.join('\n')}\n\n${entry1d(WG, P.total, body)}\n`,
      workgroups: dispatch1d(P.total, WG, caps),
      buffers: [...slots.map(([index]) => ({ kind: 'input' as const, index })), { kind: 'scratch', index: 0 }],
    });
  }
  // Pass 2: initial state into parity 0 of h (and c).
  {
    const lstm = g.cell === 'LSTM';
    const slots: Array<[number, string]> = [];
    if (g.hasH0) slots.push([5, 'h0']);
    if (g.hasC0) slots.push([6, 'c0']);
    const decls = [...slots.map(([, n], i) => decl(i, n, g.xt, 'read')), decl(slots.length, 'h', 'f32', 'read_write')];
    if (lstm) decls.push(decl(slots.length + 1, 'c', 'f32', 'read_write'));
    const body = `  let j = gid % ${u(g.H)};
  let b = (gid / ${u(g.H)}) % ${u(g.N)};
  let d = gid / ${u(g.H * g.N)};
  let si = ${stateIndex(g)};
  h[gid] = ${g.hasH0 ? 'f32(h0[si])' : '0.0f'};
${lstm ? `  c[gid] = ${g.hasC0 ? 'f32(c0[si])' : '0.0f'};` : ''}`;
    const buffers: BufferRef[] = [...slots.map(([index]) => ({ kind: 'input' as const, index })), { kind: 'scratch', index: 1 }];
    if (lstm) buffers.push({ kind: 'scratch', index: 2 });
    passes.push({ label: label('init'), wgsl: `${hdr}${decls.join('\n')}\n\n${entry1d(WG, stateN, body)}\n`, workgroups: dispatch1d(stateN, WG, caps), buffers });
  }
  // Precomputed input: XW[d, t, b, n] = Σᵢ X[t, b, i]·W[d, n, i] + Wb[d, n], one output per invocation.
  if (variant === 'precomputed-input') {
    const GH = g.G * g.H;
    const total = g.dirs * g.T * g.N * GH;
    const decls = [decl(0, 'x', g.xt, 'read'), decl(1, 'w', g.xt, 'read'), decl(2, 'xw', 'f32', 'read_write')];
    if (g.hasB) decls.push(decl(3, 'prm', 'f32', 'read'));
    const body = `  let n = gid % ${u(GH)};
  let b = (gid / ${u(GH)}) % ${u(g.N)};
  let t = (gid / ${u(GH * g.N)}) % ${u(g.T)};
  let d = gid / ${u(GH * g.N * g.T)};
  var acc = ${g.hasB ? `prm[${u(P.bias)} + d * ${u(2 * GH)} + n]` : '0.0f'};
  let wo = (d * ${u(GH)} + n) * ${u(g.I)};
  for (var i = 0u; i < ${u(g.I)}; i++) { acc += f32(x[${xIndex(g, 't', 'b', 'i')}]) * f32(w[wo + i]); }
  xw[gid] = acc;`;
    passes.push({
      label: label('input-projection'), wgsl: `${hdr}${decls.join('\n')}\n\n${entry1d(WG, total, body)}\n`,
      workgroups: dispatch1d(total, WG, caps),
      buffers: [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }, { kind: 'scratch', index: 4 }, ...(g.hasB ? [{ kind: 'scratch' as const, index: 0 }] : [])],
    });
  }
  passes.push(...stepPasses(g, variant, caps, hasY));
  // Last pass: the final state (parity T mod 2) into Y_h and Y_c (when the node has them), in the output layout.
  const outs = c.layer.outputs.length;
  if (outs > 1) {
    const lstm = g.cell === 'LSTM' && outs > 2;
    const decls = [decl(0, 'h', 'f32', 'read'), decl(1, 'yh', g.yt, 'read_write')];
    const buffers: BufferRef[] = [{ kind: 'scratch', index: 1 }, { kind: 'output', index: 1 }];
    if (lstm) {
      decls.push(decl(2, 'c', 'f32', 'read'), decl(3, 'yc', g.yt, 'read_write'));
      buffers.push({ kind: 'scratch', index: 2 }, { kind: 'output', index: 2 });
    }
    const off = (g.T % 2) * stateN;
    const body = `  let j = gid % ${u(g.H)};
  let b = (gid / ${u(g.H)}) % ${u(g.N)};
  let d = gid / ${u(g.H * g.N)};
  let si = ${stateIndex(g)};
  yh[si] = ${g.yt}(h[${u(off)} + gid]);
${lstm ? `  yc[si] = ${g.yt}(c[${u(off)} + gid]);` : ''}`;
    passes.push({ label: label('final-state'), wgsl: `${hdr}${decls.join('\n')}\n\n${entry1d(WG, stateN, body)}\n`, workgroups: dispatch1d(stateN, WG, caps), buffers });
  }
  const gsBytes = g.cell === 'GRU' && !g.lbr ? 2 * stateN * 4 : 4;
  const xwBytes = variant === 'precomputed-input' ? g.dirs * g.T * g.N * g.G * g.H * 4 : 4;
  return {
    passes,
    scratch: [P.total * 4, 2 * stateN * 4, g.cell === 'LSTM' ? 2 * stateN * 4 : 4, gsBytes, xwBytes],
  };
}

// ---------------------------------------------------------------------------------------------
// Support

const VARIANTS = [
  { name: 'sequential', description: 'one dispatch per time step; each invocation computes one hidden unit\'s gates, input projection included' },
  { name: 'precomputed-input', description: 'input projections X·Wᵀ for all steps in one pass first, then one dispatch per step for the recurrent part (cuDNN-style)' },
];

function supportsOf(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (!VARIANTS.some((v) => v.name === variant)) return unsupported(`unknown variant ${variant}`);
  const g = geometryOf(c);
  if (typeof g === 'string') return unsupported(g);
  if ((g.xt === 'f16' || g.yt === 'f16') && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  if (g.T === 0 || g.N === 0 || g.H === 0 || g.I === 0) return unsupported('empty sequence, batch, input or hidden size');
  const tensors = [...c.layer.inputs, ...c.layer.outputs].filter((t): t is NonNullable<typeof t> => !!t);
  for (const t of tensors) {
    const bytes = elements(t) * gpuSize(gt(t));
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the storage binding limit`);
  }
  const plan = planOf(c, variant, caps);
  for (const s of plan.scratch) if (s > caps.maxStorageBufferBindingSize) return unsupported(`a ${s}-byte scratch buffer exceeds the storage binding limit`);
  const most = Math.max(...plan.passes.map((p) => p.buffers.length));
  if (most > caps.maxStorageBuffersPerShaderStage) return unsupported(`a pass binds ${most} storage buffers, the device allows ${caps.maxStorageBuffersPerShaderStage}`);
  return supported;
}

// ---------------------------------------------------------------------------------------------
// Reference

function referenceOf(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = geometryOf(c);
  if (typeof g === 'string') throw new Error(`${c.layer.op}: ${g}`);
  const [X, W, R, B, L, H0, C0, Pp] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (inputs[i] ? values(inputs[i]!) : null));
  const { T, N, I, H, G, dirs } = g;
  const GH = G * H;
  const clip = (v: number) => (g.clip === null ? v : Math.min(g.clip, Math.max(-g.clip, v)));
  const y = new Float32Array(T * dirs * N * H);
  const yh = new Float32Array(dirs * N * H);
  const yc = new Float32Array(dirs * N * H);
  const xAt = (t: number, b: number, i: number) => X![g.layout === 0 ? (t * N + b) * I + i : (b * T + t) * I + i];
  const yAt = (t: number, d: number, b: number, j: number) => (g.layout === 0 ? ((t * dirs + d) * N + b) * H + j : ((b * T + t) * dirs + d) * H + j);
  const sAt = (d: number, b: number, j: number) => (g.layout === 0 ? (d * N + b) * H + j : (b * dirs + d) * H + j);
  for (let d = 0; d < dirs; d++) {
    const [f, gg, hh] = g.acts[d];
    const F = (v: number) => actHost(f, clip(v));
    const Gf = (v: number) => actHost(gg, clip(v));
    for (let b = 0; b < N; b++) {
      const len = L ? Math.max(0, Math.min(T, L[b])) : T;
      let h = Float64Array.from({ length: H }, (_, j) => (H0 ? H0[sAt(d, b, j)] : 0));
      let cs = Float64Array.from({ length: H }, (_, j) => (C0 ? C0[sAt(d, b, j)] : 0));
      // pre(k, j, withR): bias + XW for gate k of unit j, plus HR (of vector `src`) when given.
      const proj = (t: number, k: number, j: number, src: ArrayLike<number> | null, wb: boolean, rb: boolean): number => {
        const row = d * GH + k * H + j;
        let a = (B && wb ? B[d * 2 * GH + k * H + j] : 0) + (B && rb ? B[d * 2 * GH + GH + k * H + j] : 0);
        for (let i = 0; i < I; i++) a += xAt(t, b, i) * W![row * I + i];
        if (src) for (let q = 0; q < H; q++) a += src[q] * R![row * H + q];
        return a;
      };
      for (let s = 0; s < len; s++) {
        const t = g.reverse[d] ? len - 1 - s : s;
        const hn = new Float64Array(H);
        const cn = new Float64Array(H);
        if (g.cell === 'RNN') {
          for (let j = 0; j < H; j++) hn[j] = F(proj(t, 0, j, h, true, true));
        } else if (g.cell === 'LSTM') {
          for (let j = 0; j < H; j++) {
            const pk = (k: number) => (Pp ? Pp[d * 3 * H + k * H + j] : 0);
            const ig = F(proj(t, 0, j, h, true, true) + pk(0) * cs[j]);
            const fg = g.inputForget ? 1 - ig : F(proj(t, 2, j, h, true, true) + pk(2) * cs[j]);
            const cc = Gf(proj(t, 3, j, h, true, true));
            cn[j] = fg * cs[j] + ig * cc;
            const og = F(proj(t, 1, j, h, true, true) + pk(1) * cn[j]);
            hn[j] = og * actHost(hh, cn[j]);
          }
        } else {
          const z = Array.from({ length: H }, (_, j) => F(proj(t, 0, j, h, true, true)));
          const r = Array.from({ length: H }, (_, j) => F(proj(t, 1, j, h, true, true)));
          const rh = h.map((v, q) => v * r[q]);
          for (let j = 0; j < H; j++) {
            let ht: number;
            if (g.lbr) {
              let rec = B ? B[d * 2 * GH + GH + 2 * H + j] : 0;
              for (let q = 0; q < H; q++) rec += h[q] * R![(d * GH + 2 * H + j) * H + q];
              ht = Gf(proj(t, 2, j, null, true, false) + r[j] * rec);
            } else {
              ht = Gf(proj(t, 2, j, rh, true, true));
            }
            hn[j] = (1 - z[j]) * ht + z[j] * h[j];
          }
        }
        for (let j = 0; j < H; j++) y[yAt(t, d, b, j)] = hn[j];
        h = hn;
        if (g.cell === 'LSTM') cs = cn;
      }
      for (let j = 0; j < H; j++) { yh[sAt(d, b, j)] = h[j]; yc[sAt(d, b, j)] = cs[j]; }
    }
  }
  const outs = [y, yh, yc].slice(0, c.layer.outputs.length);
  return outs.map((data, i) => ({ dtype: c.layer.outputs[i].dtype, shape: [...c.layer.outputs[i].shape], data }));
}

/**
 * Per step, direction and batch row: gates = X·Wᵀ + H·Rᵀ (+ biases), 2·(I + H)·G·H FLOPs with
 * G = 4 (LSTM), 3 (GRU), 1 (RNN) gates (W is [dirs, G·H, I]), plus ~10 elementwise FLOPs per gate
 * element (activations, the cell and hidden updates).
 */
function cost(l: LayerSignature): number {
  const [x, w, r] = l.inputs;
  if (!x || !w || !r) return 0;
  const layout = numAttr(l.attrs.layout, 0);
  const seq = layout ? x.shape[1] : x.shape[0];
  const batch = layout ? x.shape[0] : x.shape[1];
  const [dirs, gatesH, inSize] = w.shape;
  const hidden = r.shape[2];
  return dirs * seq * batch * (2 * (inSize + hidden) * gatesH + 10 * gatesH);
}

export const recurrentKernel: Kernel = {
  name: KERNEL,
  ops: ['RNN', 'GRU', 'LSTM'],
  variants: VARIANTS,
  defaultVariant: () => 'sequential',
  supports: supportsOf,
  plan: planOf,
  reference: referenceOf,
  cost,
};

export const kernels: Kernel[] = [recurrentKernel];
