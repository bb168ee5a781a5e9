/**
 * The GEMM core: one tiled matrix product whose operand loads and output store its callers write.
 * Convolution (implicit GEMM, im2col, 1×1, Winograd's batched products), deformable convolution
 * and the fused layers' convolutions and matrix products all run on it, so a tile, a loop order or
 * a store improved here improves each of them, and a model compiles one shape of GEMM code.
 */
import type { AutotuneLevel, BufferRef, DeviceCaps, Pass, TuneConfig } from './types.js';

/**
 * Output tile TM (rows: output channels) × TP (columns: output positions), depth TK per step;
 * each invocation accumulates RM rows × RP columns (RP a multiple of 4).
 *
 * Both tiles live in workgroup memory as 4-vectors — A as [m][k/4], B as [k][p/4] — and each
 * invocation's columns are 4-vectors, so the inner product step reads RM + RP/4 vectors from
 * workgroup memory per 4·RM·RP multiply-adds... per k: RM/4 + RP/4 vector reads for RM·RP FMAs.
 * Why vectors: on lavapipe (llvmpipe) every load from memory inside a loop is executed lane by
 * lane (a scalar load and a branch per SIMD lane), so the number of load instructions, not
 * arithmetic, bounds a GEMM; a 4-vector load moves 4 values for about the cost of 1–2 scalar
 * ones. On GPUs, vector loads from workgroup memory are the usual way to reach peak too
 * (onnxruntime's and TVM's WebGPU matmuls tile the same way).
 */
export interface GemmTile {
  TM: number; TP: number; TK: number; RM: number; RP: number;
  /**
   * 1: double-buffered tiles — two copies of the A and B tiles in workgroup memory; the loads of
   * step k + 1 go to one while the products of step k read the other, with one barrier a step
   * instead of two. The loads' memory latency then overlaps the products on a GPU; it costs twice
   * the tiles' workgroup memory (and so fewer rows of the staged store). Absent or 0: one copy.
   */
  DB?: number;
  /**
   * Split-K: K is cut into SK slices of whole TK steps, each a workgroup of its own (the grid's z
   * is batches × SK), which writes its f32 partial products to a scratch buffer; a second pass
   * sums the slices and runs the caller's store (so the epilogue sees the whole sum). For GEMMs
   * whose output tiles are too few to keep a GPU's multiprocessors busy (a deep layer's 7×7
   * image, a classifier, a batch of a few tokens) and whose K is long. Absent or 1: one pass.
   */
  SK?: number;
  /**
   * 1: subgroup operations (needs the adapter's subgroups and f32 tiles). The invocations take
   * their places in the tile by subgroup (index = subgroup_id · subgroup_size + lane, so each
   * aligned four are one quad whatever order the hardware numbers them in), and the four of a quad
   * (four neighbouring column groups of one row group) each read a quarter of their shared rows of
   * A from workgroup memory and pass them round with quad broadcasts: RM/4 reads of A a step
   * instead of RM. Whether a quad broadcast is cheaper than a workgroup-memory read (it is on GPUs
   * whose lanes exchange registers directly) is the autotuner's to find. Needs RM a multiple of 4.
   */
  SG?: number;
}

export const GEMM_TILE: GemmTile = { TM: 64, TP: 64, TK: 16, RM: 8, RP: 8 };

/**
 * The autotuner's search space (Kernel.tuning): output tiles from 16 to 128 rows and columns,
 * 64 to 256 invocations a workgroup, 2×4 to 8×8 outputs an invocation. Small tiles keep a GPU's
 * multiprocessors busy on small or skinny GEMMs and waste less on ragged edges; large ones reuse
 * each staged value more times and issue fewer workgroups. Double-buffering, split-K and subgroup
 * operations (GemmTile DB, SK, SG) are further dimensions of each tile (gemmTuning).
 */
