/**
 * Deformable convolution, 2-D, NCHW: ONNX `DeformConv` (opset 19) and the modulated deformable
 * convolution custom op of mmcv-style exporters, `mmcv.MMCVModulatedDeformConv2d` (also written
 * under the `mmdeploy` domain by mmdeploy's rewriter). See docs/ops/deformable-convolution.md.
 *
 * The computation (Dai et al. 2017, "Deformable Convolutional Networks", eq. 2; with the
 * modulation scalar of Zhu et al. 2019, "Deformable ConvNets v2", eq. 3):
 *
 *   Y[n, m, o] = B[m] + Σ_{c ∈ group(m)} Σ_{k < KH·KW} W[m, c, k] · Δm_k · x_c(p_o + p_k + Δp_k)
 *
 * with p_o = o·stride − pad_begin, p_k = (kh·dh, kw·dw), Δp_k = (offset[n, 2·(g·KK + k), o],
 * offset[n, 2·(g·KK + k) + 1, o]) — a (y, x) pair per kernel position of offset group
 * g = c / (C / offset_group) — and Δm_k = mask[n, g·KK + k, o] (1 without a mask). x_c(py, px) is
 * bilinear interpolation of channel c where corners outside the image contribute 0 (the ONNX
 * reference and mmcv's im2col kernels agree on this: a sample is 0 once py ≤ −1 or py ≥ H).
 * Both ops compute exactly this; they differ only in input order and attribute names.
 *
 * Variants:
 *  - `naive`: one invocation per output element, bilinear sampling inline; the sampling
 *    coefficients are computed once per (kernel position, offset group) and reused over that
 *    offset group's channels. The default (what a straightforward runtime does).
 *  - `im2col-gemm`: the common CUDA implementation (Dai et al.'s and mmcv's
 *    `modulated_deformable_im2col` + cuBLAS): pass 1 writes the deformed, mask-weighted column
 *    matrix col[c·KK + k][n·OH·OW + o] to scratch; pass 2 is a tiled GEMM per group.
 *  - `fused`: DefT-style (no column buffer): the same tiled GEMM, but the B tile is gathered by
 *    bilinear sampling straight from X while it is loaded into workgroup memory. The reduction
 *    index is ordered (kernel position, channel) so consecutive rows of a tile share one kernel
 *    position and usually one offset group: each invocation computes its columns' four corner
 *    addresses and weights once per (position, offset group) change, not once per element.
 *  - `fused-f16`: `fused` with f16 tiles and multiply-adds (shader-f16), summed in f32 across K
 *    tiles (as Tensor Cores accumulate); the bilinear weights are computed in f32.
 *
 * All but fused-f16 compute in f32 (float16 layers: f16 storage, converted on load and store).
 */
import type { AttrValue } from '../ir/types.js';
import {
  supported, unsupported,
  type AutotuneLevel, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support, type TuneConfig,
} from './types.js';
import { dispatch1d, elements, gpuSize, gpuTypeOf, header, prod } from './wgsl.js';
import { gemmPasses, gemmTile, gemmTuning, gemmWorkgroups, type GemmSpec, type GemmTile } from './gemm.js';
import type { LayerSignature } from '../ir/types.js';
import { convFlops } from './conv.js';

const KERNEL = 'deform';

/** Layer ops of the modulated deformable convolution custom op (domain-qualified as Layer.op). */
export const MMCV_DEFORM_OPS = ['mmcv.MMCVModulatedDeformConv2d', 'mmdeploy.MMCVModulatedDeformConv2d'];

// ---------------------------------------------------------------------------------------------
// Geometry

/** Input slots of each op (−1: the op has no such input). */
interface Slots { x: number; w: number; offset: number; mask: number; bias: number }
const ONNX_SLOTS: Slots = { x: 0, w: 1, offset: 2, bias: 3, mask: 4 };
const MMCV_SLOTS: Slots = { x: 0, offset: 1, mask: 2, w: 3, bias: 4 };

