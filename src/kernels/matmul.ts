/**
 * MatMul (numpy semantics: 1-D promotion, broadcast leading batch dimensions) and Gemm
 * (Y = alpha·op(A)·op(B) + beta·C, op = optional transpose, C unidirectionally broadcast to [M, N]).
 *
 * Every layer is first reduced to one strided problem (`Geometry`): per batch b, A(m, k), B(k, n),
 * Y(m, n) and the Gemm bias C(m, n) are base + row·stride + col·stride, so transposes, 1-D
 * operands and broadcast batches are only strides, and a kernel can swap the roles of A and B
 * (Yᵀ = Bᵀ·Aᵀ) by swapping strides.
 *
 * Variants (the analogue of cuDNN's GEMM algorithms):
 *  - `naive`: one invocation per output element, a plain loop over K.
 *  - `tiled`: the classic GPU GEMM, on the GEMM core that convolution shares (gemm.ts): a
 *    workgroup stages tiles of A and B in workgroup memory (vec4 loads where the operand's
 *    contiguous dimension is a multiple of 4) and each invocation accumulates a register block;
 *    the tile is the autotuner's to choose (`tuning`), 64×64×16 with 8×8 per invocation untuned.
 *  - `blocked`: register blocking without workgroup memory: each invocation computes a 4×4
 *    block from 4×4 sub-blocks of A and B read straight from storage. It is the GEMM a
 *    cache-based device wants (CPUs, lavapipe): there workgroup memory is ordinary memory, and
 *    staging through it only adds copies and barriers.
 *  - `subgroup`: `blocked` with 8×4 per invocation where each 4×4 block of A is loaded once per
 *    subgroup — every lane loads a quarter (one row's four k values) and four subgroup
 *    broadcasts rebuild the block in every lane's registers. A workgroup is one row of 64
 *    invocations, so all lanes of any subgroup (size ≥ 4, any layout) share the same rows. On
 *    SIMD CPUs (lavapipe: one subgroup = one 8-wide SIMD register) a broadcast is a register
 *    shuffle while every storage load is a per-lane sequence of branches and scalar loads, so
 *    loads per multiply-add, which bound `blocked` there, drop from 1/2 to 3/16 vec4.
 *  - `gemv`: for skinny problems (M ≤ 4, or N ≤ 4 with the roles of A and B swapped): a
 *    workgroup computes ≤4 rows × 64 columns, its 256 invocations split K sixteen ways and
 *    finish with a workgroup-memory reduction, so a matrix-vector product reads the matrix once
 *    with all lanes busy.
 *  - `split-k`: for large K and few outputs: K is cut into S slices computed by S times as many
 *    workgroups into a scratch buffer of partial sums (f32), which a second pass reduces (and
 *    applies alpha, beta·C).
 *  - `tiled-f16`: `tiled` with f16 tiles (operands converted to f16 when staged) and f16
 *    multiply-adds within a K tile, summed in f32 across tiles, like Tensor Cores'
 *    f16-multiply/f32-accumulate mode. The reduced-precision what-if; needs shader-f16.
 * Float16 layers keep f16 in memory; all variants but `tiled-f16` compute them in f32. Integer
 * MatMul/Gemm run on `naive` (i32/u32 arithmetic, wrapping like the CPU's).
 * Gemm's beta·C is fused into the final store of every variant.
 */
import type { DType } from '../onnx/dtype.js';
import { floatToHalf } from '../onnx/write.js';
import { halfToFloat } from '../onnx/tensor.js';
import {
  supported, unsupported,
  type AutotuneLevel, type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support, type TuneConfig,
} from './types.js';
import { GEMM_TILE, gemmPasses, gemmTile, gemmTuning, gemmWorkgroups, guardedLanes4, type GemmSpec, type GemmTile } from './gemm.js';
import { dispatch1d, elements, entry1d, gpuSize, gpuTypeOf, header, lit, prod } from './wgsl.js';
import type { LayerSignature, TensorType } from '../ir/types.js';
import { count, numAttr } from './flops.js';

const KERNEL = 'matmul';

// ---------------------------------------------------------------------------------------------
// Geometry

/** A MatMul/Gemm layer as one strided batched problem. */
export interface Geometry {
  M: number;
  N: number;
  K: number;
  /** Output batch dimensions (broadcast of A's and B's leading dimensions); [] for 2-D. */
  batchShape: number[];
  batch: number;
  /** Per output batch dimension, the element stride of A (B) along it; 0 where broadcast. */
  aBatch: number[];
  bBatch: number[];
  /** Which layer input plays A (1 after the roles are swapped). */
  aInput: 0 | 1;
  sAm: number;
  sAk: number;
  sBk: number;
  sBn: number;
  /** Y(b, m, n) = b·yBatch + m·sYm + n·sYn. */
  yBatch: number;
  sYm: number;
  sYn: number;
  alpha: number;
  beta: number;
  /** Gemm's C: C(m, n) at m·sm + n·sn (strides 0 where broadcast); null without C or with beta = 0. */
  bias: { sm: number; sn: number } | null;
  /** Element type of A, B, C and Y in memory. */
  st: GpuType;
  dtype: DType;
}


function attrNum(c: LayerCase, k: string, d: number): number {
  const v = c.layer.attrs[k];
  return typeof v === 'number' ? v : d;
}

