/**
 * Sparse linear layers (domain `dlprof`): `dlprof.SparseLinear`, Y = act(X·W + B), the layer of
 * the MIT/IEEE Sparse DNN Graph Challenge (Kepner et al., "Sparse Deep Neural Network Graph
 * Challenge", HPEC 2019: Y_{l+1} = h(Y_l·W_l + b_l), h(y) = min(max(y, 0), 32)) and of pruned
 * MatMul/Gemm layers whose weight is mostly zeros. The analysis (src/analysis/fusion.ts) turns a
 * MatMul/Gemm with a sparse weight, its bias Add and its ReLU/Clip/Min/Max into this op.
 *
 * Inputs: X [..., K] (leading dimensions are feature rows, M = their product), W [K, N] (or [N, K]
 * with `trans_b` = 1), optional B [N]. Attributes: `activation` ('none' | 'Relu' | 'Clip'),
 * `clip_min`/`clip_max` (Clip's bounds), `sparsity` (the weight's recorded fraction of zeros:
 * syntheticInputs in src/kernels/inputs.ts makes timing weights with exactly that many zeros per column),
 * `trans_b`.
 *
 * W reaches the kernel dense, as in the model; the sparse variants convert it on the host once,
 * before anything is timed (KernelPlan.hostInputs), as a sparse library's setup step (cuSPARSE's
 * matrix descriptors, the challenge codes' preprocessing) is outside the inference it serves.
 *
 * Variants:
 *  - `dense`: the GEMM core (gemm.ts: operands staged in workgroup memory, a register block per
 *    invocation; 32×32 output tiles of 4×4 blocks untuned, the autotuner's tile otherwise) with
 *    bias and activation in its epilogue: what a runtime does with a dense weight that happens to
 *    be mostly zeros, as fast as dlprof's GEMMs are. The default.
 *  - `csr`: Wᵀ in CSR (one row per output neuron: its input neurons and weights), one invocation
 *    per output element walking its row (invocations of a workgroup share the row, so the loop is
 *    uniform and the row's entries are read once per SIMD group), then a second elementwise pass
 *    for bias and activation: a sparse library's SpMM followed by the framework's epilogue kernel.
 *  - `ell-fused`: the 2020 challenge design (Hidayetoglu et al., "At-Scale Sparse Deep Neural
 *    Network Inference with Efficient GPU Implementation", HPEC 2020): a workgroup owns a slice
 *    of TN output neurons and TM feature rows; the input neurons its slice reads (its footprint)
 *    are cut into blocks that fit workgroup memory, and per block it stages the feature tile
 *    X[m0..m0+TM, footprint block] in workgroup memory once, which every invocation then reuses
 *    for its output neurons. Weights are in sliced ELL (per block and slice a common width,
 *    entries interleaved across the slice's neurons so neighbouring invocations read neighbouring
 *    entries, indices into the staged tile); each invocation keeps TM×C accumulators in registers
 *    and applies bias, ReLU and the clip before its only store of Y. Staging only the footprint
 *    is what keeps very sparse layers cheap: at 99.9% zeros a slice reads a few percent of X.
 *
 * FLOPs (`cost`) count the useful work, 2·M·nnz (+ M·N for the bias), not the dense
 * 2·M·K·N; the throughput figure of the challenge is edges/s = M·nnz / time.
 */
import {
  supported, unsupported,
  type AutotuneLevel, type BufferRef, type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support, type TuneConfig,
} from './types.js';
import { gemmPasses, gemmTile, gemmTuning, gemmWorkgroups, guardedLanes4, type GemmSpec, type GemmTile } from './gemm.js';
import { dispatch1d, elements, entry1d, lit, prod } from './wgsl.js';
import type { LayerSignature } from '../ir/types.js';
import { count, numAttr } from './flops.js';

const OP = 'dlprof.SparseLinear';
const u = (n: number): string => `${n}u`;