export interface DeformGeometry {
  mmcv: boolean;
  slots: Slots;
  N: number; C: number; H: number; W: number;
  /** Output channels, groups, channels per group. */
  M: number; G: number; Cg: number; Mg: number;
  /** Offset groups and input channels per offset group. */
  OG: number; Cog: number;
  KH: number; KW: number; KK: number;
  sH: number; sW: number; dH: number; dW: number;
  /** Padding at the beginning (top, left); the end padding only shapes OH, OW. */
  pT: number; pL: number;
  OH: number; OW: number; OHW: number;
  /** GEMM columns: N·OH·OW. */
  P: number;
  /** Storage type of all float tensors. */
  st: GpuType;
  bias: boolean;
  mask: boolean;
}

function num(v: AttrValue | undefined, def: number): number {
  return typeof v === 'number' ? v : def;
}

/** An attribute that is one int (both dims) or a list of 1–2 ints; mmcv writes `_pair`s, its functional form may write an int. */
function pair(v: AttrValue | undefined, def: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length >= 1 && v.every((x) => typeof x === 'number')) {
    const a = v as number[];
    return [a[0], a[a.length > 1 ? 1 : 0]];
  }
  return [def, def];
}

export function isMmcvDeform(op: string): boolean {
  return MMCV_DEFORM_OPS.includes(op);
}

/** The layer's geometry; assumes 4-D X and W (supports() checks before anything uses it). */
export function deformGeometry(c: LayerCase): DeformGeometry {
  const l = c.layer;
  const mmcv = isMmcvDeform(l.op);
  const slots = mmcv ? MMCV_SLOTS : ONNX_SLOTS;
  const x = l.inputs[slots.x]!;
  const w = l.inputs[slots.w]!;
  const y = l.outputs[0];
  const [N, C, H, W] = x.shape;
  const [, M, OH, OW] = y.shape;
  const KH = w.shape[2];
  const KW = w.shape[3];
  const a = l.attrs;
  let G: number, OG: number, s: [number, number], d: [number, number], p: [number, number];
  if (mmcv) {
    G = num(a.groups, 1);
    OG = num(a.deform_groups, 1);
    s = pair(a.stride, 1);
    d = pair(a.dilation, 1);
    p = pair(a.padding, 0);
  } else {
    G = num(a.group, 1);
    OG = num(a.offset_group, 1);
    s = pair(a.strides, 1);
    d = pair(a.dilations, 1);
    const pads = Array.isArray(a.pads) ? (a.pads as number[]) : [0, 0, 0, 0];
    p = [pads[0] ?? 0, pads[1] ?? 0];
  }
  return {
    mmcv, slots, N, C, H, W, M, G, Cg: C / G, Mg: M / G, OG, Cog: C / OG,
    KH, KW, KK: KH * KW, sH: s[0], sW: s[1], dH: d[0], dW: d[1], pT: p[0], pL: p[1],
    OH, OW, OHW: OH * OW, P: N * OH * OW,
    st: gpuTypeOf(x.dtype),
    bias: !!l.inputs[slots.bias],
    mask: !!l.inputs[slots.mask],
  };
}

// ---------------------------------------------------------------------------------------------
// WGSL pieces

/** `v` (of type `from`) converted to `to`. */
function cvt(v: string, from: GpuType, to: GpuType): string {
  return from === to ? v : `${to}(${v})`;
}

interface ScratchDecl { name: string; index: number; type: string; access: 'read' | 'read_write' }

/** Bindings X, W, OFF, MASK, B (those asked for and present), scratch, Y; returns WGSL and buffer refs. */
function ioBindings(g: DeformGeometry, o: { x?: boolean; w?: boolean; offset?: boolean; mask?: boolean; bias?: boolean; y?: boolean; scratch?: ScratchDecl[] }) {
  const lines: string[] = [];
  const refs: Pass['buffers'] = [];
  const add = (name: string, type: string, access: 'read' | 'read_write', ref: Pass['buffers'][number]): void => {
    lines.push(`@group(0) @binding(${refs.length}) var<storage, ${access}> ${name}: array<${type}>;`);
    refs.push(ref);
  };
  if (o.x) add('X', g.st, 'read', { kind: 'input', index: g.slots.x });
  if (o.w) add('W', g.st, 'read', { kind: 'input', index: g.slots.w });
  if (o.offset) add('OFF', g.st, 'read', { kind: 'input', index: g.slots.offset });
  if (o.mask && g.mask) add('MASK', g.st, 'read', { kind: 'input', index: g.slots.mask });
  if (o.bias && g.bias) add('B', g.st, 'read', { kind: 'input', index: g.slots.bias });
  for (const s of o.scratch ?? []) add(s.name, s.type, s.access, { kind: 'scratch', index: s.index });
  if (o.y) add('Y', g.st, 'read_write', { kind: 'output', index: 0 });
  return { wgsl: lines.join('\n'), buffers: refs };
}