/** Leading-dimension strides of an operand broadcast to `out` batch dims (0 where broadcast). */
function batchStrides(batch: readonly number[], out: readonly number[], matrix: number): number[] {
  const lead = out.length - batch.length;
  return out.map((_, d) => {
    const j = d - lead;
    if (j < 0 || batch[j] === 1) return 0;
    return matrix * prod(batch.slice(j + 1));
  });
}

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function geometry(c: LayerCase): Geometry {
  const l = c.layer;
  const at = l.inputs[0]!;
  const bt = l.inputs[1]!;
  const st = gpuTypeOf(l.outputs[0].dtype);
  if (l.op === 'Gemm') {
    const transA = attrNum(c, 'transA', 0) !== 0;
    const transB = attrNum(c, 'transB', 0) !== 0;
    const [M, K] = transA ? [at.shape[1], at.shape[0]] : [at.shape[0], at.shape[1]];
    const N = transB ? bt.shape[0] : bt.shape[1];
    const beta = attrNum(c, 'beta', 1);
    const ct = l.inputs[2] ?? null;
    let bias: Geometry['bias'] = null;
    if (ct && beta !== 0) {
      const cs = ct.shape;
      const dm = cs.length === 2 ? cs[0] : 1;
      const dn = cs.length >= 1 ? cs[cs.length - 1] : 1;
      bias = { sm: dm === 1 ? 0 : dn, sn: dn === 1 ? 0 : 1 };
    }
    return {
      M, N, K, batchShape: [], batch: 1, aBatch: [], bBatch: [], aInput: 0,
      sAm: transA ? 1 : K, sAk: transA ? M : 1, sBk: transB ? 1 : N, sBn: transB ? K : 1,
      yBatch: M * N, sYm: N, sYn: 1,
      alpha: attrNum(c, 'alpha', 1), beta, bias, st, dtype: l.outputs[0].dtype,
    };
  }
  const a2 = at.shape.length === 1 ? [1, at.shape[0]] : at.shape;
  const b2 = bt.shape.length === 1 ? [bt.shape[0], 1] : bt.shape;
  const M = a2[a2.length - 2];
  const K = a2[a2.length - 1];
  const N = b2[b2.length - 1];
  const ba = a2.slice(0, -2);
  const bb = b2.slice(0, -2);
  const batchShape = broadcastShape(ba, bb);
  return {
    M, N, K, batchShape, batch: prod(batchShape),
    aBatch: batchStrides(ba, batchShape, M * K), bBatch: batchStrides(bb, batchShape, K * N), aInput: 0,
    sAm: K, sAk: 1, sBk: N, sBn: 1, yBatch: M * N, sYm: N, sYn: 1,
    alpha: 1, beta: 0, bias: null, st, dtype: l.outputs[0].dtype,
  };
}

/** Yᵀ = Bᵀ·Aᵀ: the same problem with the roles of A and B (and of m and n) exchanged. */
export function swapRoles(g: Geometry): Geometry {
  return {
    ...g, M: g.N, N: g.M, aBatch: g.bBatch, bBatch: g.aBatch, aInput: g.aInput === 0 ? 1 : 0,
    sAm: g.sBn, sAk: g.sBk, sBk: g.sAk, sBn: g.sAm, sYm: g.sYn, sYn: g.sYm,
    bias: g.bias && { sm: g.bias.sn, sn: g.bias.sm },
  };
}

const allMul4 = (xs: number[]): boolean => xs.every((x) => x % 4 === 0);

/** How 4×4 blocks of an operand can be read. */
interface Access {
  /** A: vec4 along k for a row (B: vec4 along k for a column). */
  k4: boolean;
  /** A: vec4 along m for one k (B: vec4 along n for one k). */
  x4: boolean;
}

function accessA(g: Geometry): Access {
  if (g.K === 0) return { k4: false, x4: false };
  return {
    k4: g.sAk === 1 && g.K % 4 === 0 && (g.M === 1 || g.sAm % 4 === 0) && allMul4(g.aBatch),
    x4: g.sAm === 1 && g.M % 4 === 0 && (g.K === 1 || g.sAk % 4 === 0) && allMul4(g.aBatch),
  };
}

function accessB(g: Geometry): Access {
  if (g.K === 0) return { k4: false, x4: false };
  return {
    k4: g.sBk === 1 && g.K % 4 === 0 && (g.N === 1 || g.sBn % 4 === 0) && allMul4(g.bBatch),
    x4: g.sBn === 1 && g.N % 4 === 0 && (g.K === 1 || g.sBk % 4 === 0) && allMul4(g.bBatch),
  };
}

/** Y can be written as vec4 along n. */
function vecY(g: Geometry): boolean {
  return g.sYn === 1 && g.N % 4 === 0 && g.sYm % 4 === 0 && g.yBatch % 4 === 0;
}

// ---------------------------------------------------------------------------------------------
// WGSL building blocks

const u = (n: number): string => `${n}u`;
const rep = (n: number, f: (i: number) => string, sep = '\n'): string => Array.from({ length: n }, (_, i) => f(i)).join(sep);

function vecType(t: GpuType): string {
  return `vec4<${t}>`;
}