export const SPARSE_ACTIVATIONS = ['none', 'Relu', 'Clip'] as const;
export type SparseActivation = typeof SPARSE_ACTIVATIONS[number];

export interface SparseGeometry {
  M: number;
  K: number;
  N: number;
  transB: boolean;
  hasBias: boolean;
  act: SparseActivation;
  lo: number;
  hi: number;
  /** The weight's recorded fraction of zeros (0 when not recorded). */
  sparsity: number;
}

function attrNum(c: LayerCase, k: string, d: number): number {
  const v = c.layer.attrs[k];
  return typeof v === 'number' ? v : d;
}

/** Non-zeros the weight is expected to hold: round((1 − sparsity)·K·N). */
export function expectedNnz(g: Pick<SparseGeometry, 'K' | 'N' | 'sparsity'>): number {
  return Math.round((1 - g.sparsity) * g.K * g.N);
}

export function sparseGeometry(c: LayerCase): SparseGeometry {
  const l = c.layer;
  const x = l.inputs[0]!;
  const w = l.inputs[1]!;
  const transB = attrNum(c, 'trans_b', 0) !== 0;
  const K = x.shape.length ? x.shape[x.shape.length - 1] : 1;
  const M = x.shape.length > 1 ? prod(x.shape.slice(0, -1)) : 1;
  const N = transB ? w.shape[0] : w.shape[w.shape.length - 1];
  const a = l.attrs.activation;
  const act = (a === undefined ? 'none' : a) as SparseActivation;
  return {
    M, K, N, transB, hasBias: !!l.inputs[2], act,
    lo: act === 'Relu' ? 0 : attrNum(c, 'clip_min', -Infinity),
    hi: act === 'Relu' ? Infinity : attrNum(c, 'clip_max', Infinity),
    sparsity: attrNum(c, 'sparsity', 0),
  };
}

/** WGSL `fn act(x: f32) -> f32`: the activation (ReLU, or the clamp to [lo, hi]). */
function actWgsl(g: SparseGeometry): string {
  const body = g.act === 'none' ? 'x' : g.act === 'Relu' ? 'max(x, 0.0)' : `min(max(x, ${lit(g.lo, 'f32')}), ${lit(g.hi, 'f32')})`;
  return `fn act(x: f32) -> f32 { return ${body}; }`;
}

function actRef(g: SparseGeometry): (x: number) => number {
  if (g.act === 'none') return (x) => x;
  if (g.act === 'Relu') return (x) => Math.max(x, 0);
  return (x) => Math.min(Math.max(x, g.lo), g.hi);
}

