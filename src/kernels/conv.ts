/**
 * Conv (1-D, 2-D, 3-D) and ConvTranspose, NCHW, with groups, strides, dilations, asymmetric pads and
 * an optional bias.
 *
 * Y[n, m, o…] = B[m] + Σ_{c < C/G} Σ_{k…} X[n, g·C/G + c, o·s + k·d − pad_begin…] · W[m, c, k…],
 * with g = m / (M/G). Reads outside the input are the zero padding.
 *
 * Variants (the analogue of cuDNN's convolution algorithms):
 *  - `direct`: one invocation per output position and a few output channels, looping over the
 *    group's input channels and the kernel window. Any rank, groups, dilations; the fallback and the
 *    only ConvTranspose variant (the transposed convolution is gathered: each output position finds
 *    the input positions that scatter into it).
 *  - `implicit-gemm`: the convolution as one GEMM per group, Y[m, p] = Σ_k W[m, k]·col[k, p] with
 *    p = (n, oh, ow) and k = (c, kh, kw); the im2col matrix is never stored: the tile loader computes
 *    each column element's input address (or the zero padding) while filling workgroup memory.
 *    Register-blocked: each invocation accumulates RM×RP outputs.
 *  - `im2col-gemm`: the same GEMM with im2col materialized in a scratch buffer by a first pass.
 *  - `winograd`: F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
 *    Networks", eq. 8: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A): weight transform, input transform, 16
 *    GEMMs over channels in the transformed domain (one per tile element ξ), output transform.
 *    2.25× fewer multiplications than direct for 3×3, stride 1, dilation 1, group 1.
 *  - `depthwise`: group = C = M: each workgroup loads a haloed input tile of one channel into
 *    workgroup memory and computes an output tile from it.
 *  - `1x1-gemm`: 1×1 kernels without padding: the input already is the GEMM's B matrix (strided
 *    when the stride is > 1), no im2col arithmetic at all.
 *  - `implicit-gemm-f16`: implicit-gemm with f16 tiles and f16 multiply-adds (shader-f16), the
 *    analogue of Tensor Cores: products are summed in f16 within a K tile and the tile's partial
 *    sums in f32 across tiles (as Tensor Cores accumulate in f32), which keeps the error of long
 *    reductions (K = C·KH·KW in the thousands) near f16's rounding of the operands.
 *
 * Every variant adds the bias in its epilogue and computes in f32 (f16 layers included: f16
 * storage, converted on load), except implicit-gemm-f16.
 */
import {
  supported, unsupported,
  type AutotuneLevel, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support, type TuneConfig,
} from './types.js';
import { dispatch1d, elements, gpuSize, gpuTypeOf, header, prod, stridesOf } from './wgsl.js';
import { GEMM_TILE, gemmPasses, gemmTile, gemmTuning, gemmWorkgroups, guardedLanes4, type GemmSpec, type GemmTile } from './gemm.js';
import type { LayerSignature, TensorType } from '../ir/types.js';
import { count } from './flops.js';

const KERNEL = 'conv';

// ---------------------------------------------------------------------------------------------
// Geometry

export interface ConvGeometry {
  transpose: boolean;
  /** Spatial rank. */
  nd: number;
  N: number;
  /** Input channels. */
  C: number;
  /** Output channels. */
  M: number;
  G: number;
  /** Input channels per group. */
  Cg: number;
  /** Output channels per group. */
  Mg: number;
  ins: number[];
  outs: number[];
  k: number[];
  s: number[];
  d: number[];
  /** Pads at the beginning and at the end of each spatial dim. */
  pb: number[];
  pe: number[];
  /** Storage type of X, W, B and Y. */
  st: GpuType;
  bias: boolean;
}


function intsAttr(c: LayerCase, name: string, def: number[]): number[] {
  const v = c.layer.attrs[name];
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : def;
}

export function convGeometry(c: LayerCase): ConvGeometry {
  const l = c.layer;
  const x = l.inputs[0]!;
  const w = l.inputs[1]!;
  const y = l.outputs[0];
  const nd = x.shape.length - 2;
  const transpose = l.op === 'ConvTranspose';
  const G = typeof l.attrs.group === 'number' ? l.attrs.group : 1;
  const pads = intsAttr(c, 'pads', new Array<number>(2 * nd).fill(0));
  const C = x.shape[1];
  const M = y.shape[1];
  return {
    transpose, nd, N: x.shape[0], C, M, G, Cg: C / G, Mg: M / G,
    ins: x.shape.slice(2), outs: y.shape.slice(2),
    k: intsAttr(c, 'kernel_shape', w.shape.slice(2)),
    s: intsAttr(c, 'strides', new Array<number>(nd).fill(1)),
    d: intsAttr(c, 'dilations', new Array<number>(nd).fill(1)),
    pb: pads.slice(0, nd), pe: pads.slice(nd),
    st: gpuTypeOf(x.dtype),
    bias: !!l.inputs[2],
  };
}

/** The 2-D view of a 1-D or 2-D convolution (a 1-D one is H = 1); null for other ranks. */
export function as2d(g: ConvGeometry): ConvGeometry | null {
  if (g.nd === 2) return g;
  if (g.nd !== 1) return null;
  return { ...g, nd: 2, ins: [1, ...g.ins], outs: [1, ...g.outs], k: [1, ...g.k], s: [1, ...g.s], d: [1, ...g.d], pb: [0, ...g.pb], pe: [0, ...g.pe] };
}

const isDepthwise = (g: ConvGeometry): boolean => !g.transpose && g.G > 1 && g.G === g.C && g.G === g.M;
const isPointwise = (g: ConvGeometry): boolean => !g.transpose && g.k.every((k) => k === 1) && g.pb.every((p) => p === 0) && g.pe.every((p) => p === 0);

// ---------------------------------------------------------------------------------------------
// WGSL pieces

interface ScratchBinding { name: string; index: number; type: string; access: 'read' | 'read_write' }

/**
 * Bindings X, W, (B), scratch buffers, Y; returns the WGSL and the plan's buffer refs. `x4`/`w4`
 * declare X/W as arrays of 4-vectors (one load brings 4 elements: see the GEMM's notes).
 */
function ioBindings(g: ConvGeometry, opts: { x?: boolean; w?: boolean; y?: boolean; bias?: boolean; x4?: boolean; w4?: boolean; scratch?: ScratchBinding[] }) {
  const lines: string[] = [];
  const refs: Pass['buffers'] = [];
  const add = (name: string, type: string, access: 'read' | 'read_write', ref: Pass['buffers'][number]): void => {
    lines.push(`@group(0) @binding(${refs.length}) var<storage, ${access}> ${name}: array<${type}>;`);
    refs.push(ref);
  };
  if (opts.x) add('X', opts.x4 ? `vec4<${g.st}>` : g.st, 'read', { kind: 'input', index: 0 });
  if (opts.w) add('W', opts.w4 ? `vec4<${g.st}>` : g.st, 'read', { kind: 'input', index: 1 });
  if (opts.bias && g.bias) add('B', g.st, 'read', { kind: 'input', index: 2 });
  for (const sc of opts.scratch ?? []) add(sc.name, sc.type, sc.access, { kind: 'scratch', index: sc.index });
  if (opts.y) add('Y', g.st, 'read_write', { kind: 'output', index: 0 });
  return { wgsl: lines.join('\n'), buffers: refs };
}

