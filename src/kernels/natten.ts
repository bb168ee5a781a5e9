/**
 * Neighborhood attention, `dlprof.NeighborhoodAttention` (docs/ops/neighborhood-attention.md):
 * NATTEN's operator (Hassani, Walton, Li, Li & Shi, "Neighborhood Attention Transformer",
 * CVPR 2023; Hassani & Shi, "Dilated Neighborhood Attention Transformer", 2022). Each query of
 * Q [B, heads, *spatial, D] attends to the kernel_size window of keys around it (per spatial dim,
 * with dilation), the window shifted inward at the borders so every query sees exactly
 * kernel_size keys per dim; causal dims keep only keys at positions ≤ the query.
 *
 * Window rule (per spatial dim of extent L, kernel k, dilation d, half = ⌊k/2⌋): dilation splits
 * the positions into d interleaved groups (x mod d = r); within its group a query at group index
 * i = ⌊x/d⌋ sees group indices s … s+k−1 with s = clamp(i − half, 0, Lr − k), Lr = ⌈(L − r)/d⌉ the
 * group's length — the same start NATTEN's `get_window_start` computes (its border branches are
 * this clamp written out). Causal: s = max(i − k + 1, 0) and only s … i count. The relative
 * position bias index of key s+j is (s + j − i) + k − 1 ∈ [0, 2k−2], NATTEN's `get_pb_start` + j.
 *
 * Variants:
 *  - `naive` (default): what a runtime without an NA kernel does, three passes through memory:
 *    scores (one invocation per query × window position) into a B·h·N·k^n scratch buffer, a
 *    per-query softmax in place, then A·V (one invocation per output element).
 *  - `gemm`: NATTEN's GEMM-based formulation (Hassani, Hwu & Shi, "Faster Neighborhood Attention",
 *    NeurIPS 2024: space-aware query tiles and haloed key/value tiles). A workgroup takes a
 *    tile of queries of one dilation group (64 along a 1-D sequence, 8×8 in 2-D, 4×4×4 in 3-D);
 *    the union of their windows is a haloed tile of (T + k − 1) keys per dim, which is staged in
 *    workgroup memory in chunks of the head dim, and each invocation accumulates its query's
 *    k^n scores in registers. Since a query's whole score row ends up in its registers, the
 *    softmax is the QK pass's epilogue (no separate pass); the attention weights still go through
 *    memory to the A·V pass, which stages the haloed V tile the same way.
 *  - `fused`: one kernel, nothing in memory but Q, K, V and O (as NATTEN's fused NA, after
 *    FlashAttention, Dao et al. 2022): one query per invocation, workgroups mapped to the same
 *    query tiles as `gemm` so neighbouring queries share their keys in cache; for each row of the
 *    window (the last spatial dim) the scores go to registers and the online softmax (Milakov &
 *    Gimelshein 2018) rescales the running sum and accumulator once per row. Causal windows are
 *    loop bounds, not masks.
 *  - `fused-tiled`: NATTEN's fused NA with the halo in workgroup memory: one kernel, one query per
 *    invocation on the `gemm` query tiles, but keys and values come from workgroup memory, not
 *    global memory. The haloed K and V tiles are staged a slab at a time: `rows` consecutive rows
 *    of the haloed tile along the first spatial dim (a 1-D run of keys, a 2-D row, a 3-D plane),
 *    all of the other dims, K and V side by side at the full head dim (one barrier pair per slab).
 *    Where even one row of both would not fit the 16 KiB of workgroup memory WebGPU guarantees, K
 *    and V take turns in one array, a row at a time, in head-dim chunks if need be. Per slab each
 *    query accumulates its scores for the window positions in it (registers, at most 32 unless one
 *    row holds more), folds them into the online softmax (one rescale per slab), then adds p·V.
 *    Slab and chunk loops have workgroup-uniform bounds, so queries outside the layer or whose
 *    window misses a slab still load and reach every barrier. Only Q, K, V (and the bias) are
 *    read, only O is written.
 *  - `gemm-f16`, `fused-f16`, `fused-tiled-f16`: the same with f16 operands (Q, K, V converted on
 *    load, f16 tiles in workgroup memory for `gemm-f16` and `fused-tiled-f16`): four-term f16 dot
 *    products and f16 p·V products accumulated in f32, the softmax in f32 — the Tensor-Core-like
 *    reduced-precision what-if. Need shader-f16 and a head dim that is a multiple of 4.
 * f32 variants read Q, K, V as vec4s when the head dim is a multiple of 4. Float16 layers keep f16
 * in memory; the f32 variants compute them in f32.
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuSize, gpuTypeOf, header, lit, prod, stridesOf } from './wgsl.js';
import type { LayerSignature } from '../ir/types.js';
import { count, numsAttr } from './flops.js';

const KERNEL = 'natten';
const OP = 'dlprof.NeighborhoodAttention';
const u = (n: number): string => `${n}u`;
const si = (n: number): string => `${n}i`;
const NEG = lit(-Infinity, 'f32');

// ---------------------------------------------------------------------------------------------
// Geometry

export interface NaGeometry {
  /** Spatial dims (1–3). */
  nd: number;
  /** batch × heads. */
  BH: number;
  heads: number;
  sp: number[];
  /** Queries per (batch, head). */
  N: number;
  D: number;
  k: number[];
  dil: number[];
  causal: boolean[];
  scale: number;
  /** With the relative-position bias input. */
  rpb: boolean;
  /** Window size k₁·…·kₙ. */
  win: number;
  spSt: number[];
  kSt: number[];
  /** Strides of the bias [heads, 2k₁−1, …]: rSt[i] for dim i, rSize per head. */
  rSt: number[];
  rSize: number;
  st: GpuType;
}