export const GEMM_TILES: readonly GemmTile[] = [
  GEMM_TILE,
  { TM: 32, TP: 64, TK: 16, RM: 4, RP: 8 },
  { TM: 64, TP: 32, TK: 16, RM: 8, RP: 4 },
  { TM: 32, TP: 32, TK: 16, RM: 4, RP: 4 },
  { TM: 16, TP: 64, TK: 16, RM: 2, RP: 8 },
  { TM: 16, TP: 32, TK: 16, RM: 2, RP: 4 },
  { TM: 128, TP: 64, TK: 8, RM: 8, RP: 8 },
  { TM: 64, TP: 128, TK: 8, RM: 8, RP: 8 },
  { TM: 128, TP: 32, TK: 16, RM: 8, RP: 4 },
  { TM: 128, TP: 128, TK: 8, RM: 8, RP: 8 },
];

/** A tile as a TuneConfig (what the store keeps and the reports show). */
export function tileConfig(t: GemmTile): TuneConfig {
  return { TM: t.TM, TP: t.TP, TK: t.TK, RM: t.RM, RP: t.RP, ...(t.DB ? { DB: 1 } : {}), ...((t.SK ?? 1) > 1 ? { SK: t.SK! } : {}), ...(t.SG ? { SG: 1 } : {}) };
}

/** The tile of `config` (one of `gemmTuning`'s), GEMM_TILE without one. */
export function gemmTile(config?: TuneConfig): GemmTile {
  if (!config) return GEMM_TILE;
  const t: GemmTile = {
    TM: config.TM, TP: config.TP, TK: config.TK, RM: config.RM, RP: config.RP,
    ...(config.DB ? { DB: config.DB } : {}), ...(config.SK !== undefined ? { SK: config.SK } : {}), ...(config.SG ? { SG: config.SG } : {}),
  };
  if (!tileProblem(t)) return t;
  throw new Error(`GEMM configuration ${JSON.stringify(config)}: ${tileProblem(t)}`);
}

/** Why a tile cannot be built (its loads would not divide evenly among its invocations), else null. */
function tileProblem(t: GemmTile): string | null {
  const vals = [t.TM, t.TP, t.TK, t.RM, t.RP];
  if (!vals.every((v) => Number.isInteger(v) && v > 0)) return 'needs positive integers TM, TP, TK, RM, RP';
  if (t.DB !== undefined && t.DB !== 0 && t.DB !== 1) return 'DB (double-buffered tiles) must be 0 or 1';
  if (t.SK !== undefined && !(Number.isInteger(t.SK) && t.SK >= 1 && t.SK <= MAX_SPLIT)) return `SK (K slices) must be an integer from 1 to ${MAX_SPLIT}`;
  if (t.SG !== undefined && t.SG !== 0 && t.SG !== 1) return 'SG (subgroup operations) must be 0 or 1';
  if (t.SG && (t.RM % 4 || (t.TP / t.RP) % 4)) return 'SG (subgroup operations) needs RM and TP / RP multiples of 4 (a quad shares rows)';
  if (t.TM % t.RM || t.TP % t.RP || t.RP % 4 || t.TK % 4) return 'TM must be a multiple of RM, TP of RP, RP and TK of 4';
  const T = (t.TP / t.RP) * (t.TM / t.RM);
  if ((t.TM * t.TK / 4) % T || T % (t.TP / 4) || t.TK % (T / (t.TP / 4))) return `its tile loads do not divide among ${T} invocations`;
  if (T % t.TP) return `its ${T} invocations do not store whole rows of ${t.TP} columns`;
  if (!stagedRows(t, 'f32').CHR) return `its tiles leave no room in ${STORE_BUDGET} bytes of workgroup memory to stage ${t.TM / t.RM} rows of the store`;
  return null;
}

/**
 * The workgroup memory the staged store (Cs) may take: what WebGPU guarantees every device
 * (16 KiB) less the A and B tiles.
 */
const STORE_BUDGET = 16384;