/** `v` (of type `from`) converted to `to`. */
function cvt(v: string, from: GpuType, to: GpuType): string {
  return from === to ? v : `${to}(${v})`;
}

/** A vec4 `v` of element type `from` converted to vec4<to>. */
function cvt4(v: string, from: GpuType, to: GpuType): string {
  return from === to ? v : `vec4<${to}>(${v})`;
}

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** The bias of output channel `m` as f32 (0 without a bias). */
function biasF32(g: ConvGeometry, m: string): string {
  return g.bias ? cvt(`B[${m}]`, g.st, 'f32') : '0.0';
}

function wgslHeader(g: ConvGeometry, ...more: GpuType[]): string {
  return header([g.st, ...more]);
}

/** A 3-D dispatch of `x` workgroups (split over y when beyond the per-dimension limit) × z. */
function grid(x: number, z: number, caps: DeviceCaps): [number, number, number] {
  const [gx, gy] = dispatch1d(x, 1, caps);
  return [gx, gy, z];
}

// ---------------------------------------------------------------------------------------------
// direct

/**
 * Output channels per invocation: each input value loaded is reused that many times, and the
 * channel block is the workgroup's (grid y), so weight addresses are uniform across the workgroup
 * (a single load broadcast to all lanes on SIMD CPUs, a scalar/constant-cache load on GPUs).
 */
function directBlock(g: ConvGeometry): number {
  const max = Number(process.env.CONV_MB ?? 8);
  for (const b of [16, 8, 4, 2]) if (b <= max && g.Mg % b === 0) return b;
  return 1;
}

const DIRECT_WG = 64;

/** Grid of the direct variant: x = blocks of output positions (all images), y = channel blocks. */
function directGrid(g: ConvGeometry): [number, number, number] {
  return [Math.ceil((g.N * prod(g.outs)) / DIRECT_WG), g.M / directBlock(g), 1];
}

function directWgsl(g: ConvGeometry): { wgsl: string; buffers: Pass['buffers'] } {
  const MB = directBlock(g);
  const osp = prod(g.outs);
  const isp = prod(g.ins);
  const ksp = prod(g.k);
  const NP = g.N * osp;
  const b = ioBindings(g, { x: true, w: true, bias: true, y: true });
  const nd = g.nd;
  const outSt = stridesOf(g.outs);
  const inSt = stridesOf(g.ins);
  const kSt = stridesOf(g.k);
  const l: string[] = [];
  l.push(`  let m0 = wid.y * ${MB}u;`);
  l.push(`  let grp = m0 / ${g.Mg}u;`);
  l.push(`  let praw = wid.x * ${DIRECT_WG}u + lid;`);
  // Out-of-range lanes compute a clamped position and skip only the store: no early return, so
  // the rest of the program stays in uniform control flow.
  l.push(`  let p = min(praw, ${NP - 1}u);`);
  l.push(`  let n = p / ${osp}u;`);
  l.push(`  let sp = p % ${osp}u;`);
  for (let i = 0; i < nd; i++) l.push(`  let o${i} = i32((sp / ${outSt[i]}u) % ${g.outs[i]}u);`);
  l.push(`  let xn = (n * ${g.C}u + grp * ${g.Cg}u) * ${isp}u;`);
  for (let j = 0; j < MB; j++) l.push(`  var acc${j} = 0.0;`);
  let indent = '  ';
  for (let i = 0; i < nd; i++) {
    l.push(`${indent}for (var k${i} = 0; k${i} < ${g.k[i]}; k${i}++) {`);
    indent += '  ';
    if (!g.transpose) {
      l.push(`${indent}let i${i} = o${i} * ${g.s[i]}i + k${i} * ${g.d[i]}i - ${g.pb[i]}i;`);
      l.push(`${indent}let v${i} = ${i ? `v${i - 1} && ` : ''}i${i} >= 0 && i${i} < ${g.ins[i]}i;`);
    } else {
      // ConvTranspose: output o receives x[i]·w[k] where o = i·s + k·d − pad_begin.
      l.push(`${indent}let q${i} = o${i} + ${g.pb[i]}i - k${i} * ${g.d[i]}i;`);
      l.push(`${indent}let i${i} = q${i} / ${g.s[i]}i;`);
      l.push(`${indent}let v${i} = ${i ? `v${i - 1} && ` : ''}q${i} >= 0 && q${i} % ${g.s[i]}i == 0 && i${i} < ${g.ins[i]}i;`);
    }
  }
  const xi = Array.from({ length: nd }, (_, i) => `u32(i${i}) * ${inSt[i]}u`).join(' + ');
  const ki = Array.from({ length: nd }, (_, i) => `u32(k${i}) * ${kSt[i]}u`).join(' + ');
  const valid = `v${nd - 1}`;
  l.push(`${indent}let xo = select(xn, xn + ${xi}, ${valid});`);
  l.push(`${indent}let ko = ${ki};`);
  l.push(`${indent}for (var c = 0u; c < ${g.Cg}u; c++) {`);
  l.push(`${indent}  let xv = select(0.0, ${cvt(`X[xo + c * ${isp}u]`, g.st, 'f32')}, ${valid});`);
  if (!g.transpose) {
    // W[m, c, k…]
    l.push(`${indent}  let wo = (m0 * ${g.Cg}u + c) * ${ksp}u + ko;`);
    for (let j = 0; j < MB; j++) l.push(`${indent}  acc${j} = fma(xv, ${cvt(`W[wo + ${j * g.Cg * ksp}u]`, g.st, 'f32')}, acc${j});`);
  } else {
    // W[ci, m within group, k…]
    l.push(`${indent}  let wo = ((grp * ${g.Cg}u + c) * ${g.Mg}u + m0 % ${g.Mg}u) * ${ksp}u + ko;`);
    for (let j = 0; j < MB; j++) l.push(`${indent}  acc${j} = fma(xv, ${cvt(`W[wo + ${j * ksp}u]`, g.st, 'f32')}, acc${j});`);
  }
  l.push(`${indent}}`);
  for (let i = nd - 1; i >= 0; i--) { indent = indent.slice(2); l.push(`${indent}}`); }
  l.push(`  if (praw < ${NP}u) {`);
  l.push(`    let yo = (n * ${g.M}u + m0) * ${osp}u + sp;`);
  for (let j = 0; j < MB; j++) {
    l.push(`    Y[yo + ${j * osp}u] = ${cvt(`acc${j} + ${biasF32(g, `m0 + ${j}u`)}`, 'f32', g.st)};`);
  }
  l.push('  }');
  const wgsl = `${wgslHeader(g)}${b.wgsl}

@compute @workgroup_size(${DIRECT_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${l.join('\n')}
}
`;
  return { wgsl, buffers: b.buffers };
}