function decl(i: number, name: string, type: string, write: boolean): string {
  return `@group(0) @binding(${i}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;
}

/** `fn offsets(b) -> vec2<u32>`: base element offsets of A and B for output batch b. */
function offsetsFn(g: Geometry): string {
  if (g.batch === 1) return 'fn offsets(b: u32) -> vec2<u32> { return vec2<u32>(0u, 0u); }';
  const shape = g.batchShape;
  const lines: string[] = ['  var r = b;', '  var oa = 0u;', '  var ob = 0u;'];
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    lines.push(`  { let i = r % ${u(shape[d])}; r = r / ${u(shape[d])};${g.aBatch[d] ? ` oa += i * ${u(g.aBatch[d])};` : ''}${g.bBatch[d] ? ` ob += i * ${u(g.bBatch[d])};` : ''} }`);
  }
  lines.push('  return vec2<u32>(oa, ob);');
  return `fn offsets(b: u32) -> vec2<u32> {\n${lines.join('\n')}\n}`;
}

/** Compute-type conversion of a loaded value. */
function conv(v: string, from: GpuType, to: GpuType, vec = false): string {
  if (from === to) return v;
  return vec ? `vec4<${to}>(${v})` : `${to}(${v})`;
}

/**
 * WGSL functions `blockA(oa, m0, kq) -> array<vec4<CT>, 4>` (row i: A(m0+i, 4kq..4kq+3)) and
 * `blockB(ob, n0, kq)` (row j: B(4kq..4kq+3, n0+j)), with out-of-range rows clamped (their
 * results are never stored) and k ≥ K read as 0. `m0`, `n0` are multiples of 4.
 * Buffers `a`/`b` are declared vec4 when `acc.k4 || acc.x4` (see operandDecl).
 */
function blockFns(g: Geometry, ct: GpuType): string {
  const st = g.st;
  const CT = vecType(ct);
  const zero = `${CT}(${lit(0, ct)})`;
  const kq = Math.ceil(g.K / 4);
  const fn = (name: 'A' | 'B'): string => {
    const isA = name === 'A';
    const buf = isA ? 'a' : 'b';
    const acc = isA ? accessA(g) : accessB(g);
    const X = isA ? g.M : g.N; // rows of the block (m for A, n for B)
    const sX = isA ? g.sAm : g.sBn;
    const sK = isA ? g.sAk : g.sBk;
    const o = isA ? 'oa' : 'ob';
    let body: string;
    if (acc.k4) {
      // One vec4 per row along k; K % 4 == 0 so a quad is entirely in or out.
      const guard = (e: string): string => `select(${zero}, ${e}, kq < ${u(kq)})`;
      body = rep(4, (i) => `  r[${i}] = ${guard(conv(`${buf}[(${o} + min(x0 + ${u(i)}, ${u(X - 1)}) * ${u(sX)}) / 4u + min(kq, ${u(kq - 1)})]`, st, ct, true))};`);
    } else if (acc.x4) {
      // One vec4 along the row dimension per k, transposed into the block.
      const loads = rep(4, (q) => `  let v${q} = select(${zero}, ${conv(`${buf}[(${o} + min(kq * 4u + ${u(q)}, ${u(g.K - 1)}) * ${u(sK)}) / 4u + min(x0 / 4u, ${u(X / 4 - 1)})]`, st, ct, true)}, kq * 4u + ${u(q)} < ${u(g.K)});`);
      body = `${loads}\n${rep(4, (i) => `  r[${i}] = ${CT}(v0[${i}], v1[${i}], v2[${i}], v3[${i}]);`)}`;
    } else {
      const el = (i: number, q: number): string => {
        const k = `kq * 4u + ${u(q)}`;
        const idx = `${o} + min(x0 + ${u(i)}, ${u(X - 1)}) * ${u(sX)} + min(${k}, ${u(Math.max(g.K - 1, 0))}) * ${u(sK)}`;
        return g.K % 4 === 0 ? conv(`${buf}[${idx}]`, st, ct) : `select(${lit(0, ct)}, ${conv(`${buf}[${idx}]`, st, ct)}, ${k} < ${u(g.K)})`;
      };
      body = rep(4, (i) => `  r[${i}] = ${CT}(${rep(4, (q) => el(i, q), ', ')});`);
    }
    return `fn block${name}(${o}: u32, x0: u32, kq: u32) -> array<${CT}, 4> {\n  var r: array<${CT}, 4>;\n${body}\n  return r;\n}`;
  };
  return `${fn('A')}\n${fn('B')}\n${pieceFn(g, ct)}`;
}

/**
 * `aPiece(oa, m0, kq, l) -> vec4<CT>`: lane l's quarter of the 4×4 A block at (m0, kq), for
 * sharing the block across a subgroup: row m0+l along k (or, when A is contiguous along m, the
 * column k = 4kq+l across rows m0…m0+3). `aShare` rebuilds the block from four broadcasts.
 */
function pieceFn(g: Geometry, ct: GpuType): string {
  const st = g.st;
  const CT = vecType(ct);
  const zero = `${CT}(${lit(0, ct)})`;
  const acc = accessA(g);
  const kq = Math.ceil(g.K / 4);
  let body: string;
  if (acc.k4) {
    body = `select(${zero}, ${conv(`a[(oa + min(m0 + l, ${u(g.M - 1)}) * ${u(g.sAm)}) / 4u + min(kq, ${u(kq - 1)})]`, st, ct, true)}, kq < ${u(kq)})`;
  } else if (acc.x4) {
    body = `select(${zero}, ${conv(`a[(oa + min(kq * 4u + l, ${u(g.K - 1)}) * ${u(g.sAk)}) / 4u + min(m0 / 4u, ${u(g.M / 4 - 1)})]`, st, ct, true)}, kq * 4u + l < ${u(g.K)})`;
  } else {
    const el = (q: number): string => {
      const k = `kq * 4u + ${u(q)}`;
      const idx = `oa + min(m0 + l, ${u(g.M - 1)}) * ${u(g.sAm)} + min(${k}, ${u(Math.max(g.K - 1, 0))}) * ${u(g.sAk)}`;
      return g.K % 4 === 0 ? conv(`a[${idx}]`, st, ct) : `select(${lit(0, ct)}, ${conv(`a[${idx}]`, st, ct)}, ${k} < ${u(g.K)})`;
    };
    body = `${CT}(${rep(4, el, ', ')})`;
  }
  return `fn aPiece(oa: u32, m0: u32, kq: u32, l: u32) -> ${CT} { return ${body}; }`;
}

/** WGSL statements declaring `name`: array<vec4, 4> = the A block from lane 0…3's pieces `p`. */
function aShare(g: Geometry, name: string, p: string, ct: GpuType): string {
  const bc = rep(4, (q) => `let ${name}_q${q} = subgroupBroadcast(${p}, ${u(q)});`, ' ');
  const rows = accessA(g).x4
    ? rep(4, (i) => `${name}[${i}] = ${vecType(ct)}(${rep(4, (q) => `${name}_q${q}[${i}]`, ', ')});`, ' ')
    : rep(4, (i) => `${name}[${i}] = ${name}_q${i};`, ' ');
  return `${bc} var ${name}: array<${vecType(ct)}, 4>; ${rows}`;
}

/** Storage declaration of an operand: vec4 elements when its blocks are read as vec4s. */
function operandDecl(binding: number, name: string, g: Geometry, acc: Access): string {
  return decl(binding, name, acc.k4 || acc.x4 ? vecType(g.st) : g.st, false);
}

/** `fn finish(v, m, n)`: alpha·v + beta·C(m, n), in the accumulator type `at` (Gemm's fused epilogue). */
function epilogue(g: Geometry, at: GpuType): string {
  const alpha = g.alpha === 1 ? 'v' : `${lit(g.alpha, at)} * v`;
  const bias = g.bias ? ` + ${g.beta === 1 ? '' : `${lit(g.beta, at)} * `}${conv(`cb[m * ${u(g.bias.sm)} + n * ${u(g.bias.sn)}]`, g.st, at)}` : '';
  return `fn finish(v: ${at}, m: u32, n: u32) -> ${at} { return ${alpha}${bias}; }`;
}

function biasDecl(g: Geometry, binding: number): string {
  return g.bias ? decl(binding, 'cb', g.st, false) : '';
}

function buffersFor(g: Geometry): BufferRef[] {
  const refs: BufferRef[] = [{ kind: 'input', index: g.aInput }, { kind: 'input', index: g.aInput === 0 ? 1 : 0 }, { kind: 'output', index: 0 }];
  if (g.bias) refs.push({ kind: 'input', index: 2 });
  return refs;
}

/**
 * Statements storing a 4×4 accumulator block `acc{tag}` (rows m0+i, columns n0+j) through
 * `finish`, in the output element type; vec4 stores when Y allows.
 */
function storeBlock(g: Geometry, at: GpuType, accName: (i: number, j: number) => string, m0: string, n0: string): string {
  const out: string[] = [];
  const cv = (v: string): string => conv(v, at, g.st);
  if (vecY(g)) {
    for (let i = 0; i < 4; i++) {
      const vals = rep(4, (j) => cv(`finish(${accName(i, j)}, ${m0} + ${u(i)}, ${n0} + ${u(j)})`), ', ');
      out.push(`if (${m0} + ${u(i)} < ${u(g.M)} && ${n0} < ${u(g.N)}) { y[(oy + (${m0} + ${u(i)}) * ${u(g.sYm)} + ${n0}) / 4u] = ${vecType(g.st)}(${vals}); }`);
    }
  } else {
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        out.push(`if (${m0} + ${u(i)} < ${u(g.M)} && ${n0} + ${u(j)} < ${u(g.N)}) { y[oy + (${m0} + ${u(i)}) * ${u(g.sYm)} + (${n0} + ${u(j)}) * ${u(g.sYn)}] = ${cv(`finish(${accName(i, j)}, ${m0} + ${u(i)}, ${n0} + ${u(j)})`)}; }`);
      }
    }
  }
  return out.join('\n  ');
}

function yDecl(g: Geometry, vec: boolean): string {
  return decl(2, 'y', vec ? vecType(g.st) : g.st, true);
}

// ---------------------------------------------------------------------------------------------
// Variants

const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16';
const INT_TYPES: DType[] = ['int32', 'int64', 'uint32', 'uint64'];

function label(variant: string, pass?: string): string {
  return `${KERNEL}/${variant}${pass ? ` ${pass}` : ''}`;
}

/** `naive`: one invocation per output element. */
function planNaive(g: Geometry, caps: DeviceCaps): KernelPlan {
  const at: GpuType = g.st === 'f16' ? 'f32' : g.st;
  const total = g.batch * g.M * g.N;
  const aIdx = `o.x + m * ${u(g.sAm)} + k * ${u(g.sAk)}`;
  const bIdx = `o.y + k * ${u(g.sBk)} + n * ${u(g.sBn)}`;
  const body = `  let n = gid % ${u(g.N)};
  let t = gid / ${u(g.N)};
  let m = t % ${u(g.M)};
  let bi = t / ${u(g.M)};
  let o = offsets(bi);
  var s = ${lit(0, at)};
  for (var k = 0u; k < ${u(g.K)}; k++) {
    s += ${conv(`a[${aIdx}]`, g.st, at)} * ${conv(`b[${bIdx}]`, g.st, at)};
  }
  y[bi * ${u(g.yBatch)} + m * ${u(g.sYm)} + n * ${u(g.sYn)}] = ${conv('finish(s, m, n)', at, g.st)};`;
  const wgsl = `${header([g.st])}${decl(0, 'a', g.st, false)}
${decl(1, 'b', g.st, false)}
${decl(2, 'y', g.st, true)}
${biasDecl(g, 3)}

${offsetsFn(g)}
${epilogue(g, at)}

${entry1d(64, total, body)}
`;
  return { passes: [{ label: label('naive'), wgsl, workgroups: dispatch1d(total, 64, caps), buffers: buffersFor(g) }], scratch: [] };
}

interface BlockedConfig {
  /** Row blocks (of 4) and column blocks (of 4) per invocation. */
  rb: number;
  /** Share A blocks across the subgroup (each lane loads a quarter, broadcasts rebuild it). */
  sg?: boolean;
  cb: number;
  wx: number;
  wy: number;
}

/**
 * The register-blocked micro-kernel shared by `blocked` and split-k's first pass: invocation
 * (tx, ty) of workgroup (wx, wy) accumulates rows 4·(ty + r·WY) + i of the tile and columns
 * 4·(tx + c·WX) + j over k-quads [kq0, kq1). Returns WGSL statements; accumulators acc_r_c_i_j.
 */
function blockedLoop(cfg: BlockedConfig, kq0: string, kq1: string, g?: Geometry): string {
  const { rb, cb } = cfg;
  const lines: string[] = [];
  lines.push(rep(rb * cb * 16, (x) => {
    const r = Math.floor(x / (cb * 16)); const c = Math.floor(x / 16) % cb; const i = Math.floor(x / 4) % 4; const j = x % 4;
    return `var acc_${r}_${c}_${i}_${j} = 0.0;`;
  }, ' '));
  lines.push(`for (var kq = ${kq0}; kq < ${kq1}; kq++) {`);
  for (let c = 0; c < cb; c++) lines.push(`  let b${c} = blockB(o.y, n0_${c}, kq);`);
  for (let r = 0; r < rb; r++) {
    if (cfg.sg && g) lines.push(`  { let p${r} = aPiece(o.x, m0_${r}, kq, sl & 3u); ${aShare(g, `a${r}`, `p${r}`, 'f32')}`);
    else lines.push(`  { let a${r} = blockA(o.x, m0_${r}, kq);`);
    for (let c = 0; c < cb; c++) {
      for (let i = 0; i < 4; i++) {
        lines.push(`    ${rep(4, (j) => `acc_${r}_${c}_${i}_${j} += f32(dot(a${r}[${i}], b${c}[${j}]));`, ' ')}`);
      }
    }
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n  ');
}

function tileOrigins(cfg: BlockedConfig): string {
  const TM = 4 * cfg.wy * cfg.rb;
  const TN = 4 * cfg.wx * cfg.cb;
  return [
    ...Array.from({ length: cfg.rb }, (_, r) => `let m0_${r} = wid.y * ${u(TM)} + 4u * (lid.y + ${u(r * cfg.wy)});`),
    ...Array.from({ length: cfg.cb }, (_, c) => `let n0_${c} = wid.x * ${u(TN)} + 4u * (lid.x + ${u(c * cfg.wx)});`),
  ].join('\n  ');
}

function blockedConfig(_g: Geometry): BlockedConfig {
  // 4×4 per invocation: on lavapipe larger blocks (8×4, 4×8, 8×8) ran slower, their
  // accumulators spilling; every storage load there is a per-lane sequence, so what a block
  // saves in loads it loses to spills.
  return { rb: 1, cb: 1, wx: 16, wy: 4 };
}

/**
 * `subgroup`: one row of 64 invocations per workgroup, so every invocation of a workgroup (and
 * hence of any subgroup, whatever its size ≥ 4 and layout) shares the same rows of A.
 */
function subgroupConfig(g: Geometry): BlockedConfig {
  // Two row blocks (8×4 outputs) per invocation: the shared A blocks are cheap, so a second one
  // doubles the work per B block loaded; on lavapipe 8×4 ran ~1.3× faster than 4×4 and 12×4 or
  // 8×8 slower (register spills).
  return { rb: g.M > 4 ? 2 : 1, cb: 1, wx: 64, wy: 1, sg: true };
}

function tilesOf(g: Geometry, cfg: BlockedConfig): [number, number] {
  return [Math.ceil(g.N / (4 * cfg.wx * cfg.cb)), Math.ceil(g.M / (4 * cfg.wy * cfg.rb))];
}

function blockedPrelude(g: Geometry, ct: GpuType): string {
  return `${header([g.st, ct])}${operandDecl(0, 'a', g, accessA(g))}
${operandDecl(1, 'b', g, accessB(g))}`;
}

/** `blocked`: register-blocked GEMM reading straight from storage. */
function planBlocked(g: Geometry, sg = false): KernelPlan {
  const cfg = sg ? subgroupConfig(g) : blockedConfig(g);
  const [tx, ty] = tilesOf(g, cfg);
  const kq = Math.ceil(g.K / 4);
  const stores: string[] = [];
  for (let r = 0; r < cfg.rb; r++) {
    for (let c = 0; c < cfg.cb; c++) stores.push(storeBlock(g, 'f32', (i, j) => `acc_${r}_${c}_${i}_${j}`, `m0_${r}`, `n0_${c}`));
  }
  const wgsl = `${sg ? 'enable subgroups;\n' : ''}${blockedPrelude(g, 'f32')}
${yDecl(g, vecY(g))}
${biasDecl(g, 3)}

${offsetsFn(g)}
${blockFns(g, 'f32')}
${epilogue(g, 'f32')}

@compute @workgroup_size(${cfg.wx}, ${cfg.wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>${sg ? ', @builtin(subgroup_invocation_id) sl: u32' : ''}) {
  let o = offsets(wid.z);
  let oy = wid.z * ${u(g.yBatch)};
  ${tileOrigins(cfg)}
  ${blockedLoop(cfg, '0u', u(kq), g)}
  ${stores.join('\n  ')}
}
`;
  const v = sg ? 'subgroup' : 'blocked';
  return { passes: [{ label: label(v), wgsl, workgroups: [tx, ty, g.batch], buffers: buffersFor(g) }], scratch: [] };
}

/**
 * `tiled` / `tiled-f16` on the GEMM core (gemm.ts): its tiles staged in workgroup memory, a
 * register block per invocation, in configuration `tile` (the autotuner's); A's rows and B's
 * rows read as vec4s where the layout allows, Gemm's alpha·v + beta·C fused into the store.
 */
function coreSpec(g: Geometry, ct: 'f32' | 'f16', tile: GemmTile): GemmSpec {
  const a4 = accessA(g).k4;
  const b4 = accessB(g).x4;
  const v4 = `vec4<${ct}>`;
  // Strides named once (one run-time parameter each, specialize.ts); the vector and lane offsets
  // are abstract integers, compiled in: a literal \`4u\` would be a parameter, and a division by it
  // a division by a uniform.
  const lanes = (el: (e: number) => string, k: string): string => (g.K % 4 === 0 ? `${v4}(${rep(4, el, ', ')})` : guardedLanes4(ct, el, k));
  const aEl = (m: string, k: string) => (e: number): string => conv(`a[o.x + ${m} * sAm + min(${k} + ${e}, gK - 1) * sAk]`, g.st, ct);
  const bEl = (k: string) => (e: number): string => conv(`b[o.y + ${k} * sBk + min(bp + ${e}, gP - 1) * sBn]`, g.st, ct);
  // Gemm's epilogue alpha·v + beta·C(m, n), C's column part once per output column.
  const alpha = (v: string): string => (g.alpha === 1 ? v : `${lit(g.alpha, 'f32')} * ${v}`);
  const bias = (m: string): string => (g.bias ? ` + ${g.beta === 1 ? '' : `${lit(g.beta, 'f32')} * `}${conv(`cb[${m} * bsm + bcn]`, g.st, 'f32')}` : '');
  return {
    ct, M: g.M, P: g.N, K: g.K, tile,
    decls: `${header([g.st, ct])}${decl(0, 'a', a4 ? vecType(g.st) : g.st, false)}
${decl(1, 'b', b4 ? vecType(g.st) : g.st, false)}
${decl(2, 'y', g.st, true)}
${biasDecl(g, 3)}
${offsetsFn(g)}`,
    prelude: `  let o = offsets(bz);
  let sAm = ${u(g.sAm)}; let sAk = ${u(g.sAk)}; let sBk = ${u(g.sBk)}; let sBn = ${u(g.sBn)};
  let sYm = ${u(g.sYm)}; let sYn = ${u(g.sYn)}; let oy = bz * ${u(g.yBatch)};${g.bias ? `
  let bsm = ${u(g.bias.sm)}; let bsn = ${u(g.bias.sn)};` : ''}`,
    loadA4: (m, k) => (a4
      ? `        av = ${conv(`a[(o.x + ${m} * sAm + ${k}) / 4]`, g.st, ct, true)};`
      : `        av = ${lanes(aEl(m, k), k)};`),
    loadB4: (k) => (b4
      ? `        bv = ${conv(`b[(o.y + ${k} * sBk) / 4 + min(bp / 4, gP / 4 - 1)]`, g.st, ct, true)};`
      : `        bv = ${v4}(${rep(4, bEl(k), ', ')});`),
    storeColumn: (p) => `let yc = oy + ${p} * sYn;${g.bias ? ` let bcn = ${p} * bsn;` : ''}`,
    store: (m, _p, v) => `y[yc + ${m} * sYm] = ${conv(`${alpha(v)}${bias(m)}`, 'f32', g.st)};`,
  };
}

function planTiled(g: Geometry, variant: string, ct: 'f32' | 'f16', caps: DeviceCaps, tile: GemmTile): KernelPlan {
  const spec = coreSpec(g, ct, tile);
  return gemmPasses(spec, g.batch, caps, label(variant), buffersFor(g));
}

/** `gemv` parameters: lanes along n (column blocks of 4) × lanes along k. */
const GEMV = { wn: 16, wk: 16 };

function gemvGeometry(g: Geometry): Geometry {
  return g.M <= 4 ? g : swapRoles(g);
}

function gemvSharedBytes(g: Geometry): number {
  return GEMV.wn * GEMV.wk * 4 * Math.min(4, g.M) * 4;
}

/**
 * `gemv`: ≤4 rows × 64 columns per 256-invocation workgroup; lane (tn, tk) reads column block
 * tn at k-quads tk, tk+16, …; partial sums meet in workgroup memory.
 */
function planGemv(g0: Geometry): KernelPlan {
  const g = gemvGeometry(g0);
  const { wn, wk } = GEMV;
  const rows = Math.min(4, g.M);
  const vals = 4 * rows;
  const kq = Math.ceil(g.K / 4);
  // Adjacent lanes should read adjacent memory: along k when B's columns are k-contiguous.
  const kFast = accessB(g).k4;
  const [lx, ly] = kFast ? [wk, wn] : [wn, wk];
  const tn = kFast ? 'lid.y' : 'lid.x';
  const tk = kFast ? 'lid.x' : 'lid.y';
  const accs = rep(vals, (x) => `var acc_${Math.floor(x / 4)}_${x % 4} = 0.0;`, ' ');
  const wgsl = `${blockedPrelude(g, 'f32')}
${decl(2, 'y', g.st, true)}
${biasDecl(g, 3)}

var<workgroup> red: array<f32, ${wn * wk * vals}>;

${offsetsFn(g)}
${blockFns(g, 'f32')}
${epilogue(g, 'f32')}

@compute @workgroup_size(${lx}, ${ly})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = offsets(wid.z);
  let oy = wid.z * ${u(g.yBatch)};
  let tn = ${tn};
  let tk = ${tk};
  let n0 = (wid.x * ${u(wn)} + tn) * 4u;
  ${accs}
  for (var kq = tk; kq < ${u(kq)}; kq += ${u(wk)}) {
    let bb = blockB(o.y, n0, kq);
    let aa = blockA(o.x, 0u, kq);
    ${rep(vals, (x) => `acc_${Math.floor(x / 4)}_${x % 4} += dot(aa[${Math.floor(x / 4)}], bb[${x % 4}]);`, ' ')}
  }
  let base = (tk * ${u(wn)} + tn) * ${u(vals)};
  ${rep(vals, (x) => `red[base + ${u(x)}] = acc_${Math.floor(x / 4)}_${x % 4};`, ' ')}
  workgroupBarrier();
  if (tk < ${u(vals)}) {
    var s = 0.0;
    for (var t = 0u; t < ${u(wk)}; t++) { s += red[(t * ${u(wn)} + tn) * ${u(vals)} + tk]; }
    let m = tk / 4u;
    let n = n0 + tk % 4u;
    if (m < ${u(g.M)} && n < ${u(g.N)}) { y[oy + m * ${u(g.sYm)} + n * ${u(g.sYn)}] = ${conv('finish(s, m, n)', 'f32', g.st)}; }
  }
}
`;
  return {
    passes: [{ label: label('gemv'), wgsl, workgroups: [Math.ceil(g.N / (4 * wn)), 1, g.batch], buffers: buffersFor(g) }],
    scratch: [],
  };
}

/** Number of K slices for `split-k`: slices of ≥ 64 k-quads, at most 32. */
function splitCount(g: Geometry): number {
  return Math.min(32, Math.floor(Math.ceil(g.K / 4) / 64));
}

function splitScratchBytes(g: Geometry): number {
  return splitCount(g) * g.batch * g.M * g.N * 4;
}

/** `split-k`: S slices of K into f32 partial sums, then a reduction pass with the epilogue. */
function planSplitK(g: Geometry, caps: DeviceCaps): KernelPlan {
  const S = splitCount(g);
  const cfg: BlockedConfig = { rb: 1, cb: 1, wx: 16, wy: 4 };
  const [tx, ty] = tilesOf(g, cfg);
  const kqAll = Math.ceil(g.K / 4);
  const per = Math.ceil(kqAll / S);
  const MN = g.M * g.N;
  const stores: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      stores.push(`if (m0_0 + ${u(i)} < ${u(g.M)} && n0_0 + ${u(j)} < ${u(g.N)}) { part[ps + (m0_0 + ${u(i)}) * ${u(g.N)} + n0_0 + ${u(j)}] = acc_0_0_${i}_${j}; }`);
    }
  }
  const pass1 = `${blockedPrelude(g, 'f32')}
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

${offsetsFn(g)}
${blockFns(g, 'f32')}

@compute @workgroup_size(${cfg.wx}, ${cfg.wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let sl = wid.z % ${u(S)};
  let bi = wid.z / ${u(S)};
  let o = offsets(bi);
  let ps = (sl * ${u(g.batch)} + bi) * ${u(MN)};
  ${tileOrigins(cfg)}
  ${blockedLoop(cfg, `sl * ${u(per)}`, `min((sl + 1u) * ${u(per)}, ${u(kqAll)})`)}
  ${stores.join('\n  ')}
}
`;
  const total = g.batch * MN;
  const body = `  let n = gid % ${u(g.N)};
  let m = (gid / ${u(g.N)}) % ${u(g.M)};
  let bi = gid / ${u(MN)};
  var s = 0.0;
  for (var t = 0u; t < ${u(S)}; t++) { s += part[t * ${u(total)} + gid]; }
  y[bi * ${u(g.yBatch)} + m * ${u(g.sYm)} + n * ${u(g.sYn)}] = ${conv('finish(s, m, n)', 'f32', g.st)};`;
  const pass2 = `${header([g.st])}@group(0) @binding(0) var<storage, read> part: array<f32>;
${decl(1, 'y', g.st, true)}
${g.bias ? decl(2, 'cb', g.st, false) : ''}

${epilogue(g, 'f32')}

${entry1d(64, total, body)}
`;
  const b2: BufferRef[] = [{ kind: 'scratch', index: 0 }, { kind: 'output', index: 0 }];
  if (g.bias) b2.push({ kind: 'input', index: 2 });
  const passes: Pass[] = [
    { label: label('split-k', 'partial sums'), wgsl: pass1, workgroups: [tx, ty, g.batch * S], buffers: [{ kind: 'input', index: g.aInput }, { kind: 'input', index: g.aInput === 0 ? 1 : 0 }, { kind: 'scratch', index: 0 }] },
    { label: label('split-k', 'reduce'), wgsl: pass2, workgroups: dispatch1d(total, 64, caps), buffers: b2 },
  ];
  return { passes, scratch: [splitScratchBytes(g)] };
}

// ---------------------------------------------------------------------------------------------
// Support

const VARIANTS = [
  { name: 'naive', description: 'one invocation per output element, a plain loop over K' },
  { name: 'tiled', description: "the GEMM core's tiles staged in workgroup memory (vec4 loads), a register block per invocation; tile autotuned (64×64×16, 8×8 untuned)" },
  { name: 'blocked', description: 'register-blocked (4×4 per invocation) straight from storage, no workgroup memory: the GEMM of cache-based devices' },
  { name: 'subgroup', description: 'blocked with each 4×4 block of A loaded once per subgroup (a quarter per lane) and shared by subgroup broadcasts (needs subgroups)' },
  { name: 'gemv', description: 'skinny problems (M ≤ 4 or N ≤ 4): 256 invocations per ≤4×64 outputs split K and reduce in workgroup memory' },
  { name: 'split-k', description: 'K cut into slices computed in parallel into f32 partial sums, reduced by a second pass' },
  { name: 'tiled-f16', description: 'tiled with f16 tiles and f16 multiply-adds within a K tile, f32 across tiles (needs shader-f16)' },
];

function bindable(g: Geometry, c: LayerCase, caps: DeviceCaps): Support {
  const size = gpuSize(g.st);
  for (const t of [...c.layer.inputs, ...c.layer.outputs]) {
    if (t && elements(t) * size > caps.maxStorageBufferBindingSize) {
      return unsupported(`a ${t.dtype}[${t.shape.join(',')}] tensor exceeds the device's storage binding limit (${caps.maxStorageBufferBindingSize} bytes)`);
    }
  }
  return supported;
}

function dims(xs: number[], caps: DeviceCaps): Support {
  return xs.every((x) => x <= caps.maxComputeWorkgroupsPerDimension)
    ? supported
    : unsupported(`needs ${xs.join('×')} workgroups, beyond the device's ${caps.maxComputeWorkgroupsPerDimension} per dimension`);
}

function supportsLayer(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const dt = l.outputs[0]?.dtype;
  if (!l.inputs[0] || !l.inputs[1] || !dt) return unsupported('missing A or B');
  if (l.op === 'Gemm' && (l.inputs[0].shape.length !== 2 || l.inputs[1].shape.length !== 2)) return unsupported('Gemm needs 2-D A and B');
  if (l.op === 'MatMul' && (l.inputs[0].shape.length === 0 || l.inputs[1].shape.length === 0)) return unsupported('MatMul of a scalar');
  if (!isFloat(dt) && !INT_TYPES.includes(dt)) return unsupported(`${dt} is not supported (float32, float16, int32/64, uint32/64 are)`);
  if (dt === 'float16' && !caps.f16) return unsupported('float16 layers need shader-f16');
  if (!isFloat(dt)) {
    if (variant !== 'naive') return unsupported(`${variant} computes floats; integer layers run on naive`);
    if (l.op === 'Gemm' && (!Number.isInteger(attrNum(c, 'alpha', 1)) || !Number.isInteger(attrNum(c, 'beta', 1)))) {
      return unsupported('integer Gemm with a fractional alpha or beta');
    }
  }
  const g = geometry(c);
  const b = bindable(g, c, caps);
  if (!b.ok) return b;
  const outputs = g.batch * g.M * g.N;
  if (outputs === 0) return variant === 'naive' ? supported : unsupported('the output is empty');
  switch (variant) {
    case 'naive':
      return Math.ceil(outputs / 64) <= caps.maxComputeWorkgroupsPerDimension ** 2 ? supported : unsupported('too many outputs to dispatch');
    case 'blocked': {
      const [x, y] = tilesOf(g, blockedConfig(g));
      return dims([x, y, g.batch], caps);
    }
    case 'subgroup': {
      if (!caps.subgroups) return unsupported('needs the subgroups feature');
      const [x, y] = tilesOf(g, subgroupConfig(g));
      return dims([x, y, g.batch], caps);
    }
    case 'tiled':
    case 'tiled-f16': {
      if (variant === 'tiled-f16' && !caps.f16) return unsupported('needs shader-f16');
      // A skinny product fills one row or column of the smallest tile: gemv's problem, not a tiled GEMM's.
      if (g.M <= 4 || g.N <= 4) return unsupported(`for real matrices; ${g.M}×${g.N} is skinny (M or N ≤ 4: gemv)`);
      return gemmWorkgroups({ M: g.M, P: g.N, tile: GEMM_TILE }, g.batch, caps) ? supported : unsupported('the GEMM grid exceeds the dispatch limits');
    }
    case 'gemv': {
      if (g.M > 4 && g.N > 4) return unsupported(`for skinny problems (M ≤ 4 or N ≤ 4), not ${g.M}×${g.N}`);
      const gg = gemvGeometry(g);
      if (gemvSharedBytes(gg) > caps.maxComputeWorkgroupStorageSize) return unsupported(`needs ${gemvSharedBytes(gg)} bytes of workgroup memory`);
      if (caps.maxComputeInvocationsPerWorkgroup < GEMV.wn * GEMV.wk) return unsupported(`needs ${GEMV.wn * GEMV.wk} invocations per workgroup`);
      return dims([Math.ceil(gg.N / (4 * GEMV.wn)), 1, gg.batch], caps);
    }
    case 'split-k': {
      const S = splitCount(g);
      if (S < 2) return unsupported(`K = ${g.K} is too short to split (needs K ≥ 512)`);
      if (outputs > 1 << 18) return unsupported(`for few outputs and long K; ${outputs} outputs are better served whole`);
      if (splitScratchBytes(g) > caps.maxStorageBufferBindingSize) return unsupported('partial sums exceed the storage binding limit');
      const [x, y] = tilesOf(g, { rb: 1, cb: 1, wx: 16, wy: 4 });
      return dims([x, y, g.batch * S], caps);
    }
    default:
      return unsupported(`unknown variant ${variant}`);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU reference (written from the shapes, independently of the Geometry used by the kernels)

/** Round to the nearest float16 (ties to even), as the GPU's f32 → f16 conversion does. */
function roundHalf(x: number): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a) || a === 0) return x;
  if (a >= 65520) return Math.sign(x) * Infinity;
  let e = Math.max(-14, Math.floor(Math.log2(a)));
  if (2 ** e > a) e--;
  if (e < -14) e = -14;
  const q = a / 2 ** (e - 10);
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 === 1) r--;
  return Math.sign(x) * r * 2 ** (e - 10);
}