function numList(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function perDim(v: number[] | undefined, n: number, def: number): number[] {
  if (!v || v.length === 0) return new Array<number>(n).fill(def);
  return v.length === 1 ? new Array<number>(n).fill(v[0]) : v;
}

export function naGeometry(c: LayerCase): NaGeometry {
  const l = c.layer;
  const q = l.inputs[0]!.shape;
  const nd = q.length - 3;
  const sp = q.slice(2, 2 + nd);
  const D = q[q.length - 1];
  const k = perDim(numList(l.attrs.kernel_size), nd, 1);
  const dil = perDim(numList(l.attrs.dilation), nd, 1);
  const causal = perDim(numList(l.attrs.is_causal), nd, 0).map((x) => x !== 0);
  const scale = typeof l.attrs.scale === 'number' ? l.attrs.scale : 1 / Math.sqrt(D);
  const rshape = k.map((x) => 2 * x - 1);
  return {
    nd, BH: q[0] * q[1], heads: q[1], sp, N: prod(sp), D, k, dil, causal, scale, rpb: !!l.inputs[3],
    win: prod(k), spSt: stridesOf(sp), kSt: stridesOf(k), rSt: stridesOf(rshape), rSize: prod(rshape),
    st: gpuTypeOf(l.outputs[0].dtype),
  };
}

/**
 * The window of a query coordinate `x` in one dim: its group r, group index i, window start s
 * (in group indices) and how many window positions count (k, or fewer for causal near the start).
 */
export function windowOf(x: number, L: number, k: number, d: number, causal: boolean): { r: number; i: number; s: number; cnt: number } {
  const r = x % d;
  const i = Math.floor(x / d);
  const lr = Math.ceil((L - r) / d);
  if (causal) {
    const s = Math.max(i - k + 1, 0);
    return { r, i, s, cnt: i - s + 1 };
  }
  return { r, i, s: Math.min(Math.max(i - (k - 1) / 2, 0), lr - k), cnt: k };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** A query row, its accumulator and (gemm) its k^n scores live in registers. */
const MAX_D = 256;
const MAX_WIN = 1024;
const WG = 64;
/** Workgroup-memory budget of a gemm tile (bytes): the WebGPU default limit. */
const GEMM_SMEM = 16384;

function checkLayer(c: LayerCase, caps: DeviceCaps): Support | null {
  const l = c.layer;
  const [q, k, v, r] = l.inputs;
  const o = l.outputs[0];
  if (!q || !k || !v || !o) return unsupported('Q, K, V and the output are required');
  const nd = q.shape.length - 3;
  if (nd < 1 || nd > 3) return unsupported(`Q must be [batch, heads, *spatial, head_dim] with 1–3 spatial dims, got [${q.shape.join(',')}]`);
  for (const [name, t] of [['K', k], ['V', v], ['the output', o]] as const) {
    if (t.shape.join(',') !== q.shape.join(',')) return unsupported(`${name} [${t.shape.join(',')}] does not have Q's shape [${q.shape.join(',')}]`);
  }
  for (const t of [q, k, v, r, o]) {
    if (!t) continue;
    if (t.dtype !== 'float32' && t.dtype !== 'float16') return unsupported(`${t.dtype} is not supported (float32, float16)`);
    if (t.dtype !== o.dtype) return unsupported(`mixed dtypes (${t.dtype} and ${o.dtype})`);
    const bytes = elements(t) * gpuSize(gpuTypeOf(t.dtype));
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
    if (elements(t) === 0) return unsupported('empty tensor');
  }
  if (o.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  const g = naGeometry(c);
  const ks = numList(l.attrs.kernel_size);
  if (!ks || (ks.length !== nd && ks.length !== 1)) return unsupported(`kernel_size ${JSON.stringify(l.attrs.kernel_size)} must give one odd size per spatial dim (${nd})`);
  for (const [name, val, n] of [['dilation', l.attrs.dilation, nd], ['is_causal', l.attrs.is_causal, nd]] as const) {
    const list = numList(val);
    if (val !== undefined && (!list || (list.length !== n && list.length !== 1))) return unsupported(`${name} ${JSON.stringify(val)} must give one value per spatial dim (${n})`);
  }
  for (let i = 0; i < nd; i++) {
    if (!Number.isInteger(g.k[i]) || g.k[i] < 1 || g.k[i] % 2 === 0) return unsupported(`kernel_size [${g.k.join(',')}] must be odd and ≥ 1`);
    if (!Number.isInteger(g.dil[i]) || g.dil[i] < 1) return unsupported(`dilation [${g.dil.join(',')}] must be ≥ 1`);
    if (g.sp[i] < g.k[i] * g.dil[i]) return unsupported(`spatial dim ${i} (${g.sp[i]}) is smaller than kernel_size × dilation = ${g.k[i] * g.dil[i]}`);
  }
  if (!Number.isFinite(g.scale)) return unsupported(`scale ${g.scale} is not finite`);
  if (r) {
    const want = [g.heads, ...g.k.map((x) => 2 * x - 1)];
    if (r.shape.join(',') !== want.join(',')) return unsupported(`rpb [${r.shape.join(',')}] is not [${want.join(',')}]`);
  }
  return null;
}

/** Tile of queries per workgroup (gemm, fused): 64 invocations in every rank. */
function tileOf(nd: number): number[] {
  return nd === 1 ? [64] : nd === 2 ? [8, 8] : [4, 4, 4];
}

interface Tiles {
  T: number[];
  tSt: number[];
  /** Query tiles per dim in the largest dilation group; blocks = dilation × tiles. */
  tiles: number[];
  blocks: number[];
  bSt: number[];
  total: number;
  halo: number[];
  hSt: number[];
  haloN: number;
}

function tiles(g: NaGeometry): Tiles {
  const T = tileOf(g.nd);
  const t = g.sp.map((L, i) => Math.ceil(Math.ceil(L / g.dil[i]) / T[i]));
  const blocks = t.map((x, i) => x * g.dil[i]);
  const halo = T.map((x, i) => x + g.k[i] - 1);
  return { T, tSt: stridesOf(T), tiles: t, blocks, bSt: stridesOf(blocks), total: prod(blocks), halo, hSt: stridesOf(halo), haloN: prod(halo) };
}

/** Elements of the head dim per gemm chunk (a multiple of the vector width w), or 0 if none fits. */
function gemmChunk(g: NaGeometry, w: number, bytes: number, caps: DeviceCaps): number {
  const budget = Math.min(caps.maxComputeWorkgroupStorageSize, GEMM_SMEM);
  const fit = Math.floor(budget / (tiles(g).haloN * bytes) / w) * w;
  return Math.min(Math.ceil(g.D / w) * w, fit);
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const bad = checkLayer(c, caps);
  if (bad) return bad;
  const g = naGeometry(c);
  const f16 = variant.endsWith('-f16');
  if (f16 && !caps.f16) return unsupported('needs the shader-f16 feature');
  if (f16 && g.D % 4 !== 0) return unsupported(`head dim ${g.D} is not a multiple of 4 (f16 variants use vec4<f16> dot products)`);
  const scratch = g.BH * g.N * g.win * 4;
  const lim = caps.maxComputeWorkgroupsPerDimension;
  const bound = 4 + (g.rpb ? 1 : 0);
  if (bound > caps.maxStorageBuffersPerShaderStage) return unsupported(`needs ${bound} storage buffers`);
  switch (variant) {
    case 'naive': {
      if (scratch > caps.maxStorageBufferBindingSize) return unsupported(`the attention weights (${scratch} bytes) exceed the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
      const groups = Math.ceil((g.BH * g.N * g.win) / WG);
      if (Math.ceil(groups / lim) > lim) return unsupported('too many invocations for the dispatch limits');
      return supported;
    }
    case 'gemm': case 'gemm-f16': case 'fused': case 'fused-f16': case 'fused-tiled': case 'fused-tiled-f16': {
      if (g.D > MAX_D) return unsupported(`head dim ${g.D} exceeds ${MAX_D} (a query row lives in registers)`);
      const t = tiles(g);
      if (t.total > lim || g.BH > lim) return unsupported(`the grid (${t.total}×${g.BH} workgroups) exceeds the dispatch limit of ${lim} per dimension`);
      // Elements a staged load moves (vecOf's rule) and bytes an element.
      const { w } = vecOf(g, f16);
      const bytes = f16 ? 2 : 4;
      if (variant.startsWith('fused-tiled')) {
        const rowK = g.win / g.k[0];
        if (rowK > MAX_WIN) return unsupported(`a ${rowK}-key window row exceeds ${MAX_WIN} (a query's scores per staged row live in registers)`);
        const sl = slabOf(g, w, bytes, caps);
        if (sl.DC < w) return unsupported(`one row of the haloed key tile (${sl.inner} keys) does not fit workgroup memory`);
        return supported;
      }
      if (variant.startsWith('fused')) return supported;
      if (g.win > MAX_WIN) return unsupported(`a ${g.win}-key window exceeds ${MAX_WIN} (a query's scores live in registers)`);
      if (scratch > caps.maxStorageBufferBindingSize) return unsupported(`the attention weights (${scratch} bytes) exceed the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
      if (gemmChunk(g, w, bytes, caps) < w) return unsupported(`the haloed key tile (${t.haloN} keys) does not fit workgroup memory`);
      return supported;
    }
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared WGSL

/** Per spatial dim i: `glen{i}(r)` (length of dilation group r) and `nbg{i}(r, xi)` = (start s, count). */
function windowFns(g: NaGeometry): string {
  const out: string[] = [];
  for (let i = 0; i < g.nd; i++) {
    const [L, k, d] = [g.sp[i], g.k[i], g.dil[i]];
    out.push(`fn glen${i}(r: i32) -> i32 { return (${si(L + d - 1)} - r) / ${si(d)}; }`);
    const s = g.causal[i] ? `max(xi - ${si(k - 1)}, 0i)` : `clamp(xi - ${si((k - 1) / 2)}, 0i, glen${i}(r) - ${si(k)})`;
    const cnt = g.causal[i] ? `xi - s + 1i` : si(k);
    out.push(`fn nbg${i}(r: i32, xi: i32) -> vec2<i32> { let s = ${s}; return vec2<i32>(s, ${cnt}); }`);
  }
  return out.join('\n');
}

interface Bind { name: string; type: string; write?: boolean; ref: Pass['buffers'][number] }

function declare(list: Bind[]): { decls: string; buffers: Pass['buffers'] } {
  return {
    decls: list.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.write ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`).join('\n'),
    buffers: list.map((b) => b.ref),
  };
}

/**
 * Loop bounds (head dim, window sizes) travel as uniforms: with compile-time bounds LLVM (on
 * lavapipe) unrolls the nested window and head-dim loops completely, and a 2-D k=7 fused-f16
 * pipeline took ~100 s to compile; with uniform bounds it takes about a second. Array sizes stay
 * compile-time constants.
 */
function paramsDecl(binding: number): string {
  return `struct Params { dw: u32, win: u32, stage: u32, pad0: u32, k0: i32, k1: i32, k2: i32, pad1: i32 };
@group(0) @binding(${binding}) var<uniform> params: Params;`;
}

function paramsData(g: NaGeometry, dw: number, stage = 0): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const w = new Uint32Array(buf);
  w[0] = dw;
  w[1] = g.win;
  w[2] = stage;
  const k = new Int32Array(buf, 16, 4);
  g.k.forEach((x, i) => { k[i] = x; });
  return buf;
}

const IN = (index: number): Pass['buffers'][number] => ({ kind: 'input', index });
const OUT: Pass['buffers'][number] = { kind: 'output', index: 0 };
const SCRATCH: Pass['buffers'][number] = { kind: 'scratch', index: 0 };

/** f32 value of a scalar storage element. */
const ld = (v: string, st: GpuType): string => (st === 'f32' ? v : `f32(${v})`);

/** The bias term for window offsets `rel{i}` (WGSL i32 names) of head `h`, '' without a bias. */
function rpbTerm(g: NaGeometry, h: string, rel: (i: number) => string): string {
  if (!g.rpb) return '';
  const idx = [`${h} * ${u(g.rSize)}`, ...g.k.map((_, i) => `u32(${rel(i)}) * ${u(g.rSt[i])}`)].join(' + ');
  return ` + ${ld(`R[${idx}]`, g.st)}`;
}

// ---------------------------------------------------------------------------------------------
// naive

function naivePlan(g: NaGeometry, caps: DeviceCaps): KernelPlan {
  const st = g.st;
  const { D, N, win } = g;
  const rows = g.BH * N;
  const inputs: Bind[] = [{ name: 'Q', type: st, ref: IN(0) }, { name: 'K', type: st, ref: IN(1) }];
  if (g.rpb) inputs.push({ name: 'R', type: st, ref: IN(3) });
  const p1 = declare([...inputs, { name: 'P', type: 'f32', write: true, ref: SCRATCH }]);
  /** Per-dim query coordinates and windows from the flat query index n. */
  const query = g.sp.map((L, i) => `  let x${i} = i32((n / ${u(g.spSt[i])}) % ${u(L)});
  let r${i} = x${i} % ${si(g.dil[i])};
  let xi${i} = x${i} / ${si(g.dil[i])};
  let w${i} = nbg${i}(r${i}, xi${i});`).join('\n');
  const jdims = g.k.map((k, i) => `    let j${i} = i32((j / ${u(g.kSt[i])}) % ${u(k)});`).join('\n');
  const valid = g.causal.map((cz, i) => (cz ? `j${i} < w${i}.y` : '')).filter(Boolean).join(' && ') || 'true';
  const key = g.k.map((_, i) => `u32(r${i} + (w${i}.x + j${i}) * ${si(g.dil[i])}) * ${u(g.spSt[i])}`).join(' + ');
  const body1 = `  let j = gid % ${u(win)};
  let row = gid / ${u(win)};
  let n = row % ${u(N)};
  let bh = row / ${u(N)};
${query}
  {
${jdims}
    var v = ${NEG};
    if (${valid}) {
      let ko = (bh * ${u(N)} + ${key}) * ${u(D)};
      let qo = row * ${u(D)};
      var acc = 0.0;
      for (var d = 0u; d < params.dw; d++) { acc = fma(${ld('Q[qo + d]', st)}, ${ld('K[ko + d]', st)}, acc); }
      v = acc * ${lit(g.scale, 'f32')}${rpbTerm(g, `(bh % ${u(g.heads)})`, (i) => `w${i}.x + j${i} - xi${i} + ${si(g.k[i] - 1)}`)};
    }
    P[gid] = v;
  }`;
  const wgsl1 = `${header([st])}${p1.decls}\n${paramsDecl(p1.buffers.length)}\n${windowFns(g)}\n${entry1d(WG, rows * win, body1)}\n`;
  // Row softmax, one invocation per query: masked (causal) scores are -max-float and become 0.
  const body2 = `  let b = gid * ${u(win)};
  var mx = ${NEG};
  for (var j = 0u; j < params.win; j++) { mx = max(mx, P[b + j]); }
  var s = 0.0;
  for (var j = 0u; j < params.win; j++) { let e = exp(P[b + j] - mx); P[b + j] = e; s += e; }
  let inv = 1.0 / s;
  for (var j = 0u; j < params.win; j++) { P[b + j] = P[b + j] * inv; }`;
  const wgsl2 = `@group(0) @binding(0) var<storage, read_write> P: array<f32>;\n${paramsDecl(1)}\n${entry1d(WG, rows, body2)}\n`;
  const p3 = declare([{ name: 'V', type: st, ref: IN(2) }, { name: 'P', type: 'f32', ref: SCRATCH }, { name: 'O', type: st, write: true, ref: OUT }]);
  const body3 = `  let dd = gid % ${u(D)};
  let row = gid / ${u(D)};
  let n = row % ${u(N)};
  let bh = row / ${u(N)};
${query}
  var acc = 0.0;
  for (var j = 0u; j < params.win; j++) {
${jdims}
    if (${valid}) {
      let ko = (bh * ${u(N)} + ${key}) * ${u(D)};
      acc = fma(P[row * ${u(win)} + j], ${ld('V[ko + dd]', st)}, acc);
    }
  }
  O[gid] = ${st === 'f32' ? 'acc' : `${st}(acc)`};`;
  const wgsl3 = `${header([st])}${p3.decls}\n${paramsDecl(p3.buffers.length)}\n${windowFns(g)}\n${entry1d(WG, rows * D, body3)}\n`;
  return {
    passes: [
      { label: `${KERNEL}/naive scores`, wgsl: wgsl1, workgroups: dispatch1d(rows * win, WG, caps), buffers: p1.buffers, uniforms: paramsData(g, D) },
      { label: `${KERNEL}/naive softmax`, wgsl: wgsl2, workgroups: dispatch1d(rows, WG, caps), buffers: [SCRATCH], uniforms: paramsData(g, D) },
      { label: `${KERNEL}/naive ·V`, wgsl: wgsl3, workgroups: dispatch1d(rows * D, WG, caps), buffers: p3.buffers, uniforms: paramsData(g, D) },
    ],
    scratch: [rows * win * 4],
  };
}

// ---------------------------------------------------------------------------------------------
// Vector/precision helpers of the tiled variants

interface Vec {
  w: 1 | 4;
  ct: 'f32' | 'f16';
  st: GpuType;
  /** Compute value type (f32, f16, vec4<f32>, vec4<f16>). */
  T: string;
  /** Storage element type as bound. */
  S: string;
  /** f32 accumulator type of the same width. */
  F: string;
  /** Elements of the head dim in units of w. */
  DW: number;
}

function vecOf(g: NaGeometry, f16: boolean): Vec {
  const w = f16 || g.D % 4 === 0 ? 4 : 1;
  const ct = f16 ? 'f16' : 'f32';
  const wrap = (t: string): string => (w === 4 ? `vec4<${t}>` : t);
  return { w, ct, st: g.st, T: wrap(ct), S: wrap(g.st), F: wrap('f32'), DW: g.D / w };
}

/** A storage element converted to the compute type. */
const vload = (v: Vec, e: string): string => (v.st === v.ct ? e : `${v.T}(${e})`);
/** f32 dot product of two compute values (an f16 product is rounded to f16, then summed in f32). */
const vdot = (v: Vec, a: string, b: string): string => {
  const p = v.w === 4 ? `dot(${a}, ${b})` : `(${a} * ${b})`;
  return v.ct === 'f32' ? p : `f32(${p})`;
};
/** `acc += p·x` with p an f32 scalar, x a compute value, acc of type F. */
const vaxpy = (v: Vec, acc: string, p: string, x: string): string => (v.ct === 'f32'
  ? `${acc} = fma(${v.F}(${p}), ${x}, ${acc});`
  : `${acc} += ${v.F}(${v.T}(f16(${p})) * ${x});`);
/** An f32 accumulator value converted for storage. */
const vstore = (v: Vec, e: string): string => (v.st === 'f32' ? e : `${v.S}(${e})`);

/**
 * The workgroup → query mapping of the tiled variants: a tile of queries of one dilation group per
 * workgroup (wid.x), batch×head in wid.y. Declares per dim r{i} (group), t{i} (tile's first group
 * index), lr{i} (group length), xi{i} (this invocation's group index, clamped into the group),
 * w{i} = (window start, count); `inq` (a real query), `bh`, `n` (flat query index), `row`; and
 * returns early (uniformly) from tiles wholly outside a short dilation group.
 */
function tilePrelude(g: NaGeometry, t: Tiles): string {
  const l: string[] = ['  let bh = wid.y;', '  var inq = true;'];
  for (let i = 0; i < g.nd; i++) {
    l.push(`  let b${i} = i32((wid.x / ${u(t.bSt[i])}) % ${u(t.blocks[i])});`);
    l.push(`  let r${i} = b${i} / ${si(t.tiles[i])};`);
    l.push(`  let t${i} = (b${i} % ${si(t.tiles[i])}) * ${si(t.T[i])};`);
    l.push(`  let lr${i} = glen${i}(r${i});`);
    l.push(`  if (t${i} >= lr${i}) { return; }`);
    l.push(`  let x${i} = t${i} + i32((lid / ${u(t.tSt[i])}) % ${u(t.T[i])});`);
    l.push(`  inq = inq && x${i} < lr${i};`);
    l.push(`  let xi${i} = min(x${i}, lr${i} - 1i);`);
    l.push(`  let w${i} = nbg${i}(r${i}, xi${i});`);
  }
  l.push(`  let n = ${g.sp.map((_, i) => `u32(r${i} + xi${i} * ${si(g.dil[i])}) * ${u(g.spSt[i])}`).join(' + ')};`);
  l.push(`  let row = bh * ${u(g.N)} + n;`);
  return l.join('\n');
}

/** Bias offset of the query's window start (per dim s − i + k − 1), to which Σ j{i}·rSt is added. */
function rpbBase(g: NaGeometry): string {
  if (!g.rpb) return '';
  return `  let rb = (bh % ${u(g.heads)}) * ${u(g.rSize)} + ${g.k.map((k, i) => `u32(w${i}.x - xi${i} + ${si(k - 1)}) * ${u(g.rSt[i])}`).join(' + ')};`;
}

/** Loads q (scaled) into registers. */
/** Q's row into `q`, scaled (the head dim compiled into the loop, so that `q` can live in registers). */
function loadQ(g: NaGeometry, v: Vec): string {
  const scaled = v.st === 'f32' && v.ct === 'f32' ? `Q[qo + c] * ${lit(g.scale, 'f32')}` : `${v.T}(${v.F}(Q[qo + c]) * ${lit(g.scale, 'f32')})`;
  return `  var q: array<${v.T}, ${v.DW}>;
  let qo = row * ${u(v.DW)};
  for (var c = 0u; c < ${v.DW}; c++) { q[c] = ${scaled}; }`;
}

function tiledInputs(g: NaGeometry, v: Vec, use: string): Bind[] {
  const list: Bind[] = [];
  if (use.includes('Q')) list.push({ name: 'Q', type: v.S, ref: IN(0) });
  if (use.includes('K')) list.push({ name: 'K', type: v.S, ref: IN(1) });
  if (use.includes('V')) list.push({ name: 'V', type: v.S, ref: IN(2) });
  if (use.includes('R') && g.rpb) list.push({ name: 'R', type: g.st, ref: IN(3) });
  return list;
}

/**
 * Nested loops over the window, innermost dim last: `body` sees j{i} (i32) and the flat window
 * index `j` (u32, which the body counts), for every position, or (onlyValid) only the causal ones.
 * From dim `first` on (the outer dims' j{i} are the caller's).
 */
function windowLoops(g: NaGeometry, body: string, onlyValid: boolean, indent = '  ', first = 0): string {
  let s = body;
  for (let i = g.nd - 1; i >= first; i--) {
    const bound = onlyValid && g.causal[i] ? `w${i}.y` : `${g.k[i]}`;
    s = `for (var j${i} = 0i; j${i} < ${bound}; j${i}++) {\n${s}\n}`;
  }
  return s.split('\n').map((x) => indent + x).join('\n');
}

/**
 * The haloed tile's first and last group index per dim, lo{i} and hi{i}: the windows of its first
 * and last real query (window starts never decrease along a group, and grow by at most 1 per step).
 */
function haloBounds(g: NaGeometry, t: Tiles): string {
  return g.sp.map((_, i) => `  let lo${i} = nbg${i}(r${i}, t${i}).x;
  let hi${i} = nbg${i}(r${i}, min(t${i} + ${si(t.T[i] - 1)}, lr${i} - 1i)).x + ${si(g.k[i] - 1)};`).join('\n');
}

/**
 * Stages head-dim chunk c0 … c0+DCW−1 (in units of w) of the haloed tile of each `src` into its
 * workgroup array `arr`, between barriers: params.stage elements, keys past hi{i} or head-dim
 * elements past the end as zeros. Along dim 0 the staged rows start at `base0` and number `ext0`
 * (the whole haloed tile, or one slab of it); every invocation takes part.
 */
function stageHalo(g: NaGeometry, t: Tiles, v: Vec, DCW: number, into: Array<[arr: string, src: string]>, base0 = 'lo0', ext0 = t.halo[0]): string {
  const base = (i: number): string => (i === 0 ? base0 : `lo${i}`);
  const ext = (i: number): number => (i === 0 ? ext0 : t.halo[i]);
  const val = (n: number): string => (n ? `val${n}` : 'val');
  return `    workgroupBarrier();
    for (var e = lid; e < params.stage; e += ${u(WG)}) {
      let h = e / ${DCW};
      let c = c0 + e % ${DCW};
${g.sp.map((_, i) => `      let g${i} = ${base(i)} + i32((h / ${u(t.hSt[i])}) % ${u(ext(i))});`).join('\n')}
${into.map((_, n) => `      var ${val(n)} = ${v.T}(0.0);`).join('\n')}
      if (c < params.dw && ${g.sp.map((_, i) => `g${i} <= hi${i}`).join(' && ')}) {
        let key = ${g.sp.map((_, i) => `u32(r${i} + g${i} * ${si(g.dil[i])}) * ${u(g.spSt[i])}`).join(' + ')};
${into.map(([, src], n) => `        ${val(n)} = ${vload(v, `${src}[(bh * ${u(g.N)} + key) * ${u(v.DW)} + c]`)};`).join('\n')}
      }
${into.map(([arr], n) => `      ${arr}[e] = ${val(n)};`).join('\n')}
    }
    workgroupBarrier();`;
}

/** Offset (in staged keys) of window position j{i} in a tile staged by stageHalo from `base0`. */
function haloOffset(g: NaGeometry, t: Tiles, base0 = 'lo0'): string {
  return g.sp.map((_, i) => `u32(w${i}.x - ${i === 0 ? base0 : `lo${i}`} + j${i}) * ${u(t.hSt[i])}`).join(' + ');
}

// ---------------------------------------------------------------------------------------------
// gemm

function gemmPlan(g: NaGeometry, f16: boolean, caps: DeviceCaps): KernelPlan {
  const v = vecOf(g, f16);
  const t = tiles(g);
  const DC = gemmChunk(g, v.w, f16 ? 2 : 4, caps);
  const DCW = DC / v.w;
  const name = f16 ? 'gemm-f16' : 'gemm';
  const types: GpuType[] = [g.st, v.ct];
  const halo = haloBounds(g, t);
  const stage = (arr: string, src: string): string => stageHalo(g, t, v, DCW, [[arr, src]]);
  const hoff = haloOffset(g, t);

  // Pass 1: scores, then the row softmax in registers, written as attention weights.
  const b1 = declare([...tiledInputs(g, v, 'QKR'), { name: 'P', type: 'f32', write: true, ref: SCRATCH }]);
  const valid = g.causal.map((cz, i) => (cz ? `j${i} < w${i}.y` : '')).filter(Boolean).join(' && ');
  const rj = g.rpb ? ` + ${ld(`R[rb + ${g.k.map((_, i) => `u32(j${i}) * ${u(g.rSt[i])}`).join(' + ')}]`, g.st)}` : '';
  const wgsl1 = `${header(types)}${b1.decls}
${paramsDecl(b1.buffers.length)}
${windowFns(g)}
var<workgroup> Ks: array<${v.T}, ${t.haloN * DCW}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${tilePrelude(g, t)}
${halo}
${loadQ(g, v)}
  var sc: array<f32, ${g.win}>;
  for (var c0 = 0u; c0 < ${v.DW}; c0 += ${DCW}) {
${stage('Ks', 'K')}
    let cn = min(${DCW}, ${v.DW} - c0);
    var j = 0u;
${windowLoops(g, `  let ho = (${hoff}) * ${DCW};
  var a = 0.0;
  for (var c = 0u; c < cn; c++) { a += ${vdot(v, 'q[c0 + c]', 'Ks[ho + c]')}; }
  sc[j] += a;
  j++;`, false, '    ')}
  }
${rpbBase(g)}
  var mx = ${NEG};
  {
    var j = 0u;
${windowLoops(g, `  let sv = ${valid ? `select(${NEG}, sc[j]${rj}, ${valid})` : `sc[j]${rj}`};
  sc[j] = sv;
  mx = max(mx, sv);
  j++;`, false, '    ')}
  }
  var sum = 0.0;
  for (var j = 0u; j < ${g.win}; j++) { let e = exp(sc[j] - mx); sc[j] = e; sum += e; }
  if (inq) {
    let inv = 1.0 / sum;
    for (var j = 0u; j < ${g.win}; j++) { P[row * ${u(g.win)} + j] = sc[j] * inv; }
  }
}
`;
  // Pass 2: O = P·V with the haloed V tile staged per head-dim chunk.
  const b2 = declare([...tiledInputs(g, v, 'V'), { name: 'P', type: 'f32', ref: SCRATCH }, { name: 'O', type: v.S, write: true, ref: OUT }]);
  const wgsl2 = `${header(types)}${b2.decls}
${paramsDecl(b2.buffers.length)}
${windowFns(g)}
var<workgroup> Vs: array<${v.T}, ${t.haloN * DCW}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${tilePrelude(g, t)}
${halo}
  var p: array<f32, ${g.win}>;
  for (var j = 0u; j < ${g.win}; j++) { p[j] = P[row * ${u(g.win)} + j]; }
  var acc: array<${v.F}, ${DCW}>;
  for (var c0 = 0u; c0 < ${v.DW}; c0 += ${DCW}) {
${stage('Vs', 'V')}
    let cn = min(${DCW}, ${v.DW} - c0);
    // Reset explicitly: on lavapipe a loop-body \`var\` was not re-zeroed per iteration (the second
    // head-dim chunk started from the first chunk's sums; the 9×9 d=32 test catches it).
    for (var c = 0u; c < ${DCW}; c++) { acc[c] = ${v.F}(0.0); }
    var j = 0u;
${windowLoops(g, `  let ho = (${hoff}) * ${DCW};
  let pj = p[j];
  for (var c = 0u; c < cn; c++) { ${vaxpy(v, 'acc[c]', 'pj', 'Vs[ho + c]')} }
  j++;`, false, '    ')}
    if (inq) {
      for (var c = 0u; c < cn; c++) { O[row * ${u(v.DW)} + c0 + c] = ${vstore(v, 'acc[c]')}; }
    }
  }
}
`;
  const grid: [number, number, number] = [t.total, g.BH, 1];
  return {
    passes: [
      { label: `${KERNEL}/${name} QKᵀ+softmax`, wgsl: wgsl1, workgroups: grid, buffers: b1.buffers, uniforms: paramsData(g, v.DW, t.haloN * DCW) },
      { label: `${KERNEL}/${name} ·V`, wgsl: wgsl2, workgroups: grid, buffers: b2.buffers, uniforms: paramsData(g, v.DW, t.haloN * DCW) },
    ],
    scratch: [g.BH * g.N * g.win * 4],
  };
}

// ---------------------------------------------------------------------------------------------
// fused

function fusedPlan(g: NaGeometry, f16: boolean): KernelPlan {
  const v = vecOf(g, f16);
  const t = tiles(g);
  const name = f16 ? 'fused-f16' : 'fused';
  // The head-dim loops have the head dim compiled in (as fused-tiled's: loops a GPU compiler can
  // unroll, keeping q and acc in registers).
  const last = g.nd - 1;
  const b = declare([...tiledInputs(g, v, 'QKVR'), { name: 'O', type: v.S, write: true, ref: OUT }]);
  // Key row offset (in units of w) of window position j{i}; the innermost dim uses jl.
  const keyOf = (jl: string): string => `(bh * ${u(g.N)} + ${g.sp.map((_, i) => `u32(r${i} + (w${i}.x + ${i === last ? jl : `j${i}`}) * ${si(g.dil[i])}) * ${u(g.spSt[i])}`).join(' + ')}) * ${u(v.DW)}`;
  const rj = g.rpb ? ` + ${ld(`R[rb + ${g.k.map((_, i) => `u32(${i === last ? 'jl' : `j${i}`}) * ${u(g.rSt[i])}`).join(' + ')}]`, g.st)}` : '';
  const kl = g.k[last];
  // The window's bounds stay run-time parameters here: compiled in, the unrolled window rows made
  // this kernel slower on lavapipe (2-D: 8.8× naive against 5.5×).
  const cntL = g.causal[last] ? `w${last}.y` : `params.k${last}`;
  // One window row: scores into registers, one rescale of the running state, then the p·V sum.
  let row = `  var cm = ${NEG};
  for (var jl = 0i; jl < ${cntL}; jl++) {
    let ko = ${keyOf('jl')};
    var a = 0.0;
    for (var c = 0u; c < ${v.DW}; c++) { a += ${vdot(v, 'q[c]', vload(v, 'K[ko + c]'))}; }
    let s = a${rj};
    sc[jl] = s;
    cm = max(cm, s);
  }
  let mn = max(m, cm);
  let corr = exp(m - mn);
  l = l * corr;
  for (var c = 0u; c < ${v.DW}; c++) { acc[c] = acc[c] * corr; }
  for (var jl = 0i; jl < ${cntL}; jl++) {
    let p = exp(sc[jl] - mn);
    l += p;
    let ko = ${keyOf('jl')};
    for (var c = 0u; c < ${v.DW}; c++) { ${vaxpy(v, 'acc[c]', 'p', vload(v, 'V[ko + c]'))} }
  }
  m = mn;`;
  for (let i = last - 1; i >= 0; i--) {
    const bound = g.causal[i] ? `w${i}.y` : `params.k${i}`;
    row = `for (var j${i} = 0i; j${i} < ${bound}; j${i}++) {\n${row.split('\n').map((x) => `  ${x}`).join('\n')}\n}`;
  }
  const wgsl = `${header([g.st, v.ct])}${b.decls}
${paramsDecl(b.buffers.length)}
${windowFns(g)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Bound whether or not this layer reads it (a causal 1-D layer reads no parameter).
  _ = &params;
${tilePrelude(g, t)}
${loadQ(g, v)}
${rpbBase(g)}
  var acc: array<${v.F}, ${v.DW}>;
  var sc: array<f32, ${kl}>;
  var m = ${NEG};
  var l = 0.0;
${row.split('\n').map((x) => `  ${x}`).join('\n')}
  if (inq) {
    let inv = 1.0 / l;
    for (var c = 0u; c < ${v.DW}; c++) { O[row * ${u(v.DW)} + c] = ${vstore(v, 'acc[c] * inv')}; }
  }
}
`;
  return { passes: [{ label: `${KERNEL}/${name}`, wgsl, workgroups: [t.total, g.BH, 1], buffers: b.buffers, uniforms: paramsData(g, v.DW) }], scratch: [] };
}

// ---------------------------------------------------------------------------------------------
// fused-tiled

/** Scores a fused-tiled query keeps in registers per slab: it caps the rows of a slab (one row may hold more). */
const SLAB_SCORES = 32;

interface Slab {
  /** K and V staged together (both slabs fit at the full head dim): one stage of a slab, not two. */
  paired: boolean;
  /** Rows of the haloed tile along dim 0 staged at a time. */
  rows: number;
  /** Head-dim elements per staged chunk (a multiple of w); less than w if one row does not fit. */
  DC: number;
  /** Staged keys per row: the haloed tile's extent in the other dims. */
  inner: number;
  /** Window positions (scores) of a query within one slab, at most. */
  scores: number;
}

/**
 * A fused-tiled slab: as many rows of the haloed tile as keep a query's scores per slab within
 * SLAB_SCORES (the whole tile if the whole window does) and the K and V slabs at the full head dim
 * within workgroup memory, balanced over the tile. If not even one row of both fits, K and V take
 * turns in one array, a row at a time, in head-dim chunks if one row at the full head dim does not fit.
 */
export function slabOf(g: NaGeometry, w: number, bytes: number, caps: DeviceCaps): Slab {
  const t = tiles(g);
  const budget = Math.min(caps.maxComputeWorkgroupStorageSize, GEMM_SMEM);
  const inner = t.haloN / t.halo[0];
  const rowK = g.win / g.k[0];
  const Dp = Math.ceil(g.D / w) * w;
  const byScores = g.win <= SLAB_SCORES ? t.halo[0] : Math.max(1, Math.floor(SLAB_SCORES / rowK));
  const pairedRows = Math.floor(budget / (2 * inner * Dp * bytes));
  const paired = pairedRows >= 1;
  const fit = paired ? Math.min(t.halo[0], byScores, pairedRows) : 1;
  const rows = Math.ceil(t.halo[0] / Math.ceil(t.halo[0] / fit));
  const DC = paired ? Dp : Math.min(Dp, Math.floor(budget / (inner * bytes) / w) * w);
  return { paired, rows, DC, inner, scores: Math.min(rows, g.k[0]) * rowK };
}

function fusedTiledPlan(g: NaGeometry, f16: boolean, caps: DeviceCaps): KernelPlan {
  const v = vecOf(g, f16);
  const t = tiles(g);
  const sl = slabOf(g, v.w, f16 ? 2 : 4, caps);
  const DCW = sl.DC / v.w;
  const name = f16 ? 'fused-tiled-f16' : 'fused-tiled';
  // The head dim is compiled in (an abstract integer): q and acc are arrays of that many, and
  // loops over them with a constant trip count can be unrolled into registers, where a run-time
  // bound would leave a GPU compiler to keep them in (slower) local memory.
  const DW = `${v.DW}`;
  const b = declare([...tiledInputs(g, v, 'QKVR'), { name: 'O', type: v.S, write: true, ref: OUT }]);
  const hoff = haloOffset(g, t, 's0');
  const rj = g.rpb ? ` + ${ld(`R[rb + ${g.k.map((_, i) => `u32(j${i}) * ${u(g.rSt[i])}`).join(' + ')}]`, g.st)}` : '';
  // The query's window positions in the slab: its window rows j0 ∈ [ja, jb) there, the other dims whole.
  const slab = (body: string): string => `      for (var j0 = ja; j0 < jb; j0++) {
${windowLoops(g, body, true, '        ', 1)}
      }`;
  const wgsl = `${header([g.st, v.ct])}${b.decls}
${paramsDecl(b.buffers.length)}
${windowFns(g)}
var<workgroup> S: array<${v.T}, ${sl.rows * sl.inner * DCW}>;${sl.paired ? `\nvar<workgroup> SV: array<${v.T}, ${sl.rows * sl.inner * DCW}>;` : ''}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${tilePrelude(g, t)}
${haloBounds(g, t)}
${loadQ(g, v)}
${rpbBase(g)}
  var acc: array<${v.F}, ${v.DW}>;
  var sc: array<f32, ${sl.scores}>;
  var m = ${NEG};
  var l = 0.0;
  // Slabs of ${sl.rows} rows of the haloed tile (workgroup-uniform bounds: every invocation reaches every barrier).
  for (var s0 = lo0; s0 <= hi0; s0 += ${si(sl.rows)}) {
    let ja = max(w0.x, s0) - w0.x;
    let jb = min(w0.x + ${g.causal[0] ? 'w0.y' : `${g.k[0]}`}, s0 + ${si(sl.rows)}) - w0.x;
    for (var j = 0u; j < ${sl.scores}; j++) { sc[j] = 0.0; }
    for (var c0 = 0u; c0 < ${DW}; c0 += ${DCW}) {
${stageHalo(g, t, v, DCW, sl.paired ? [['S', 'K'], ['SV', 'V']] : [['S', 'K']], 's0', sl.rows)}
      let cn = min(${DCW}, ${DW} - c0);
      var j = 0u;
${slab(`  let ho = (${hoff}) * ${u(DCW)};
  var a = 0.0;
  for (var c = 0u; c < cn; c++) { a += ${vdot(v, 'q[c0 + c]', 'S[ho + c]')}; }
  sc[j] += a;
  j++;`)}
    }
    var cm = ${NEG};
    var n = 0u;
    {
      var j = 0u;
${slab(`  let sv = sc[j]${rj};
  sc[j] = sv;
  cm = max(cm, sv);
  j++;`)}
      n = j;
    }
    let mn = max(m, cm);
    let corr = exp(m - mn);
    l = l * corr;
    for (var c = 0u; c < ${DW}; c++) { acc[c] = acc[c] * corr; }
    for (var j = 0u; j < n; j++) { let p = exp(sc[j] - mn); sc[j] = p; l += p; }
    m = mn;
    for (var c0 = 0u; c0 < ${DW}; c0 += ${DCW}) {
${sl.paired ? '    // V was staged with K.' : stageHalo(g, t, v, DCW, [['S', 'V']], 's0', sl.rows)}
      let cn = min(${DCW}, ${DW} - c0);
      var j = 0u;
${slab(`  let ho = (${hoff}) * ${u(DCW)};
  let pj = sc[j];
  for (var c = 0u; c < cn; c++) { ${vaxpy(v, 'acc[c0 + c]', 'pj', `${sl.paired ? 'SV' : 'S'}[ho + c]`)} }
  j++;`)}
    }
  }
  if (inq) {
    let inv = 1.0 / l;
    for (var c = 0u; c < ${DW}; c++) { O[row * ${u(v.DW)} + c] = ${vstore(v, 'acc[c] * inv')}; }
  }
}
`;
  return {
    passes: [{ label: `${KERNEL}/${name}`, wgsl, workgroups: [t.total, g.BH, 1], buffers: b.buffers, uniforms: paramsData(g, v.DW, sl.rows * sl.inner * DCW) }],
    scratch: [],
  };
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const s = supports(c, variant, caps);
  if (!s.ok) throw new Error(`${KERNEL}/${variant}: ${s.reason}`);
  const g = naGeometry(c);
  switch (variant) {
    case 'naive': return naivePlan(g, caps);
    case 'gemm': return gemmPlan(g, false, caps);
    case 'gemm-f16': return gemmPlan(g, true, caps);
    case 'fused': return fusedPlan(g, false);
    case 'fused-tiled': return fusedTiledPlan(g, false, caps);
    case 'fused-tiled-f16': return fusedTiledPlan(g, true, caps);
    default: return fusedPlan(g, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Reference

/** Straightforward CPU neighborhood attention in double precision. */
export function naReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = naGeometry(c);
  const [Q, K, V, R] = inputs;
  const { D, N } = g;
  const out = new Float32Array(g.BH * N * D);
  const keys: number[] = [];
  const bias: number[] = [];
  const sc: number[] = [];
  for (let n = 0; n < N; n++) {
    // The window of query n: key indices and bias offsets of the positions that count.
    const ws = g.sp.map((L, i) => windowOf(Math.floor(n / g.spSt[i]) % L, L, g.k[i], g.dil[i], g.causal[i]));
    keys.length = 0;
    bias.length = 0;
    for (let j = 0; j < g.win; j++) {
      let key = 0;
      let rb = 0;
      let ok = true;
      for (let i = 0; i < g.nd; i++) {
        const ji = Math.floor(j / g.kSt[i]) % g.k[i];
        const w = ws[i];
        if (ji >= w.cnt) { ok = false; break; }
        key += (w.r + (w.s + ji) * g.dil[i]) * g.spSt[i];
        rb += (w.s + ji - w.i + g.k[i] - 1) * g.rSt[i];
      }
      if (ok) { keys.push(key); bias.push(rb); }
    }
    for (let bh = 0; bh < g.BH; bh++) {
      const qo = (bh * N + n) * D;
      let mx = -Infinity;
      sc.length = 0;
      for (let t = 0; t < keys.length; t++) {
        const ko = (bh * N + keys[t]) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += Q!.data[qo + d] * K!.data[ko + d];
        let s = g.scale * dot;
        if (R) s += R.data[(bh % g.heads) * g.rSize + bias[t]];
        sc.push(s);
        mx = Math.max(mx, s);
      }
      let sum = 0;
      for (let t = 0; t < sc.length; t++) { sc[t] = Math.exp(sc[t] - mx); sum += sc[t]; }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let t = 0; t < keys.length; t++) acc += sc[t] * V!.data[(bh * N + keys[t]) * D + d];
        out[qo + d] = acc / sum;
      }
    }
  }
  return [{ dtype: c.layer.outputs[0].dtype, shape: [...c.layer.outputs[0].shape], data: out }];
}

/**
 * NATTEN (Hassani et al. 2023): per query, QKᵀ and A·V over its kernel window (2 FLOPs per
 * multiply-add each) plus the window softmax (6 per score, as Softmax). Causal windows do at most
 * this much.
 */
function cost(l: LayerSignature): number {
  const x = l.inputs[0];
  const win = prod(numsAttr(l.attrs.kernel_size) ?? [1]);
  const d = x ? x.shape[x.shape.length - 1] : 0;
  const queries = d ? count(x) / d : 0;
  return queries * win * (2 * d * 2 + 6);
}

export const nattenKernel: Kernel = {
  name: KERNEL,
  ops: [OP],
  variants: [
    { name: 'naive', description: 'three passes: window scores into a B·h·N·k^n buffer, a per-query softmax in place, then ·V (one invocation per output element)' },
    { name: 'gemm', description: 'tiled QKᵀ (query tile + haloed key tile in workgroup memory, softmax in the epilogue) into attention weights, then tiled ·V' },
    { name: 'fused', description: 'one kernel: both products, the window mask as loop bounds and an online softmax per window row; no attention weights in memory' },
    { name: 'fused-tiled', description: 'one kernel on the gemm query tiles: the haloed K and V tiles staged in workgroup memory a slab of rows (and head-dim chunk) at a time, scores per slab in registers, online softmax; reads only Q, K, V (and the bias), writes only O' },
    { name: 'gemm-f16', description: '`gemm` with f16 tiles and f16 products accumulated in f32 (needs shader-f16, head dim a multiple of 4)' },
    { name: 'fused-f16', description: '`fused` with f16 operands and products accumulated in f32 (needs shader-f16, head dim a multiple of 4)' },
    { name: 'fused-tiled-f16', description: '`fused-tiled` with f16 tiles and products accumulated in f32 (needs shader-f16, head dim a multiple of 4)' },
  ],
  /** A runtime without a neighborhood-attention kernel materializes the attention weights. */
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference: naReference,
  cost,
};

export const kernels: Kernel[] = [nattenKernel];