/**
 * Rows of the output tile staged at a time by the store: as many as fit STORE_BUDGET beside the A
 * and B tiles, a multiple of TM / RM (so each invocation's rows of a chunk are known when the
 * code is generated); 0 when not even that many fit.
 */
function stagedRows(t: GemmTile, ct: 'f32' | 'f16'): { CHR: number; bytes: number } {
  const ab = (t.TM * t.TK + t.TK * t.TP) * (ct === 'f16' ? 2 : 4) * (t.DB ? 2 : 1);
  const WY = t.TM / t.RM;
  const CHR = Math.max(0, Math.floor(Math.min(t.TM, Math.floor((STORE_BUDGET - ab) / (4 * t.TP))) / WY) * WY);
  return { CHR, bytes: ab + CHR * t.TP * 4 };
}

/** Invocations a workgroup, and workgroup memory (bytes), of a tile in `ct`. */
function tileCost(t: GemmTile, ct: 'f32' | 'f16'): { invocations: number; bytes: number } {
  return { invocations: (t.TP / t.RP) * (t.TM / t.RM), bytes: stagedRows(t, ct).bytes };
}

/** The most slices split-K cuts K into. */
const MAX_SPLIT = 16;

/**
 * The workgroups a GEMM's grid should reach before split-K is worth its second pass: a large GPU
 * runs one or more workgroups on each of its 100–150 multiprocessors at once (an H200 has 132),
 * so a grid of fewer output tiles leaves some of them idle for the whole product.
 */
const FULL_GRID = 256;

/** Each K slice spans at least this many TK steps: a shorter one costs more in partial sums than it saves. */
const MIN_SLICE_STEPS = 4;

type GemmShape = { M: number; P: number; K: number; batches: number };

/** Bytes of split-K's partial products: SK slices of the batches' M×P outputs in f32. */
function partialBytes(shape: GemmShape, t: GemmTile): number {
  return (t.SK ?? 1) * shape.batches * shape.M * shape.P * 4;
}

/**
 * The autotuner's configurations for an M×P×K GEMM (× batches) in `ct` on `caps` (Kernel.tuning):
 * the variant's own tile `own` first, then, of the others that fit the device, `full`: all, each
 * single- and double-buffered; `quick`: the three single-buffered ones that waste least on ragged
 * edges (padded outputs over real ones) while keeping at least as many workgroups as the own tile
 * would (or 64), the larger tile first on ties, and the own tile double-buffered (at half its
 * depth where two copies at its own would leave no room to stage the store).
 * Split-K, where a tile's grid is under FULL_GRID workgroups and K is long enough: `quick` adds
 * the own tile cut into the fewest slices (a power of two) that fill the grid; `full`, every tile
 * cut into each power of two up to MAX_SPLIT. Each slice keeps MIN_SLICE_STEPS steps of K.
 * Subgroup operations (SG), where the adapter has them and the tiles are f32: `quick` adds the own
 * tile with them, `full` every tile.
 */