/**
 * Rounding of inputs to what the GPU sees (the runner's upload conversion, floatToHalf for
 * float16) and of outputs to what the GPU stores. They differ for float16: floatToHalf
 * (src/onnx/write.ts) drops the carry when rounding reaches the next power of two with an odd
 * exponent (1.99999 becomes 1.0, not 2.0), while the GPU's conversion is exact.
 */
function inputRounding(dtype: DType): (x: number) => number {
  if (dtype === 'float16') return (x) => halfToFloat(floatToHalf(x));
  return roundTo(dtype);
}

function roundTo(dtype: DType): (x: number) => number {
  if (dtype === 'float16') return roundHalf;
  if (dtype === 'float32') return Math.fround;
  if (dtype === 'uint32' || dtype === 'uint64') return (x) => x >>> 0;
  if (dtype === 'int32' || dtype === 'int64') return (x) => x | 0;
  return (x) => x;
}

function unravelIdx(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) { idx[d] = flat % shape[d]; flat = Math.floor(flat / shape[d]); }
  return idx;
}

/** Flat offset into `shape` of the batch index `idx` of a broadcast batch shape (numpy rules). */
function bcastOffset(idx: readonly number[], shape: readonly number[]): number {
  const lead = idx.length - shape.length;
  let off = 0;
  for (let j = 0; j < shape.length; j++) off = off * shape[j] + (shape[j] === 1 ? 0 : idx[j + lead]);
  return off;
}

