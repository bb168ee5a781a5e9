/**
 * Fused layers (domain `dlprof`): the kernels that run the chains the analysis finds fusable
 * (src/analysis/fusion.ts → fused-layers.ts), so that the "ideal" latency of `dlprof analyze` is a
 * measured time, not an estimate (Benanza: fusion is one of the lower-bound opportunities).
 *
 *  - `dlprof.FusedConv`: Y = act(conv(X, W) + B + R) — Conv (BatchNormalization already folded into
 *    W and B), bias, residual Add and activation in one kernel: the convolution's epilogue adds the
 *    bias and the residual and applies the activation before the only store of Y.
 *  - `dlprof.FusedMatMul`: Y = act(alpha·op(A)·op(B) + bias) — MatMul/Gemm, bias Add, activation.
 *  - `dlprof.Attention`: O = softmax(scale·Q·Kᵀ + mask)·V per (batch, head).
 *
 * Activations (attribute `activation`, parameters `activation_alpha`/`activation_beta`): none,
 * Relu, Clip (min/max), LeakyRelu (alpha), Sigmoid, HardSigmoid (alpha, beta), HardSwish, Tanh,
 * Gelu (exact, erf-based).
 *
 * Every variant computes in f32; float16 layers keep f16 in memory (converted on load and store).
 */
import type { LayerSignature, TensorType } from '../ir/types.js';
import { FloatAttr, type GraphBuilder } from '../onnx/write.js';
import {
  supported, unsupported,
  type AutotuneLevel, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support, type TuneConfig,
} from './types.js';
import { broadcastOffset, dispatch1d, elements, entry1d, gpuSize, gpuTypeOf, header, lit, prod, stridesOf, unravel } from './wgsl.js';
import { as2d, convGeometry, convolve, convOutputAddress, implicitGemmOperands, type ConvGeometry } from './conv.js';
import { GEMM_TILE, gemmPasses, gemmTile, gemmTuning, gemmWorkgroups, guardedLanes4, type GemmSpec, type GemmTile } from './gemm.js';
import { EPILOGUE_OPS, epilogueOf } from './elementwise.js';
import { geometry as matmulGeometry, type Geometry as MatmulGeometry } from './matmul.js';
import { numAttr, numsAttr } from './flops.js';

const u = (n: number): string => `${n}u`;

function attrNum(c: LayerCase, k: string, d: number): number {
  const v = c.layer.attrs[k];
  return typeof v === 'number' ? v : d;
}

// ---------------------------------------------------------------------------------------------
// Activations

/** 'none', or an activation with a fusion epilogue (elementwise.ts epilogueOf: the op's one definition). */
const ACTIVATIONS = ['none', ...EPILOGUE_OPS];

interface Act { kind: string; alpha: number; beta: number }

function activationOf(c: LayerCase): Act | null {
  const a = c.layer.attrs.activation;
  const kind = a === undefined ? 'none' : a;
  if (typeof kind !== 'string' || !ACTIVATIONS.includes(kind)) return null;
  return { kind, alpha: attrNum(c, 'activation_alpha', 0), beta: attrNum(c, 'activation_beta', 0) };
}

function checkActivation(c: LayerCase): Support | null {
  return activationOf(c) ? null : unsupported(`activation ${JSON.stringify(c.layer.attrs.activation)} is not one of ${ACTIVATIONS.join(', ')}`);
}

/** WGSL `fn act(x: f32) -> f32`, with the epilogue's helpers. */
function actWgsl(a: Act): string {
  if (a.kind === 'none') return 'fn act(x: f32) -> f32 { return x; }';
  const { helpers, body } = epilogueOf(a.kind)!.wgsl(a.alpha, a.beta);
  return `${helpers}\nfn act(x: f32) -> f32 { return ${body}; }`;
}

function actRef(a: Act): (x: number) => number {
  return a.kind === 'none' ? (x) => x : epilogueOf(a.kind)!.ref(a.alpha, a.beta);
}

// ---------------------------------------------------------------------------------------------
// Shared WGSL pieces

/** Storage element type of a float tensor; float32 and float16 layers only. */
function storageType(t: TensorType): GpuType {
  return gpuTypeOf(t.dtype);
}

/** `v` loaded from storage of type `st`, as f32. */
const ld = (v: string, st: GpuType): string => (st === 'f32' ? v : `f32(${v})`);
/** f32 `v` converted for storage of type `st`. */
const sv = (v: string, st: GpuType): string => (st === 'f32' ? v : `${st}(${v})`);

function decl(i: number, name: string, type: GpuType, write = false): string {
  return `@group(0) @binding(${i}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;
}

/** Bindings named by `names` in order; returns the declarations. */
function declAll(list: Array<{ name: string; type: GpuType; write?: boolean }>): string {
  return list.map((b, i) => decl(i, b.name, b.type, b.write)).join('\n');
}

/** The dtype, binding-size and binding-count checks every fused kernel shares. */
function checkTensors(c: LayerCase, caps: DeviceCaps): Support | null {
  const ts = [...c.layer.inputs, ...c.layer.outputs];
  for (const [i, t] of ts.entries()) {
    if (!t) continue;
    if (t.dtype !== 'float32' && t.dtype !== 'float16') return unsupported(`${t.dtype} is not supported (float32, float16)`);
    if (t.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
    if (t.dtype !== c.layer.outputs[0].dtype) return unsupported(`mixed dtypes (${t.dtype} and ${c.layer.outputs[0].dtype})`);
    const bytes = elements(t) * gpuSize(storageType(t));
    if (bytes > caps.maxStorageBufferBindingSize) {
      return unsupported(`${i < c.layer.inputs.length ? `input ${i}` : 'the output'} (${bytes} bytes) exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
    }
    if (elements(t) === 0) return unsupported('empty tensor');
  }
  const bound = ts.filter(Boolean).length;
  if (bound > caps.maxStorageBuffersPerShaderStage) return unsupported(`needs ${bound} storage buffers, the device allows ${caps.maxStorageBuffersPerShaderStage}`);
  return null;
}

function checkGrid(what: string, xs: number[], caps: DeviceCaps): Support | null {
  const lim = caps.maxComputeWorkgroupsPerDimension;
  return xs.every((x) => x <= lim) ? null : unsupported(`the ${what} grid (${xs.join('×')} workgroups) exceeds the dispatch limit of ${lim} per dimension`);
}

function checkDispatch1d(total: number, wg: number, caps: DeviceCaps): Support | null {
  const groups = Math.ceil(total / wg);
  const lim = caps.maxComputeWorkgroupsPerDimension;
  return Math.ceil(groups / lim) <= lim ? null : unsupported(`${total} invocations exceed the dispatch limits`);
}

// ---------------------------------------------------------------------------------------------
// The GEMM core (gemm.ts) with a caller-defined loader and epilogue (implicit-gemm-fused, tiled-fused)

/**
 * Per batch z: C(m, p) = Σ_k A(m, k)·B(k, p), 0 ≤ m < M, 0 ≤ p < P, 0 ≤ k < K, on the shared GEMM
 * core and its tile. The caller's WGSL functions `ldA(z, m, k)` / `ldB(z, k, p)` are called in
 * range only (the core zero-fills the rest of a tile) and `epi(z, m, p, v)` stores the finished
 * value.
 */
interface FusedGemm {
  M: number;
  P: number;
  K: number;
  /** Module-scope declarations: bindings, `fn ldA`, `fn ldB`, `fn epi`, private variables. */
  decls: string;
  /** Statements run once per invocation before the K loop (`z` = batch index known). */
  prelude: string;
  st: GpuType;
}

function gemmGrid(s: Pick<FusedGemm, 'M' | 'P'>, batches: number, caps: DeviceCaps): [number, number, number] | null {
  return gemmWorkgroups({ ...s, tile: GEMM_TILE }, batches, caps);
}

function fusedGemm(s: FusedGemm, tile: GemmTile): GemmSpec {
  return {
    ct: 'f32', M: s.M, P: s.P, K: s.K, tile,
    decls: `${header([s.st])}${s.decls}`,
    prelude: `  let z = bz;\n${s.prelude}`,
    // A's 4 reduction indices k … k+3 (k < K), B's 4 columns bp … bp+3 (clamped: columns ≥ P are not stored).
    loadA4: (m, k) => `        av = ${guardedLanes4('f32', (e) => `ldA(z, ${m}, ${e === 0 ? k : `min(${k} + ${e}, gK - 1)`})`, k)};`,
    loadB4: (k) => `        bv = vec4<f32>(${[0, 1, 2, 3].map((i) => `ldB(z, ${k}, min(bp + ${i}, gP - 1))`).join(', ')});`,
    store: (m, p, v) => `epi(z, ${m}, ${p}, ${v});`,
  };
}

// ---------------------------------------------------------------------------------------------
// FusedConv

const isDepthwise = (g: ConvGeometry): boolean => g.G > 1 && g.G === g.C && g.G === g.M;

/** Bindings X, W, (B), (R), Y and the WGSL epilogue `fn fin(m, yo, v) -> f32` = act(v + B[m] + R[yo]). */
function convIo(c: LayerCase, g: ConvGeometry): { decls: string; buffers: Pass['buffers'] } {
  const st = g.st;
  const list: Array<{ name: string; type: GpuType; write?: boolean }> = [{ name: 'X', type: st }, { name: 'W', type: st }];
  const buffers: Pass['buffers'] = [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }];
  const hasB = !!c.layer.inputs[2];
  const hasR = !!c.layer.inputs[3];
  if (hasB) { list.push({ name: 'Bias', type: st }); buffers.push({ kind: 'input', index: 2 }); }
  if (hasR) { list.push({ name: 'R', type: st }); buffers.push({ kind: 'input', index: 3 }); }
  list.push({ name: 'Y', type: st, write: true });
  buffers.push({ kind: 'output', index: 0 });
  const terms = ['v', hasB ? ld('Bias[m]', st) : '', hasR ? ld('R[yo]', st) : ''].filter(Boolean).join(' + ');
  const decls = `${declAll(list)}
${actWgsl(activationOf(c)!)}
fn fin(m: u32, yo: u32, v: f32) -> f32 { return act(${terms}); }
`;
  return { decls, buffers };
}

/** direct-fused: one invocation per output element, any rank, groups and dilations. */
function convDirect(c: LayerCase, g: ConvGeometry, caps: DeviceCaps): KernelPlan {
  const io = convIo(c, g);
  const osp = prod(g.outs);
  const isp = prod(g.ins);
  const ksp = prod(g.k);
  const total = g.N * g.M * osp;
  const inSt = stridesOf(g.ins);
  const kSt = stridesOf(g.k);
  const outSt = stridesOf(g.outs);
  const l: string[] = [];
  l.push(`  let sp = gid % ${u(osp)};`);
  l.push(`  let m = (gid / ${u(osp)}) % ${u(g.M)};`);
  l.push(`  let n = gid / ${u(osp * g.M)};`);
  l.push(`  let grp = m / ${u(g.Mg)};`);
  for (let i = 0; i < g.nd; i++) l.push(`  let o${i} = i32((sp / ${u(outSt[i])}) % ${u(g.outs[i])});`);
  l.push(`  let xb = (n * ${u(g.C)} + grp * ${u(g.Cg)}) * ${u(isp)};`);
  l.push(`  let wb = m * ${u(g.Cg * ksp)};`);
  l.push('  var acc = 0.0;');
  l.push(`  for (var k = 0u; k < ${u(ksp)}; k++) {`);
  const conds: string[] = [];
  const offs: string[] = [];
  for (let i = 0; i < g.nd; i++) {
    l.push(`    let i${i} = o${i} * ${g.s[i]}i + i32((k / ${u(kSt[i])}) % ${u(g.k[i])}) * ${g.d[i]}i - ${g.pb[i]}i;`);
    conds.push(`i${i} >= 0 && i${i} < ${g.ins[i]}i`);
    offs.push(`u32(i${i}) * ${u(inSt[i])}`);
  }
  l.push(`    if (${conds.join(' && ')}) {`);
  l.push(`      let xo = xb + ${offs.join(' + ')};`);
  l.push(`      for (var ci = 0u; ci < ${u(g.Cg)}; ci++) {`);
  l.push(`        acc = fma(${ld(`X[xo + ci * ${u(isp)}]`, g.st)}, ${ld(`W[wb + ci * ${u(ksp)} + k]`, g.st)}, acc);`);
  l.push('      }');
  l.push('    }');
  l.push('  }');
  l.push(`  Y[gid] = ${sv('fin(m, gid, acc)', g.st)};`);
  const WG = 64;
  const wgsl = `${header([g.st])}${io.decls}
${entry1d(WG, total, l.join('\n'))}
`;
  return { passes: [{ label: 'fused/FusedConv direct-fused', wgsl, workgroups: dispatch1d(total, WG, caps), buffers: io.buffers }], scratch: [] };
}