export function gemmTuning(shape: GemmShape, ct: 'f32' | 'f16', caps: DeviceCaps,
  level: Exclude<AutotuneLevel, 'off'>, own: GemmTile = GEMM_TILE): TuneConfig[] {
  const key = (t: GemmTile): string => JSON.stringify(tileConfig(t));
  const builds = (t: GemmTile): boolean => {
    const c = tileCost(t, ct);
    return !tileProblem(t) && c.invocations <= caps.maxComputeInvocationsPerWorkgroup && c.bytes <= caps.maxComputeWorkgroupStorageSize
      && !!gemmWorkgroups({ ...shape, tile: t }, shape.batches, caps)
      && partialBytes(shape, t) <= Math.min(caps.maxStorageBufferBindingSize, caps.maxBufferSize);
  };
  const fitting = (t: GemmTile): boolean => key(t) !== key(own) && builds(t);
  const fits = GEMM_TILES.filter(fitting);
  // A tile double-buffered: its depth halved where two copies of it would leave no room for the store.
  const buffered = (t: GemmTile): GemmTile[] => [t.TK, t.TK / 2].map((TK) => ({ ...t, TK, DB: 1 })).filter(fitting).slice(0, 1);
  const groups = (t: GemmTile): number => Math.ceil(shape.M / t.TM) * Math.ceil(shape.P / t.TP) * shape.batches;
  const waste = (t: GemmTile): number => (groups(t) * t.TM * t.TP) / (shape.M * shape.P * shape.batches);
  const enough = Math.min(64, groups(own));
  const score = (t: GemmTile): number => waste(t) * (groups(t) < enough ? 2 : 1);
  // A tile cut into SK slices of K, where its grid is short of FULL_GRID and each slice keeps MIN_SLICE_STEPS steps.
  const split = (t: GemmTile, SK: number): GemmTile[] =>
    (groups(t) < FULL_GRID && shape.K >= SK * MIN_SLICE_STEPS * t.TK ? [{ ...t, SK }] : []).filter(fitting);
  const pow2 = [2, 4, 8, 16].filter((n) => n <= MAX_SPLIT);
  const target = pow2.find((n) => groups(own) * n >= FULL_GRID) ?? MAX_SPLIT;
  // A tile with subgroup operations, where the adapter has them and the tiles are f32.
  const quads = (t: GemmTile): GemmTile[] => (caps.subgroups && ct === 'f32' ? [{ ...t, SG: 1 }].filter(fitting) : []);
  const chosen = level === 'full'
    ? [...fits, ...[own, ...fits].flatMap(buffered), ...[own, ...fits].flatMap((t) => pow2.flatMap((n) => split(t, n))), ...[own, ...fits].flatMap(quads)]
    : [...[...fits].sort((a, b) => score(a) - score(b) || b.TM * b.TP - a.TM * a.TP).slice(0, 3), ...buffered(own),
      ...pow2.filter((n) => n <= target).reverse().flatMap((n) => split(own, n)).slice(0, 1), ...quads(own)];
  return [own, ...chosen].map(tileConfig);
}

/** A tiled GEMM whose operand loads and output store the caller writes (implicit GEMM, deformable im2col…). */
export interface GemmSpec {
  /** Type of the tiles and the products. */
  ct: 'f32' | 'f16';
  M: number;
  P: number;
  K: number;
  tile: GemmTile;
  /** Module-scope declarations (bindings, helpers). */
  decls: string;
  /**
   * Statements once per invocation (batch `bz` known) before the K loop; split-K's reduction pass
   * runs them too, so they read only `bz` and the sizes gM, gP, gK.
   */
  prelude?: string;
  /** Statements once per invocation for its 4 B columns `bp` … `bp + 3` (bp = p0 + 4·bcg, maybe ≥ P). */
  bColumns?: string;
  /** Statements setting `av` (vec4<ct>, preset 0) to A[m, k … k+3]; m < M, k < K, k % 4 = 0; elements ≥ K must stay 0. */
  loadA4(m: string, k: string): string;
  /** Statements setting `bv` (vec4<ct>, preset 0) to B[k, bp … bp+3]; k < K; columns ≥ P may hold any finite value. */
  loadB4(k: string): string;
  /**
   * Statements once per invocation for the output column `p` it stores (clamped to P − 1; the
   * store itself is guarded): what `store` needs of p alone (a division into image and position),
   * computed once for all the rows it stores.
   */
  storeColumn?(p: string): string;
  /** Statements once per invocation before the store (names `storeColumn` and `store` read). */
  storeSetup?: string;
  /** Statements storing f32 `v` at (m, p), m < M and p < P. */
  store(m: string, p: string, v: string): string;
}

/**
 * For a caller's `loadA4` whose rows are not whole 4-vectors: A[m, k … k+3] as a vec4<ct> of four
 * scalar reads, `el(e)` reading element k + e, the lanes at or past `bound` (K) zero. Lane 0 needs
 * no guard (the core loads only k < K); a read past K must still be in bounds, so `el` clamps it or
 * relies on the buffer's robust access. The lane offsets are abstract integers, compiled in (a
 * literal `1u` would be a run-time parameter of its own, specialize.ts).
 */