/**
 * WGSL `taps(py, px, mk)`: the four corner addresses (within one H×W plane, clamped so that any
 * address is in bounds) and bilinear weights of sampling point (py, px), each weight times the
 * modulation `mk` and 0 for a corner outside the image.
 */
function tapsFn(g: DeformGeometry): string {
  return `struct Taps { i: vec4<u32>, w: vec4<f32> }

fn taps(py: f32, px: f32, mk: f32) -> Taps {
  let fy = floor(py);
  let fx = floor(px);
  let ly = py - fy;
  let lx = px - fx;
  // f32 → i32 saturates in WGSL, so far-away samples stay far away (and +1 cannot overflow).
  let y0 = i32(fy);
  let x0 = i32(fx);
  let vy0 = y0 >= 0 && y0 < ${g.H};
  let vy1 = y0 >= -1 && y0 < ${g.H - 1};
  let vx0 = x0 >= 0 && x0 < ${g.W};
  let vx1 = x0 >= -1 && x0 < ${g.W - 1};
  let hy = 1.0 - ly;
  let hx = 1.0 - lx;
  let w = vec4<f32>(select(0.0, hy * hx, vy0 && vx0), select(0.0, hy * lx, vy0 && vx1),
                    select(0.0, ly * hx, vy1 && vx0), select(0.0, ly * lx, vy1 && vx1)) * mk;
  let cy0 = u32(clamp(y0, 0, ${g.H - 1}));
  let cy1 = u32(clamp(y0 + 1, 0, ${g.H - 1}));
  let cx0 = u32(clamp(x0, 0, ${g.W - 1}));
  let cx1 = u32(clamp(x0 + 1, 0, ${g.W - 1}));
  return Taps(vec4<u32>(cy0 * ${g.W}u + cx0, cy0 * ${g.W}u + cx1, cy1 * ${g.W}u + cx0, cy1 * ${g.W}u + cx1), w);
}`;
}

/** f32 expression: the bilinear sample of the plane starting at X[`base`] with taps `t`. */
function sample(g: DeformGeometry, t: string, base: string): string {
  const x = (c: string): string => cvt(`X[${base} + ${t}.i.${c}]`, g.st, 'f32');
  return `dot(${t}.w, vec4<f32>(${x('x')}, ${x('y')}, ${x('z')}, ${x('w')}))`;
}

/**
 * Statements computing `let ${t} = taps(...)` for image `n`, offset group `og`, kernel position
 * `k` and output position (oh, ow) with flat index `ohw`.
 */
function tapsAt(g: DeformGeometry, t: string, n: string, og: string, k: string, oh: string, ow: string, ohw: string): string {
  const oo = `((${n} * ${g.OG}u + ${og}) * ${2 * g.KK}u + 2u * ${k}) * ${g.OHW}u + ${ohw}`;
  const mk = g.mask ? cvt(`MASK[((${n} * ${g.OG}u + ${og}) * ${g.KK}u + ${k}) * ${g.OHW}u + ${ohw}]`, g.st, 'f32') : '1.0';
  return `let ${t}_oo = ${oo};
      let ${t} = taps(f32(i32(${oh}) * ${g.sH} - ${g.pT} + i32(${k} / ${g.KW}u) * ${g.dH}) + ${cvt(`OFF[${t}_oo]`, g.st, 'f32')},
                      f32(i32(${ow}) * ${g.sW} - ${g.pL} + i32(${k} % ${g.KW}u) * ${g.dW}) + ${cvt(`OFF[${t}_oo + ${g.OHW}u]`, g.st, 'f32')}, ${mk});`;
}