// ---------------------------------------------------------------------------------------------
// implicit-gemm, im2col-gemm, 1x1-gemm and winograd's batched products on the GEMM core (gemm.ts)

/**
 * A[m, k … k+3] from a row-major [rows][K] matrix `name` at row `row` (K the GEMM's, gK in the
 * core): one vector load when K is a multiple of 4 (the binding is then declared as vec4s), else
 * four guarded scalar loads (gemm.ts guardedLanes4).
 */
function rowLoad4(name: string, row: string, k: string, K: number, from: GpuType, to: GpuType, vec: boolean): string {
  if (vec) return `        av = ${cvt4(`${name}[(${row}) * ${K / 4}u + ${k} / 4]`, from, to)};`;
  // The row's start named once, K the core's own gK: each literal is a run-time parameter of its
  // own, and eight copies of K made the stem convolution's programs compile about twice as long.
  return `        { let ra = (${row}) * gK + ${k}; av = ${guardedLanes4(to as 'f32' | 'f16', (e) => cvt(`${name}[ra + ${e}]`, from, to), k)}; }`;
}

/**
 * Per-column set-up of implicit im2col for the 4 columns `${p}` + e (group `bz`). The geometry is
 * named once (`cv*`), so each value is one run-time parameter however many columns read it.
 */
function im2colColumns(g: ConvGeometry, p: string): string {
  const [OH, OW] = g.outs;
  const [H, W] = g.ins;
  const lines = [
    `  let cvOHW = ${OH * OW}u; let cvOW = ${OW}u; let cvSH = ${g.s[0]}i; let cvSW = ${g.s[1]}i; let cvPH = ${g.pb[0]}i; let cvPW = ${g.pb[1]}i;`,
    `  let cvN1 = ${g.N - 1}u; let cvC = ${g.C}u; let cvCg = ${g.Cg}u; let cvHW = ${H * W}u; let cvH = ${H}i; let cvW = ${W}i;`,
    `  let cvKHW = ${g.k[0] * g.k[1]}u; let cvKW = ${g.k[1]}u; let cvDH = ${g.d[0]}i; let cvDW = ${g.d[1]}i;`,
  ];
  for (let e = 0; e < 4; e++) {
    lines.push(`  let cp${e} = ${p} + ${e};`);
    lines.push(`  let cr${e} = cp${e} % cvOHW;`);
    lines.push(`  let cih${e} = i32(cr${e} / cvOW) * cvSH - cvPH;`);
    lines.push(`  let ciw${e} = i32(cr${e} % cvOW) * cvSW - cvPW;`);
    lines.push(`  let cxb${e} = (min(cp${e} / cvOHW, cvN1) * cvC + bz * cvCg) * cvHW;`);
  }
  return lines.join('\n');
}

/**
 * Statements setting `${target}[e]` to im2col(k, column e) for the 4 columns, or 0 in the padding
 * (after im2colColumns). The kernel's extent is a run-time parameter too: one program serves 1×1,
 * 3×3 and 7×7 convolutions.
 */
function im2colLoad4(g: ConvGeometry, k: string, to: GpuType, target: string): string {
  const lines = [`        let c = ${k} / cvKHW; let r = ${k} % cvKHW;`,
    `        let dh = i32(r / cvKW) * cvDH; let dw = i32(r % cvKW) * cvDW; let co = c * cvHW;`];
  for (let e = 0; e < 4; e++) {
    lines.push(`        { let ih = cih${e} + dh; let iw = ciw${e} + dw; if (ih >= 0 && ih < cvH && iw >= 0 && iw < cvW) { ${target}[${e}] = ${cvt(`X[cxb${e} + co + u32(ih) * u32(cvW) + u32(iw)]`, g.st, to)}; } }`);
  }
  return lines.join('\n');
}

/**
 * Where the GEMM's output (m in group bz, p = n·OH·OW + ohw) goes in Y: `storeSetup` and
 * `storeColumn` leave `yc` + mg · `yOHW` as the offset of output channel mg = `ymb` + m.
 */
export function convOutputAddress(g: ConvGeometry): Pick<GemmSpec, 'storeSetup' | 'storeColumn'> {
  const ohw = g.outs[0] * g.outs[1];
  return {
    storeSetup: `  let yOHW = ${ohw}u; let yImage = ${g.M * ohw}u; let ymb = bz * ${g.Mg}u;`,
    storeColumn: (p) => `let yc = (${p} / yOHW) * yImage + ${p} % yOHW;`,
  };
}

/** Stores GEMM output into Y with the bias. */
function convStore(g: ConvGeometry): Pick<GemmSpec, 'storeSetup' | 'storeColumn' | 'store'> {
  return {
    ...convOutputAddress(g),
    store: (m, _p, v) => `let mg = ymb + ${m}; Y[yc + mg * yOHW] = ${cvt(`${v} + ${biasF32(g, 'mg')}`, 'f32', g.st)};`,
  };
}

/**
 * The operands of a convolution as an implicit GEMM per group bz: A = W as [Mg][K] (read as
 * 4-vectors when `w4`: the binding W is then declared as vec4s), B = im2col(X) as [K][N·OH·OW],
 * gathered while staging its tile (never stored). Bindings X and W are the caller's.
 */
export function implicitGemmOperands(g: ConvGeometry, ct: 'f32' | 'f16', w4: boolean): Pick<GemmSpec, 'M' | 'P' | 'K' | 'bColumns' | 'loadA4' | 'loadB4'> {
  const K = g.Cg * g.k[0] * g.k[1];
  return {
    M: g.Mg, P: g.N * g.outs[0] * g.outs[1], K,
    bColumns: im2colColumns(g, 'bp'),
    loadA4: (m, k) => rowLoad4('W', `bz * ${g.Mg}u + ${m}`, k, K, g.st, ct, w4),
    loadB4: (k) => im2colLoad4(g, k, ct, 'bv'),
  };
}