/**
 * implicit-gemm-fused: per group, Y[m, p] = Σ_k W[m, k]·col[k, p] with p = (n, oh, ow) and
 * k = (c, kh, kw); the im2col element is computed while staging the B tile (never stored), and
 * the epilogue adds bias and residual and applies the activation before the store.
 */
function convGemm(c: LayerCase, g: ConvGeometry, caps: DeviceCaps, tile: GemmTile, label: string): KernelPlan {
  const io = convIo(c, g);
  // The convolution's own operands (conv.ts: W read element by element here, bound as scalars),
  // and its output address with the epilogue `fin` before the store.
  const spec: GemmSpec = {
    ct: 'f32', tile,
    decls: `${header([g.st])}${io.decls}`,
    ...implicitGemmOperands(g, 'f32', false),
    ...convOutputAddress(g),
    store: (m, _p, v) => `let mg = ymb + ${m}; let yo = yc + mg * yOHW; Y[yo] = ${sv(`fin(mg, yo, ${v})`, g.st)};`,
  };
  return gemmPasses(spec, g.G, caps, label, io.buffers);
}

/** depthwise-fused: a haloed input tile of one channel in workgroup memory, one output per invocation. */
const DW = { TOW: 16, TOH: 8 };

function dwTile(g: ConvGeometry): { IH: number; IW: number } {
  return { IH: (DW.TOH - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1, IW: (DW.TOW - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1 };
}

function convDepthwise(c: LayerCase, g: ConvGeometry): { wgsl: string; workgroups: [number, number, number]; buffers: Pass['buffers'] } {
  const io = convIo(c, g);
  const [H, Wd] = g.ins;
  const [OH, OW] = g.outs;
  const [KH, KW] = g.k;
  const { IH, IW } = dwTile(g);
  const T = DW.TOW * DW.TOH;
  const st = g.st;
  const taps: string[] = [];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      taps.push(`  acc = fma(tile[base + ${u(kh * g.d[0] * IW + kw * g.d[1])}], ${ld(`W[ch * ${u(KH * KW)} + ${u(kh * KW + kw)}]`, st)}, acc);`);
    }
  }
  const wgsl = `${header([st])}${io.decls}
var<workgroup> tile: array<f32, ${IH * IW}>;

@compute @workgroup_size(${DW.TOW}, ${DW.TOH})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let nc = wid.z;
  let ch = nc % ${u(g.C)};
  let oy0 = wid.y * ${u(DW.TOH)};
  let ox0 = wid.x * ${u(DW.TOW)};
  let iy0 = i32(oy0 * ${u(g.s[0])}) - ${g.pb[0]}i;
  let ix0 = i32(ox0 * ${u(g.s[1])}) - ${g.pb[1]}i;
  let xb = nc * ${u(H * Wd)};
  for (var e = lid; e < ${u(IH * IW)}; e += ${u(T)}) {
    let iy = iy0 + i32(e / ${u(IW)});
    let ix = ix0 + i32(e % ${u(IW)});
    var v = 0.0;
    if (iy >= 0 && iy < ${H}i && ix >= 0 && ix < ${Wd}i) { v = ${ld(`X[xb + u32(iy) * ${u(Wd)} + u32(ix)]`, st)}; }
    tile[e] = v;
  }
  workgroupBarrier();
  let oy = oy0 + lid3.y;
  let ox = ox0 + lid3.x;
  let base = lid3.y * ${u(g.s[0] * IW)} + lid3.x * ${u(g.s[1])};
  var acc = 0.0;
${taps.join('\n')}
  if (oy < ${u(OH)} && ox < ${u(OW)}) {
    let yo = nc * ${u(OH * OW)} + oy * ${u(OW)} + ox;
    Y[yo] = ${sv('fin(ch, yo, acc)', st)};
  }
}
`;
  return { wgsl, workgroups: [Math.ceil(OW / DW.TOW), Math.ceil(OH / DW.TOH), g.N * g.C], buffers: io.buffers };
}

const CONV_VARIANTS = [
  { name: 'direct-fused', description: 'one invocation per output element (any rank, groups, dilations), bias + residual + activation before the store' },
  { name: 'implicit-gemm-fused', description: 'implicit GEMM per group on the GEMM core (im2col while staging its tiles in workgroup memory) with the bias/residual/activation epilogue' },
  { name: 'depthwise-fused', description: 'group = C = Cout: a haloed input tile per workgroup in workgroup memory, one output per invocation, fused epilogue' },
];

function convSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const x = l.inputs[0];
  const w = l.inputs[1];
  if (!x || !w) return unsupported('input X or weight W is missing');
  if (x.shape.length < 3) return unsupported(`input rank ${x.shape.length}: FusedConv needs [N, C, spatial…]`);
  const bad = checkTensors(c, caps) ?? checkActivation(c);
  if (bad) return bad;
  const g = convGeometry(c);
  const r = l.inputs[3];
  if (r && r.shape.join(',') !== l.outputs[0].shape.join(',')) return unsupported(`residual [${r.shape.join(',')}] is not the output's shape [${l.outputs[0].shape.join(',')}]`);
  const b = l.inputs[2];
  if (b && elements(b) !== g.M) return unsupported(`bias of ${elements(b)} elements for ${g.M} output channels`);
  if (!Number.isInteger(g.Cg) || !Number.isInteger(g.Mg)) return unsupported(`group ${g.G} does not divide C ${g.C} and M ${g.M}`);
  switch (variant) {
    case 'direct-fused':
      return checkDispatch1d(g.N * g.M * prod(g.outs), 64, caps) ?? supported;
    case 'implicit-gemm-fused': {
      const g2 = as2d(g);
      if (!g2) return unsupported(`${g.nd}-D convolution: implicit-gemm-fused handles 1-D and 2-D`);
      return gemmGrid({ M: g2.Mg, P: g2.N * prod(g2.outs) }, g2.G, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'depthwise-fused': {
      const g2 = as2d(g);
      if (!g2) return unsupported(`${g.nd}-D convolution: depthwise-fused handles 1-D and 2-D`);
      if (!isDepthwise(g2)) return unsupported(`not a depthwise convolution (needs group = C = Cout; got group ${g.G}, C ${g.C}, Cout ${g.M})`);
      const t = dwTile(g2);
      if (t.IH * t.IW * 4 > caps.maxComputeWorkgroupStorageSize) return unsupported(`the haloed input tile (${t.IH}×${t.IW}) exceeds workgroup memory`);
      if (caps.maxComputeInvocationsPerWorkgroup < DW.TOW * DW.TOH) return unsupported(`needs ${DW.TOW * DW.TOH} invocations per workgroup`);
      return checkGrid('tile', [Math.ceil(g2.outs[1] / DW.TOW), Math.ceil(g2.outs[0] / DW.TOH), g2.N * g2.C], caps) ?? supported;
    }
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

function convPlan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const s = convSupports(c, variant, caps);
  if (!s.ok) throw new Error(`fused/FusedConv ${variant}: ${s.reason}`);
  const g = convGeometry(c);
  const label = `fused/FusedConv ${variant}`;
  if (variant === 'direct-fused') return convDirect(c, g, caps);
  const g2 = as2d(g)!;
  if (variant === 'implicit-gemm-fused') return convGemm(c, g2, caps, gemmTile(config), label);
  return { passes: [{ label, ...convDepthwise(c, g2) }], scratch: [] };
}

/** implicit-gemm-fused searches the GEMM core's tiles (gemm.ts gemmTuning), as conv's implicit-gemm. */
function convTuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
  if (variant !== 'implicit-gemm-fused' || !convSupports(c, variant, caps).ok) return [];
  const g2 = as2d(convGeometry(c))!;
  return gemmTuning({ M: g2.Mg, P: g2.N * prod(g2.outs), K: g2.Cg * prod(g2.k), batches: g2.G }, 'f32', caps, level);
}

function convDefault(c: LayerCase): string {
  const g = convGeometry(c);
  const g2 = as2d(g);
  if (!g2) return 'direct-fused';
  if (isDepthwise(g2)) return 'depthwise-fused';
  return g.G === 1 ? 'implicit-gemm-fused' : 'direct-fused';
}

/** The convolution's CPU reference (conv.ts convolve, with the bias), then + R and the activation. */
function convReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const f = actRef(activationOf(c)!);
  const res = inputs[3]?.data;
  const acc = convolve(convGeometry(c), inputs[0]!.data, inputs[1]!.data, inputs[2]?.data);
  const y = Float32Array.from(acc, (v, i) => f(v + (res ? res[i] : 0)));
  return [{ dtype: c.layer.outputs[0].dtype, shape: [...c.layer.outputs[0].shape], data: y }];
}

// ---------------------------------------------------------------------------------------------
// FusedMatMul

interface MmGeom { g: MatmulGeometry; alpha: number; trans: boolean }

/** MatMul semantics, or Gemm's (2-D, optional transposes) when transA/transB is set; bias handled here. */
function mmGeometry(c: LayerCase): MmGeom {
  const trans = attrNum(c, 'transA', 0) !== 0 || attrNum(c, 'transB', 0) !== 0;
  const layer = { ...c.layer, op: trans ? 'Gemm' : 'MatMul', inputs: [c.layer.inputs[0], c.layer.inputs[1]], attrs: { transA: attrNum(c, 'transA', 0), transB: attrNum(c, 'transB', 0) } };
  return { g: matmulGeometry({ layer, consts: [] }), alpha: attrNum(c, 'alpha', 1), trans };
}

/** Unidirectional (numpy) broadcast of `from` to `to`. */
function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  const lead = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[i + lead]);
}