const decl = (i: number, name: string, type: string, write = false): string =>
  `@group(0) @binding(${i}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;

// ---------------------------------------------------------------------------------------------
// Host-side formats (built once per weight, before timing)

/** W(k, n) of the dense weight, whichever way it is stored. */
function weightAt(W: ArrayLike<number>, g: SparseGeometry): (k: number, n: number) => number {
  return g.transB ? (k, n) => W[n * g.K + k] : (k, n) => W[k * g.N + n];
}

export interface Csr {
  /** Row n (output neuron) holds entries rowPtr[n] … rowPtr[n+1]-1. */
  rowPtr: Uint32Array;
  /** Input neuron k of each entry, ascending within a row. */
  col: Uint32Array;
  val: Float32Array;
}

/** Wᵀ in CSR: one row per output neuron n listing its non-zero weights W(k, n). */
export function toCsr(W: ArrayLike<number>, g: SparseGeometry): Csr {
  const at = weightAt(W, g);
  const rowPtr = new Uint32Array(g.N + 1);
  for (let k = 0; k < g.K; k++) for (let n = 0; n < g.N; n++) if (at(k, n) !== 0) rowPtr[n + 1]++;
  for (let n = 0; n < g.N; n++) rowPtr[n + 1] += rowPtr[n];
  const nnz = rowPtr[g.N];
  const col = new Uint32Array(nnz);
  const val = new Float32Array(nnz);
  const cur = rowPtr.slice(0, g.N);
  for (let k = 0; k < g.K; k++) {
    for (let n = 0; n < g.N; n++) {
      const w = at(k, n);
      if (w !== 0) { const p = cur[n]++; col[p] = k; val[p] = w; }
    }
  }
  return { rowPtr, col, val };
}

/** Tiling of `ell-fused`. */
export interface EllTiling {
  /** Feature rows per workgroup (accumulators per output neuron per invocation). */
  TM: number;
  /** Input neurons per block (the staged feature tile is TM × TK). */
  TK: number;
  /** Output neurons per invocation; a workgroup's slice is TN = 64·C neurons. */
  C: number;
}

const ELL_WG = 64;
const ELL_TM = 8;
const ELL_C = 2;
const ELL_MAX_TK = 1024;

/**
 * TK: as many input neurons as a TM×TK f32 feature tile leaves room for in workgroup memory, at
 * most 1024, and no more than K (a longer tile would only stage zeros). Wider blocks mean fewer
 * blocks and less ELL padding (a block's common width is the maximum over the slice; its excess
 * over the mean shrinks relative to the mean as blocks grow), at the price of fewer feature rows.
 */
export function ellTiling(g: Pick<SparseGeometry, 'K'>, caps: Pick<DeviceCaps, 'maxComputeWorkgroupStorageSize'>): EllTiling {
  const TK = Math.min(ELL_MAX_TK, Math.floor(caps.maxComputeWorkgroupStorageSize / (ELL_TM * 4)), Math.max(1, g.K));
  return { TM: ELL_TM, TK, C: ELL_C };
}

export interface Ell {
  /** Position of each entry's input neuron in its block's footprint (0 for padding). */
  idx: Uint32Array;
  /** Weight of each entry (0 for padding). */
  val: Float32Array;
  /**
   * One u32 table: per slice s at 2s, [first block, block count]; per block at 2S + 4b,
   * [footprint offset (into this table), footprint length, first entry, width]; then the
   * footprints: the input neurons (ascending) each block stages.
   */
  meta: Uint32Array;
  /** Stored entries (padding included) over non-zeros: the format's overhead. */
  padding: number;
  /** Staged feature columns over K·slices: what the footprints save against staging all of X. */
  staged: number;
}

/**
 * Sliced ELL of W over the footprint of each slice of TN = 64·C output neurons: the input neurons
 * the slice's columns use (ascending) are cut into blocks of ≤ TK, which is what a workgroup
 * stages (Hidayetoglu et al. 2020 stage exactly the footprint, so a very sparse layer does not
 * copy features nobody reads). In a block with first entry e and width w, column n's j-th
 * non-zero is entry e + j·TN + (n − s·TN), j < w (the slice's widest column in that block;
 * shorter columns are padded with zero weights), and holds the input neuron's position in the
 * block's footprint.
 */
export function toEll(W: ArrayLike<number>, g: SparseGeometry, t: EllTiling): Ell {
  const csr = toCsr(W, g);
  const TN = ELL_WG * t.C;
  const S = Math.ceil(g.N / TN);
  const slices: number[] = [];
  const blocks: number[] = [];
  const foot: number[] = [];
  const pos = new Int32Array(g.K).fill(-1);
  const idx: number[] = [];
  const val: number[] = [];
  let nnz = 0;
  for (let s = 0; s < S; s++) {
    const n0 = s * TN;
    const n1 = Math.min(g.N, n0 + TN);
    // The slice's footprint, ascending: mark, then sweep K.
    for (let n = n0; n < n1; n++) for (let p = csr.rowPtr[n]; p < csr.rowPtr[n + 1]; p++) pos[csr.col[p]] = 0;
    const ks: number[] = [];
    for (let k = 0; k < g.K; k++) if (pos[k] === 0) { pos[k] = ks.length; ks.push(k); }
    const nb = Math.ceil(ks.length / t.TK);
    slices.push(blocks.length / 4, nb);
    for (let b = 0; b < nb; b++) {
      const f0 = b * t.TK;
      const f1 = Math.min(ks.length, f0 + t.TK);
      // Per column, its entries in this block (rows are ascending in k, so in footprint order).
      let w = 0;
      const spans: Array<[number, number]> = [];
      for (let n = n0; n < n1; n++) {
        let p0 = csr.rowPtr[n];
        const end = csr.rowPtr[n + 1];
        while (p0 < end && pos[csr.col[p0]] < f0) p0++;
        let p1 = p0;
        while (p1 < end && pos[csr.col[p1]] < f1) p1++;
        spans.push([p0, p1]);
        w = Math.max(w, p1 - p0);
      }
      const base = idx.length;
      blocks.push(foot.length, f1 - f0, base, w);
      for (let i = f0; i < f1; i++) foot.push(ks[i]);
      for (let i = 0; i < w * TN; i++) { idx.push(0); val.push(0); }
      spans.forEach(([p0, p1], c) => {
        for (let p = p0; p < p1; p++) {
          const e = base + (p - p0) * TN + c;
          idx[e] = pos[csr.col[p]] - f0;
          val[e] = csr.val[p];
          nnz++;
        }
      });
    }
    for (const k of ks) pos[k] = -1;
  }
  const head = slices.length + blocks.length;
  const meta = Uint32Array.from([...slices, ...blocks.map((v, i) => (i % 4 === 0 ? v + head : v)), ...foot]);
  return { idx: Uint32Array.from(idx), val: Float32Array.from(val), meta, padding: nnz ? idx.length / nnz : 1, staged: foot.length / Math.max(1, g.K * S) };
}

const hostU32 = (data: Uint32Array): HostTensor => ({ dtype: 'uint32', shape: [data.length], data });
const hostF32 = (data: Float32Array): HostTensor => ({ dtype: 'float32', shape: [data.length], data });

// ---------------------------------------------------------------------------------------------
// dense: the GEMM core with the epilogue fused

/**
 * The dense variant's own tile on the GEMM core (gemm.ts): 32×32 outputs, 4×4 an invocation, as
 * its own tiled GEMM had before it ran on the core; the autotuner searches the core's others.
 */
const DENSE_TILE: GemmTile = { TM: 32, TP: 32, TK: 16, RM: 4, RP: 4 };

/**
 * Y = act(X·W + B) on the GEMM core: A = X as [M][K] (rows read as vec4s when K is a multiple of
 * 4), B = W as [K][N] (rows as vec4s when N is; with trans_b, four scalars from W's rows), bias
 * and activation before the store.
 */
function denseSpec(g: SparseGeometry, tile: GemmTile): GemmSpec {
  const x4 = g.K % 4 === 0;
  const w4 = !g.transB && g.N % 4 === 0;
  const xEl = (m: string, k: string) => (e: number): string => `X[${m} * gK + min(${k} + ${e}, gK - 1)]`;
  const wEl = (k: string) => (e: number): string => (g.transB ? `Wt[min(bp + ${e}, gP - 1) * gK + ${k}]` : `Wt[${k} * gP + min(bp + ${e}, gP - 1)]`);
  const names = [['X', x4 ? 'vec4<f32>' : 'f32'], ['Wt', w4 ? 'vec4<f32>' : 'f32'], ...(g.hasBias ? [['Bias', 'f32']] : []), ['Y', 'f32']];
  return {
    ct: 'f32', M: g.M, P: g.N, K: g.K, tile,
    decls: `${names.map(([n, t], i) => decl(i, n, t, n === 'Y')).join('\n')}