function implicitGemm(g: ConvGeometry, ct: 'f32' | 'f16', tile: GemmTile, caps: DeviceCaps): { spec: GemmSpec; wg: [number, number, number] | null; buffers: Pass['buffers'] } {
  const w4 = (g.Cg * g.k[0] * g.k[1]) % 4 === 0;
  const b = ioBindings(g, { x: true, w: true, bias: true, y: true, w4 });
  const spec: GemmSpec = {
    ct, tile,
    decls: `${wgslHeader(g, ct)}${b.wgsl}`,
    ...implicitGemmOperands(g, ct, w4),
    ...convStore(g),
  };
  return { spec, wg: gemmWorkgroups(spec, g.G, caps), buffers: b.buffers };
}

// ---------------------------------------------------------------------------------------------
// im2col-gemm

/** Columns of the materialized im2col matrix: N·OH·OW rounded up to whole 4-vectors. */
function im2colCols(g: ConvGeometry): number {
  return roundUp(g.N * g.outs[0] * g.outs[1], 4);
}

function im2colBytes(g: ConvGeometry): number {
  return g.G * g.Cg * g.k[0] * g.k[1] * im2colCols(g) * 4;
}

function im2colPlan(g: ConvGeometry, variant: string, caps: DeviceCaps, tile: GemmTile): KernelPlan {
  const ohw = g.outs[0] * g.outs[1];
  const P = g.N * ohw;
  const P4 = im2colCols(g) / 4;
  const K = g.Cg * g.k[0] * g.k[1];
  // Pass 1: col[grp][k][p] (f32) as 4-vectors of consecutive p, one invocation per vector.
  const total = g.G * K * P4;
  const b1 = ioBindings(g, { x: true, scratch: [{ name: 'Col', index: 0, type: 'vec4<f32>', access: 'read_write' }] });
  const WG = 64;
  const im2col = `${wgslHeader(g)}${b1.wgsl}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${total}u) { return; }
  let p = (gid % ${P4}u) * 4u;
  let kg = gid / ${P4}u;
  let k = kg % ${K}u;
  let bz = kg / ${K}u;
${im2colColumns(g, 'p')}
  var v = vec4<f32>(0.0);
  {
${im2colLoad4(g, 'k', 'f32', 'v')}
  }
  Col[gid] = v;
}
`;
  const w4 = K % 4 === 0;
  const b2 = ioBindings(g, { w: true, bias: true, y: true, w4, scratch: [{ name: 'Col', index: 0, type: 'vec4<f32>', access: 'read' }] });
  const spec: GemmSpec = {
    ct: 'f32', M: g.Mg, P, K, tile,
    decls: `${wgslHeader(g)}${b2.wgsl}`,
    prelude: `  let colBase = bz * ${K * P4}u; let colP4 = ${P4}u;`,
    loadA4: (m, k) => rowLoad4('W', `bz * ${g.Mg}u + ${m}`, k, K, g.st, 'f32', w4),
    loadB4: (k) => `        bv = Col[colBase + ${k} * colP4 + bp / 4];`,
    ...convStore(g),
  };
  const gemm = gemmPasses(spec, g.G, caps, `${KERNEL}/${variant} gemm`, b2.buffers, 1);
  return {
    passes: [{ label: `${KERNEL}/${variant} im2col`, wgsl: im2col, workgroups: dispatch1d(total, WG, caps), buffers: b1.buffers }, ...gemm.passes],
    scratch: [im2colBytes(g), ...gemm.scratch],
  };
}

// ---------------------------------------------------------------------------------------------
// 1x1-gemm

function pointwise(g: ConvGeometry, caps: DeviceCaps, tile: GemmTile = GEMM_TILE): { spec: GemmSpec; wg: [number, number, number] | null; buffers: Pass['buffers'] } {
  const [OH, OW] = g.outs;
  const [H, W] = g.ins;
  const ohw = OH * OW;
  const hw = H * W;
  const unit = g.s[0] === 1 && g.s[1] === 1;
  // Stride 1 over whole 4-vectors of an image: B's rows are X's channel planes, read as vectors.
  const x4 = unit && hw % 4 === 0;
  const w4 = g.Cg % 4 === 0;
  const b = ioBindings(g, { x: true, w: true, bias: true, y: true, x4, w4 });
  const xs = (e: number): string => (unit ? `min(bp + ${e}, pwLast)` : `cs${e}`);
  // Batch z = n·G + grp; columns are one image's output positions.
  const spec: GemmSpec = {
    ct: 'f32', M: g.Mg, P: ohw, K: g.Cg, tile,
    decls: `${wgslHeader(g)}${b.wgsl}`,
    // The geometry named once (pw*): one run-time parameter each, however many loads and stores read it.
    prelude: `  let pwG = ${g.G}u; let pwHW = ${hw}u; let pwOHW = ${ohw}u; let pwMg = ${g.Mg}u; let pwLast = ${(unit ? hw : ohw) - 1}u;
  let n = bz / pwG;
  let grp = bz % pwG;
  let xb = (n * ${g.C}u + grp * ${g.Cg}u) * pwHW;
  let yb = (n * ${g.M}u + grp * pwMg) * pwOHW;
  let mb = grp * pwMg;`,
    bColumns: unit ? '' : [`  let pwOW = ${OW}u; let pwRow = ${g.s[0] * W}u; let pwS = ${g.s[1]}u;`,
      ...[0, 1, 2, 3].map((e) => `  let cq${e} = min(bp + ${e}, pwLast); let cs${e} = (cq${e} / pwOW) * pwRow + (cq${e} % pwOW) * pwS;`)].join('\n'),
    loadA4: (m, k) => rowLoad4('W', `mb + ${m}`, k, g.Cg, g.st, 'f32', w4),
    loadB4: (k) => (x4
      ? `        bv = ${cvt4(`X[(xb + ${k} * pwHW + bp) / 4]`, g.st, 'f32')};`
      : `        let xo = xb + ${k} * pwHW;\n        bv = vec4<f32>(${[0, 1, 2, 3].map((e) => cvt(`X[xo + ${xs(e)}]`, g.st, 'f32')).join(', ')});`),
    storeColumn: (p) => `let yc = yb + ${p};`,
    store: (m, _p, v) => `Y[yc + ${m} * pwOHW] = ${cvt(`${v} + ${biasF32(g, `mb + ${m}`)}`, 'f32', g.st)};`,
  };
  return { spec, wg: gemmWorkgroups(spec, g.N * g.G, caps), buffers: b.buffers };
}

// ---------------------------------------------------------------------------------------------
// winograd F(2×2, 3×3)

/**
 * Tiles: TH × TW per image, T in all; T4 and C4 round T and C up to whole 4-vectors (the GEMM
 * reads U's rows and V's rows as vectors; the transforms write zeros into the rounding).
 */
interface WinoGeom { TH: number; TW: number; T: number; T4: number; C4: number }

function winoGeom(g: ConvGeometry): WinoGeom {
  const TH = Math.ceil(g.outs[0] / 2);
  const TW = Math.ceil(g.outs[1] / 2);
  const T = g.N * TH * TW;
  return { TH, TW, T, T4: roundUp(T, 4), C4: roundUp(g.C, 4) };
}