function referenceOf(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const out = c.layer.outputs[0];
  const dt = out.dtype;
  const r = roundTo(dt);
  const ri = inputRounding(dt);
  const intMath = !isFloat(dt);
  const A = inputs[0]!;
  const B = inputs[1]!;
  const ad = Array.from(A.data as ArrayLike<number>, ri);
  const bd = Array.from(B.data as ArrayLike<number>, ri);
  const n = elements(out);
  const res = new Float64Array(n);
  const mul = intMath ? (x: number, y: number): number => (dt.startsWith('u') ? Math.imul(x, y) >>> 0 : Math.imul(x, y)) : (x: number, y: number): number => x * y;
  if (c.layer.op === 'Gemm') {
    const ta = attrNum(c, 'transA', 0) !== 0;
    const tb = attrNum(c, 'transB', 0) !== 0;
    const alpha = attrNum(c, 'alpha', 1);
    const beta = attrNum(c, 'beta', 1);
    const M = ta ? A.shape[1] : A.shape[0];
    const K = ta ? A.shape[0] : A.shape[1];
    const N = tb ? B.shape[0] : B.shape[1];
    const Ct = inputs[2] ?? null;
    const cd = Ct ? Array.from(Ct.data as ArrayLike<number>, ri) : null;
    for (let m = 0; m < M; m++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += mul(ad[ta ? k * M + m : m * K + k], bd[tb ? j * K + k : k * N + j]);
        let v = alpha * s;
        if (cd && Ct && beta !== 0) {
          const cs = Ct.shape;
          const ci = cs.length === 2 ? (cs[0] === 1 ? 0 : m) * cs[1] + (cs[1] === 1 ? 0 : j) : cs.length === 1 ? (cs[0] === 1 ? 0 : j) : 0;
          v += beta * cd[ci];
        }
        res[m * N + j] = v;
      }
    }
  } else {
    const as = A.shape.length === 1 ? [1, A.shape[0]] : A.shape;
    const bs = B.shape.length === 1 ? [B.shape[0], 1] : B.shape;
    const M = as[as.length - 2];
    const K = as[as.length - 1];
    const N = bs[bs.length - 1];
    const ba = as.slice(0, -2);
    const bb = bs.slice(0, -2);
    const bo = broadcastShape(ba, bb);
    const nb = prod(bo);
    for (let bi = 0; bi < nb; bi++) {
      const idx = unravelIdx(bi, bo);
      const oa = bcastOffset(idx, ba) * M * K;
      const ob = bcastOffset(idx, bb) * K * N;
      for (let m = 0; m < M; m++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += mul(ad[oa + m * K + k], bd[ob + k * N + j]);
          res[(bi * M + m) * N + j] = s;
        }
      }
    }
  }
  const data = intMath
    ? (dt.startsWith('u') ? Uint32Array.from(res, r) : Int32Array.from(res, r))
    : Float32Array.from(res, r);
  return [{ dtype: dt, shape: [...out.shape], data }];
}