/** Bindings, the batch-offset prelude and `fn epi(z, m, n, v)` (alpha, bias, activation, store). */
function mmIo(c: LayerCase, mg: MmGeom): { decls: string; prelude: string; buffers: Pass['buffers'] } {
  const { g } = mg;
  const st = g.st;
  const y = c.layer.outputs[0];
  const bias = c.layer.inputs[2];
  const list: Array<{ name: string; type: GpuType; write?: boolean }> = [{ name: 'A', type: st }, { name: 'B', type: st }];
  const buffers: Pass['buffers'] = [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }];
  if (bias) { list.push({ name: 'Bias', type: st }); buffers.push({ kind: 'input', index: 2 }); }
  list.push({ name: 'Y', type: st, write: true });
  buffers.push({ kind: 'output', index: 0 });
  // Batch offsets of A and B, computed once per invocation.
  const off: string[] = ['  var r = z;', '  oA = 0u;', '  oB = 0u;'];
  for (let d = g.batchShape.length - 1; d >= 0; d--) {
    const n = g.batchShape[d];
    if (n === 1) continue;
    off.push(`  { let i = r % ${u(n)}; r = r / ${u(n)};${g.aBatch[d] ? ` oA += i * ${u(g.aBatch[d])};` : ''}${g.bBatch[d] ? ` oB += i * ${u(g.bBatch[d])};` : ''} }`);
  }
  let biasOff = '0u';
  let biasPre = '';
  if (bias) {
    const bs = bias.shape;
    const ys = y.shape;
    const last2 = ys.length >= 2 && ys[ys.length - 2] === g.M && ys[ys.length - 1] === g.N;
    if (last2 && bs.slice(0, -2).every((d) => d === 1)) {
      // Bias varies at most along m and n: no need to unravel the output index.
      const bn = bs.length >= 1 ? bs[bs.length - 1] : 1;
      const bm = bs.length >= 2 ? bs[bs.length - 2] : 1;
      biasOff = [bm !== 1 ? `m * ${u(bn)}` : '', bn !== 1 ? 'n' : ''].filter(Boolean).join(' + ') || '0u';
    } else {
      biasPre = unravel(ys, 'yo', 'y');
      biasOff = broadcastOffset(ys, bs, 'y');
    }
  }
  const alpha = mg.alpha === 1 ? 'v' : `${lit(mg.alpha, 'f32')} * v`;
  const decls = `${declAll(list)}
var<private> oA: u32;
var<private> oB: u32;
${actWgsl(activationOf(c)!)}
fn ldA(z: u32, m: u32, k: u32) -> f32 { return ${ld(`A[oA + m * ${u(g.sAm)} + k * ${u(g.sAk)}]`, st)}; }
fn ldB(z: u32, k: u32, n: u32) -> f32 { return ${ld(`B[oB + k * ${u(g.sBk)} + n * ${u(g.sBn)}]`, st)}; }
fn epi(z: u32, m: u32, n: u32, v: f32) {
  let yo = z * ${u(g.M * g.N)} + m * ${u(g.N)} + n;
${biasPre}
  Y[yo] = ${sv(`act(${alpha}${bias ? ` + ${ld(`Bias[${biasOff}]`, st)}` : ''})`, st)};
}`;
  return { decls, prelude: off.join('\n'), buffers };
}

const MM_VARIANTS = [
  { name: 'tiled-fused', description: "the GEMM core's tiles staged in workgroup memory, a register block per invocation, alpha/bias/activation epilogue" },
  { name: 'naive-fused', description: 'one invocation per output element, a plain loop over K, alpha/bias/activation before the store' },
];

function mmSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const a = l.inputs[0];
  const b = l.inputs[1];
  if (!a || !b) return unsupported('missing A or B');
  const bad = checkTensors(c, caps) ?? checkActivation(c);
  if (bad) return bad;
  const trans = attrNum(c, 'transA', 0) !== 0 || attrNum(c, 'transB', 0) !== 0;
  if (trans && (a.shape.length !== 2 || b.shape.length !== 2)) return unsupported('transA/transB need 2-D A and B (Gemm)');
  if (a.shape.length < 2) return unsupported(`A of rank ${a.shape.length}: FusedMatMul needs A of rank ≥ 2`);
  if (b.shape.length < 1) return unsupported('B is a scalar');
  const mg = mmGeometry(c);
  const { g } = mg;
  if (g.batch * g.M * g.N !== elements(l.outputs[0])) return unsupported(`output [${l.outputs[0].shape.join(',')}] does not match the product's ${g.batch}×${g.M}×${g.N}`);
  const bias = l.inputs[2];
  if (bias && !broadcastsTo(bias.shape, l.outputs[0].shape)) return unsupported(`bias [${bias.shape.join(',')}] does not broadcast to the output [${l.outputs[0].shape.join(',')}]`);
  switch (variant) {
    case 'naive-fused':
      return checkDispatch1d(g.batch * g.M * g.N, 64, caps) ?? supported;
    case 'tiled-fused':
      return gemmGrid({ M: g.M, P: g.N }, g.batch, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

/** tiled-fused searches the GEMM core's tiles (gemm.ts gemmTuning), as matmul's tiled. */
function mmTuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
  if (variant !== 'tiled-fused' || !mmSupports(c, variant, caps).ok) return [];
  const { g } = mmGeometry(c);
  return gemmTuning({ M: g.M, P: g.N, K: g.K, batches: g.batch }, 'f32', caps, level);
}

function mmPlan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const s = mmSupports(c, variant, caps);
  if (!s.ok) throw new Error(`fused/FusedMatMul ${variant}: ${s.reason}`);
  const mg = mmGeometry(c);
  const { g } = mg;
  const io = mmIo(c, mg);
  const label = `fused/FusedMatMul ${variant}`;
  if (variant === 'tiled-fused') {
    const spec: FusedGemm = { M: g.M, P: g.N, K: g.K, decls: io.decls, prelude: io.prelude, st: g.st };
    return gemmPasses(fusedGemm(spec, gemmTile(config)), g.batch, caps, label, io.buffers);
  }
  const total = g.batch * g.M * g.N;
  const body = `  let n = gid % ${u(g.N)};
  let m = (gid / ${u(g.N)}) % ${u(g.M)};
  let z = gid / ${u(g.M * g.N)};
${io.prelude}
  var acc = 0.0;
  for (var k = 0u; k < ${u(g.K)}; k++) { acc = fma(ldA(z, m, k), ldB(z, k, n), acc); }
  epi(z, m, n, acc);`;
  const wgsl = `${header([g.st])}${io.decls}
${entry1d(64, total, body)}
`;
  return { passes: [{ label, wgsl, workgroups: dispatch1d(total, 64, caps), buffers: io.buffers }], scratch: [] };
}

/** Straightforward CPU product (double accumulation) from the shapes, then alpha, bias, activation. */
function mmReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const f = actRef(activationOf(c)!);
  const alpha = attrNum(c, 'alpha', 1);
  const ta = attrNum(c, 'transA', 0) !== 0;
  const tb = attrNum(c, 'transB', 0) !== 0;
  const A = inputs[0]!;
  const B = inputs[1]!;
  const bias = inputs[2];
  const y = c.layer.outputs[0];
  const out = new Float32Array(elements(y));
  const as = A.shape;
  const bs = B.shape.length === 1 ? [B.shape[0], 1] : B.shape;
  const M = ta ? as[1] : as[as.length - 2];
  const K = ta ? as[0] : as[as.length - 1];
  const N = tb ? bs[0] : bs[bs.length - 1];
  const ba = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const bo = Array.from({ length: rank }, (_, i) => {
    const x = ba[ba.length - rank + i] ?? 1;
    const z = bb[bb.length - rank + i] ?? 1;
    return x === 1 ? z : x;
  });
  const off = (idx: number[], shape: number[]): number => {
    let o = 0;
    const lead = idx.length - shape.length;
    for (let j = 0; j < shape.length; j++) o = o * shape[j] + (shape[j] === 1 ? 0 : idx[j + lead]);
    return o;
  };
  const ys = y.shape;
  const yst = stridesOf(ys);
  for (let bi = 0; bi < prod(bo); bi++) {
    const idx = bo.map((_, d) => Math.floor(bi / prod(bo.slice(d + 1))) % bo[d]);
    const oa = off(idx, ba) * M * K;
    const ob = off(idx, bb) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.data[oa + (ta ? k * M + m : m * K + k)] * B.data[ob + (tb ? n * K + k : k * N + n)];
        const yo = (bi * M + m) * N + n;
        let v = alpha * s;
        if (bias) {
          const yi = ys.map((_, d) => Math.floor(yo / yst[d]) % ys[d]);
          v += bias.data[off(yi, bias.shape)];
        }
        out[yo] = f(v);
      }
    }
  }
  return [{ dtype: y.dtype, shape: [...ys], data: out }];
}

// ---------------------------------------------------------------------------------------------
// Attention
//
// Three ops share these kernels: dlprof.Attention (the exporters' MatMul → scale → mask → Softmax →
// MatMul chain, found by analysis/fusion.ts), and onnxruntime's contrib ops
// com.microsoft.MultiHeadAttention (Q, K, V already projected, [batch, sequence, heads·head_size])
// and com.microsoft.Attention (the Q/K/V projection GEMM first, then multi-head attention on the
// packed result). The geometry below says where each operand lives and with which strides, so one
// WGSL generator serves the [batch…, rows, features] layout and the interleaved-heads layout alike.

type Ref = Pass['buffers'][number];

interface AttnGeom {
  /** Leading (batch, head) dims and their product. */
  lead: number[];
  batch: number;
  L: number;
  S: number;
  D: number;
  DV: number;
  /** The buffers holding Q, K, V and the additive mask (null: none). */
  ref: { q: Ref; k: Ref; v: Ref; m: Ref | null };
  /** Element offsets of Q, K and V in their buffers (packed QKV shares one buffer). */
  base: [number, number, number];
  /** Per lead dim, element strides of Q, K, V, the mask and the output (0 where broadcast). */
  qB: number[];
  kB: number[];
  vB: number[];
  mB: number[];
  oB: number[];
  /** Q(l, d) = base + l·qR + d; K(s, d) = base + s·sKs + d·sKd; V(s, j) = base + s·vR + j; O(l, j) = l·oR + j. */
  qR: number;
  sKs: number;
  sKd: number;
  vR: number;
  oR: number;
  /** Mask strides along l and s (0 where broadcast); null without a mask. */
  mask: { sL: number; sS: number } | null;
  /** Key s is visible from query l only when s ≤ l + S − L (onnxruntime's unidirectional). */
  causal: boolean;
  scale: number;
  st: GpuType;
}

/** Strides of an operand's leading dims broadcast to `lead` (0 where broadcast or absent). */
function leadStrides(shape: readonly number[], lead: readonly number[]): number[] {
  const ol = shape.slice(0, -2);
  const st = stridesOf(shape);
  return lead.map((_, d) => {
    const j = d - (lead.length - ol.length);
    return j < 0 || ol[j] === 1 ? 0 : st[j];
  });
}

/** Lead strides and (l, s) strides of an additive mask broadcast to [...lead, L, S]. */
function maskStrides(shape: readonly number[], lead: readonly number[]): { mB: number[]; mask: { sL: number; sS: number } } {
  // Pad the mask's shape to rank(lead) + 2 with leading 1s, then take strides where dims are not 1.
  const full = [...new Array<number>(Math.max(0, lead.length + 2 - shape.length)).fill(1), ...shape];
  const st = stridesOf(full);
  const r = full.length;
  return { mB: lead.map((_, d) => (full[d] === 1 ? 0 : st[d])), mask: { sL: full[r - 2] === 1 ? 0 : st[r - 2], sS: full[r - 1] === 1 ? 0 : st[r - 1] } };
}

const inRef = (index: number): Ref => ({ kind: 'input', index });