export function guardedLanes4(ct: 'f32' | 'f16', el: (e: number) => string, k: string, bound = 'gK'): string {
  return `vec4<${ct}>(${[0, 1, 2, 3].map((e) => (e === 0 ? el(0) : `select(${ct}(0.0), ${el(e)}, ${k} + ${e} < ${bound})`)).join(', ')})`;
}

/**
 * The grid of the GEMM's (first) pass: output tiles along P and M, batches × K slices along z;
 * null where it, or split-K's reduction grid, exceeds the device's dispatch limits.
 */
export function gemmWorkgroups(s: Pick<GemmSpec, 'M' | 'P' | 'tile'>, batches: number, caps: DeviceCaps): [number, number, number] | null {
  const x = Math.ceil(s.P / s.tile.TP);
  const y = Math.ceil(s.M / s.tile.TM);
  const z = batches * (s.tile.SK ?? 1);
  const lim = caps.maxComputeWorkgroupsPerDimension;
  const fits = (g: number[]): boolean => g.every((n) => n <= lim);
  return fits([x, y, z]) && ((s.tile.SK ?? 1) <= 1 || fits(reduceGrid(s, batches))) ? [x, y, z] : null;
}

/** Invocations a workgroup of split-K's reduction pass: one output column each, along P. */
const REDUCE_WG = 64;

function reduceGrid(s: Pick<GemmSpec, 'M' | 'P'>, batches: number): [number, number, number] {
  return [Math.ceil(s.P / REDUCE_WG), s.M, batches];
}

/** The storage buffers that `decls` declares, by name. */
function storageNames(decls: string): string[] {
  return [...decls.matchAll(/var<storage\b[^>]*>\s*(\w+)\s*:/g)].map((m) => m[1]);
}

/**
 * The GEMM's passes on `batches` batches (the grid's z), binding the caller's `buffers` in order:
 * one pass, or with split-K (tile SK > 1) the slices' pass into a scratch buffer of partial
 * products (scratch `scratchIndex`, returned in `scratch`) and the reduction pass that sums them
 * and runs the caller's store. Both passes bind all of the caller's buffers (a pipeline's layout
 * is its shader's, so each is named in both shaders) and the partials after them; `prelude`,
 * `storeSetup`, `storeColumn` and `store` run in the reduction pass too, so they may read the
 * batch `bz` and the sizes gM, gP, gK, not the tile's coordinates.
 */
export function gemmPasses(s: GemmSpec, batches: number, caps: DeviceCaps, label: string, buffers: BufferRef[],
  scratchIndex = 0): { passes: Pass[]; scratch: number[] } {
  const wg = gemmWorkgroups(s, batches, caps);
  if (!wg) throw new Error(`${label}: the GEMM grid of tile ${JSON.stringify(tileConfig(s.tile))} exceeds the dispatch limits`);
  const SK = s.tile.SK ?? 1;
  if (SK <= 1) return { passes: [{ label, wgsl: gemmWgsl(s), workgroups: wg, buffers }], scratch: [] };
  const part = { binding: buffers.length, batches };
  const withPart: BufferRef[] = [...buffers, { kind: 'scratch', index: scratchIndex }];
  return {
    passes: [
      { label: `${label} (K slices)`, wgsl: gemmWgsl(s, part), workgroups: wg, buffers: withPart },
      { label: `${label} (sum of slices)`, wgsl: reduceWgsl(s, part), workgroups: reduceGrid(s, batches), buffers: withPart },
    ],
    scratch: [partialBytes({ ...s, batches }, s.tile)],
  };
}

/** Split-K's partial products: the binding after the caller's, and the batches they span. */
interface Partials { binding: number; batches: number }

const partialDecl = (p: Partials, access: 'read' | 'read_write'): string =>
  `@group(0) @binding(${p.binding}) var<storage, ${access}> gPart: array<f32>;`;