${actWgsl(g)}`,
    loadA4: (m, k) => (x4 ? `        av = X[(${m} * gK + ${k}) / 4];` : `        av = ${guardedLanes4('f32', xEl(m, k), k)};`),
    loadB4: (k) => (w4 ? `        bv = Wt[${k} * (gP / 4) + min(bp / 4, gP / 4 - 1)];` : `        bv = vec4<f32>(${[0, 1, 2, 3].map(wEl(k)).join(', ')});`),
    storeColumn: (p) => `let yc = ${p};`,
    store: (m, _p, v) => `Y[${m} * gP + yc] = act(${v}${g.hasBias ? ' + Bias[yc]' : ''});`,
  };
}

function planDense(c: LayerCase, g: SparseGeometry, caps: DeviceCaps, tile: GemmTile): KernelPlan {
  const spec = denseSpec(g, tile);
  const buffers: BufferRef[] = [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }, ...(g.hasBias ? [{ kind: 'input' as const, index: 2 }] : []), { kind: 'output', index: 0 }];
  return gemmPasses(spec, 1, caps, `sparse/${c.layer.op} dense`, buffers);
}

// ---------------------------------------------------------------------------------------------
// csr: SpMM, then the epilogue as its own pass

const CSR_WG = 64;
const EPI_WG = 256;

/** GPU-side inputs of `csr`: X, rowPtr, col, val, (B). */
function planCsr(c: LayerCase, g: SparseGeometry, caps: DeviceCaps): KernelPlan {
  const total = g.M * g.N;
  // Invocation (m, n) with m fastest: a workgroup's invocations share row n of Wᵀ, so they run
  // the same trip count and read the same entries.
  const body = `  let m = gid % ${u(g.M)};
  let n = gid / ${u(g.M)};
  let xo = m * ${u(g.K)};
  var acc = 0.0;
  for (var j = rowPtr[n]; j < rowPtr[n + 1u]; j++) { acc = fma(X[xo + col[j]], val[j], acc); }
  Y[m * ${u(g.N)} + n] = acc;`;
  const spmm = `${decl(0, 'X', 'f32')}