/** dlprof.Attention: Q [… , L, D], K [… , S, D] (or [… , D, S] with k_transposed), V [… , S, DV], mask. */
function attnGeometry(c: LayerCase): AttnGeom {
  const l = c.layer;
  const q = l.inputs[0]!.shape;
  const k = l.inputs[1]!.shape;
  const v = l.inputs[2]!.shape;
  const o = l.outputs[0].shape;
  const kT = attrNum(c, 'k_transposed', 0) !== 0;
  const lead = o.slice(0, -2);
  const L = q[q.length - 2];
  const D = q[q.length - 1];
  const S = kT ? k[k.length - 1] : k[k.length - 2];
  const DV = v[v.length - 1];
  const mt = l.inputs[3];
  const m = mt ? maskStrides(mt.shape, lead) : { mB: lead.map(() => 0), mask: null };
  return {
    lead, batch: prod(lead), L, S, D, DV,
    ref: { q: inRef(0), k: inRef(1), v: inRef(2), m: mt ? inRef(3) : null }, base: [0, 0, 0],
    qB: leadStrides(q, lead), kB: leadStrides(k, lead), vB: leadStrides(v, lead), mB: m.mB, oB: leadStrides(o, lead),
    qR: D, sKs: kT ? 1 : D, sKd: kT ? S : 1, vR: DV, oR: DV, mask: m.mask, causal: false,
    scale: attrNum(c, 'scale', 1), st: storageType(l.outputs[0]),
  };
}

/**
 * Multi-head attention over [B, L, h·D] tensors (heads interleaved in the last dim): lead = [B, h],
 * head n of row l at l·rowStride + n·headSize. `q`/`k`/`v` give each operand's buffer, element
 * offset, row stride and batch stride.
 */
function mhaGeometry(c: LayerCase, B: number, L: number, S: number, h: number, D: number, DV: number,
  q: [Ref, number, number, number], k: [Ref, number, number, number], v: [Ref, number, number, number], maskIndex: number): AttnGeom {
  const lead = [B, h];
  const mt = c.layer.inputs[maskIndex];
  const m = mt ? maskStrides(mt.shape, lead) : { mB: [0, 0], mask: null };
  return {
    lead, batch: B * h, L, S, D, DV,
    ref: { q: q[0], k: k[0], v: v[0], m: mt ? inRef(maskIndex) : null }, base: [q[1], k[1], v[1]],
    qB: [q[3], D], kB: [k[3], D], vB: [v[3], DV], mB: m.mB, oB: [L * h * DV, DV],
    qR: q[2], sKs: k[2], sKd: 1, vR: v[2], oR: h * DV, mask: m.mask,
    causal: attrNum(c, 'unidirectional', 0) !== 0,
    scale: attrNum(c, 'scale', 1 / Math.sqrt(D)), st: storageType(c.layer.outputs[0]),
  };
}

/** com.microsoft.MultiHeadAttention: query [B,L,h·D], key [B,S,h·D], value [B,S,h·DV], attention_bias (input 5). */
function mhaOpGeometry(c: LayerCase): AttnGeom {
  const [q, k, v] = c.layer.inputs.slice(0, 3).map((t) => t!.shape);
  const h = attrNum(c, 'num_heads', 1);
  const [B, L, HQ] = q;
  const S = k[1];
  const HV = v[2];
  return mhaGeometry(c, B, L, S, h, HQ / h, HV / h, [inRef(0), 0, HQ, L * HQ], [inRef(1), 0, HQ, S * HQ], [inRef(2), 0, HV, S * HV], 5);
}

/** com.microsoft.Attention: the projection [B,L,Din]·[Din, Dq+Dk+Dv] (+ bias) lands in scratch `proj`; Q, K, V are its column blocks. */
function packedGeometry(c: LayerCase, proj: number): AttnGeom {
  const x = c.layer.inputs[0]!.shape;
  const [dq, dk, dv] = qkvSizes(c);
  const h = attrNum(c, 'num_heads', 1);
  const W = dq + dk + dv;
  const [B, L] = x;
  const p: Ref = { kind: 'scratch', index: proj };
  return mhaGeometry(c, B, L, L, h, dq / h, dv / h, [p, 0, W, L * W], [p, dq, W, L * W], [p, dq + dk, W, L * W], 5);
}

function qkvSizes(c: LayerCase): [number, number, number] {
  const s = c.layer.attrs.qkv_hidden_sizes;
  if (Array.isArray(s) && s.length === 3) return s as [number, number, number];
  const w = c.layer.inputs[1]!.shape[1];
  return [w / 3, w / 3, w / 3];
}

/** `fn offs(b) -> vec4<u32>` (base offsets of Q, K, V and the mask for batch b) and `fn ooff(b) -> u32` (the output's). */
function offsFn(g: AttnGeom): string {
  const lines = ['  var r = b;', `  var o = vec4<u32>(${u(g.base[0])}, ${u(g.base[1])}, ${u(g.base[2])}, 0u);`];
  const olines = ['  var r = b;', '  var o = 0u;'];
  for (let d = g.lead.length - 1; d >= 0; d--) {
    const n = g.lead[d];
    if (n === 1) continue;
    lines.push(`  { let i = r % ${u(n)}; r = r / ${u(n)}; o += i * vec4<u32>(${u(g.qB[d])}, ${u(g.kB[d])}, ${u(g.vB[d])}, ${u(g.mB[d])}); }`);
    olines.push(`  { let i = r % ${u(n)}; r = r / ${u(n)}; o += i * ${u(g.oB[d])}; }`);
  }
  lines.push('  return o;');
  olines.push('  return o;');
  return `fn offs(b: u32) -> vec4<u32> {\n${lines.join('\n')}\n}\nfn ooff(b: u32) -> u32 {\n${olines.join('\n')}\n}`;
}

type Binding = { name: string; type: GpuType; write?: boolean; ref: Ref };

/**
 * Bindings of the operands a pass reads (`use`: any of 'QKVM'; the mask only when present) and
 * then `extra`. A pass must bind only what its shader uses: the pipeline's layout is 'auto'.
 * Packed Q, K and V may name the same buffer: read-only bindings may alias.
 */
function attnDecls(g: AttnGeom, use: string, extra: Binding[] = []) {
  const st = g.st;
  const all: Binding[] = [{ name: 'Q', type: st, ref: g.ref.q }, { name: 'K', type: st, ref: g.ref.k }, { name: 'V', type: st, ref: g.ref.v }];
  if (g.ref.m) all.push({ name: 'Mask', type: st, ref: g.ref.m });
  const list = all.filter((b) => use.includes(b.name[0]));
  list.push(...extra);
  return { decls: `${header([st])}${declAll(list)}\n${offsFn(g)}`, buffers: list.map((x) => x.ref) };
}

/** The mask term at (l, s) for base offset `mo`, as an f32 expression ('' without a mask). */
function maskTerm(g: AttnGeom, mo: string, l: string, s: string): string {
  if (!g.mask) return '';
  const parts = [mo, g.mask.sL ? `${l} * ${u(g.mask.sL)}` : '', g.mask.sS ? `${s} * ${u(g.mask.sS)}` : ''].filter(Boolean);
  return ` + ${ld(`Mask[${parts.join(' + ')}]`, g.st)}`;
}

/** `score` with keys hidden from query l set to −∞ (causal attention); `score` unchanged otherwise. */
function causalScore(g: AttnGeom, score: string, l: string, s: string): string {
  return g.causal ? `select(${score}, ${lit(-Infinity, 'f32')}, ${s} > ${l} + ${u(g.S - g.L)})` : score;
}

const ATTN_WG = 64;

/** unfused: scores (scale·QKᵀ + mask) into scratch `sc`, a row softmax in place, then ·V. */
function attnUnfused(g: AttnGeom, caps: DeviceCaps, sc: number): Pass[] {
  const st = g.st;
  const LS = g.L * g.S;
  const rows = g.batch * g.L;
  const total1 = g.batch * LS;
  const P: Ref = { kind: 'scratch', index: sc };
  const p1 = attnDecls(g, 'QKM', [{ name: 'P', type: 'f32', write: true, ref: P }]);
  const body1 = `  let s = gid % ${u(g.S)};
  let l = (gid / ${u(g.S)}) % ${u(g.L)};
  let o = offs(gid / ${u(LS)});
  var acc = 0.0;
  for (var d = 0u; d < ${u(g.D)}; d++) {
    acc = fma(${ld(`Q[o.x + l * ${u(g.qR)} + d]`, st)}, ${ld(`K[o.y + s * ${u(g.sKs)} + d * ${u(g.sKd)}]`, st)}, acc);
  }
  P[gid] = ${causalScore(g, `acc * ${lit(g.scale, 'f32')}${maskTerm(g, 'o.w', 'l', 's')}`, 'l', 's')};`;
  const wgsl1 = `${p1.decls}
${entry1d(ATTN_WG, total1, body1)}
`;
  // Row softmax: one workgroup per row, tree reductions in workgroup memory.
  const wgsl2 = `@group(0) @binding(0) var<storage, read_write> P: array<f32>;
var<workgroup> red: array<f32, ${ATTN_WG}>;

fn reduce(lid: u32, isMax: bool) -> f32 {
  for (var w = ${u(ATTN_WG / 2)}; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (lid < w) { red[lid] = select(red[lid] + red[lid + w], max(red[lid], red[lid + w]), isMax); }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ${u(rows)}) { return; }
  let base = row * ${u(g.S)};
  var mx = ${lit(-Infinity, 'f32')};
  for (var s = lid; s < ${u(g.S)}; s += ${u(ATTN_WG)}) { mx = max(mx, P[base + s]); }
  red[lid] = mx;
  mx = reduce(lid, true);
  var sum = 0.0;
  for (var s = lid; s < ${u(g.S)}; s += ${u(ATTN_WG)}) { let e = exp(P[base + s] - mx); P[base + s] = e; sum += e; }
  red[lid] = sum;
  sum = reduce(lid, false);
  let inv = 1.0 / sum;
  for (var s = lid; s < ${u(g.S)}; s += ${u(ATTN_WG)}) { P[base + s] = P[base + s] * inv; }
}
`;
  const total3 = g.batch * g.L * g.DV;
  const p3 = attnDecls(g, 'V', [
    { name: 'P', type: 'f32', ref: P },
    { name: 'O', type: st, write: true, ref: { kind: 'output', index: 0 } },
  ]);
  const body3 = `  let j = gid % ${u(g.DV)};
  let row = gid / ${u(g.DV)};
  let b = row / ${u(g.L)};
  let o = offs(b);
  let pb = row * ${u(g.S)};
  var acc = 0.0;
  for (var s = 0u; s < ${u(g.S)}; s++) { acc = fma(P[pb + s], ${ld(`V[o.z + s * ${u(g.vR)} + j]`, st)}, acc); }
  O[ooff(b) + (row % ${u(g.L)}) * ${u(g.oR)} + j] = ${sv('acc', st)};`;
  const wgsl3 = `${p3.decls}
${entry1d(ATTN_WG, total3, body3)}
`;
  return [
    { label: 'fused/Attention unfused scores', wgsl: wgsl1, workgroups: dispatch1d(total1, ATTN_WG, caps), buffers: p1.buffers },
    { label: 'fused/Attention unfused softmax', wgsl: wgsl2, workgroups: dispatch1d(rows, 1, caps), buffers: [P] },
    { label: 'fused/Attention unfused ·V', wgsl: wgsl3, workgroups: dispatch1d(total3, ATTN_WG, caps), buffers: p3.buffers },
  ];
}

/** Query rows per workgroup of the fused variant (one invocation per row). */
const FA_BR = 32;
const FA_MAX_D = 256;

/** Keys per tile: the largest power of two ≤ 32 whose K and V tiles fit workgroup memory. */
function faBlock(g: AttnGeom, caps: DeviceCaps): number {
  for (let bc = 32; bc >= 1; bc /= 2) if (bc * (g.D + g.DV) * 4 <= caps.maxComputeWorkgroupStorageSize) return bc;
  return 0;
}