function biasF32(g: DeformGeometry, m: string): string {
  return g.bias ? cvt(`B[${m}]`, g.st, 'f32') : '0.0';
}

const WG = 64;

// ---------------------------------------------------------------------------------------------
// naive

function naivePlan(g: DeformGeometry, variant: string, caps: DeviceCaps): KernelPlan {
  const total = g.N * g.M * g.OHW;
  const b = ioBindings(g, { x: true, w: true, offset: true, mask: true, bias: true, y: true });
  const wgsl = `${header([g.st])}${b.wgsl}

${tapsFn(g)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${total}u) { return; }
  let ohw = gid % ${g.OHW}u;
  let oh = ohw / ${g.OW}u;
  let ow = ohw % ${g.OW}u;
  let m = (gid / ${g.OHW}u) % ${g.M}u;
  let n = gid / ${g.OHW * g.M}u;
  let grp = m / ${g.Mg}u;
  let c0 = grp * ${g.Cg}u;
  // The offset groups that overlap this convolution group's channels.
  let ogLo = c0 / ${g.Cog}u;
  let ogHi = (c0 + ${g.Cg - 1}u) / ${g.Cog}u;
  var acc = 0.0;
  for (var og = ogLo; og <= ogHi; og++) {
    let cLo = max(c0, og * ${g.Cog}u);
    let cHi = min(c0 + ${g.Cg}u, (og + 1u) * ${g.Cog}u);
    for (var k = 0u; k < ${g.KK}u; k++) {
      ${tapsAt(g, 't', 'n', 'og', 'k', 'oh', 'ow', 'ohw')}
      for (var c = cLo; c < cHi; c++) {
        let v = ${sample(g, 't', `(n * ${g.C}u + c) * ${g.H * g.W}u`)};
        acc = fma(v, ${cvt(`W[(m * ${g.Cg}u + c - c0) * ${g.KK}u + k]`, g.st, 'f32')}, acc);
      }
    }
  }
  Y[gid] = ${cvt(`acc + ${biasF32(g, 'm')}`, 'f32', g.st)};
}
`;
  return { passes: [{ label: `${KERNEL}/${variant}`, wgsl, workgroups: dispatch1d(total, WG, caps), buffers: b.buffers }], scratch: [] };
}

// ---------------------------------------------------------------------------------------------
// Tiled GEMM (im2col-gemm and fused): Y_g[m, p] = Σ_k A_g[m, k] · B_g[k, p] per group g = wid.z,
// on conv.ts's tiled GEMM generator with deformable loaders.

/** Output tile: TM rows (output channels of a group) × TP columns (output positions of all images). */
function tileFor(g: DeformGeometry): GemmTile {
  // Narrow groups (≤ 32 output channels) waste less of a 32-row tile.
  return g.Mg <= 32 ? { TM: 32, TP: 64, TK: 16, RM: 4, RP: 8 } : { TM: 64, TP: 64, TK: 16, RM: 8, RP: 8 };
}

/** Stores GEMM output (row m of group `grp`, column p = n·OH·OW + o) into Y, with the bias. */
function yStore(g: DeformGeometry) {
  return (m: string, p: string, v: string): string =>
    `let mg = grp * ${g.Mg}u + ${m}; Y[((${p} / ${g.OHW}u) * ${g.M}u + mg) * ${g.OHW}u + ${p} % ${g.OHW}u] = ${cvt(`${v} + ${biasF32(g, 'mg')}`, 'f32', g.st)};`;
}

// ---------------------------------------------------------------------------------------------
// im2col-gemm

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Column-matrix row length: P rounded up to whole 4-vectors (the GEMM reads rows as vectors). */
const colStride = (g: DeformGeometry): number => roundUp(g.P, 4);

function colBytes(g: DeformGeometry): number {
  return g.C * g.KK * colStride(g) * 4;
}