${decl(1, 'rowPtr', 'u32')}
${decl(2, 'col', 'u32')}
${decl(3, 'val', 'f32')}
${decl(4, 'Y', 'f32', true)}

${entry1d(CSR_WG, total, body)}
`;
  const passes: Pass[] = [{
    label: `sparse/${c.layer.op} csr spmm`, wgsl: spmm, workgroups: dispatch1d(total, CSR_WG, caps),
    buffers: [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }, { kind: 'input', index: 2 }, { kind: 'input', index: 3 }, { kind: 'output', index: 0 }],
  }];
  if (g.hasBias || g.act !== 'none') {
    const epi = `${decl(0, 'Y', 'f32', true)}
${g.hasBias ? decl(1, 'Bias', 'f32') : ''}
${actWgsl(g)}

${entry1d(EPI_WG, total, `  Y[gid] = act(Y[gid]${g.hasBias ? ` + Bias[gid % ${u(g.N)}]` : ''});`)}
`;
    passes.push({
      label: `sparse/${c.layer.op} csr epilogue`, wgsl: epi, workgroups: dispatch1d(total, EPI_WG, caps),
      buffers: [{ kind: 'output', index: 0 }, ...(g.hasBias ? [{ kind: 'input' as const, index: 4 }] : [])],
    });
  }
  return {
    passes, scratch: [],
    hostInputs: (inputs) => {
      const csr = toCsr(inputs[1]!.data, g);
      return [inputs[0], hostU32(csr.rowPtr), hostU32(csr.col), hostF32(csr.val), g.hasBias ? inputs[2] : null];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ell-fused: sliced ELL, feature tiles in workgroup memory, bias + activation fused

/** GPU-side inputs of `ell-fused`: X, idx, val, meta, (B). */
function planEll(c: LayerCase, g: SparseGeometry, caps: DeviceCaps): KernelPlan {
  const t = ellTiling(g, caps);
  const { TM, TK, C } = t;
  const TN = ELL_WG * C;
  const S = Math.ceil(g.N / TN);
  const KBMAX = Math.ceil(g.K / TK);
  const accs: string[] = [];
  for (let cc = 0; cc < C; cc++) for (let i = 0; i < TM; i++) accs.push(`a${cc}_${i}`);
  const names: Array<[string, string, boolean]> = [['X', 'f32', false], ['ell_k', 'u32', false], ['ell_w', 'f32', false], ['ell_meta', 'u32', false]];
  if (g.hasBias) names.push(['Bias', 'f32', false]);
  names.push(['Y', 'f32', true]);
  const inner: string[] = [];
  for (let cc = 0; cc < C; cc++) {
    inner.push(`      { let p = base + j * ${u(TN)} + ${u(cc * ELL_WG)} + lid;
        let kk = ell_k[p];
        let w = ell_w[p];
${Array.from({ length: TM }, (_, i) => `        a${cc}_${i} = fma(Xs[${i === 0 ? '' : `${u(i * TK)} + `}kk], w, a${cc}_${i});`).join('\n')}
      }`);
  }
  const stores: string[] = [];
  for (let cc = 0; cc < C; cc++) {
    stores.push(`  { let n = n0 + ${u(cc * ELL_WG)};
    if (n < ${u(g.N)}) {
      let bias = ${g.hasBias ? 'Bias[n]' : '0.0'};
${Array.from({ length: TM }, (_, i) => `      if (m0 + ${u(i)} < ${u(g.M)}) { Y[(m0 + ${u(i)}) * ${u(g.N)} + n] = act(a${cc}_${i} + bias); }`).join('\n')}
    }
  }`);
  }
  const wgsl = `${names.map(([n, ty, w], i) => decl(i, n, ty, w)).join('\n')}