/**
 * fused: FlashAttention's tiling (Dao et al. 2022, "FlashAttention", Algorithm 1) with one query
 * row per invocation: K and V tiles of BC keys are staged in workgroup memory, each invocation
 * scores its row against the tile, and the online softmax (Milakov & Gimelshein 2018) keeps a
 * running maximum mx and sum ℓ: with the tile's new maximum mx', the accumulator and ℓ are
 * rescaled by e^(mx − mx') before the tile's e^(s − mx')-weighted V rows are added; O = acc/ℓ.
 * No L×S scores ever reach memory. Causal masking never hides key 0, so every row's first tile
 * has a finite maximum and the rescaling never sees ∞ − ∞.
 */
function attnFused(g: AttnGeom, caps: DeviceCaps): Pass[] {
  const st = g.st;
  const BC = faBlock(g, caps);
  const p = attnDecls(g, 'QKVM', [{ name: 'O', type: st, write: true, ref: { kind: 'output', index: 0 } }]);
  const wgsl = `${p.decls}
var<workgroup> Ks: array<f32, ${BC * g.D}>;
var<workgroup> Vs: array<f32, ${BC * g.DV}>;

@compute @workgroup_size(${FA_BR})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let l = wid.x * ${u(FA_BR)} + lid;
  let lc = min(l, ${u(g.L - 1)});
  let o = offs(b);
  var q: array<f32, ${g.D}>;
  for (var d = 0u; d < ${g.D}; d++) { q[d] = ${ld(`Q[o.x + lc * ${u(g.qR)} + d]`, st)} * ${lit(g.scale, 'f32')}; }
  var acc: array<f32, ${g.DV}>;
  var sc: array<f32, ${BC}>;
  var mx = ${lit(-Infinity, 'f32')};
  var sum = 0.0;
  for (var s0 = 0u; s0 < ${u(g.S)}; s0 += ${u(BC)}) {
    let n = min(${u(BC)}, ${u(g.S)} - s0);
    for (var e = lid; e < ${u(BC * g.D)}; e += ${u(FA_BR)}) {
      let j = e / ${u(g.D)};
      let s = min(s0 + j, ${u(g.S - 1)});
      Ks[e] = ${ld(`K[o.y + s * ${u(g.sKs)} + (e % ${u(g.D)}) * ${u(g.sKd)}]`, st)};
    }
    for (var e = lid; e < ${u(BC * g.DV)}; e += ${u(FA_BR)}) {
      let s = min(s0 + e / ${u(g.DV)}, ${u(g.S - 1)});
      Vs[e] = ${ld(`V[o.z + s * ${u(g.vR)} + e % ${u(g.DV)}]`, st)};
    }
    workgroupBarrier();
    var tmax = mx;
    for (var j = 0u; j < n; j++) {
      var dot = 0.0;
      for (var d = 0u; d < ${g.D}; d++) { dot = fma(q[d], Ks[j * ${g.D} + d], dot); }
      let v = ${causalScore(g, `dot${maskTerm(g, 'o.w', 'lc', '(s0 + j)')}`, 'lc', '(s0 + j)')};
      sc[j] = v;
      tmax = max(tmax, v);
    }
    let corr = exp(mx - tmax);
    sum = sum * corr;
    for (var d = 0u; d < ${g.DV}; d++) { acc[d] = acc[d] * corr; }
    for (var j = 0u; j < n; j++) {
      let pj = exp(sc[j] - tmax);
      sum += pj;
      for (var d = 0u; d < ${g.DV}; d++) { acc[d] = fma(pj, Vs[j * ${g.DV} + d], acc[d]); }
    }
    mx = tmax;
    workgroupBarrier();
  }
  if (l < ${u(g.L)}) {
    let inv = 1.0 / sum;
    let ob = ooff(b) + l * ${u(g.oR)};
    for (var d = 0u; d < ${g.DV}; d++) { O[ob + d] = ${sv('acc[d] * inv', st)}; }
  }
}
`;
  return [{ label: 'fused/Attention fused', wgsl, workgroups: [Math.ceil(g.L / FA_BR), g.batch, 1], buffers: p.buffers }];
}

/** fused-split: lanes per query row (each takes every FS_W-th key of a tile) and rows per workgroup. */
const FS_W = 8;
const FS_R = 8;
const FS_T = FS_W * FS_R;

/**
 * fused-split's keys per tile (a power of two, 8 to 64, whose K and V rows fit workgroup memory,
 * each padded by one element) and the feature chunk its lanes merge at a time; 0 keys: does not fit.
 */
function fsLayout(g: AttnGeom, caps: DeviceCaps): { BC: number; DC: number; floats: number } {
  const limit = Math.floor(caps.maxComputeWorkgroupStorageSize / 4);
  let BC = 64;
  while (BC >= FS_W && BC * (g.D + g.DV + 2) > limit) BC /= 2;
  const DC = Math.min(g.DV, Math.floor((limit - 2 * FS_T) / FS_T));
  if (BC < FS_W || DC < 1) return { BC: 0, DC: 0, floats: 0 };
  return { BC, DC, floats: Math.max(BC * (g.D + g.DV + 2), 2 * FS_T + FS_T * DC) };
}

/**
 * fused-split: FlashAttention with each query row split across FS_W lanes (FlashAttention-2's
 * parallelism within a row, as FlashDecoding splits the keys): a workgroup holds FS_R rows of one
 * batch and head, and stages K and V tiles of BC keys in workgroup memory, each row padded by one
 * element so that the lanes of a row, reading different keys, hit different banks. Lane w scores
 * keys w, w + FS_W, … of each tile against its row and keeps its own online softmax (running
 * maximum, sum, accumulator); at the end the lanes of a row merge theirs through workgroup memory
 * (m = max mᵢ, ℓ = Σ e^(mᵢ − m)ℓᵢ, O = Σ e^(mᵢ − m)accᵢ / ℓ), a chunk of DC features at a time.
 * Against `fused` (one invocation per row) it issues FS_W times as many invocations, which a GPU
 * needs to fill its cores when B·H·L is a few thousand rows. A lane whose keys are all masked so
 * far has maximum −∞ and contributes nothing (every exp(−∞ − ·) is guarded).
 */
function attnFusedSplit(g: AttnGeom, caps: DeviceCaps): Pass[] {
  const st = g.st;
  const { BC, DC, floats } = fsLayout(g, caps);
  const KD = g.D + 1;
  const VD = g.DV + 1;
  const VOFF = BC * KD;
  const NEG = lit(-Infinity, 'f32');
  const p = attnDecls(g, 'QKVM', [{ name: 'O', type: st, write: true, ref: { kind: 'output', index: 0 } }]);
  const wgsl = `${p.decls}
var<workgroup> sm: array<f32, ${floats}>;

@compute @workgroup_size(${FS_T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let r = lid / ${FS_W};
  let w = lid % ${FS_W};
  let l = wid.x * ${FS_R} + r;
  let lc = min(l, ${u(g.L - 1)});
  let o = offs(b);
  var q: array<f32, ${g.D}>;
  for (var d = 0u; d < ${g.D}; d++) { q[d] = ${ld(`Q[o.x + lc * ${u(g.qR)} + d]`, st)} * ${lit(g.scale, 'f32')}; }
  var acc: array<f32, ${g.DV}>;
  var sc: array<f32, ${BC / FS_W}>;
  var mx = ${NEG};
  var sum = 0.0;
  for (var s0 = 0u; s0 < ${u(g.S)}; s0 += ${BC}) {
    for (var e = lid; e < ${BC * g.D}; e += ${FS_T}) {
      let j = e / ${g.D};
      let s = min(s0 + j, ${u(g.S - 1)});
      sm[j * ${KD} + e % ${g.D}] = ${ld(`K[o.y + s * ${u(g.sKs)} + (e % ${g.D}) * ${u(g.sKd)}]`, st)};
    }
    for (var e = lid; e < ${BC * g.DV}; e += ${FS_T}) {
      let j = e / ${g.DV};
      let s = min(s0 + j, ${u(g.S - 1)});
      sm[${VOFF} + j * ${VD} + e % ${g.DV}] = ${ld(`V[o.z + s * ${u(g.vR)} + e % ${g.DV}]`, st)};
    }
    workgroupBarrier();
    var tmax = mx;
    for (var t = 0u; t < ${BC / FS_W}; t++) {
      let j = t * ${FS_W} + w;
      var v = ${NEG};
      if (s0 + j < ${u(g.S)}) {
        var dot = 0.0;
        for (var d = 0u; d < ${g.D}; d++) { dot = fma(q[d], sm[j * ${KD} + d], dot); }
        v = ${causalScore(g, `dot${maskTerm(g, 'o.w', 'lc', '(s0 + j)')}`, 'lc', '(s0 + j)')};
      }
      sc[t] = v;
      tmax = max(tmax, v);
    }
    let corr = select(exp(mx - tmax), 1.0, tmax == ${NEG});
    sum = sum * corr;
    for (var d = 0u; d < ${g.DV}; d++) { acc[d] = acc[d] * corr; }
    for (var t = 0u; t < ${BC / FS_W}; t++) {
      let pj = select(exp(sc[t] - tmax), 0.0, sc[t] == ${NEG});
      sum += pj;
      let vb = ${VOFF} + (t * ${FS_W} + w) * ${VD};
      for (var d = 0u; d < ${g.DV}; d++) { acc[d] = fma(pj, sm[vb + d], acc[d]); }
    }
    mx = tmax;
    workgroupBarrier();
  }
  // Merge the lanes of each row: their maxima and sums, then their accumulators DC features at a time.
  sm[lid * 2] = mx;
  sm[lid * 2 + 1] = sum;
  workgroupBarrier();
  var m = ${NEG};
  for (var k = 0u; k < ${FS_W}; k++) { m = max(m, sm[(r * ${FS_W} + k) * 2]); }
  var tot = 0.0;
  for (var k = 0u; k < ${FS_W}; k++) {
    let mk = sm[(r * ${FS_W} + k) * 2];
    tot += select(exp(mk - m), 0.0, mk == ${NEG}) * sm[(r * ${FS_W} + k) * 2 + 1];
  }
  let f = select(exp(mx - m), 0.0, mx == ${NEG});
  let inv = 1.0 / tot;
  let ob = ooff(b) + lc * ${u(g.oR)};
  for (var d0 = 0u; d0 < ${g.DV}; d0 += ${DC}) {
    workgroupBarrier();
    for (var c = 0u; c < ${DC}; c++) { if (d0 + c < ${g.DV}) { sm[${2 * FS_T} + lid * ${DC} + c] = acc[d0 + c] * f; } }
    workgroupBarrier();
    for (var c = w; c < ${DC}; c += ${FS_W}) {
      if (l < ${u(g.L)} && d0 + c < ${g.DV}) {
        var v = 0.0;
        for (var k = 0u; k < ${FS_W}; k++) { v += sm[${2 * FS_T} + (r * ${FS_W} + k) * ${DC} + c]; }
        O[ob + d0 + c] = ${sv('v * inv', st)};
      }
    }
  }
}
`;
  return [{ label: 'fused/Attention fused-split', wgsl, workgroups: [Math.ceil(g.L / FS_R), g.batch, 1], buffers: p.buffers }];
}

/**
 * fused-tiled's blocks: BR query rows and BC keys a block, TY × TX invocations; invocation
 * (ty, tx) owns rows ty + i·TY (i < BR/TY) in both products, keys tx + k·TX (k < BC/TX) of the
 * score block and features tx + c·TX of the output. The own block is 32 × 32 with 16 × 16
 * invocations (2 × 2 scores each); the autotuner tries smaller query blocks (more workgroups for a
 * GPU's multiprocessors when B·heads·L is small), larger ones (each staged key read by more rows),
 * and 4 × 4 scores an invocation (fewer workgroup-memory reads per multiply-add, more registers).
 * With SG (adapters with subgroups), the invocations take their places by subgroup (each aligned
 * four are one quad) and a quad reduces its row maxima and sums with quad swaps, so a row has TX/4
 * partials in workgroup memory instead of TX.
 */
