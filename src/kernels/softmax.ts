/**
 * Softmax and LogSoftmax along one axis.
 *
 * Semantics: opset ≥ 13 normalizes along `axis` alone; before 13 the input is coerced to 2-D at
 * `axis` (everything from `axis` on is one row). Shape inference records the axis but not the
 * opset, so a layer says which it is with the attribute `coerce_2d = 1` (the two agree whenever
 * `axis` is the last non-1 dimension, which is how models use it).
 *
 * A row is L elements at stride `inner` (1 for the last axis); rows = outer × inner.
 * Variants:
 *  - `naive`: one invocation per row, three loops over the row (max, Σexp, write).
 *  - `workgroup`: one workgroup (16–64 invocations) per row, or per block of rows (below). Each
 *    invocation keeps its share of the row in registers when it fits (read once, one exp per
 *    element); the max and the sum are workgroup reductions (a subgroup operation and one barrier
 *    when the device has subgroups, else shared-memory trees). Rows too long for registers use
 *    online softmax (Milakov & Gimelshein 2018, "Online normalizer calculation for softmax",
 *    alg. 3): one pass for max and sum together, one pass to write.
 *  - `subgroup`: the same row program with one subgroup per row and several rows per workgroup:
 *    no barriers at all. On lavapipe (subgroups of 8, a barrier = a coroutine switch per subgroup)
 *    it is the fastest: [1,12,197,197] in ~1.6 ms against ~5 ms (workgroup) and ~2.4 ms (naive).
 * Contiguous rows of a tensor that is a whole number of vec4s are read and written as vec4s.
 */
import type { TensorType } from '../ir/types.js';
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, dispatch1d, gpuTypeOf, header } from './wgsl.js';
import { reduceWorkgroupSize, rowDispatch, rowEntry, subgroupHeader, wgReduceFn } from './reduce.js';
import { count } from './flops.js';

const KERNEL = 'softmax';
const NEG_BIG = '-3.4028234663852886e38';