function im2colPlan(g: DeformGeometry, variant: string, caps: DeviceCaps, tile: GemmTile): KernelPlan {
  const Pc = colStride(g);
  const K = g.Cg * g.KK;
  // Pass 1, one invocation per (channel, column): col[c·KK + k][p], f32, mask applied. Row c·KK + k
  // is row (c − g·Cg)·KK + k of group g's K block, which matches W's [m][c][kh][kw] layout.
  const total = g.C * g.P;
  const b1 = ioBindings(g, { x: true, offset: true, mask: true, scratch: [{ name: 'Col', index: 0, type: 'f32', access: 'read_write' }] });
  const im2col = `${header([g.st])}${b1.wgsl}

${tapsFn(g)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${total}u) { return; }
  let p = gid % ${g.P}u;
  let c = gid / ${g.P}u;
  let n = p / ${g.OHW}u;
  let ohw = p % ${g.OHW}u;
  let oh = ohw / ${g.OW}u;
  let ow = ohw % ${g.OW}u;
  let og = c / ${g.Cog}u;
  let xb = (n * ${g.C}u + c) * ${g.H * g.W}u;
  for (var k = 0u; k < ${g.KK}u; k++) {
      ${tapsAt(g, 't', 'n', 'og', 'k', 'oh', 'ow', 'ohw')}
      Col[(c * ${g.KK}u + k) * ${Pc}u + p] = ${sample(g, 't', 'xb')};
  }
}
`;
  const b2 = ioBindings(g, { w: true, bias: true, y: true, scratch: [{ name: 'Col', index: 0, type: 'vec4<f32>', access: 'read' }] });
  const spec: GemmSpec = {
    ct: 'f32', M: g.Mg, P: g.P, K, tile,
    decls: `${header([g.st])}${b2.wgsl}`,
    prelude: '  let grp = bz;',
    bColumns: `  let colBase = grp * ${K * (Pc / 4)}u;`,
    loadA4: (m, k) => aRowLoad(g, m, k, K, 'f32', (kk) => kk),
    loadB4: (k) => `        bv = Col[colBase + ${k} * ${Pc / 4}u + bp / 4u];`,
    store: yStore(g),
  };
  const gemm = gemmPasses(spec, g.G, caps, `${KERNEL}/${variant} gemm`, b2.buffers, 1);
  return {
    passes: [{ label: `${KERNEL}/${variant} im2col`, wgsl: im2col, workgroups: dispatch1d(total, WG, caps), buffers: b1.buffers }, ...gemm.passes],
    scratch: [colBytes(g), ...gemm.scratch],
  };
}

/**
 * `av` = A[m, k … k+3] of group `grp` from W, four guarded scalar loads; `wIndex` maps a GEMM
 * reduction index (WGSL u32 expression) to the offset within W's row of Cg·KK elements.
 */