interface FtTile { BR: number; BC: number; TY: number; TX: number; SG?: number }
const FT_TILE: FtTile = { BR: 32, BC: 32, TY: 16, TX: 16 };
const FT_TILES: readonly FtTile[] = [
  FT_TILE, { BR: 16, BC: 32, TY: 16, TX: 16 }, { BR: 16, BC: 32, TY: 8, TX: 16 }, { BR: 64, BC: 32, TY: 16, TX: 16 },
  { BR: 32, BC: 64, TY: 16, TX: 16 }, { BR: 64, BC: 32, TY: 16, TX: 8 }, { BR: 32, BC: 32, TY: 8, TX: 8 },
];
/** Largest head-dim chunk of the score product (more buys nothing but workgroup memory). */
const FT_MAX_DK = 32;

function ftTile(config?: TuneConfig): FtTile {
  if (!config) return FT_TILE;
  const t = FT_TILES.find((x) => x.BR === config.BR && x.BC === config.BC && x.TY === config.TY && x.TX === config.TX);
  if (t && config.SG) return { ...t, SG: 1 };
  if (!t) throw new Error(`attention fused-tiled configuration ${JSON.stringify(config)}: not one of ${FT_TILES.map((x) => JSON.stringify(x)).join(', ')}`);
  return t;
}

/** Whether fused-tiled runs `g` in tile `t` on `caps`. */
function ftSupports(g: AttnGeom, caps: DeviceCaps, t: FtTile): Support {
  const T = t.TX * t.TY;
  if (g.DV > FA_MAX_D) return unsupported(`value feature size ${g.DV} exceeds ${FA_MAX_D} (each invocation's ${t.BR / t.TY}×${Math.ceil(g.DV / t.TX)} output block lives in registers)`);
  if (!ftLayout(g, caps, t)) return unsupported(`a ${t.BR}×${t.BC} P block with its Q/K chunk or V rows exceeds ${caps.maxComputeWorkgroupStorageSize} bytes of workgroup memory`);
  if (caps.maxComputeInvocationsPerWorkgroup < T) return unsupported(`needs ${T} invocations per workgroup`);
  if (t.SG && !caps.subgroups) return unsupported('its quad reductions (SG) need the subgroups feature');
  return checkGrid('attention', [Math.ceil(g.L / t.BR), g.batch], caps) ?? supported;
}

/**
 * fused-tiled's search space on `g`: its own block first, then the other six that fit, and with
 * subgroups the own block's quad reductions (`quick`) or every block's (`full`).
 */
function ftTuning(g: AttnGeom, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
  if (!ftSupports(g, caps, FT_TILE).ok) return [];
  const quads = (level === 'full' ? FT_TILES : [FT_TILE]).map((t) => ({ ...t, SG: 1 }));
  return [...FT_TILES, ...quads].filter((t) => ftSupports(g, caps, t).ok).map((t) => ({ ...t }));
}

interface FtLayout {
  /** Head-dim chunk of Q·Kᵀ and the number of chunks (DK·chunks ≥ D; the excess is zero-filled). */
  DK: number;
  chunks: number;
  /** Output features per invocation (DV padded to CN·TX) and keys of V staged at a time. */
  CN: number;
  KC: number;
  /** Float offsets in workgroup memory: row partials, the P block, then Q/K chunks or V rows (one region, reused). */
  POFF: number;
  ROFF: number;
  KOFF: number;
  floats: number;
}

/** Partials a row of fused-tiled keeps in workgroup memory: one an invocation, or one a quad (SG). */
const ftPartials = (t: FtTile): number => (t.SG ? t.TX / 4 : t.TX);

/**
 * Workgroup memory of fused-tiled, in floats: BR·TX (SG: BR·TX/4) row partials (maxima, at the end sums),
 * the BR × (BC + 1) P block, and one region holding either the Q chunk (BR × (DK + 1))
 * and the transposed K chunk (DK × (BC + 1)) or KC rows of V (KC × CN·TX). The +1 pads keep
 * the invocations of a warp, which read two rows at once, on distinct banks. Null: does not fit.
 */
function ftLayout(g: AttnGeom, caps: DeviceCaps, t: FtTile = FT_TILE): FtLayout | null {
  const limit = Math.floor(caps.maxComputeWorkgroupStorageSize / 4);
  const POFF = t.BR * ftPartials(t);
  const ROFF = POFF + t.BR * (t.BC + 1);
  const avail = limit - ROFF;
  const dkMax = Math.min(FT_MAX_DK, Math.floor((avail - t.BR) / (t.BR + t.BC + 1)));
  const CN = Math.ceil(g.DV / t.TX);
  let KC = t.BC;
  while (KC >= 1 && KC * CN * t.TX > avail) KC /= 2;
  if (dkMax < 1 || KC < 1) return null;
  const chunks = Math.ceil(g.D / dkMax);
  const DK = Math.ceil(g.D / chunks);
  const region = Math.max(t.BR * (DK + 1) + DK * (t.BC + 1), KC * CN * t.TX);
  return { DK, chunks, CN, KC, POFF, ROFF, KOFF: ROFF + t.BR * (DK + 1), floats: ROFF + region };
}

/**
 * fused-tiled: FlashAttention-2's tiled form (Dao 2023, "FlashAttention-2", Algorithm 1). A
 * workgroup owns BR query rows of one batch and head and walks the keys in blocks of BC (tile
 * `t`). Per key block, S = scale·Q·Kᵀ (+ mask) is a register-blocked tile GEMM: Q and K are staged
 * DK features at a time, and each invocation accumulates its BR/TY × BC/TX scores. The row maxima
 * are reduced across the TX invocations sharing a row through workgroup memory, each of them
 * computing the same new maximum m'; the invocation rescales its BR/TY × CN accumulator block and
 * its own partial row sums by e^(m − m'), writes its e^(s − m') into the P block, and after V is
 * staged (KC keys at a time) adds its block of P·V — a second tile GEMM. The partial sums are
 * reduced once, at the end: O = acc/ℓ. Every invocation reaches every barrier: rows past L and
 * keys past S load clamped or zero operands, keys past S score −∞ and weigh 0, and only the store
 * is guarded. A row whose keys are all masked so far has maximum −∞ and every exp(−∞ − ·) is
 * guarded, as in fused-split.
 */
function attnFusedTiled(g: AttnGeom, caps: DeviceCaps, t: FtTile): Pass[] {
  const st = g.st;
  const { DK, chunks, CN, KC, POFF, ROFF, KOFF, floats } = ftLayout(g, caps, t)!;
  const FT_BR = t.BR;
  const FT_BC = t.BC;
  const FT_TY = t.TY;
  const FT_TX = t.TX;
  const FT_T = FT_TX * FT_TY;
  const PX = ftPartials(t);
  // A row partial of this invocation's (or, SG, of its quad's: reduced by quad swaps, stored by its first lane).
  const partial = (i: number, x: string, op: 'max' | '+'): string => {
    const red = (y: string): string => (op === 'max' ? `${x} = max(${x}, ${y});` : `${x} = ${x} + ${y};`);
    return t.SG
      ? `${red(`quadSwapX(${x})`)} ${red(`quadSwapY(${x})`)}\n      if (tx % 4u == 0u) { sm[${row(i)} * ${PX} + tx / 4u] = ${x}; }`
      : `sm[${row(i)} * ${PX} + tx] = ${x};`;
  };
  const FT_RM = FT_BR / FT_TY;
  const FT_KN = FT_BC / FT_TX;
  const DVP = CN * FT_TX;
  const NEG = lit(-Infinity, 'f32');
  const range = (n: number): number[] => [...Array(n).keys()];
  const rows = range(FT_RM);
  const row = (i: number): string => `(ty + ${i * FT_TY})`;
  const p = attnDecls(g, 'QKVM', [{ name: 'O', type: st, write: true, ref: { kind: 'output', index: 0 } }]);
  const dGuard = (load: string): string => (DK * chunks === g.D ? `  let v = ${load};` : `  var v = 0.0;\n        if (d < ${g.D}) { v = ${load}; }`);
  // Score block: stage a DK-wide chunk of Q (pre-scaled) and of K (transposed), then FT_RM × FT_KN fmas per feature.
  const scoreChunk = `      workgroupBarrier();
      for (var e = lid; e < ${FT_BR * DK}; e += ${FT_T}) {
        let r = e / ${DK};
        let d = d0 + e % ${DK};
        let lq = min(l0 + r, ${u(g.L - 1)});
      ${dGuard(`${ld(`Q[o.x + lq * ${u(g.qR)} + d]`, st)} * ${lit(g.scale, 'f32')}`)}
        sm[${ROFF} + r * ${DK + 1} + e % ${DK}] = v;
      }
      for (var e = lid; e < ${FT_BC * DK}; e += ${FT_T}) {
        let j = e / ${DK};
        let d = d0 + e % ${DK};
        let s = min(s0 + j, ${u(g.S - 1)});
      ${dGuard(ld(`K[o.y + s * ${u(g.sKs)} + d * ${u(g.sKd)}]`, st))}
        sm[${KOFF} + (e % ${DK}) * ${FT_BC + 1} + j] = v;
      }
      workgroupBarrier();
      for (var c = 0u; c < ${DK}; c++) {
${rows.map((i) => `        let q${i} = sm[${ROFF} + ${row(i)} * ${DK + 1} + c];`).join('\n')}
${range(FT_KN).map((k) => `        let k${k} = sm[${KOFF} + c * ${FT_BC + 1} + tx + ${k * FT_TX}];`).join('\n')}
${rows.flatMap((i) => range(FT_KN).map((k) => `        sc[${i * FT_KN + k}] = fma(q${i}, k${k}, sc[${i * FT_KN + k}]);`)).join('\n')}
      }`;
  // The row maximum: this invocation's keys, then (after the barrier) all FT_TX partials of the row.
  const rowMax = rows.map((i) => `    {
      let lm = min(l0 + ${row(i)}, ${u(g.L - 1)});
      var m = ${NEG};
${range(FT_KN).map((k) => `      {
        let s = s0 + tx + ${k * FT_TX};
        var v = ${NEG};
        if (s < ${u(g.S)}) { v = ${causalScore(g, `sc[${i * FT_KN + k}]${maskTerm(g, 'o.w', 'lm', 's')}`, 'lm', 's')}; }
        sc[${i * FT_KN + k}] = v;
        m = max(m, v);
      }`).join('\n')}
      ${partial(i, 'm', 'max')}
    }`).join('\n');
  const rescale = rows.map((i) => `    {
      var m = mx[${i}];
      for (var t = 0u; t < ${PX}; t++) { m = max(m, sm[${row(i)} * ${PX} + t]); }
      let corr = select(exp(mx[${i}] - m), 1.0, m == ${NEG});
      mx[${i}] = m;
      ls[${i}] = ls[${i}] * corr;
${range(CN).map((c) => `      acc[${i * CN + c}] = acc[${i * CN + c}] * corr;`).join('\n')}
${range(FT_KN).map((k) => `      {
        let pk = select(exp(sc[${i * FT_KN + k}] - m), 0.0, sc[${i * FT_KN + k}] == ${NEG});
        ls[${i}] += pk;
        sm[${POFF} + ${row(i)} * ${FT_BC + 1} + tx + ${k * FT_TX}] = pk;
      }`).join('\n')}
    }`).join('\n');
  // O block += P·V: KC keys of V at a time, FT_RM × CN fmas per key.
  // (With V in several pieces, a piece waits until the previous one has been read.)
  const pv = `    for (var j0 = 0u; j0 < ${FT_BC}; j0 += ${KC}) {${KC < FT_BC ? '\n      workgroupBarrier();' : ''}
      for (var e = lid; e < ${KC * DVP}; e += ${FT_T}) {
        let s = s0 + j0 + e / ${DVP};
        let d = e % ${DVP};
        var v = 0.0;
        if (s < ${u(g.S)}${DVP === g.DV ? '' : ` && d < ${g.DV}`}) { v = ${ld(`V[o.z + s * ${u(g.vR)} + d]`, st)}; }
        sm[${ROFF} + e] = v;
      }
      workgroupBarrier();
      for (var j = 0u; j < ${KC}; j++) {
${rows.map((i) => `        let p${i} = sm[${POFF} + ${row(i)} * ${FT_BC + 1} + j0 + j];`).join('\n')}
${range(CN).map((c) => `        {
          let v = sm[${ROFF} + j * ${DVP} + tx + ${c * FT_TX}];
${rows.map((i) => `          acc[${i * CN + c}] = fma(p${i}, v, acc[${i * CN + c}]);`).join('\n')}
        }`).join('\n')}
      }
    }`;
  const store = rows.map((i) => `  {
    var tot = 0.0;
    for (var t = 0u; t < ${PX}; t++) { tot += sm[${row(i)} * ${PX} + t]; }
    let l = l0 + ${row(i)};
    if (l < ${u(g.L)}) {
      let inv = 1.0 / tot;
      let ob = ooff(b) + l * ${u(g.oR)};
${range(CN).map((c) => {
    const d = `tx + ${c * FT_TX}`;
    const w = `O[ob + ${d}] = ${sv(`acc[${i * CN + c}] * inv`, st)};`;
    return (c + 1) * FT_TX <= g.DV ? `      ${w}` : `      if (${d} < ${g.DV}) { ${w} }`;
  }).join('\n')}
    }
  }`).join('\n');
  const wgsl = `${t.SG ? 'enable subgroups;\n' : ''}${p.decls}
var<workgroup> sm: array<f32, ${floats}>;

@compute @workgroup_size(${FT_T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, ${t.SG
    ? '@builtin(subgroup_id) sgId: u32, @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgLane: u32) {\n  let lid = sgId * sgSize + sgLane;'
    : '@builtin(local_invocation_index) lid: u32) {'}
  let b = wid.y;
  let o = offs(b);
  let tx = lid % ${FT_TX};
  let ty = lid / ${FT_TX};
  let l0 = wid.x * ${FT_BR};
  var acc: array<f32, ${FT_RM * CN}>;
  var sc: array<f32, ${FT_RM * FT_KN}>;
  var mx: array<f32, ${FT_RM}>;
  var ls: array<f32, ${FT_RM}>;
${rows.map((i) => `  mx[${i}] = ${NEG};`).join('\n')}
  for (var s0 = 0u; s0 < ${u(g.S)}; s0 += ${FT_BC}) {
${range(FT_RM * FT_KN).map((k) => `    sc[${k}] = 0.0;`).join('\n')}
    for (var d0 = 0u; d0 < ${DK * chunks}; d0 += ${DK}) {
${scoreChunk}
    }
${rowMax}
    workgroupBarrier();
${rescale}
${pv}
  }
${rows.map((i) => `  {\n    var sum = ls[${i}];\n    ${partial(i, 'sum', '+')}\n  }`).join('\n')}
  workgroupBarrier();
${store}
}
`;
  return [{ label: 'fused/Attention fused-tiled', wgsl, workgroups: [Math.ceil(g.L / FT_BR), g.batch, 1], buffers: p.buffers }];
}