function winogradScratch(g: ConvGeometry): number[] {
  const { T4, C4 } = winoGeom(g);
  return [16 * g.M * C4 * 4, 16 * g.C * T4 * 4, 16 * g.M * T4 * 4];
}

function winogradPlan(g: ConvGeometry, variant: string, caps: DeviceCaps): KernelPlan {
  const { TH, TW, T, T4, C4 } = winoGeom(g);
  const [H, W] = g.ins;
  const { M, C } = g;
  const WG = 64;
  const f32 = (v: string): string => cvt(v, g.st, 'f32');
  // Weight transform U = G g Gᵀ, U[ξ][m][c]. G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]].
  const bw = ioBindings(g, { w: true, scratch: [{ name: 'U', index: 0, type: 'f32', access: 'read_write' }] });
  const gRows = (v: (i: number) => string): string[] => [v(0), `0.5 * (${v(0)} + ${v(1)} + ${v(2)})`, `0.5 * (${v(0)} - ${v(1)} + ${v(2)})`, v(2)];
  const wl: string[] = [];
  wl.push(`  let m = gid / ${C4}u;`);
  wl.push(`  let c = gid % ${C4}u;`);
  wl.push(`  let cok = c < ${C}u;`);
  wl.push(`  let wo = select(0u, (m * ${C}u + c) * 9u, cok);`);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) wl.push(`  let g${i}${j} = select(0.0, ${f32(`W[wo + ${i * 3 + j}u]`)}, cok);`);
  // t[a][j] = (G g)[a][j]
  for (let j = 0; j < 3; j++) gRows((i) => `g${i}${j}`).forEach((e, a) => wl.push(`  let t${a}${j} = ${e};`));
  for (let a = 0; a < 4; a++) gRows((j) => `t${a}${j}`).forEach((e, bb) => wl.push(`  U[${a * 4 + bb}u * ${M * C4}u + gid] = ${e};`));
  const weight = `${wgslHeader(g)}${bw.wgsl}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${M * C4}u) { return; }
${wl.join('\n')}
}
`;
  // Input transform V = Bᵀ d B, V[ξ][c][t]. Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]].
  const bi = ioBindings(g, { x: true, scratch: [{ name: 'V', index: 1, type: 'f32', access: 'read_write' }] });
  const btRows = (v: (i: number) => string): string[] => [`${v(0)} - ${v(2)}`, `${v(1)} + ${v(2)}`, `${v(2)} - ${v(1)}`, `${v(1)} - ${v(3)}`];
  const il: string[] = [];
  il.push(`  let t = gid % ${T4}u;`);
  il.push(`  let c = gid / ${T4}u;`);
  il.push(`  let tok = t < ${T}u;`);
  il.push(`  let n = min(t / ${TH * TW}u, ${g.N - 1}u);`);
  il.push(`  let tr = t % ${TH * TW}u;`);
  il.push(`  let hb = i32(tr / ${TW}u) * 2 - ${g.pb[0]}i;`);
  il.push(`  let wb = i32(tr % ${TW}u) * 2 - ${g.pb[1]}i;`);
  il.push(`  let xb = (n * ${C}u + c) * ${H * W}u;`);
  for (let i = 0; i < 4; i++) {
    il.push(`  let h${i} = hb + ${i}; let hok${i} = h${i} >= 0 && h${i} < ${H}i;`);
  }
  for (let j = 0; j < 4; j++) il.push(`  let w${j} = wb + ${j}; let wok${j} = tok && w${j} >= 0 && w${j} < ${W}i;`);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      il.push(`  var d${i}${j} = 0.0; if (hok${i} && wok${j}) { d${i}${j} = ${f32(`X[xb + u32(h${i}) * ${W}u + u32(w${j})]`)}; }`);
    }
  }
  for (let j = 0; j < 4; j++) btRows((i) => `d${i}${j}`).forEach((e, a) => il.push(`  let r${a}${j} = ${e};`));
  for (let a = 0; a < 4; a++) btRows((j) => `r${a}${j}`).forEach((e, bb) => il.push(`  V[${a * 4 + bb}u * ${C * T4}u + gid] = ${e};`));
  const input = `${wgslHeader(g)}${bi.wgsl}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${C * T4}u) { return; }
${il.join('\n')}
}
`;
  // 16 GEMMs: Mξ[m][t] = Σ_c U[ξ][m][c] · V[ξ][c][t].
  const bg = ioBindings(g, { scratch: [
    { name: 'U', index: 0, type: 'vec4<f32>', access: 'read' }, { name: 'V', index: 1, type: 'vec4<f32>', access: 'read' },
    { name: 'Z', index: 2, type: 'f32', access: 'read_write' }] });
  const spec: GemmSpec = {
    ct: 'f32', M, P: T, K: C, tile: GEMM_TILE,
    decls: bg.wgsl,
    // The sizes named once (wg*): one run-time parameter each.
    prelude: `  let wgM = ${M}u; let wgC = ${C}u; let wgC4 = ${C4 / 4}u; let wgT4 = ${T4 / 4}u; let wgT = ${T4}u;`,
    loadA4: (m, k) => `        av = U[(bz * wgM + ${m}) * wgC4 + ${k} / 4];`,
    loadB4: (k) => `        bv = V[(bz * wgC + ${k}) * wgT4 + bp / 4];`,
    storeColumn: (p) => `let zc = bz * wgM * wgT + ${p};`,
    store: (m, _p, v) => `Z[zc + ${m} * wgT] = ${v};`,
  };
  // Output transform Y = Aᵀ Z A + bias. Aᵀ = [[1,1,1,0],[0,1,−1,−1]].
  const bo = ioBindings(g, { bias: true, y: true, scratch: [{ name: 'Z', index: 2, type: 'f32', access: 'read' }] });
  const [OH, OW] = g.outs;
  const ol: string[] = [];
  ol.push(`  let t = gid % ${T}u;`);
  ol.push(`  let m = gid / ${T}u;`);
  ol.push(`  let n = t / ${TH * TW}u;`);
  ol.push(`  let tr = t % ${TH * TW}u;`);
  ol.push(`  let oh = (tr / ${TW}u) * 2u;`);
  ol.push(`  let ow = (tr % ${TW}u) * 2u;`);
  for (let x = 0; x < 16; x++) ol.push(`  let z${x >> 2}${x & 3} = Z[${x}u * ${M * T4}u + m * ${T4}u + t];`);
  const atRows = (v: (i: number) => string): string[] => [`${v(0)} + ${v(1)} + ${v(2)}`, `${v(1)} - ${v(2)} - ${v(3)}`];
  for (let j = 0; j < 4; j++) atRows((i) => `z${i}${j}`).forEach((e, a) => ol.push(`  let s${a}${j} = ${e};`));
  ol.push(`  let bias = ${biasF32(g, 'm')};`);
  ol.push(`  let yb = (n * ${M}u + m) * ${OH * OW}u + oh * ${OW}u + ow;`);
  for (let a = 0; a < 2; a++) {
    atRows((j) => `s${a}${j}`).forEach((e, bb) => {
      const conds = [a ? `oh + 1u < ${OH}u` : '', bb ? `ow + 1u < ${OW}u` : ''].filter(Boolean);
      const st = `Y[yb + ${a * OW + bb}u] = ${cvt(`${e} + bias`, 'f32', g.st)};`;
      ol.push(conds.length ? `  if (${conds.join(' && ')}) { ${st} }` : `  ${st}`);
    });
  }
  const output = `${wgslHeader(g)}${bo.wgsl}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (gid >= ${M * T}u) { return; }
${ol.join('\n')}
}
`;
  const gemm = gemmPasses(spec, 16, caps, `${KERNEL}/${variant} gemm`, bg.buffers, winogradScratch(g).length);
  return {
    passes: [
      { label: `${KERNEL}/${variant} weight transform`, wgsl: weight, workgroups: dispatch1d(M * C4, WG, caps), buffers: bw.buffers },
      { label: `${KERNEL}/${variant} input transform`, wgsl: input, workgroups: dispatch1d(C * T4, WG, caps), buffers: bi.buffers },
      ...gemm.passes,
      { label: `${KERNEL}/${variant} output transform`, wgsl: output, workgroups: dispatch1d(M * T, WG, caps), buffers: bo.buffers },
    ],
    scratch: [...winogradScratch(g), ...gemm.scratch],
  };
}