export interface RowGeometry {
  outer: number;
  /** Elements per row. */
  len: number;
  /** Stride between a row's elements; rows are `inner` apart within an outer block. */
  inner: number;
  rows: number;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function softmaxGeometry(c: LayerCase): RowGeometry {
  const shape = c.layer.inputs[0]!.shape;
  const rank = shape.length;
  const raw = typeof c.layer.attrs.axis === 'number' ? c.layer.attrs.axis : -1;
  const axis = rank === 0 ? 0 : normAxis(raw, rank);
  const prod = (a: number[]): number => a.reduce((x, y) => x * y, 1);
  const outer = prod(shape.slice(0, axis));
  if (c.layer.attrs.coerce_2d === 1) {
    const len = prod(shape.slice(axis));
    return { outer, len, inner: 1, rows: outer };
  }
  const len = rank === 0 ? 1 : shape[axis];
  const inner = prod(shape.slice(axis + 1));
  return { outer, len, inner, rows: outer * inner };
}

/** WGSL: `base` (first element of `row`) for the geometry. */
function baseExpr(g: RowGeometry, row: string): string {
  if (g.inner === 1) return `${row} * ${g.len}u`;
  return `(${row} / ${g.inner}u) * ${g.len * g.inner}u + ${row} % ${g.inner}u`;
}

function at(g: RowGeometry, k: string): string {
  return g.inner === 1 ? `base + ${k}` : `base + (${k}) * ${g.inner}u`;
}

interface Io {
  st: GpuType;
  load(k: string): string;
  store(k: string, v: string): string;
}

function io(t: TensorType, g: RowGeometry): Io {
  const st = gpuTypeOf(t.dtype);
  return {
    st,
    load: (k) => (st === 'f32' ? `x[${at(g, k)}]` : `f32(x[${at(g, k)}])`),
    store: (k, v) => `y[${at(g, k)}] = ${st === 'f32' ? v : `${st}(${v})`};`,
  };
}

function bindingsFor(st: GpuType): string {
  return `@group(0) @binding(0) var<storage, read> x: array<${st}>;\n@group(0) @binding(1) var<storage, read_write> y: array<${st}>;`;
}

/** The output value from x, the row max m and the row sum s (or the cached exp e). */
function finish(log: boolean, x: string, e: string): string {
  return log ? `${x} - lse` : `${e} * inv`;
}

function finishPrelude(log: boolean): string {
  return log ? 'let lse = m + log(s);' : 'let inv = 1.0 / s;';
}

function naiveWgsl(c: LayerCase, g: RowGeometry): string {
  const log = c.layer.op === 'LogSoftmax';
  const f = io(c.layer.inputs[0]!, g);
  const body = `  let base = ${baseExpr(g, 'gid')};
  var m = ${NEG_BIG};
  for (var k = 0u; k < ${g.len}u; k++) { m = max(m, ${f.load('k')}); }
  var s = 0.0;
  for (var k = 0u; k < ${g.len}u; k++) { s += exp(${f.load('k')} - m); }
  ${finishPrelude(log)}
  for (var k = 0u; k < ${g.len}u; k++) {
    let xv = ${f.load('k')};
    ${f.store('k', finish(log, 'xv', 'exp(xv - m)'))}
  }`;
  return `${header([f.st])}${bindingsFor(f.st)}\n\n${entry1d(64, g.rows, body)}\n`;
}

/**
 * How a row program reads: 'vec4' when rows are contiguous and the tensor is a whole number of
 * vec4s (rows need not start on a vec4: edge vec4s are masked), else 'scalar'.
 */
function access(c: LayerCase, g: RowGeometry): 'vec4' | 'scalar' {
  return g.inner === 1 && g.len >= 4 && elements(c.layer.inputs[0]!) % 4 === 0 ? 'vec4' : 'scalar';
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The row program shared by the workgroup and subgroup variants: `p` invocations (`lane` = 0…p−1)
 * share a row; `redMax`/`redSum` name their reductions. With vec4 access, rows are processed in
 * blocks of B = 4/gcd(L, 4) consecutive rows (a block starts and ends on a vec4). A vec4 straddling
 * rows r and r+1 is written once, while row r+1 is processed: its row-r lanes are recomputed from
 * x with row r's max and sum (kept in pm/pinv), so no invocation ever writes another row's
 * elements while that row is in flight. Each invocation keeps its share of the row in registers
 * (`cache` vec4s or scalars) when `cached`; otherwise max and sum come from one online pass
 * (Milakov & Gimelshein 2018, alg. 3: a running max, the running sum rescaled when it grows) and
 * the row is read once more to write.
 */
function rowProgram(c: LayerCase, g: RowGeometry, o: { cached: boolean; cache: number; redMax: string; redSum: string }): string {
  const log = c.layer.op === 'LogSoftmax';
  const st = gpuTypeOf(c.layer.inputs[0]!.dtype);
  const prelude = finishPrelude(log);
  if (access(c, g) === 'scalar') {
    const f = io(c.layer.inputs[0]!, g);
    const loop = (stmt: string): string => (o.cached
      ? `for (var j = 0u; j < ${o.cache}u; j++) {
      let k = lane + j * p;
      if (k < ${g.len}u) { ${stmt} }
    }`
      : `for (var k = lane; k < ${g.len}u; k += p) { ${stmt} }`);
    const val = o.cached ? 'v[j]' : f.load('k');
    return `{
    let base = ${baseExpr(g, 'row')};
    ${o.cached ? `var v: array<f32, ${o.cache}>;` : ''}
    ${o.cached ? `var m = ${NEG_BIG};
    ${loop(`v[j] = ${f.load('k')}; m = max(m, v[j]);`)}
    m = ${o.redMax}(m);
    var s = 0.0;
    ${loop(log ? 's += exp(v[j] - m);' : 'let e = exp(v[j] - m); v[j] = e; s += e;')}
    s = ${o.redSum}(s);` : `var lm = ${NEG_BIG};
    var ls = 0.0;
    ${loop(`let xv = ${val}; let mn = max(lm, xv); ls = ls * exp(lm - mn) + exp(xv - mn); lm = mn;`)}
    let m = ${o.redMax}(lm);
    let s = ${o.redSum}(ls * exp(lm - m));`}
    ${prelude}
    ${loop(f.store('k', log ? `${val} - lse` : o.cached ? 'v[j] * inv' : `exp(${val} - m) * inv`))}
  }`;
  }
  const aligned = g.len % 4 === 0;
  const ld = (q: string): string => (st === 'f32' ? `x[${q}]` : `vec4<f32>(x[${q}])`);
  const mld = (q: string): string => (aligned ? ld(q) : `select(vec4<f32>(${NEG_BIG}), ${ld(q)}, inrow(${q}, base, end))`);
  const loop = (stmt: string): string => (o.cached
    ? `for (var j = 0u; j < ${o.cache}u; j++) {
      let q = lane + j * p;
      if (q < nq) { ${stmt} }
    }`
    : `for (var q = lane; q < nq; q += p) { ${stmt} }`);
  const val = o.cached ? 'v[j]' : mld('qa + q');
  const out = log ? `${val} - lse` : o.cached ? 'v[j] * inv' : `exp(${val} - m) * inv`;
  const store = (v: string): string => `y[qa + q] = ${st === 'f32' ? v : `vec4<${st}>(${v})`};`;
  const write = aligned ? store(out) : `var o = ${out};
        if (q == 0u && (base & 3u) != 0u) { o = select(${log ? `${ld('qa')} - plse` : `exp(${ld('qa')} - pm) * pinv`}, o, inrow(qa, base, end)); }
        if (q + 1u < nq || (end & 3u) == 0u) { ${store('o')} }`;
  return `{
    let base = row * ${g.len}u;
    let end = base + ${g.len}u;
    let qa = base / 4u;
    let nq = (end + 3u) / 4u - qa;
    ${o.cached ? `var v: array<vec4<f32>, ${o.cache}>;` : ''}
    ${o.cached ? `var mv = vec4<f32>(${NEG_BIG});
    ${loop(`v[j] = ${mld('qa + q')}; mv = max(mv, v[j]);`)}
    let m = ${o.redMax}(max(max(mv.x, mv.y), max(mv.z, mv.w)));
    var sv = vec4<f32>(0.0);
    ${loop(log ? 'sv += exp(v[j] - m);' : 'let e = exp(v[j] - m); v[j] = e; sv += e;')}` : `var lm = vec4<f32>(${NEG_BIG});
    var sv = vec4<f32>(0.0);
    ${loop(`let xv = ${val}; let mn = max(lm, xv); sv = sv * exp(lm - mn) + exp(xv - mn); lm = mn;`)}
    let m = ${o.redMax}(max(max(lm.x, lm.y), max(lm.z, lm.w)));
    sv = sv * exp(lm - m);`}
    let s = ${o.redSum}(sv.x + sv.y + sv.z + sv.w);
    ${prelude}
    ${loop(write)}
    ${aligned ? '' : log ? 'plse = lse;' : 'pm = m;\n    pinv = inv;'}
  }`;
}

/** Rows per block (vec4 access): the smallest count whose elements fill whole vec4s. */
function blockRows(c: LayerCase, g: RowGeometry): number {
  return access(c, g) === 'vec4' ? 4 / gcd(g.len, 4) : 1;
}

function rowHelpers(c: LayerCase, g: RowGeometry): string {
  const st = gpuTypeOf(c.layer.inputs[0]!.dtype);
  const vec = access(c, g) === 'vec4';
  const t = vec ? `vec4<${st}>` : st;
  const decl = `@group(0) @binding(0) var<storage, read> x: array<${t}>;\n@group(0) @binding(1) var<storage, read_write> y: array<${t}>;`;
  const inrow = vec && g.len % 4 !== 0 ? `
fn inrow(q: u32, base: u32, end: u32) -> vec4<bool> {
  let e = vec4<u32>(q * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
  return (e >= vec4<u32>(base)) & (e < vec4<u32>(end));
}` : '';
  return `${decl}${inrow}`;
}

/** The loop over the rows of block `blk`, carrying the previous row's statistics. */
function blockLoop(c: LayerCase, g: RowGeometry, body: string): string {
  const b = blockRows(c, g);
  const carry = b > 1 ? (c.layer.op === 'LogSoftmax' ? 'var plse = 0.0;' : 'var pm = 0.0;\n    var pinv = 0.0;') : '';
  if (b === 1) return `{\n    let row = blk;\n    ${body}\n  }`;
  return `{
    ${carry}
    for (var rr = 0u; rr < ${b}u; rr++) {
      let row = blk * ${b}u + rr;
      if (row >= ${g.rows}u) { break; }
      ${body}
    }
  }`;
}

/** Per-invocation register budget (f32 values) for a cached row share. */
const MAX_CACHED_FLOATS = 32;

function cacheFor(c: LayerCase, g: RowGeometry, p: number): { cached: boolean; cache: number } {
  const vec = access(c, g) === 'vec4';
  const units = vec ? Math.ceil(g.len / 4) + (g.len % 4 === 0 ? 0 : 1) : g.len;
  const cache = Math.ceil(units / p);
  return { cached: cache * (vec ? 4 : 1) <= MAX_CACHED_FLOATS, cache };
}

function workgroupWgsl(c: LayerCase, g: RowGeometry, caps: DeviceCaps): string {
  const st = gpuTypeOf(c.layer.inputs[0]!.dtype);
  const wg = reduceWorkgroupSize(g.len);
  const sg = caps.subgroups;
  const body = rowProgram(c, g, { ...cacheFor(c, g, wg), redMax: 'red_max', redSum: 'red_sum' });
  const blocks = Math.ceil(g.rows / blockRows(c, g));
  return `${header([st])}${subgroupHeader(sg)}${rowHelpers(c, g)}

${wgReduceFn('red_max', 'f32', 'max', wg, sg)}

${wgReduceFn('red_sum', 'f32', 'sum', wg, sg)}

${rowEntry(wg, sg, blocks, `  let blk = row;\n  let lane = lid;\n  let p = ${wg}u;\n  ${blockLoop(c, g, body)}`)}
`;
}

/** Subgroup variant: workgroup size and the subgroup size the dispatch and caches are sized for. */
const SG_WG = 64;
const SG_ASSUMED = 8;

function subgroupWgsl(c: LayerCase, g: RowGeometry): string {
  const st = gpuTypeOf(c.layer.inputs[0]!.dtype);
  const blocks = Math.ceil(g.rows / blockRows(c, g));
  const cache = cacheFor(c, g, SG_ASSUMED);
  const red = { redMax: 'subgroupMax', redSum: 'subgroupAdd' };
  const uncached = blockLoop(c, g, rowProgram(c, g, { cached: false, cache: 0, ...red }));
  // Registers are sized for SG_ASSUMED lanes; smaller subgroups take the uncached path.
  const body = cache.cached
    ? `if (p >= ${SG_ASSUMED}u) ${blockLoop(c, g, rowProgram(c, g, { ...cache, ...red }))} else ${uncached}`
    : uncached;
  // Blocks are strided over (workgroups × subgroups): correct for any subgroup size.
  return `${header([st])}${subgroupHeader(true)}${rowHelpers(c, g)}

@compute @workgroup_size(${SG_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_id) sgid: u32,
  @builtin(num_subgroups) nsg: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgs: u32) {
  // A subgroup larger than the workgroup holds only the workgroup's invocations.
  let p = min(sgs, ${SG_WG}u);
  let step = nwg.x * nwg.y * nsg;
  for (var blk = (wid.y * nwg.x + wid.x) * nsg + sgid; blk < ${blocks}u; blk += step) {
    ${body}
  }
}
`;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const x = c.layer.inputs[0];
  if (!x) return unsupported('input is missing');
  if (x.dtype !== 'float32' && x.dtype !== 'float16') return unsupported(`${x.dtype} is not supported (float32, float16)`);
  if (x.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  const bytes = elements(x) * (x.dtype === 'float16' ? 2 : 4);
  if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte binding limit`);
  if (elements(x) === 0) return unsupported('empty tensor');
  switch (variant) {
    case 'naive': case 'workgroup': return supported;
    case 'subgroup': return caps.subgroups ? supported : unsupported('needs the subgroups feature');
    default: return unsupported(`unknown variant ${variant}`);
  }
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const g = softmaxGeometry(c);
  const label = `${KERNEL}/${variant} ${c.layer.op}`;
  const buffers = [{ kind: 'input' as const, index: 0 }, { kind: 'output' as const, index: 0 }];
  switch (variant) {
    case 'naive':
      return { passes: [{ label, wgsl: naiveWgsl(c, g), workgroups: dispatch1d(g.rows, 64, caps), buffers }], scratch: [] };
    case 'workgroup':
      return { passes: [{ label, wgsl: workgroupWgsl(c, g, caps), workgroups: rowDispatch(Math.ceil(g.rows / blockRows(c, g)), caps), buffers }], scratch: [] };
    default:
      return { passes: [{ label, wgsl: subgroupWgsl(c, g), workgroups: dispatch1d(Math.ceil(g.rows / blockRows(c, g)), SG_WG / SG_ASSUMED, caps), buffers }], scratch: [] };
  }
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const g = softmaxGeometry(c);
  const y = new Float32Array(x.data.length);
  const log = c.layer.op === 'LogSoftmax';
  for (let r = 0; r < g.rows; r++) {
    const base = Math.floor(r / g.inner) * g.len * g.inner + (r % g.inner);
    let m = -Infinity;
    for (let k = 0; k < g.len; k++) m = Math.max(m, x.data[base + k * g.inner]);
    let s = 0;
    for (let k = 0; k < g.len; k++) s += Math.exp(x.data[base + k * g.inner] - m);
    for (let k = 0; k < g.len; k++) {
      const v = x.data[base + k * g.inner];
      y[base + k * g.inner] = log ? v - m - Math.log(s) : Math.exp(v - m) / s;
    }
  }
  return [{ dtype: x.dtype, shape: [...x.shape], data: y }];
}

export const kernels: Kernel[] = [{
  name: KERNEL,
  ops: ['Softmax', 'LogSoftmax'],
  variants: [
    { name: 'naive', description: 'one invocation per row: max, sum of exponentials and output in three loops' },
    { name: 'workgroup', description: 'one workgroup per row: the row in registers, max and sum as workgroup (subgroup) reductions; online softmax for long rows' },
    { name: 'subgroup', description: 'one subgroup per row, rows strided over the grid: subgroup max and sum, no barriers' },
  ],
  defaultVariant: (c) => (softmaxGeometry(c).len >= 64 ? 'workgroup' : 'naive'),
  supports,
  plan,
  reference,
  // Max, subtract, exp (2), sum, divide: 6 per input element.
  cost: (l) => 6 * count(l.inputs[0]),
}];