const ATTN_VARIANTS = [
  { name: 'unfused', description: 'three passes: scale·QKᵀ + mask into a B·H·L·S scratch buffer, a row softmax in place, then ·V' },
  { name: 'fused', description: 'one kernel (FlashAttention-style): K/V tiles in workgroup memory, one query row per invocation, online softmax; no L×S tensor in memory' },
  { name: 'fused-split', description: 'fused with each query row split across 8 lanes over the keys (FlashAttention-2 parallelism), padded K/V tiles, the lanes\' softmax states merged in workgroup memory' },
  { name: 'fused-tiled', description: 'FlashAttention-2\'s tiled form: 32 query rows × 32-key blocks per workgroup of 256 invocations (the block autotuned), Q·Kᵀ and P·V as register-blocked tile GEMMs (2×2 scores, 2×⌈DV/16⌉ outputs each) through workgroup memory, row maxima reduced across the invocations sharing a row (within quads first where tuned with subgroups)' },
];

/** What every attention variant needs of a geometry, once the operands' shapes are known to fit. */
function attnVariantSupports(g: AttnGeom, variant: string, caps: DeviceCaps): Support {
  switch (variant) {
    case 'unfused': {
      const bytes = g.batch * g.L * g.S * 4;
      if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`the scores (${bytes} bytes) exceed the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
      return checkDispatch1d(g.batch * g.L * g.S, ATTN_WG, caps) ?? checkDispatch1d(g.batch * g.L, 1, caps) ?? supported;
    }
    case 'fused': {
      if (g.D > FA_MAX_D || g.DV > FA_MAX_D) return unsupported(`feature sizes ${g.D}/${g.DV} exceed ${FA_MAX_D} (a query row and its accumulator live in registers)`);
      if (!faBlock(g, caps)) return unsupported('one K and V row exceed workgroup memory');
      return checkGrid('attention', [Math.ceil(g.L / FA_BR), g.batch], caps) ?? supported;
    }
    case 'fused-split': {
      if (g.D > FA_MAX_D || g.DV > FA_MAX_D) return unsupported(`feature sizes ${g.D}/${g.DV} exceed ${FA_MAX_D} (a query row and its accumulator live in registers)`);
      if (!fsLayout(g, caps).BC) return unsupported(`${FS_W} K and V rows exceed workgroup memory`);
      if (caps.maxComputeInvocationsPerWorkgroup < FS_T) return unsupported(`needs ${FS_T} invocations per workgroup`);
      return checkGrid('attention', [Math.ceil(g.L / FS_R), g.batch], caps) ?? supported;
    }
    case 'fused-tiled':
      return ftSupports(g, caps, FT_TILE);
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

function attnSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const [q, k, v] = l.inputs;
  if (!q || !k || !v) return unsupported('Q, K or V is missing');
  if (q.shape.length < 3 || k.shape.length < 3 || v.shape.length < 3) return unsupported('Q, K and V need rank ≥ 3 ([batch…, rows, features])');
  const bad = checkTensors(c, caps);
  if (bad) return bad;
  const g = attnGeometry(c);
  const kShape = k.shape.slice(-2).join(',');
  if (kShape !== (g.sKs === 1 ? [g.D, g.S] : [g.S, g.D]).join(',')) return unsupported(`K's matrix [${kShape}] does not match Q's feature size ${g.D}`);
  if (v.shape[v.shape.length - 2] !== g.S) return unsupported(`V has ${v.shape[v.shape.length - 2]} rows, K has ${g.S} keys`);
  const out = l.outputs[0].shape;
  if (out.slice(-2).join(',') !== [g.L, g.DV].join(',')) return unsupported(`output [${out.join(',')}] is not [… , ${g.L}, ${g.DV}]`);
  for (const [name, t] of [['Q', q], ['K', k], ['V', v]] as const) {
    if (!broadcastsTo(t.shape.slice(0, -2), g.lead)) return unsupported(`${name}'s leading dims [${t.shape.slice(0, -2).join(',')}] do not broadcast to [${g.lead.join(',')}]`);
  }
  const m = l.inputs[3];
  if (m && !broadcastsTo(m.shape, [...g.lead, g.L, g.S])) return unsupported(`mask [${m.shape.join(',')}] does not broadcast to [${[...g.lead, g.L, g.S].join(',')}]`);
  return attnVariantSupports(g, variant, caps);
}

/** The checks com.microsoft.MultiHeadAttention and com.microsoft.Attention share (heads, layout, mask). */
function mhaChecks(c: LayerCase, caps: DeviceCaps, unsupportedInputs: Array<[number, string]>): Support | null {
  const l = c.layer;
  for (const [i, what] of unsupportedInputs) if (l.inputs[i]) return unsupported(`the ${what} input is not supported`);
  if (l.outputs.length > 1) return unsupported('present key/value outputs (KV cache) are not supported');
  const bad = checkTensors(c, caps);
  if (bad) return bad;
  const h = attrNum(c, 'num_heads', 0);
  if (!(h > 0)) return unsupported('num_heads must be positive');
  const x = l.inputs[0]!.shape;
  if (x.length !== 3) return unsupported(`input of rank ${x.length}: only [batch, sequence, hidden] is supported`);
  return null;
}

function mhaSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  if (!l.inputs[1] || !l.inputs[2]) return unsupported('packed QKV/KV layouts are not supported (key and value are required)');
  const bad = mhaChecks(c, caps, [[3, 'bias'], [4, 'key_padding_mask'], [6, 'past_key'], [7, 'past_value']]);
  if (bad) return bad;
  const [q, k, v] = l.inputs.slice(0, 3).map((t) => t!.shape);
  const h = attrNum(c, 'num_heads', 1);
  if (k.length !== 3 || v.length !== 3) return unsupported('key and value must be [batch, kv_sequence, hidden]');
  if (q[2] % h || v[2] % h) return unsupported(`hidden sizes ${q[2]}/${v[2]} are not divisible by num_heads ${h}`);
  if (k[2] !== q[2] || k[0] !== q[0] || v[0] !== q[0] || v[1] !== k[1]) return unsupported(`query [${q}], key [${k}] and value [${v}] do not fit`);
  const g = mhaOpGeometry(c);
  if (g.causal && g.S < g.L) return unsupported('unidirectional attention needs kv_sequence ≥ sequence');
  const m = l.inputs[5];
  if (m && !broadcastsTo(m.shape, [...g.lead, g.L, g.S])) return unsupported(`attention_bias [${m.shape.join(',')}] does not broadcast to [${[...g.lead, g.L, g.S].join(',')}]`);
  return attnVariantSupports(g, variant, caps);
}

/** com.microsoft.Attention's projection as a dlprof.FusedMatMul case: [B·L, Din]·[Din, W] + bias. */
function projectionCase(c: LayerCase): LayerCase {
  const [x, w, bias] = c.layer.inputs;
  const y: TensorType = { dtype: c.layer.outputs[0].dtype, shape: [x!.shape[0], x!.shape[1], w!.shape[1]] };
  return {
    layer: { ...c.layer, op: 'dlprof.FusedMatMul', attrs: { activation: 'none', activation_alpha: 0, activation_beta: 0 }, inputs: [x, w, bias ?? null], outputs: [y] },
    consts: [],
  };
}

function packedSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const bad = mhaChecks(c, caps, [[3, 'mask_index'], [4, 'past']]);
  if (bad) return bad;
  const [dq, dk, dv] = qkvSizes(c);
  const h = attrNum(c, 'num_heads', 1);
  if (dq !== dk || dq % h || dv % h || dq + dk + dv !== c.layer.inputs[1]!.shape[1]) return unsupported(`qkv_hidden_sizes ${dq}/${dk}/${dv} do not fit the weights or num_heads ${h}`);
  const pc = projectionCase(c);
  const gemm = mmSupports(pc, 'tiled-fused', caps);
  if (!gemm.ok) return unsupported(`the Q/K/V projection: ${gemm.reason}`);
  const g = packedGeometry(c, 0);
  const m = c.layer.inputs[5];
  if (m && !broadcastsTo(m.shape, [...g.lead, g.L, g.S])) return unsupported(`attention_bias [${m.shape.join(',')}] does not broadcast to [${[...g.lead, g.L, g.S].join(',')}]`);
  return attnVariantSupports(g, variant, caps);
}