/** Each of the caller's storage buffers named, so that a pass that does not read it still binds it. */
const nameAll = (decls: string): string => storageNames(decls).map((n) => `  _ = &${n};`).join('\n');

/** Split-K's second pass: one invocation an output, the slices' partial products summed, then the caller's store. */
function reduceWgsl(s: GemmSpec, p: Partials): string {
  const SK = s.tile.SK!;
  return `${s.decls}
${partialDecl(p, 'read')}

@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
${nameAll(s.decls)}
  let gM = ${s.M}u; let gP = ${s.P}u; let gK = ${s.K}u;
  let bz = gid.z;
${s.prelude ?? ''}
${s.storeSetup ?? ''}
  {
    let m = gid.y; let sp = gid.x;
    ${s.storeColumn ? s.storeColumn('min(sp, gP - 1)') : ''}
    if (sp < gP) {
      var v = 0.0;
      for (var ks = 0u; ks < ${SK}u; ks++) { v += gPart[((ks * ${p.batches}u + bz) * gM + m) * gP + sp]; }
      ${s.store('m', 'sp', 'v')}
    }
  }
}
`;
}

/**
 * The GEMM's (first) pass. With `part` (split-K), workgroup z = batch · SK + slice multiplies its
 * slice of K and stores its partial products to gPart in place of the caller's store.
 */