// ---------------------------------------------------------------------------------------------
// depthwise

interface DwTile { TOH: number; TOW: number; IH: number; IW: number; WX: number; WY: number }

function dwTile(g: ConvGeometry): DwTile {
  const [OH, OW] = g.outs;
  const WX = 8;
  const WY = 8;
  const TOW = OW >= 24 ? 32 : OW > 8 ? 16 : 8;
  const TOH = OH >= 12 ? 16 : 8;
  void OH;
  return { TOH, TOW, WX, WY, IH: (TOH - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1, IW: (TOW - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1 };
}

function depthwisePlan(g: ConvGeometry, variant: string): KernelPlan {
  const t = dwTile(g);
  const [OH, OW] = g.outs;
  const [H, W] = g.ins;
  const [KH, KW] = g.k;
  const b = ioBindings(g, { x: true, w: true, bias: true, y: true });
  const T = t.WX * t.WY;
  const RY = t.TOH / t.WY;
  const RX = t.TOW / t.WX;
  const tiles = t.IH * t.IW;
  const l: string[] = [];
  l.push(`  let nc = wid.z;`);
  l.push(`  let ch = nc % ${g.C}u;`);
  l.push(`  let oy0 = wid.y * ${t.TOH}u;`);
  l.push(`  let ox0 = wid.x * ${t.TOW}u;`);
  l.push(`  let iy0 = i32(oy0) * ${g.s[0]}i - ${g.pb[0]}i;`);
  l.push(`  let ix0 = i32(ox0) * ${g.s[1]}i - ${g.pb[1]}i;`);
  l.push(`  let xb = nc * ${H * W}u;`);
  l.push(`  for (var e = lid; e < ${tiles}u; e += ${T}u) {`);
  l.push(`    let iy = iy0 + i32(e / ${t.IW}u);`);
  l.push(`    let ix = ix0 + i32(e % ${t.IW}u);`);
  l.push(`    var v = 0.0;`);
  l.push(`    if (iy >= 0 && iy < ${H}i && ix >= 0 && ix < ${W}i) { v = ${cvt(`X[xb + u32(iy) * ${W}u + u32(ix)]`, g.st, 'f32')}; }`);
  l.push(`    tile[e] = v;`);
  l.push(`  }`);
  for (let k = 0; k < KH * KW; k++) l.push(`  let w${k} = ${cvt(`W[ch * ${KH * KW}u + ${k}u]`, g.st, 'f32')};`);
  l.push(`  let bias = ${biasF32(g, 'ch')};`);
  l.push(`  workgroupBarrier();`);
  l.push(`  let tx = lid % ${t.WX}u;`);
  l.push(`  let ty = lid / ${t.WX}u;`);
  for (let i = 0; i < RY; i++) {
    for (let j = 0; j < RX; j++) {
      const ly = `(ty + ${i * t.WY}u)`;
      const lx = `(tx + ${j * t.WX}u)`;
      l.push(`  {`);
      l.push(`    let oy = oy0 + ${ly}; let ox = ox0 + ${lx};`);
      l.push(`    let base = ${ly} * ${g.s[0] * t.IW}u + ${lx} * ${g.s[1]}u;`);
      l.push(`    var acc = bias;`);
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) l.push(`    acc = fma(tile[base + ${kh * g.d[0] * t.IW + kw * g.d[1]}u], w${kh * KW + kw}, acc);`);
      }
      l.push(`    if (oy < ${OH}u && ox < ${OW}u) { Y[nc * ${OH * OW}u + oy * ${OW}u + ox] = ${cvt('acc', 'f32', g.st)}; }`);
      l.push(`  }`);
    }
  }
  const wgsl = `${wgslHeader(g)}${b.wgsl}
var<workgroup> tile: array<f32, ${tiles}>;

@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${l.join('\n')}
}
`;
  return {
    passes: [{ label: `${KERNEL}/${variant}`, wgsl, workgroups: [Math.ceil(OW / t.TOW), Math.ceil(OH / t.TOH), g.N * g.C], buffers: b.buffers }],
    scratch: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Kernel descriptor

const VARIANTS = [
  { name: 'direct', description: 'one invocation per output position and 1–4 output channels, looping over input channels and the kernel window (any rank, groups, dilations; ConvTranspose)' },
  { name: 'implicit-gemm', description: 'GEMM per group (M = Cout/G, N = batch·OH·OW, K = Cin/G·KH·KW) with im2col done while loading 64×64×16 tiles of the GEMM core into workgroup memory, 8×8 outputs per invocation' },
  { name: 'im2col-gemm', description: 'explicit im2col into a scratch matrix (pass 1), then the tiled GEMM (pass 2)' },
  { name: 'winograd', description: 'Winograd F(2×2,3×3): weight and input transforms, 16 batched GEMMs over channels, output transform (3×3, stride 1, dilation 1, group 1)' },
  { name: 'depthwise', description: 'group = C = Cout: a haloed input tile of one channel in workgroup memory per workgroup' },
  { name: '1x1-gemm', description: 'pointwise (1×1, no padding) convolution as a plain GEMM over channels, strided reads for stride > 1' },
  { name: 'implicit-gemm-f16', description: 'implicit-gemm with f16 tiles and multiply-adds (f32 across K tiles), from f32 or f16 buffers; needs shader-f16' },
];

function bindingCheck(what: string, bytes: number, caps: DeviceCaps): Support | null {
  return bytes > caps.maxStorageBufferBindingSize
    ? unsupported(`the ${what} (${bytes} bytes) exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`)
    : null;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const x = l.inputs[0];
  const w = l.inputs[1];
  if (!x || !w) return unsupported('input X or weight W is missing');
  if (x.dtype !== 'float32' && x.dtype !== 'float16') return unsupported(`${x.dtype} is not supported (float32, float16)`);
  if (x.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  if (x.shape.length < 3) return unsupported(`input rank ${x.shape.length}: Conv needs [N, C, spatial…]`);
  const autoPad = l.attrs.auto_pad;
  if (typeof autoPad === 'string' && autoPad !== 'NOTSET') return unsupported(`auto_pad ${autoPad} was not resolved to explicit pads`);
  if (l.op === 'ConvTranspose' && l.attrs.output_shape !== undefined) return unsupported('output_shape was not resolved to explicit pads');
  const g = convGeometry(c);
  if (elements(l.outputs[0]) === 0 || elements(x) === 0) return unsupported('empty tensor');
  const esz = gpuSize(g.st);
  for (const [what, t] of [['input', x], ['weight', w], ['output', l.outputs[0]]] as const) {
    const r = bindingCheck(what, elements(t) * esz, caps);
    if (r) return r;
  }
  if (variant === 'direct') {
    const [x, y] = directGrid(g);
    const lim = caps.maxComputeWorkgroupsPerDimension;
    return x <= lim && y <= lim ? supported : unsupported(`the direct grid (${x}×${y} workgroups) exceeds the dispatch limit of ${lim} per dimension`);
  }
  if (!VARIANTS.some((v) => v.name === variant)) return unsupported(`unknown variant ${variant}`);
  if (g.transpose) return unsupported('ConvTranspose runs only in the direct variant');
  const g2 = as2d(g);
  if (!g2) return unsupported(`${g.nd}-D convolution: only the direct variant handles ranks other than 1-D and 2-D`);
  switch (variant) {
    case 'implicit-gemm':
    case 'implicit-gemm-f16': {
      if (variant === 'implicit-gemm-f16' && !caps.f16) return unsupported('needs the shader-f16 feature');
      const { wg } = implicitGemm(g2, variant === 'implicit-gemm' ? 'f32' : 'f16', GEMM_TILE, caps);
      return wg ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'im2col-gemm': {
      const r = bindingCheck('im2col matrix', im2colBytes(g2), caps);
      if (r) return r;
      const K = g2.Cg * g2.k[0] * g2.k[1];
      const lim = caps.maxComputeWorkgroupsPerDimension;
      if (Math.ceil((g2.G * K * g2.N * g2.outs[0] * g2.outs[1]) / 256) > lim * lim) return unsupported('the im2col pass exceeds the dispatch limits');
      return gemmWorkgroups({ M: g2.Mg, P: g2.N * g2.outs[0] * g2.outs[1], tile: GEMM_TILE }, g2.G, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'winograd': {
      if (g.nd !== 2) return unsupported(`Winograd F(2×2,3×3) needs a 2-D convolution, this one is ${g.nd}-D`);
      if (g2.k[0] !== 3 || g2.k[1] !== 3) return unsupported(`Winograd F(2×2,3×3) needs a 3×3 kernel, got ${g2.k.join('×')}`);
      if (g2.s.some((s) => s !== 1)) return unsupported(`Winograd F(2×2,3×3) needs stride 1, got ${g2.s.join('×')}`);
      if (g2.d.some((d) => d !== 1)) return unsupported(`Winograd F(2×2,3×3) needs dilation 1, got ${g2.d.join('×')}`);
      if (g2.G !== 1) return unsupported(`Winograd is implemented for group 1, got group ${g2.G}`);
      const names = ['transformed weights', 'transformed input', 'transformed output'];
      for (const [i, bytes] of winogradScratch(g2).entries()) {
        const r = bindingCheck(names[i], bytes, caps);
        if (r) return r;
      }
      const { T4, C4 } = winoGeom(g2);
      const lim = caps.maxComputeWorkgroupsPerDimension;
      if (Math.ceil(Math.max(g2.C * T4, g2.M * C4, g2.M * T4) / 64) > lim * lim) return unsupported('the transforms exceed the dispatch limits');
      return gemmWorkgroups({ M: g2.M, P: T4, tile: GEMM_TILE }, 16, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'depthwise': {
      if (!isDepthwise(g2)) return unsupported(`not a depthwise convolution (needs group = C = Cout; got group ${g2.G}, C ${g2.C}, Cout ${g2.M})`);
      const t = dwTile(g2);
      if (t.IH * t.IW * 4 > caps.maxComputeWorkgroupStorageSize) return unsupported(`the haloed input tile (${t.IH}×${t.IW}) exceeds workgroup memory`);
      const [OH, OW] = g2.outs;
      const lim = caps.maxComputeWorkgroupsPerDimension;
      if (Math.ceil(OW / t.TOW) > lim || Math.ceil(OH / t.TOH) > lim || g2.N * g2.C > lim) return unsupported('the tile grid exceeds the dispatch limits');
      return supported;
    }
    case '1x1-gemm': {
      if (!isPointwise(g2)) return unsupported(`needs a 1×1 kernel without padding (kernel ${g2.k.slice(g.nd === 1 ? 1 : 0).join('×')}, pads [${[...g.pb, ...g.pe].join(',')}])`);
      return pointwise(g2, caps).wg ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

/**
 * The GEMM-core variants' search space (gemm.ts GEMM_TILES): their GEMM's M (output channels
 * a group), P (output positions) and batches decide which tiles are worth timing.
 */
function tuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
  const g2 = as2d(convGeometry(c));
  if (!g2 || !supports(c, variant, caps).ok) return [];
  const P = g2.N * g2.outs[0] * g2.outs[1];
  const K = g2.Cg * g2.k[0] * g2.k[1];
  switch (variant) {
    case 'implicit-gemm': return gemmTuning({ M: g2.Mg, P, K, batches: g2.G }, 'f32', caps, level);
    case 'implicit-gemm-f16': return gemmTuning({ M: g2.Mg, P, K, batches: g2.G }, 'f16', caps, level);
    case 'im2col-gemm': return gemmTuning({ M: g2.Mg, P, K, batches: g2.G }, 'f32', caps, level);
    case '1x1-gemm': return gemmTuning({ M: g2.Mg, P: g2.outs[0] * g2.outs[1], K: g2.Cg, batches: g2.N * g2.G }, 'f32', caps, level);
    default: return [];
  }
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
  const g = convGeometry(c);
  const tile = gemmTile(config);
  const label = `${KERNEL}/${variant}`;
  if (variant === 'direct') {
    const d = directWgsl(g);
    return { passes: [{ label, wgsl: d.wgsl, workgroups: directGrid(g), buffers: d.buffers }], scratch: [] };
  }
  const g2 = as2d(g);
  if (!g2) throw new Error(`${label}: ${g.nd}-D convolution is not supported`);
  switch (variant) {
    case 'implicit-gemm':
    case 'implicit-gemm-f16': {
      const r = implicitGemm(g2, variant === 'implicit-gemm' ? 'f32' : 'f16', tile, caps);
      return gemmPasses(r.spec, g2.G, caps, label, r.buffers);
    }
    case 'im2col-gemm':
      return im2colPlan(g2, variant, caps, tile);
    case 'winograd':
      return winogradPlan(g2, variant, caps);
    case 'depthwise':
      return depthwisePlan(g2, variant);
    case '1x1-gemm': {
      const r = pointwise(g2, caps, tile);
      return gemmPasses(r.spec, g2.N * g2.G, caps, label, r.buffers);
    }
    default:
      throw new Error(`${label}: unknown variant`);
  }
}

/**
 * What a straightforward runtime picks (onnxruntime's WebGPU provider does the same): a
 * depthwise kernel for depthwise convolutions, a plain GEMM for pointwise ones, implicit GEMM
 * (im2col in the tile loader) for everything else 2-D, the direct loop for other ranks and
 * ConvTranspose.
 */
function defaultVariant(c: LayerCase): string {
  const g = convGeometry(c);
  const g2 = as2d(g);
  if (g.transpose || !g2) return 'direct';
  if (isDepthwise(g2)) return 'depthwise';
  if (isPointwise(g2)) return '1x1-gemm';
  return 'implicit-gemm';
}

/**
 * A straightforward CPU convolution of `x` by `w` plus `bias` (double accumulation), and
 * ConvTranspose as its scatter: Y as [N][M][outs…]. The fused convolution's reference adds to it.
 */
export function convolve(g: ConvGeometry, x: HostTensor['data'], w: HostTensor['data'], bias?: HostTensor['data']): Float64Array {
  const nd = g.nd;
  const isp = prod(g.ins);
  const osp = prod(g.outs);
  const ksp = prod(g.k);
  const inSt = stridesOf(g.ins);
  const outSt = stridesOf(g.outs);
  const kSt = stridesOf(g.k);
  const y = new Float64Array(g.N * g.M * osp);
  const oi = new Array<number>(nd);
  const ki = new Array<number>(nd);
  if (!g.transpose) {
    for (let n = 0; n < g.N; n++) {
      for (let m = 0; m < g.M; m++) {
        const grp = Math.floor(m / g.Mg);
        for (let o = 0; o < osp; o++) {
          for (let i = 0; i < nd; i++) oi[i] = Math.floor(o / outSt[i]) % g.outs[i];
          let acc = bias ? bias[m] : 0;
          for (let cc = 0; cc < g.Cg; cc++) {
            const xb = (n * g.C + grp * g.Cg + cc) * isp;
            const wb = (m * g.Cg + cc) * ksp;
            for (let k = 0; k < ksp; k++) {
              let xo = 0;
              let inside = true;
              for (let i = 0; i < nd; i++) {
                const kk = Math.floor(k / kSt[i]) % g.k[i];
                const ii = oi[i] * g.s[i] + kk * g.d[i] - g.pb[i];
                if (ii < 0 || ii >= g.ins[i]) { inside = false; break; }
                xo += ii * inSt[i];
              }
              if (inside) acc += x[xb + xo] * w[wb + k];
            }
          }
          y[(n * g.M + m) * osp + o] = acc;
        }
      }
    }
  } else {
    // Scatter: x[n, ci, i…] · w[ci, m, k…] lands on o = i·s + k·d − pad_begin.
    for (let n = 0; n < g.N; n++) {
      for (let m = 0; m < g.M; m++) y.fill(bias ? bias[m] : 0, (n * g.M + m) * osp, (n * g.M + m + 1) * osp);
      for (let ci = 0; ci < g.C; ci++) {
        const grp = Math.floor(ci / g.Cg);
        for (let i = 0; i < isp; i++) {
          const xv = x[(n * g.C + ci) * isp + i];
          for (let ml = 0; ml < g.Mg; ml++) {
            const m = grp * g.Mg + ml;
            for (let k = 0; k < ksp; k++) {
              let yo = 0;
              let inside = true;
              for (let d = 0; d < nd; d++) {
                ki[d] = Math.floor(k / kSt[d]) % g.k[d];
                const ii = Math.floor(i / inSt[d]) % g.ins[d];
                const o = ii * g.s[d] + ki[d] * g.d[d] - g.pb[d];
                if (o < 0 || o >= g.outs[d]) { inside = false; break; }
                yo += o * outSt[d];
              }
              if (inside) y[(n * g.M + m) * osp + yo] += xv * w[(ci * g.Mg + ml) * ksp + k];
            }
          }
        }
      }
    }
  }
  return y;
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const y = convolve(convGeometry(c), inputs[0]!.data, inputs[1]!.data, inputs[2]?.data);
  return [{ dtype: c.layer.outputs[0].dtype, shape: [...c.layer.outputs[0].shape], data: Float32Array.from(y) }];
}

// ---------------------------------------------------------------------------------------------
// Cost

/**
 * FLOPs of a convolution with weight `w` [M, C/group, k…] and output `y`, also for the quantized
 * and deformable ones: Y[n, m, o…] = Σ_{c < C/group, k…} X · W is 2·N·M·Π(out)·(C/group)·Π(kernel)
 * (one multiply-add per weight per output), + N·M·Π(out) for the bias when given.
 */
export function convFlops(w: TensorType | null, y: TensorType, bias: TensorType | null | undefined): number {
  if (!w) return 0;
  const outN = count(y);
  return 2 * outN * prod(w.shape.slice(1)) + (bias ? outN : 0);
}

function cost(l: LayerSignature): number {
  const [x, w, b] = l.inputs;
  if (!x || !w) return 0;
  // ConvTranspose: each input element scatters into (M/group)·Π(kernel) outputs with a multiply-add, + the bias.
  if (l.op === 'ConvTranspose') return 2 * count(x) * prod(w.shape.slice(1)) + (b ? count(l.outputs[0]) : 0);
  return convFlops(w, l.outputs[0], b);
}

export const kernels: Kernel[] = [{
  name: KERNEL,
  ops: ['Conv', 'ConvTranspose'],
  variants: VARIANTS,
  defaultVariant,
  supports,
  plan,
  tuning,
  reference,
  cost,
}];