/** The passes of an attention variant; an unfused variant's scores go to scratch `sc`. */
function attnPasses(g: AttnGeom, variant: string, caps: DeviceCaps, sc: number, config?: TuneConfig): KernelPlan {
  if (variant === 'fused') return { passes: attnFused(g, caps), scratch: [] };
  if (variant === 'fused-split') return { passes: attnFusedSplit(g, caps), scratch: [] };
  if (variant === 'fused-tiled') {
    const t = ftTile(config);
    const ok = ftSupports(g, caps, t);
    if (!ok.ok) throw new Error(`attention fused-tiled ${JSON.stringify(t)}: ${ok.reason}`);
    return { passes: attnFusedTiled(g, caps, t), scratch: [] };
  }
  return { passes: attnUnfused(g, caps, sc), scratch: [g.batch * g.L * g.S * 4] };
}

function attnPlan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const s = attnSupports(c, variant, caps);
  if (!s.ok) throw new Error(`fused/Attention ${variant}: ${s.reason}`);
  return attnPasses(attnGeometry(c), variant, caps, 0, config);
}

function mhaPlan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const s = mhaSupports(c, variant, caps);
  if (!s.ok) throw new Error(`MultiHeadAttention ${variant}: ${s.reason}`);
  return attnPasses(mhaOpGeometry(c), variant, caps, 0, config);
}

/** The projection GEMM (its output redirected to a scratch buffer), then attention on the packed Q, K, V. */
function packedPlan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const s = packedSupports(c, variant, caps);
  if (!s.ok) throw new Error(`Attention ${variant}: ${s.reason}`);
  const gemm = mmPlan(projectionCase(c), 'tiled-fused', caps);
  const proj = gemm.scratch.length;
  const [x, w] = c.layer.inputs;
  const projBytes = x!.shape[0] * x!.shape[1] * w!.shape[1] * (g16(c) ? 2 : 4);
  const toScratch = (r: Ref): Ref => (r.kind === 'output' ? { kind: 'scratch', index: proj } : r);
  const attn = attnPasses(packedGeometry(c, proj), variant, caps, proj + 1, config);
  return {
    passes: [...gemm.passes.map((p) => ({ ...p, label: `Attention projection: ${p.label}`, buffers: p.buffers.map(toScratch) })), ...attn.passes],
    scratch: [...gemm.scratch, projBytes, ...attn.scratch],
  };
}

const g16 = (c: LayerCase): boolean => c.layer.outputs[0].dtype === 'float16';

/** Straightforward CPU attention on a geometry (double): scores, a max-subtracted softmax, the weighted sum. */
function attnCompute(g: AttnGeom, src: (r: Ref) => ArrayLike<number>, out: Float32Array): void {
  const Q = src(g.ref.q);
  const K = src(g.ref.k);
  const V = src(g.ref.v);
  const Mk = g.ref.m ? src(g.ref.m) : null;
  const sc = new Float64Array(g.S);
  for (let b = 0; b < g.batch; b++) {
    let [oq, ok, ov] = g.base;
    let om = 0, oo = 0;
    let r = b;
    for (let d = g.lead.length - 1; d >= 0; d--) {
      const i = r % g.lead[d];
      r = Math.floor(r / g.lead[d]);
      oq += i * g.qB[d]; ok += i * g.kB[d]; ov += i * g.vB[d]; om += i * g.mB[d]; oo += i * g.oB[d];
    }
    for (let l = 0; l < g.L; l++) {
      let mx = -Infinity;
      for (let s = 0; s < g.S; s++) {
        let dot = 0;
        for (let d = 0; d < g.D; d++) dot += Q[oq + l * g.qR + d] * K[ok + s * g.sKs + d * g.sKd];
        let v = g.scale * dot;
        if (Mk && g.mask) v += Mk[om + l * g.mask.sL + s * g.mask.sS];
        if (g.causal && s > l + g.S - g.L) v = -Infinity;
        sc[s] = v;
        mx = Math.max(mx, v);
      }
      let sum = 0;
      for (let s = 0; s < g.S; s++) { sc[s] = Math.exp(sc[s] - mx); sum += sc[s]; }
      for (let j = 0; j < g.DV; j++) {
        let acc = 0;
        for (let s = 0; s < g.S; s++) acc += sc[s] * V[ov + s * g.vR + j];
        out[oo + l * g.oR + j] = acc / sum;
      }
    }
  }
}

function attnOutput(c: LayerCase, g: AttnGeom, src: (r: Ref) => ArrayLike<number>): HostTensor[] {
  const y = c.layer.outputs[0];
  const out = new Float32Array(prod(y.shape));
  attnCompute(g, src, out);
  return [{ dtype: y.dtype, shape: [...y.shape], data: out }];
}

const fromInputs = (inputs: Array<HostTensor | null>) => (r: Ref): ArrayLike<number> => inputs[r.index]!.data;

function attnReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  return attnOutput(c, attnGeometry(c), fromInputs(inputs));
}

function mhaReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  return attnOutput(c, mhaOpGeometry(c), fromInputs(inputs));
}

/** The projection in double precision (rounded to the layer's storage as the GPU stores it), then attention. */
function packedReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const [x, w, bias] = inputs;
  const [B, L, Din] = x!.shape;
  const W = w!.shape[1];
  const proj = new Float32Array(B * L * W);
  for (let r = 0; r < B * L; r++) {
    for (let n = 0; n < W; n++) {
      let acc = bias ? bias.data[n] : 0;
      for (let k = 0; k < Din; k++) acc += x!.data[r * Din + k] * w!.data[k * W + n];
      proj[r * W + n] = acc;
    }
  }
  const fi = fromInputs(inputs);
  return attnOutput(c, packedGeometry(c, 0), (r) => (r.kind === 'scratch' ? proj : fi(r)));
}

// ---------------------------------------------------------------------------------------------
// The fused layers as standard ONNX nodes: onnxruntime computes their reference (bench/reference.ts).

/** Appends the activation `a` applied to `x` and returns its output (Gelu by erf, as opset 17 has no Gelu). */
function activationNodes(b: GraphBuilder, a: Act, x: string): string {
  return a.kind === 'none' ? x : epilogueOf(a.kind)!.onnx(b, x, a.alpha, a.beta);
}

/** FusedConv: Conv (with its bias), + the residual, then the activation. */
function convDecompose(c: LayerCase, b: GraphBuilder, inputs: string[]): string[] {
  const g = convGeometry(c);
  const attrs = { kernel_shape: g.k, strides: g.s, dilations: g.d, pads: [...g.pb, ...g.pe], group: g.G };
  let y = b.op('Conv', [inputs[0], inputs[1], ...(inputs[2] ? [inputs[2]] : [])], attrs);
  if (inputs[3]) y = b.op('Add', [y, inputs[3]]);
  return [activationNodes(b, activationOf(c)!, y)];
}

/** FusedMatMul: MatMul (Gemm with its transposes and alpha where set), + the bias, then the activation. */
function mmDecompose(c: LayerCase, b: GraphBuilder, inputs: string[]): string[] {
  const alpha = attrNum(c, 'alpha', 1);
  const transA = attrNum(c, 'transA', 0);
  const transB = attrNum(c, 'transB', 0);
  let y = transA || transB || alpha !== 1
    ? b.op('Gemm', [inputs[0], inputs[1]], { alpha: new FloatAttr(alpha), transA, transB })
    : b.op('MatMul', [inputs[0], inputs[1]]);
  if (inputs[2]) y = b.op('Add', [y, inputs[2]]);
  return [activationNodes(b, activationOf(c)!, y)];
}

// ---------------------------------------------------------------------------------------------

export const fusedConvKernel: Kernel = {
  name: 'fused-conv',
  ops: ['dlprof.FusedConv'],
  variants: CONV_VARIANTS,
  /** What a runtime with fusion would pick: the depthwise kernel, implicit GEMM for group 1, else direct. */
  defaultVariant: convDefault,
  supports: convSupports,
  plan: convPlan,
  tuning: convTuning,
  reference: convReference,
  decompose: convDecompose,
};

export const fusedMatMulKernel: Kernel = {
  name: 'fused-matmul',
  ops: ['dlprof.FusedMatMul'],
  variants: MM_VARIANTS,
  /** Tiled for real matrices (both M and N ≥ 16, as matmul's default), naive for skinny ones. */
  defaultVariant(c: LayerCase): string {
    const { g } = mmGeometry(c);
    return g.M >= 16 && g.N >= 16 ? 'tiled-fused' : 'naive-fused';
  },
  supports: mmSupports,
  plan: mmPlan,
  tuning: mmTuning,
  reference: mmReference,
  decompose: mmDecompose,
};

export const attentionKernel: Kernel = {
  name: 'attention',
  ops: ['dlprof.Attention'],
  variants: ATTN_VARIANTS,
  /** A runtime without an attention kernel runs the three steps; the fused kernel is the what-if. */
  defaultVariant: () => 'unfused',
  supports: attnSupports,
  plan: attnPlan,
  tuning: (c, variant, caps, level) => (variant === 'fused-tiled' && attnSupports(c, variant, caps).ok ? ftTuning(attnGeometry(c), caps, level) : []),
  reference: attnReference,
};

/**
 * com.microsoft attention: QKᵀ (2·L·S·Dq) and P·V (2·L·S·Dv) per batch row, plus the softmax (6
 * per score, as Softmax); Attention adds its Q/K/V projection GEMM (2·B·L·Din·(Dq+Dk+Dv)).
 */
function attentionCost(l: LayerSignature): number {
  const [x, w] = l.inputs;
  const y = l.outputs[0];
  const h = numAttr(l.attrs.num_heads, 1);
  if (!x || !w || !y) return 0;
  const [B, L] = x.shape;
  const proj = l.op === 'com.microsoft.Attention';
  const dq = proj ? (numsAttr(l.attrs.qkv_hidden_sizes)?.[0] ?? w.shape[1] / 3) : x.shape[2];
  const S = proj ? L : (w.shape[1] ?? L);
  const dv = y.shape[2];
  const attn = B * L * S * (2 * dq + 2 * dv + 6 * h);
  return attn + (proj ? 2 * B * L * x.shape[2] * w.shape[1] : 0);
}

export const multiHeadAttentionKernel: Kernel = {
  name: 'multi-head-attention',
  ops: ['com.microsoft.MultiHeadAttention'],
  variants: ATTN_VARIANTS,
  defaultVariant: () => 'unfused',
  supports: mhaSupports,
  plan: mhaPlan,
  tuning: (c, variant, caps, level) => (variant === 'fused-tiled' && mhaSupports(c, variant, caps).ok ? ftTuning(mhaOpGeometry(c), caps, level) : []),
  reference: mhaReference,
  cost: attentionCost,
};

export const packedAttentionKernel: Kernel = {
  name: 'packed-attention',
  ops: ['com.microsoft.Attention'],
  variants: ATTN_VARIANTS,
  defaultVariant: () => 'unfused',
  supports: packedSupports,
  plan: packedPlan,
  tuning: (c, variant, caps, level) => (variant === 'fused-tiled' && packedSupports(c, variant, caps).ok ? ftTuning(packedGeometry(c, 0), caps, level) : []),
  reference: packedReference,
  cost: attentionCost,
};

export const kernels: Kernel[] = [fusedConvKernel, fusedMatMulKernel, attentionKernel, multiHeadAttentionKernel, packedAttentionKernel];