// ---------------------------------------------------------------------------------------------
// Cost

/** A (batched) matrix product A·B into Y: one multiply-add per output per k, 2·Π(Y)·K with K A's last dim. */
export function matmulFlops(a: TensorType | null, y: TensorType): number {
  if (!a) return 0;
  const k = a.shape.length ? a.shape[a.shape.length - 1] : 1;
  return 2 * count(y) * k;
}

function cost(l: LayerSignature): number {
  const [a, , c] = l.inputs;
  const y = l.outputs[0];
  if (l.op === 'MatMul') return matmulFlops(a, y);
  if (!a) return 0;
  // Gemm: alpha·op(A)·op(B), 2·M·N·K with K from A (transA swaps its dims), + beta·C (a multiply and an add per output).
  const k = numAttr(l.attrs.transA, 0) ? a.shape[0] : a.shape[1];
  return 2 * count(y) * k + (c ? 2 * count(y) : 0);
}

// ---------------------------------------------------------------------------------------------

export const matmulKernel: Kernel = {
  name: KERNEL,
  ops: ['MatMul', 'Gemm'],
  variants: VARIANTS,
  /**
   * What a straightforward WebGPU runtime runs: onnxruntime's WebGPU provider uses its
   * workgroup-tiled GEMM for real matrices and a plain per-element kernel for tiny or vector-like
   * ones; we call a problem a real matrix when both M and N are at least 16.
   */
  defaultVariant(c: LayerCase): string {
    if (!isFloat(c.layer.outputs[0]?.dtype ?? 'float32')) return 'naive';
    const g = geometry(c);
    return g.M >= 16 && g.N >= 16 ? 'tiled' : 'naive';
  },
  supports: supportsLayer,
  plan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan {
    const s = supportsLayer(c, variant, caps);
    if (!s.ok) throw new Error(`${KERNEL}/${variant}: ${s.reason}`);
    const g = geometry(c);
    if (g.batch * g.M * g.N === 0) return { passes: [], scratch: [] };
    switch (variant) {
      case 'naive': return planNaive(g, caps);
      case 'tiled': return planTiled(g, 'tiled', 'f32', caps, gemmTile(config));
      case 'tiled-f16': return planTiled(g, 'tiled-f16', 'f16', caps, gemmTile(config));
      case 'blocked': return planBlocked(g);
      case 'subgroup': return planBlocked(g, true);
      case 'gemv': return planGemv(g);
      case 'split-k': return planSplitK(g, caps);
      default: throw new Error(`${KERNEL}: unknown variant ${variant}`);
    }
  },
  /** `tiled` and `tiled-f16` search the GEMM core's tiles (gemm.ts gemmTuning). */
  tuning(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[] {
    if ((variant !== 'tiled' && variant !== 'tiled-f16') || !supportsLayer(c, variant, caps).ok) return [];
    const g = geometry(c);
    return g.batch * g.M * g.N ? gemmTuning({ M: g.M, P: g.N, K: g.K, batches: g.batch }, variant === 'tiled' ? 'f32' : 'f16', caps, level) : [];
  },
  reference: referenceOf,
  cost,
};

export const kernels: Kernel[] = [matmulKernel];