function aRowLoad(g: DeformGeometry, m: string, k: string, K: number, ct: GpuType, wIndex: (kk: string) => string): string {
  const lines = [`        let wrow = (grp * ${g.Mg}u + ${m}) * ${K}u;`];
  const el: string[] = [];
  for (let i = 0; i < 4; i++) {
    lines.push(`        let k${i} = min(${k} + ${i}u, ${K - 1}u);`);
    el.push(`select(${ct}(0.0), ${cvt(`W[wrow + ${wIndex(`k${i}`)}]`, g.st, ct)}, ${k} + ${i}u < ${K}u)`);
  }
  lines.push(`        av = vec4<${ct}>(${el.join(', ')});`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// fused (DefT-style)

function fusedPlan(g: DeformGeometry, variant: string, ct: 'f32' | 'f16', caps: DeviceCaps, tile: GemmTile): KernelPlan {
  const K = g.Cg * g.KK;
  const b = ioBindings(g, { x: true, w: true, offset: true, mask: true, bias: true, y: true });
  // Reduction index k = kpos·Cg + c (kernel position major): rows of a K tile share a kernel
  // position, so the cached taps below are recomputed only when (kpos, offset group) changes.
  // Per-column constants in small arrays indexed in loops (one copy of the sampling code, not four).
  const cols = `  var cN: array<u32, 4>; var cO: array<u32, 4>; var cXB: array<u32, 4>;
  for (var e = 0u; e < 4u; e++) {
    let cp = min(bp + e, ${g.P - 1}u);
    cN[e] = cp / ${g.OHW}u; cO[e] = cp % ${g.OHW}u; cXB[e] = cN[e] * ${g.C * g.H * g.W}u;
  }
  var cT: array<Taps, 4>;
  var cachedKey = 0xffffffffu;`;
  const loadB = (k: string): string => `        let kpos = ${k} / ${g.Cg}u;
        let ca = grp * ${g.Cg}u + ${k} % ${g.Cg}u;
        let og = ca / ${g.Cog}u;
        let key = kpos * ${g.OG}u + og;
        if (key != cachedKey) {
          cachedKey = key;
          for (var e = 0u; e < 4u; e++) {
            let n = cN[e]; let o = cO[e];
            ${tapsAt(g, 't', 'n', 'og', 'kpos', `(o / ${g.OW}u)`, `(o % ${g.OW}u)`, 'o')}
            cT[e] = t;
          }
        }
        var sv = vec4<f32>(0.0);
        for (var e = 0u; e < 4u; e++) {
          let t = cT[e];
          sv[e] = ${sample(g, 't', `cXB[e] + ca * ${g.H * g.W}u`)};
        }
        bv = ${ct === 'f16' ? 'vec4<f16>(sv)' : 'sv'};`;
  const spec: GemmSpec = {
    ct, M: g.Mg, P: g.P, K, tile,
    decls: `${header([g.st, ct])}${b.wgsl}\n\n${tapsFn(g)}`,
    prelude: '  let grp = bz;',
    bColumns: cols,
    // W[m, c, kpos] for reduction index kpos·Cg + c.
    loadA4: (m, k) => aRowLoad(g, m, k, K, ct, (kk) => `(${kk} % ${g.Cg}u) * ${g.KK}u + ${kk} / ${g.Cg}u`),
    loadB4: loadB,
    store: yStore(g),
  };
  return gemmPasses(spec, g.G, caps, `${KERNEL}/${variant}`, b.buffers);
}

// ---------------------------------------------------------------------------------------------
// Kernel descriptor

const VARIANTS = [
  { name: 'naive', description: 'one invocation per output element, bilinear sampling inline (taps computed once per kernel position and offset group)' },
  { name: 'im2col-gemm', description: 'deformable im2col (bilinear samples × mask) into a scratch column matrix, then a tiled GEMM per group (the common CUDA implementation)' },
  { name: 'fused', description: 'DefT-style: tiled GEMM whose B tile is gathered by bilinear sampling from X while loading workgroup memory; no column buffer' },
  { name: 'fused-f16', description: 'fused with f16 tiles and multiply-adds (f32 across K tiles); needs shader-f16' },
];

function bindingCheck(what: string, bytes: number, caps: DeviceCaps): Support | null {
  return bytes > caps.maxStorageBufferBindingSize
    ? unsupported(`the ${what} (${bytes} bytes) exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`)
    : null;
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Everything about the layer itself (not the variant) that must hold; null when it does. */
function layerProblem(c: LayerCase, caps: DeviceCaps): Support | null {
  const l = c.layer;
  const mmcv = isMmcvDeform(l.op);
  const s = mmcv ? MMCV_SLOTS : ONNX_SLOTS;
  const x = l.inputs[s.x];
  const w = l.inputs[s.w];
  const off = l.inputs[s.offset];
  if (!x || !w || !off) return unsupported('input X, weight W or offset is missing');
  if (x.dtype !== 'float32' && x.dtype !== 'float16') return unsupported(`${x.dtype} is not supported (float32, float16)`);
  if (x.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  if (x.shape.length !== 4 || w.shape.length !== 4) return unsupported(`only 2-D deformable convolution is implemented (X has rank ${x.shape.length})`);
  for (const i of [s.w, s.offset, s.mask, s.bias]) {
    const t = l.inputs[i];
    if (t && t.dtype !== x.dtype) return unsupported(`input ${i} is ${t.dtype}, X is ${x.dtype}`);
  }
  if (elements(x) === 0 || elements(l.outputs[0]) === 0) return unsupported('empty tensor');
  const g = deformGeometry(c);
  for (const [name, v] of [['group', g.G], ['offset group', g.OG], ['stride', Math.min(g.sH, g.sW)], ['dilation', Math.min(g.dH, g.dW)]] as const) {
    if (!Number.isInteger(v) || v < 1) return unsupported(`${name} must be a positive integer, got ${v}`);
  }
  if (g.pT < 0 || g.pL < 0) return unsupported(`negative padding [${g.pT}, ${g.pL}]`);
  if (g.C % g.G !== 0 || g.M % g.G !== 0 || w.shape[1] !== g.Cg) return unsupported(`channels (X ${g.C}, W [${w.shape.join(',')}]) do not divide into ${g.G} groups`);
  if (g.C % g.OG !== 0) return unsupported(`${g.C} input channels do not divide into ${g.OG} offset groups`);
  const want = [g.N, g.OG * 2 * g.KK, g.OH, g.OW];
  if (!same(off.shape, want)) return unsupported(`offset is [${off.shape.join(',')}], expected [${want.join(',')}]`);
  const mask = l.inputs[s.mask];
  if (mask && !same(mask.shape, [g.N, g.OG * g.KK, g.OH, g.OW])) return unsupported(`mask is [${mask.shape.join(',')}], expected [${[g.N, g.OG * g.KK, g.OH, g.OW].join(',')}]`);
  const bias = l.inputs[s.bias];
  if (bias && !same(bias.shape, [g.M])) return unsupported(`bias is [${bias.shape.join(',')}], expected [${g.M}]`);
  const esz = gpuSize(g.st);
  for (const [what, t] of [['input', x], ['weight', w], ['offset', off], ['mask', mask], ['output', l.outputs[0]]] as const) {
    const r = t ? bindingCheck(what, elements(t) * esz, caps) : null;
    if (r) return r;
  }
  return null;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const bad = layerProblem(c, caps);
  if (bad) return bad;
  const g = deformGeometry(c);
  const lim = caps.maxComputeWorkgroupsPerDimension;
  switch (variant) {
    case 'naive':
      return Math.ceil((g.N * g.M * g.OHW) / WG) <= lim * lim ? supported : unsupported('the output exceeds the dispatch limits');
    case 'im2col-gemm': {
      const r = bindingCheck('column matrix', colBytes(g), caps);
      if (r) return r;
      if (Math.ceil((g.C * g.P) / WG) > lim * lim) return unsupported('the im2col pass exceeds the dispatch limits');
      return gemmWorkgroups({ M: g.Mg, P: g.P, tile: tileFor(g) }, g.G, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'fused':
    case 'fused-f16':
      if (variant === 'fused-f16' && !caps.f16) return unsupported('needs the shader-f16 feature');
      return gemmWorkgroups({ M: g.Mg, P: g.P, tile: tileFor(g) }, g.G, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

/** The GEMM variants search the GEMM core's tiles (gemm.ts gemmTuning), their own (tileFor) first. */
function tuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
  if (variant === 'naive' || !supports(c, variant, caps).ok) return [];
  const g = deformGeometry(c);
  return gemmTuning({ M: g.Mg, P: g.P, K: g.Cg * g.KK, batches: g.G }, variant === 'fused-f16' ? 'f16' : 'f32', caps, level, tileFor(g));
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const g = deformGeometry(c);
  const tile = config ? gemmTile(config) : tileFor(g);
  switch (variant) {
    case 'naive': return naivePlan(g, variant, caps);
    case 'im2col-gemm': return im2colPlan(g, variant, caps, tile);
    case 'fused': return fusedPlan(g, variant, 'f32', caps, tile);
    case 'fused-f16': return fusedPlan(g, variant, 'f16', caps, tile);
    default: throw new Error(`${KERNEL}/${variant}: unknown variant`);
  }
}

/**
 * Bilinear sample of one H×W plane at (py, px); corners outside the image contribute 0 (ONNX
 * DeformConv reference; mmcv's `dmcn_im2col_bilinear` gives the same values).
 */
export function bilinear(x: ArrayLike<number>, base: number, H: number, W: number, py: number, px: number): number {
  const y0 = Math.floor(py);
  const x0 = Math.floor(px);
  const ly = py - y0;
  const lx = px - x0;
  let v = 0;
  const at = (yy: number, xx: number, wt: number): void => {
    if (yy >= 0 && yy < H && xx >= 0 && xx < W && wt !== 0) v += wt * x[base + yy * W + xx];
  };
  at(y0, x0, (1 - ly) * (1 - lx));
  at(y0, x0 + 1, (1 - ly) * lx);
  at(y0 + 1, x0, ly * (1 - lx));
  at(y0 + 1, x0 + 1, ly * lx);
  return v;
}

/**
 * CPU reference, straight from the formula in the header (double precision). The deformed,
 * modulated sample x_c(p_o + p_k + Δp_k)·Δm_k does not depend on the output channel, so it is
 * computed once per (n, c, k, o) and then contracted with W.
 */
function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = deformGeometry(c);
  const x = inputs[g.slots.x]!.data;
  const w = inputs[g.slots.w]!.data;
  const off = inputs[g.slots.offset]!.data;
  const mask = inputs[g.slots.mask]?.data;
  const bias = inputs[g.slots.bias]?.data;
  const { N, C, H, W, M, Cg, Mg, Cog, OG, KH, KW, KK, OH, OW, OHW } = g;
  const y = new Float32Array(N * M * OHW);
  const col = new Float64Array(C * KK * OHW);
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < C; ch++) {
      const og = Math.floor(ch / Cog);
      const xb = (n * C + ch) * H * W;
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const k = kh * KW + kw;
          const ob = ((n * OG + og) * 2 * KK + 2 * k) * OHW;
          const mb = ((n * OG + og) * KK + k) * OHW;
          for (let oh = 0; oh < OH; oh++) {
            for (let ow = 0; ow < OW; ow++) {
              const o = oh * OW + ow;
              const py = oh * g.sH - g.pT + kh * g.dH + off[ob + o];
              const px = ow * g.sW - g.pL + kw * g.dW + off[ob + OHW + o];
              const m = mask ? mask[mb + o] : 1;
              col[(ch * KK + k) * OHW + o] = m * bilinear(x, xb, H, W, py, px);
            }
          }
        }
      }
    }
    const acc = new Float64Array(OHW);
    for (let m = 0; m < M; m++) {
      const grp = Math.floor(m / Mg);
      acc.fill(bias ? bias[m] : 0);
      for (let cc = 0; cc < Cg; cc++) {
        for (let k = 0; k < KK; k++) {
          const wv = w[(m * Cg + cc) * KK + k];
          const cb = ((grp * Cg + cc) * KK + k) * OHW;
          for (let o = 0; o < OHW; o++) acc[o] += wv * col[cb + o];
        }
      }
      y.set(acc, (n * M + m) * OHW);
    }
  }
  return [{ dtype: c.layer.outputs[0].dtype, shape: [...c.layer.outputs[0].shape], data: y }];
}

/**
 * The convolution's count (conv.ts convFlops: 2 per weight per output, + the bias), plus bilinear
 * sampling: 4 taps × (mul + add) + weights ≈ 10 FLOPs per sampled input value, one sample per
 * (output position, input channel, kernel tap), the mask multiply included.
 */
function cost(l: LayerSignature): number {
  const mmcv = isMmcvDeform(l.op);
  // DeformConv: X, W, offset, B, mask; mmcv: X, offset, mask, W, B.
  const x = l.inputs[0];
  const w = mmcv ? l.inputs[3] : l.inputs[1];
  const y = l.outputs[0];
  if (!x || !w) return 0;
  return convFlops(w, y, mmcv ? l.inputs[4] : l.inputs[3]) + 10 * (elements(y) / y.shape[1]) * x.shape[1] * prod(w.shape.slice(2));
}

export const kernels: Kernel[] = [{
  name: KERNEL,
  ops: ['DeformConv', ...MMCV_DEFORM_OPS],
  variants: VARIANTS,
  defaultVariant: () => 'naive',
  supports,
  plan,
  tuning,
  reference,
  cost,
}];