function gemmWgsl(s: GemmSpec, part?: Partials): string {
  const { TM, TP, TK, RM, RP } = s.tile;
  const SK = part ? s.tile.SK! : 1;
  const WX = TP / RP;
  const WY = TM / RM;
  const T = WX * WY;
  const TK4 = TK / 4;
  const TP4 = TP / 4;
  const RP4 = RP / 4;
  const ct = s.ct;
  const mixed = ct === 'f16';
  const v4 = `vec4<${ct}>`;
  // A loads: element e = lid + i·T of the [TM][TK/4] tile. B loads: fixed column group lid % (TP/4), rows lid / (TP/4) + i·(T / (TP/4)).
  const aPer = (TM * TK4) / T;
  const bRowStep = T / TP4;
  const bPer = TK / bRowStep;
  const problem = tileProblem(s.tile);
  if (problem) throw new Error(`GEMM tile ${JSON.stringify(s.tile)}: ${problem}`);
  const acc = (r: number, j: number): string => `acc_${r}_${j}`;
  const l: string[] = [];
  const sg = !!s.tile.SG;
  if (sg && mixed) throw new Error(`GEMM tile ${JSON.stringify(s.tile)}: subgroup operations need f32 tiles`);
  // With subgroup operations, an invocation's place in the tile is numbered by subgroup, so that
  // each aligned four places are one quad.
  if (sg) l.push('  let lid = sgId * sgSize + sgLane;');
  // The GEMM's sizes, read once: run-time parameters (specialize.ts), each one slot however often used.
  l.push(`  let gM = ${s.M}u; let gP = ${s.P}u; let gK = ${s.K}u;`);
  if (part) {
    // Slice ks spans kBeg … kEnd: whole TK steps, the last slices maybe short or empty (their partials 0).
    const steps = Math.ceil(Math.ceil(s.K / TK) / SK);
    l.push(nameAll(s.decls));
    l.push(`  let bz = wid.z / ${SK}u; let ks = wid.z % ${SK}u;`);
    l.push(`  let kBeg = min(ks * ${steps * TK}u, gK); let kEnd = min(kBeg + ${steps * TK}u, gK);`);
  } else {
    l.push(`  let bz = wid.z;`);
  }
  l.push(`  let m0 = wid.y * ${TM};`);
  l.push(`  let p0 = wid.x * ${TP};`);
  l.push(`  let tx = lid % ${WX};`);
  l.push(`  let ty = lid / ${WX};`);
  if (s.prelude) l.push(s.prelude);
  l.push(`  let bcg = lid % ${TP4};`);
  l.push(`  let brow = lid / ${TP4};`);
  l.push(`  let bp = p0 + bcg * 4;`);
  if (s.bColumns) l.push(s.bColumns);
  for (let r = 0; r < RM; r++) for (let j = 0; j < RP4; j++) l.push(`  var ${acc(r, j)} = vec4<f32>(0.0);`);
  const ATILE = TM * TK4;
  const BTILE = TK * TP4;
  // The tile loads of step `k0` into the copy at offsets `aw`, `bw`. As loops, not unrolled:
  // lavapipe compiles every copy of the load code through LLVM (long for the implicit-GEMM and
  // deformable gathers), and the loads are not the inner loop.
  const loads = (ind: string, aw: string, bw: string): void => {
    l.push(`${ind}for (var i = 0u; i < ${aPer}; i++) {`);
    l.push(`${ind}  let e = lid + i * ${T}; let m = m0 + e / ${TK4}; let k = k0 + (e % ${TK4}) * 4;`);
    l.push(`${ind}  var av = ${v4}(0.0); if (m < gM && k < gK) {\n${s.loadA4('m', 'k')}\n${ind}  }`);
    l.push(`${ind}  As[${aw}e] = av;`);
    l.push(`${ind}}`);
    l.push(`${ind}for (var i = 0u; i < ${bPer}; i++) {`);
    l.push(`${ind}  let row = brow + i * ${bRowStep}; let k = k0 + row; var bv = ${v4}(0.0); if (k < gK) {\n${s.loadB4('k')}\n${ind}  }`);
    l.push(`${ind}  Bs[${bw}row * ${TP4} + bcg] = bv;`);
    l.push(`${ind}}`);
  };
  // The products of a staged step, reading the copy at offsets `ar`, `br`.
  const target = (r: number, j: number): string => (mixed ? `h_${r}_${j}` : acc(r, j));
  const products = (ind: string, ar: string, br: string): void => {
    if (mixed) for (let r = 0; r < RM; r++) for (let j = 0; j < RP4; j++) l.push(`${ind}var h_${r}_${j} = vec4<f16>(0.0);`);
    l.push(`${ind}for (var kq = 0u; kq < ${TK4}; kq++) {`);
    if (sg) {
      // Quad lane j (= tx % 4) reads rows r ≡ j (mod 4) of the invocations' shared RM; quad broadcasts give each lane all RM.
      for (let c = 0; c < RM / 4; c++) l.push(`${ind}  let aq${c} = As[${ar}(ty + (tx % 4 + ${4 * c}) * ${WY}) * ${TK4} + kq];`);
      for (let r = 0; r < RM; r++) l.push(`${ind}  let a${r} = quadBroadcast(aq${r >> 2}, ${r % 4});`);
    } else {
      for (let r = 0; r < RM; r++) l.push(`${ind}  let a${r} = As[${ar}(ty + ${r * WY}) * ${TK4} + kq];`);
    }
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < RP4; j++) l.push(`${ind}  let b${q}_${j} = Bs[${br}(kq * 4 + ${q}) * ${TP4} + tx + ${j * WX}];`);
    }
    for (let q = 0; q < 4; q++) {
      for (let r = 0; r < RM; r++) {
        for (let j = 0; j < RP4; j++) l.push(`${ind}  ${target(r, j)} = fma(${v4}(a${r}[${q}]), b${q}_${j}, ${target(r, j)});`);
      }
    }
    l.push(`${ind}}`);
    if (mixed) for (let r = 0; r < RM; r++) for (let j = 0; j < RP4; j++) l.push(`${ind}${acc(r, j)} += vec4<f32>(h_${r}_${j});`);
  };
  const [kBeg, kEnd] = part ? ['kBeg', 'kEnd'] : ['0u', 'gK'];
  if (!s.tile.DB) {
    l.push(`  for (var k0 = ${kBeg}; k0 < ${kEnd}; k0 += ${TK}) {`);
    loads('    ', '', '');
    l.push(`    workgroupBarrier();`);
    products('    ', '', '');
    l.push(`    workgroupBarrier();`);
    l.push(`  }`);
  } else {
    // Double-buffered: step st loads tile st into copy st % 2 and multiplies tile st − 1 from the
    // other copy; the one barrier a step separates both from the next step's.
    l.push(part ? `  let nk = (kEnd - kBeg + ${TK - 1}u) / ${TK}u;` : `  let nk = (gK + ${TK - 1}u) / ${TK}u;`);
    l.push(`  for (var st = 0u; st <= nk; st++) {`);
    l.push(`    if (st < nk) {`);
    l.push(`      let k0 = ${part ? 'kBeg + ' : ''}st * ${TK}u; let aw = (st % 2u) * ${ATILE}u; let bw = (st % 2u) * ${BTILE}u;`);
    loads('      ', 'aw + ', 'bw + ');
    l.push(`    }`);
    l.push(`    if (st > 0u) {`);
    l.push(`      let ar = ((st + 1u) % 2u) * ${ATILE}u; let br = ((st + 1u) % 2u) * ${BTILE}u;`);
    products('      ', 'ar + ', 'br + ');
    l.push(`    }`);
    l.push(`    workgroupBarrier();`);
    l.push(`  }`);
  }
  if (s.storeSetup && !part) l.push(s.storeSetup);
  // The store, staged through workgroup memory (Cs) CHR rows at a time: each invocation writes its
  // accumulators there, then stores one column of the tile (lid % TP, its address computed once,
  // storeColumn) row after row in a loop. The caller's store and epilogue are one copy of code in
  // that loop instead of RM·RP copies unrolled (on lavapipe the unrolled store was two thirds of
  // a fused convolution's 3.9 s compile), and neighbouring invocations store neighbouring columns.
  const { CHR } = stagedRows(s.tile, ct);
  const SR = T / TP;
  l.push(`  let sp = p0 + lid % ${TP};`);
  if (s.storeColumn && !part) l.push(`  ${s.storeColumn('min(sp, gP - 1)')}`);
  // Split-K's slices store their partial products instead, for the reduction pass to sum.
  const store = part ? `gPart[((ks * ${part.batches}u + bz) * gM + m) * gP + sp] = v;` : s.store('m', 'sp', 'v');
  for (let c = 0; c * CHR < TM; c++) {
    const rows = Math.min(CHR, TM - c * CHR);
    l.push('  workgroupBarrier();');
    for (let r = 0; r < RM; r++) {
      if (r * WY < c * CHR || r * WY >= c * CHR + rows) continue;
      for (let j = 0; j < RP4; j++) l.push(`  Cs[(ty + ${r * WY - c * CHR}) * ${TP4} + tx + ${j * WX}] = ${acc(r, j)};`);
    }
    l.push('  workgroupBarrier();');
    l.push(`  for (var sr = lid / ${TP}; sr < ${rows}; sr += ${SR}) {`);
    l.push(`    let m = m0 + ${c * CHR} + sr;`);
    l.push(`    if (m < gM && sp < gP) { let v = Cs[sr * ${TP4} + (lid % ${TP}) / 4][lid % 4]; ${store} }`);
    l.push('  }');
  }
  return `${sg ? 'enable subgroups;\n' : ''}${s.decls}
${part ? `${partialDecl(part, 'read_write')}\n` : ''}var<workgroup> As: array<${v4}, ${ATILE * (s.tile.DB ? 2 : 1)}>;
var<workgroup> Bs: array<${v4}, ${BTILE * (s.tile.DB ? 2 : 1)}>;
var<workgroup> Cs: array<vec4<f32>, ${(CHR * TP) / 4}>;

@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, ${sg
    ? '@builtin(subgroup_id) sgId: u32, @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgLane: u32'
    : '@builtin(local_invocation_index) lid: u32'}) {
${l.join('\n')}
}
`;
}