${actWgsl(g)}
var<workgroup> Xs: array<f32, ${TM * TK}>;

@compute @workgroup_size(${ELL_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let n0 = s * ${u(TN)} + lid;
  let m0 = wid.y * ${u(TM)};
${accs.map((a) => `  var ${a} = 0.0;`).join('\n')}
  let b0 = ell_meta[2u * s];
  let nb = ell_meta[2u * s + 1u];
  // A slice has at most ceil(K / TK) blocks; looping over that constant count (blocks past the
  // slice's own count are empty) keeps the barriers in uniform control flow, as WGSL requires.
  for (var b = 0u; b < ${u(KBMAX)}; b++) {
    let bm = ${u(2 * S)} + 4u * (b0 + min(b, max(nb, 1u) - 1u));
    let fo = ell_meta[bm];
    let fl = select(0u, ell_meta[bm + 1u], b < nb);
    let base = ell_meta[bm + 2u];
    let width = select(0u, ell_meta[bm + 3u], b < nb);
    // The block's feature tile: rows m0 … m0+TM of X at the footprint's input neurons (zeros
    // past M), staged once and read by all the slice's output neurons.
    for (var p = lid; p < fl; p += ${u(ELL_WG)}) {
      let k = ell_meta[fo + p];
${Array.from({ length: TM }, (_, i) => `      Xs[${u(i * TK)} + p] = select(0.0, X[min(m0 + ${u(i)}, ${u(g.M - 1)}) * ${u(g.K)} + k], m0 + ${u(i)} < ${u(g.M)});`).join('\n')}
    }
    workgroupBarrier();
    for (var j = 0u; j < width; j++) {
${inner.join('\n')}
    }
    workgroupBarrier();
  }
${stores.join('\n')}
}
`;
  const buffers: BufferRef[] = names.map(([n], i) => (n === 'Y' ? { kind: 'output', index: 0 } : { kind: 'input', index: n === 'Bias' ? 4 : i }));
  return {
    passes: [{ label: `sparse/${c.layer.op} ell-fused`, wgsl, workgroups: [S, Math.ceil(g.M / TM), 1], buffers }],
    scratch: [],
    hostInputs: (inputs) => {
      const e = toEll(inputs[1]!.data, g, t);
      return [inputs[0], hostU32(e.idx), hostF32(e.val), hostU32(e.meta), g.hasBias ? inputs[2] : null];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Support

const VARIANTS = [
  { name: 'dense', description: 'the GEMM core on the dense weight (tiles in workgroup memory, register blocks; autotuned), bias and activation in the epilogue' },
  { name: 'csr', description: 'CSR SpMM (one invocation per output, walking its neuron\'s non-zeros), then bias and activation in a second pass' },
  { name: 'ell-fused', description: 'sliced-ELL SpMM with feature tiles staged in workgroup memory and bias + ReLU/clip fused (HPEC 2020 challenge design)' },
];

function binds(what: string, bytes: number, caps: DeviceCaps): Support | null {
  return bytes > caps.maxStorageBufferBindingSize ? unsupported(`${what} (${bytes} bytes) exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`) : null;
}

function grid(xs: number[], caps: DeviceCaps): Support | null {
  return xs.every((x) => x <= caps.maxComputeWorkgroupsPerDimension) ? null : unsupported(`needs ${xs.join('×')} workgroups, beyond ${caps.maxComputeWorkgroupsPerDimension} per dimension`);
}

function supportsLayer(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const [x, w, b] = l.inputs;
  const y = l.outputs[0];
  if (!x || !w || !y) return unsupported('X, W or the output is missing');
  for (const t of [x, w, b, y]) if (t && t.dtype !== 'float32') return unsupported(`${t.dtype} is not supported (float32 only)`);
  if (x.shape.length < 1) return unsupported('X must have rank ≥ 1');
  if (w.shape.length !== 2) return unsupported(`W must be 2-D, not [${w.shape.join(',')}]`);
  const a = l.attrs.activation;
  if (a !== undefined && !SPARSE_ACTIVATIONS.includes(a as SparseActivation)) return unsupported(`activation ${JSON.stringify(a)} is not one of ${SPARSE_ACTIVATIONS.join(', ')}`);
  const g = sparseGeometry(c);
  const wk = g.transB ? w.shape[1] : w.shape[0];
  if (wk !== g.K) return unsupported(`W [${w.shape.join(',')}] does not match X's ${g.K} input features${g.transB ? ' (trans_b)' : ''}`);
  const want = [...x.shape.slice(0, -1), g.N];
  if (y.shape.join(',') !== want.join(',')) return unsupported(`output [${y.shape.join(',')}] is not [${want.join(',')}]`);
  if (b && (elements(b) !== g.N || b.shape.length > 2 || (b.shape.length === 2 && b.shape[0] !== 1))) return unsupported(`bias [${b.shape.join(',')}] is not [${g.N}]`);
  if (g.act === 'Clip' && !(g.lo <= g.hi)) return unsupported(`clip_min ${g.lo} > clip_max ${g.hi}`);
  if (!(g.sparsity >= 0 && g.sparsity <= 1)) return unsupported(`sparsity ${g.sparsity} is not in [0, 1]`);
  if (g.M * g.N === 0 || g.K === 0) return unsupported('empty tensor');
  const tooBig = binds('X', elements(x) * 4, caps) ?? binds('Y', elements(y) * 4, caps);
  if (tooBig) return tooBig;
  switch (variant) {
    case 'dense':
      return binds('W', elements(w) * 4, caps) ?? grid([Math.ceil(g.N / DENSE_TILE.TP), Math.ceil(g.M / DENSE_TILE.TM)], caps) ?? supported;
    case 'csr': {
      // Per-element invocations run a loop of the row's length: flat dispatch over x and y.
      const groups = Math.ceil((g.M * g.N) / CSR_WG);
      if (Math.ceil(groups / caps.maxComputeWorkgroupsPerDimension) > caps.maxComputeWorkgroupsPerDimension) return unsupported('too many outputs to dispatch');
      return binds('the CSR entries', expectedNnz(g) * 4, caps) ?? supported;
    }
    case 'ell-fused': {
      const t = ellTiling(g, caps);
      if (t.TK < 1 || t.TM * t.TK * 4 > caps.maxComputeWorkgroupStorageSize) return unsupported(`needs more than ${caps.maxComputeWorkgroupStorageSize} bytes of workgroup memory`);
      if (caps.maxComputeInvocationsPerWorkgroup < ELL_WG) return unsupported(`needs ${ELL_WG} invocations per workgroup`);
      return binds('the ELL entries', expectedNnz(g) * 4, caps) ?? grid([Math.ceil(g.N / (ELL_WG * t.C)), Math.ceil(g.M / t.TM)], caps) ?? supported;
    }
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

/**
 * Y = act(X·W + B) in double precision, from the dense weight: its non-zeros are gathered per
 * input neuron first, so the product costs M·nnz multiply-adds, not M·K·N.
 */
function referenceOf(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = sparseGeometry(c);
  const X = inputs[0]!.data;
  const at = weightAt(inputs[1]!.data, g);
  const B = inputs[2]?.data;
  const f = actRef(g);
  const rowPtr = new Uint32Array(g.K + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let k = 0; k < g.K; k++) {
    for (let n = 0; n < g.N; n++) { const v = at(k, n); if (v !== 0) { cols.push(n); vals.push(v); } }
    rowPtr[k + 1] = cols.length;
  }
  const acc = new Float64Array(g.N);
  const out = new Float32Array(g.M * g.N);
  for (let m = 0; m < g.M; m++) {
    acc.fill(0);
    for (let k = 0; k < g.K; k++) {
      const xv = X[m * g.K + k];
      if (xv === 0) continue;
      for (let p = rowPtr[k]; p < rowPtr[k + 1]; p++) acc[cols[p]] += xv * vals[p];
    }
    for (let n = 0; n < g.N; n++) out[m * g.N + n] = f(acc[n] + (B ? B[n] : 0));
  }
  return [{ dtype: c.layer.outputs[0].dtype, shape: [...c.layer.outputs[0].shape], data: out }];
}

export const sparseLinearKernel: Kernel = {
  name: 'sparse',
  ops: [OP],
  variants: VARIANTS,
  /** A runtime without sparse kernels runs the dense GEMM (with the epilogue, as FusedMatMul). */
  defaultVariant: () => 'dense',
  supports: supportsLayer,
  plan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
    const s = supportsLayer(c, variant, caps);
    if (!s.ok) throw new Error(`sparse/${variant}: ${s.reason}`);
    const g = sparseGeometry(c);
    if (variant === 'dense') return planDense(c, g, caps, config ? gemmTile(config) : DENSE_TILE);
    if (variant === 'csr') return planCsr(c, g, caps);
    return planEll(c, g, caps);
  },
  /** `dense` searches the GEMM core's tiles (gemm.ts gemmTuning), from its own. */
  tuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
    if (variant !== 'dense' || !supportsLayer(c, variant, caps).ok) return [];
    const g = sparseGeometry(c);
    return gemmTuning({ M: g.M, P: g.N, K: g.K, batches: 1 }, 'f32', caps, level, DENSE_TILE);
  },
  reference: referenceOf,
  cost,
};

/**
 * The useful work of a sparse weight, not its dense shape: 2·M·nnz with nnz = (1 − s)·K·N
 * (attribute `sparsity`), + M·N for the bias; Y's rows M are X's leading dimensions.
 */
function cost(l: LayerSignature): number {
  const [x, w, bias] = l.inputs;
  if (!x || !w) return 0;
  const k = x.shape.length ? x.shape[x.shape.length - 1] : 1;
  const nnz = Math.round((1 - numAttr(l.attrs.sparsity, 0)) * count(w));
  return (2 * (k ? count(x) / k : 0) * nnz) + (bias ? count(l.outputs[0]) : 0);
}

/** Edges per second of a SparseLinear layer run in `ms`: M·nnz / time (the challenge's figure). */
export function edgesPerSecond(c: LayerCase, ms: number): number {
  const g = sparseGeometry(c);
  return (g.M * expectedNnz(g)) / (ms / 1000);
}

export const kernels: Kernel[] = [sparseLinearKernel];
