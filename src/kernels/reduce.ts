/**
 * Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp and ArgMax/ArgMin.
 *
 * Also the workgroup-reduction building blocks that the row kernels (softmax, normalization,
 * global pools) share: `wgReduceFn` (a workgroup-wide reduction callable from uniform control
 * flow, through subgroup operations when the device has them) and `rowEntry` (one workgroup per
 * row, with the invocation's ids in private variables).
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuTypeOf, header, stridesOf } from './wgsl.js';
import { perInputElement } from './flops.js';

// ---------------------------------------------------------------------------------------------
// Shared workgroup-reduction building blocks

export type Combine = 'sum' | 'max' | 'min' | 'prod';

const SUBGROUP_OP: Record<Combine, string> = { sum: 'subgroupAdd', max: 'subgroupMax', min: 'subgroupMin', prod: 'subgroupMul' };

export function combineExpr(op: Combine, a: string, b: string): string {
  switch (op) {
    case 'sum': return `(${a} + ${b})`;
    case 'prod': return `(${a} * ${b})`;
    default: return `${op}(${a}, ${b})`;
  }
}

/**
 * `enable subgroups;` and, since a row loop or a row guard depends on the subgroup id (uniform
 * within each subgroup, which is all subgroup operations need), the uniformity diagnostic off.
 */
export function subgroupHeader(subgroups: boolean): string {
  return subgroups ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '';
}

/**
 * WGSL of `fn name(v: T) -> T`: the `op`-reduction of `v` over the workgroup of `wg` invocations,
 * returned to every invocation. Call it from uniform control flow (it holds barriers); it reads the
 * private ids `rowEntry` sets. With subgroups: one subgroup reduction, one barrier, and a short
 * serial combine of the per-subgroup partials; else a shared-memory tree (log2(wg) barriers).
 * There is no trailing barrier (on lavapipe each costs a switch of every subgroup's coroutine):
 * each call site needs its own function, and a call may be repeated only after some other
 * barrier has passed (the readers of the previous result are then done).
 */
export function wgReduceFn(name: string, type: string, op: Combine, wg: number, subgroups: boolean): string {
  if (wg === 1) return `fn ${name}(v: ${type}) -> ${type} { return v; }`;
  if (subgroups) {
    return `var<workgroup> ${name}_part: array<${type}, ${wg}>;
fn ${name}(v: ${type}) -> ${type} {
  let s = ${SUBGROUP_OP[op]}(v);
  if (g_lane == 0u) { ${name}_part[g_sgid] = s; }
  workgroupBarrier();
  var r = ${name}_part[0];
  for (var i = 1u; i < g_nsg; i++) { r = ${combineExpr(op, 'r', `${name}_part[i]`)}; }
  return r;
}`;
  }
  if ((wg & (wg - 1)) !== 0) throw new Error(`workgroup reduction needs a power-of-two size, got ${wg}`);
  return `var<workgroup> ${name}_part: array<${type}, ${wg}>;
fn ${name}(v: ${type}) -> ${type} {
  ${name}_part[g_lid] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (g_lid < s) { ${name}_part[g_lid] = ${combineExpr(op, `${name}_part[g_lid]`, `${name}_part[g_lid + s]`)}; }
    workgroupBarrier();
  }
  return ${name}_part[0];
}`;
}

/**
 * A compute entry point of `wg` invocations per workgroup, one workgroup per row (`row`, over
 * x and y past the per-dimension limit; out-of-range workgroups return, uniformly). Sets the
 * private ids wgReduceFn reads (`g_lid`, and with subgroups `g_sgid`, `g_nsg`, `g_lane`, `g_sgs`).
 */
export function rowEntry(wg: number, subgroups: boolean, rows: number, body: string): string {
  const sg = subgroups
    ? ', @builtin(subgroup_id) b_sgid: u32, @builtin(num_subgroups) b_nsg: u32, @builtin(subgroup_invocation_id) b_lane: u32, @builtin(subgroup_size) b_sgs: u32'
    : '';
  return `var<private> g_lid: u32;
var<private> g_sgid: u32;
var<private> g_nsg: u32 = 1u;
var<private> g_lane: u32;
var<private> g_sgs: u32 = 1u;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg}) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ${rows}u) { return; }
  g_lid = lid;
${subgroups ? '  g_sgid = b_sgid;\n  g_nsg = b_nsg;\n  g_lane = b_lane;\n  g_sgs = b_sgs;\n' : ''}${body}
}`;
}

/** Workgroups for one per row. */
export function rowDispatch(rows: number, caps: Pick<DeviceCaps, 'maxComputeWorkgroupsPerDimension'>): [number, number, number] {
  return dispatch1d(rows, 1, caps);
}

/** The smallest power of two ≥ n (n ≥ 1). */
export function pow2Ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Reduce* and ArgMax/ArgMin

const REDUCE_OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2',
  'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];
const ARG_OPS = ['ArgMax', 'ArgMin'];

/** Per op: the value each element contributes, how contributions combine, and the final map. */
interface Reducer {
  combine: Combine;
  pre(x: string): string;
  post(acc: string, n: number): string;
  refPre(x: number): number;
  refPost(acc: number, n: number): number;
}

const id = (x: string): string => x;
const REDUCERS: Record<string, Reducer> = {
  ReduceSum: { combine: 'sum', pre: id, post: id, refPre: (x) => x, refPost: (a) => a },
  ReduceMean: { combine: 'sum', pre: id, post: (a, n) => `(${a} / ${n}.0)`, refPre: (x) => x, refPost: (a, n) => a / n },
  ReduceMax: { combine: 'max', pre: id, post: id, refPre: (x) => x, refPost: (a) => a },
  ReduceMin: { combine: 'min', pre: id, post: id, refPre: (x) => x, refPost: (a) => a },
  ReduceProd: { combine: 'prod', pre: id, post: id, refPre: (x) => x, refPost: (a) => a },
  ReduceL1: { combine: 'sum', pre: (x) => `abs(${x})`, post: id, refPre: Math.abs, refPost: (a) => a },
  ReduceL2: { combine: 'sum', pre: (x) => `(${x} * ${x})`, post: (a) => `sqrt(${a})`, refPre: (x) => x * x, refPost: Math.sqrt },
  ReduceLogSum: { combine: 'sum', pre: id, post: (a) => `log(${a})`, refPre: (x) => x, refPost: Math.log },
  ReduceSumSquare: { combine: 'sum', pre: (x) => `(${x} * ${x})`, post: id, refPre: (x) => x * x, refPost: (a) => a },
  // LogSumExp is max-shifted (two reductions); see lseBody.
  ReduceLogSumExp: { combine: 'sum', pre: id, post: id, refPre: (x) => x, refPost: (a) => a },
};

const INT_OK = new Set(['ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ArgMax', 'ArgMin']);

/**
 * The reduction as index arithmetic: adjacent dims of the same kind (kept / reduced) merged, so
 * an output's input offset is Σ over kept groups and a reduction step's Σ over reduced groups.
 */
export interface ReduceGeometry {
  /** Outputs and elements per output. */
  outputs: number;
  size: number;
  kept: Array<{ dim: number; stride: number }>;
  reduced: Array<{ dim: number; stride: number }>;
  /** No reduction at all (noop_with_empty_axes with empty axes): a copy. */
  noop: boolean;
}

function axesOf(c: LayerCase): number[] | undefined {
  const l = c.layer;
  if (ARG_OPS.includes(l.op)) {
    const rank = l.inputs[0]!.shape.length;
    const a = typeof l.attrs.axis === 'number' ? l.attrs.axis : 0;
    return [a < 0 ? a + rank : a];
  }
  const a = l.attrs.axes;
  return Array.isArray(a) ? (a as number[]) : undefined;
}

export function reduceGeometry(shape: readonly number[], axes: readonly number[]): ReduceGeometry {
  const st = stridesOf(shape);
  const kept: ReduceGeometry['kept'] = [];
  const reduced: ReduceGeometry['reduced'] = [];
  let prevKind: 'k' | 'r' | undefined;
  shape.forEach((d, i) => {
    if (d === 1) return; // size-1 dims contribute nothing either way
    const kind = axes.includes(i) ? 'r' : 'k';
    const list = kind === 'k' ? kept : reduced;
    if (prevKind === kind) {
      const last = list[list.length - 1];
      last.dim *= d;
      last.stride = st[i];
    } else {
      list.push({ dim: d, stride: st[i] });
    }
    prevKind = kind;
  });
  const prod = (l: Array<{ dim: number }>): number => l.reduce((a, g) => a * g.dim, 1);
  return { outputs: prod(kept), size: prod(reduced), kept, reduced, noop: axes.length === 0 };
}

/** WGSL expression: Σ over groups of (index unravelled from `v`) × stride. */
function offsetExpr(groups: ReduceGeometry['kept'], v: string): string {
  if (groups.length === 0) return '0u';
  const terms: string[] = [];
  let inner = 1;
  for (let g = groups.length - 1; g >= 0; g--) {
    const { dim, stride } = groups[g];
    const idx = inner === 1 ? (g === 0 ? v : `(${v} % ${dim}u)`) : g === 0 ? `(${v} / ${inner}u)` : `((${v} / ${inner}u) % ${dim}u)`;
    terms.push(stride === 1 ? idx : `${idx} * ${stride}u`);
    inner *= dim;
  }
  return terms.join(' + ');
}

function reduceCompute(c: LayerCase): GpuType {
  const t = gpuTypeOf(c.layer.inputs[0]!.dtype);
  return t === 'f16' ? 'f32' : t;
}

function initOf(op: Combine, t: GpuType): string {
  if (op === 'sum') return t === 'f32' ? '0.0' : t === 'i32' ? '0i' : '0u';
  if (op === 'prod') return t === 'f32' ? '1.0' : t === 'i32' ? '1i' : '1u';
  const big = op === 'max' ? -1 : 1;
  if (t === 'f32') return big < 0 ? '-3.4028234663852886e38' : '3.4028234663852886e38';
  if (t === 'i32') return big < 0 ? '(-2147483647i - 1i)' : '2147483647i';
  return big < 0 ? '0u' : '4294967295u';
}

function reduceSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const x = l.inputs[0];
  if (!x) return unsupported('input is missing');
  const axes = axesOf(c);
  if (!axes) return unsupported('axes are not a known constant');
  const dt = x.dtype;
  const float = dt === 'float32' || dt === 'float16';
  if (!float && !(INT_OK.has(l.op) && (dt === 'int32' || dt === 'int64' || dt === 'uint32'))) return unsupported(`${l.op} on ${dt} is not supported`);
  if (dt === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  if (elements(x) === 0) return unsupported('empty tensor');
  const bytes = elements(x) * (dt === 'float16' ? 2 : 4);
  if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte binding limit`);
  const g = reduceGeometry(x.shape, axes);
  switch (variant) {
    case 'naive': case 'workgroup': return supported;
    case 'vec4': {
      if (ARG_OPS.includes(l.op)) return unsupported('ArgMax/ArgMin have no vec4 form');
      if (g.noop) return unsupported('no reduction');
      const vk = vec4Kind(g);
      return vk ? supported : unsupported('neither the reduced run nor the kept run innermost is contiguous with a length divisible by 4');
    }
    default: return unsupported(`unknown variant ${variant}`);
  }
}

/**
 * vec4 form: 'rows' when the innermost group is reduced and contiguous (stride 1) with size % 4 = 0
 * (each invocation reads its reduction as vec4s); 'columns' when the innermost group is kept with
 * size % 4 = 0 (each invocation computes four adjacent outputs from vec4 loads).
 */
function vec4Kind(g: ReduceGeometry): 'rows' | 'columns' | undefined {
  const r = g.reduced[g.reduced.length - 1];
  const k = g.kept[g.kept.length - 1];
  if (r && r.stride === 1 && r.dim % 4 === 0 && g.reduced.length === 1) return 'rows';
  if (k && k.stride === 1 && k.dim % 4 === 0) return 'columns';
  return undefined;
}

function reduceIo(c: LayerCase, inVec: boolean, outVec: boolean): { decls: string; st: GpuType; ot: GpuType } {
  const st = gpuTypeOf(c.layer.inputs[0]!.dtype);
  const ot = gpuTypeOf(c.layer.outputs[0].dtype);
  return {
    st, ot,
    decls: `@group(0) @binding(0) var<storage, read> x: array<${inVec ? `vec4<${st}>` : st}>;\n@group(0) @binding(1) var<storage, read_write> y: array<${outVec ? `vec4<${ot}>` : ot}>;`,
  };
}

/** Converts a loaded value to the compute type. */
function cv(st: GpuType, ct: GpuType, e: string, vec = false): string {
  return st === ct ? e : `${vec ? `vec4<${ct}>` : ct}(${e})`;
}

function storeOut(ot: GpuType, ct: GpuType, e: string, vec = false): string {
  return ot === ct ? e : `${vec ? `vec4<${ot}>` : ot}(${e})`;
}

/** naive: one invocation per output. */
function naiveWgsl(c: LayerCase, g: ReduceGeometry, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const { decls, st, ot } = reduceIo(c, false, false);
  const ct = reduceCompute(c);
  const ld = (e: string): string => cv(st, ct, `x[${e}]`);
  let body: string;
  const obase = `let ob = ${offsetExpr(g.kept, 'gid')};`;
  const at = (r: string): string => `ob + ${offsetExpr(g.reduced, r)}`;
  if (g.noop) {
    body = `  y[gid] = ${storeOut(ot, ct, ld('gid'))};`;
  } else if (ARG_OPS.includes(l.op)) {
    const max = l.op === 'ArgMax';
    const last = c.layer.attrs.select_last_index === 1;
    body = `  ${obase}
  var best = ${ld(at('0u'))};
  var bi = 0u;
  for (var r = 1u; r < ${g.size}u; r++) {
    let v = ${ld(at('r'))};
    if (v ${max ? '>' : '<'}${last ? '=' : ''} best) { best = v; bi = r; }
  }
  y[gid] = i32(bi);`;
  } else if (l.op === 'ReduceLogSumExp') {
    body = `  ${obase}
  var m = ${initOf('max', ct)};
  for (var r = 0u; r < ${g.size}u; r++) { m = max(m, ${ld(at('r'))}); }
  var s = 0.0;
  for (var r = 0u; r < ${g.size}u; r++) { s += exp(${ld(at('r'))} - m); }
  y[gid] = ${storeOut(ot, ct, 'm + log(s)')};`;
  } else {
    const red = REDUCERS[l.op];
    body = `  ${obase}
  var acc = ${initOf(red.combine, ct)};
  for (var r = 0u; r < ${g.size}u; r++) { let v = ${ld(at('r'))}; acc = ${combineExpr(red.combine, 'acc', red.pre('v'))}; }
  y[gid] = ${storeOut(ot, ct, red.post('acc', g.size))};`;
  }
  const n = g.noop ? elements(l.inputs[0]!) : g.outputs;
  const wgsl = `${header([st, ot])}${decls}\n\n${entry1d(64, n, body)}\n`;
  return { passes: [{ label: `reduce/naive ${l.op}`, wgsl, workgroups: dispatch1d(n, 64, caps), buffers: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }] }], scratch: [] };
}

/** vec4: rows (vec4 reads along the reduction) or columns (four adjacent outputs per invocation). */
function vec4Wgsl(c: LayerCase, g: ReduceGeometry, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const kind = vec4Kind(g)!;
  const ct = reduceCompute(c);
  const V = `vec4<${ct}>`;
  const lse = l.op === 'ReduceLogSumExp';
  const red = REDUCERS[l.op];
  let body: string;
  let n: number;
  const { decls, st, ot } = reduceIo(c, true, kind === 'columns');
  const ld = (e: string): string => cv(st, ct, `x[${e}]`, true);
  if (kind === 'rows') {
    // Reduced run innermost, contiguous: offsets in vec4 units.
    n = g.outputs;
    const q = g.size / 4;
    const ob = `let ob = (${offsetExpr(g.kept, 'gid')}) / 4u;`;
    const hred = (op: Combine, v: string): string => combineExpr(op, combineExpr(op, `${v}.x`, `${v}.y`), combineExpr(op, `${v}.z`, `${v}.w`));
    if (lse) {
      body = `  ${ob}
  var mv = ${V}(${initOf('max', ct)});
  for (var r = 0u; r < ${q}u; r++) { mv = max(mv, ${ld('ob + r')}); }
  let m = ${hred('max', 'mv')};
  var sv = ${V}(0.0);
  for (var r = 0u; r < ${q}u; r++) { sv += exp(${ld('ob + r')} - m); }
  y[gid] = ${storeOut(ot, ct, `m + log(${hred('sum', 'sv')})`)};`;
    } else {
      body = `  ${ob}
  var acc = ${V}(${initOf(red.combine, ct)});
  for (var r = 0u; r < ${q}u; r++) { let v = ${ld('ob + r')}; acc = ${combineExpr(red.combine, 'acc', red.pre('v'))}; }
  y[gid] = ${storeOut(ot, ct, red.post(hred(red.combine, 'acc'), g.size))};`;
    }
  } else {
    // Kept run innermost: invocation gid computes outputs 4·gid … 4·gid + 3 (vec4 offsets).
    n = g.outputs / 4;
    const ob = `let ob = ${offsetExpr(g.kept, 'gid * 4u')};`;
    const at = (r: string): string => `(ob + ${offsetExpr(g.reduced, r)}) / 4u`;
    if (lse) {
      body = `  ${ob}
  var m = ${V}(${initOf('max', ct)});
  for (var r = 0u; r < ${g.size}u; r++) { m = max(m, ${ld(at('r'))}); }
  var s = ${V}(0.0);
  for (var r = 0u; r < ${g.size}u; r++) { s += exp(${ld(at('r'))} - m); }
  y[gid] = ${storeOut(ot, ct, 'm + log(s)', true)};`;
    } else {
      body = `  ${ob}
  var acc = ${V}(${initOf(red.combine, ct)});
  for (var r = 0u; r < ${g.size}u; r++) { let v = ${ld(at('r'))}; acc = ${combineExpr(red.combine, 'acc', red.pre('v'))}; }
  y[gid] = ${storeOut(ot, ct, red.post('acc', g.size), true)};`;
    }
  }
  const wgsl = `${header([st, ot])}${decls}\n\n${entry1d(64, n, body)}\n`;
  return { passes: [{ label: `reduce/vec4 ${l.op}`, wgsl, workgroups: dispatch1d(n, 64, caps), buffers: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }] }], scratch: [] };
}

/**
 * Workgroup size for one workgroup per row/output: 16 invocations, up to 64 for reductions past
 * 8k elements. Tuned on lavapipe, where a barrier switches the coroutine of every subgroup of the
 * workgroup (subgroups of 8): a row softmax of 197 took ~5 ms at 16 invocations, ~12 ms at 32 and
 * ~15 ms at 64; a 768-wide LayerNorm 0.6 ms at 8–16, 1.0 ms at 32–64. GPUs would prefer 64–256,
 * which the `subgroup` variants approximate (one 32-wide subgroup per row there).
 */
export function reduceWorkgroupSize(size: number): number {
  return Math.max(16, Math.min(64, pow2Ceil(Math.ceil(size / 128))));
}

/**
 * WGSL `fn name(v: T, i: u32) -> u32`: the index of the workgroup's best value (largest for
 * `max`, else smallest), ties to the smallest index (or the largest with `last`).
 */
function wgArgFn(name: string, T: string, max: boolean, last: boolean, wg: number, subgroups: boolean): string {
  const better = (v: string, i: string, bv: string, bi: string): string =>
    `(${v} ${max ? '>' : '<'} ${bv} || (${v} == ${bv} && ${i} ${last ? '>' : '<'} ${bi}))`;
  if (subgroups) {
    return `var<workgroup> ${name}_v: array<${T}, ${wg}>;
var<workgroup> ${name}_i: array<u32, ${wg}>;
fn ${name}(v: ${T}, i: u32) -> u32 {
  let m = ${max ? 'subgroupMax' : 'subgroupMin'}(v);
  let si = ${last ? 'subgroupMax' : 'subgroupMin'}(select(${last ? '0u' : '4294967295u'}, i, v == m));
  if (g_lane == 0u) { ${name}_v[g_sgid] = m; ${name}_i[g_sgid] = si; }
  workgroupBarrier();
  var bv = ${name}_v[0];
  var bi = ${name}_i[0];
  for (var k = 1u; k < g_nsg; k++) {
    let v2 = ${name}_v[k];
    let i2 = ${name}_i[k];
    if ${better('v2', 'i2', 'bv', 'bi')} { bv = v2; bi = i2; }
  }
  return bi;
}`;
  }
  return `var<workgroup> ${name}_v: array<${T}, ${wg}>;
var<workgroup> ${name}_i: array<u32, ${wg}>;
fn ${name}(v: ${T}, i: u32) -> u32 {
  ${name}_v[g_lid] = v;
  ${name}_i[g_lid] = i;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (g_lid < s) {
      let v2 = ${name}_v[g_lid + s];
      let i2 = ${name}_i[g_lid + s];
      if ${better('v2', 'i2', `${name}_v[g_lid]`, `${name}_i[g_lid]`)} { ${name}_v[g_lid] = v2; ${name}_i[g_lid] = i2; }
    }
    workgroupBarrier();
  }
  return ${name}_i[0];
}`;
}

/** workgroup: one workgroup per output, invocations strided over the reduction. */
function workgroupWgsl(c: LayerCase, g: ReduceGeometry, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const { decls, st, ot } = reduceIo(c, false, false);
  const ct = reduceCompute(c);
  const sg = caps.subgroups;
  const wg = reduceWorkgroupSize(g.size);
  const ld = (e: string): string => cv(st, ct, `x[${e}]`);
  const at = (r: string): string => `ob + ${offsetExpr(g.reduced, r)}`;
  let fns: string;
  let body: string;
  if (g.noop) {
    fns = '';
    body = `  if (lid == 0u) { y[row] = ${storeOut(ot, ct, ld('row'))}; }`;
  } else if (ARG_OPS.includes(l.op)) {
    const max = l.op === 'ArgMax';
    const last = c.layer.attrs.select_last_index === 1;
    fns = wgArgFn('red_arg', ct, max, last, wg, sg);
    body = `  let ob = ${offsetExpr(g.kept, 'row')};
  var best = ${initOf(max ? 'max' : 'min', ct)};
  var bi = ${last ? '0u' : '4294967295u'};
  if (lid < ${g.size}u) { best = ${ld(at('lid'))}; bi = lid; }
  for (var r = lid + ${wg}u; r < ${g.size}u; r += ${wg}u) {
    let v = ${ld(at('r'))};
    if (v ${max ? '>' : '<'}${last ? '=' : ''} best) { best = v; bi = r; }
  }
  let k = red_arg(best, bi);
  if (lid == 0u) { y[row] = i32(k); }`;
  } else if (l.op === 'ReduceLogSumExp') {
    fns = `${wgReduceFn('red_max', ct, 'max', wg, sg)}\n\n${wgReduceFn('red_sum', ct, 'sum', wg, sg)}`;
    body = `  let ob = ${offsetExpr(g.kept, 'row')};
  var m = ${initOf('max', ct)};
  for (var r = lid; r < ${g.size}u; r += ${wg}u) { m = max(m, ${ld(at('r'))}); }
  m = red_max(m);
  var s = 0.0;
  for (var r = lid; r < ${g.size}u; r += ${wg}u) { s += exp(${ld(at('r'))} - m); }
  s = red_sum(s);
  if (lid == 0u) { y[row] = ${storeOut(ot, ct, 'm + log(s)')}; }`;
  } else {
    const red = REDUCERS[l.op];
    fns = wgReduceFn('red', ct, red.combine, wg, sg);
    body = `  let ob = ${offsetExpr(g.kept, 'row')};
  var acc = ${initOf(red.combine, ct)};
  for (var r = lid; r < ${g.size}u; r += ${wg}u) { let v = ${ld(at('r'))}; acc = ${combineExpr(red.combine, 'acc', red.pre('v'))}; }
  acc = red(acc);
  if (lid == 0u) { y[row] = ${storeOut(ot, ct, red.post('acc', g.size))}; }`;
  }
  const n = g.noop ? elements(l.inputs[0]!) : g.outputs;
  const wgsl = `${header([st, ot])}${subgroupHeader(sg)}${decls}\n\n${fns}\n\n${rowEntry(wg, sg, n, body)}\n`;
  return { passes: [{ label: `reduce/workgroup ${l.op}`, wgsl, workgroups: rowDispatch(n, caps), buffers: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }] }], scratch: [] };
}

function reducePlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const g = reduceGeometry(c.layer.inputs[0]!.shape, axesOf(c)!);
  if (variant === 'naive') return naiveWgsl(c, g, caps);
  if (variant === 'vec4') return vec4Wgsl(c, g, caps);
  return workgroupWgsl(c, g, caps);
}

function reduceReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const l = c.layer;
  const x = inputs[0]!;
  const shape = x.shape;
  const axes = axesOf(c)!;
  const out = l.outputs[0];
  const isFloat = out.dtype === 'float32' || out.dtype === 'float16';
  const n = elements(out);
  const y = isFloat ? new Float32Array(n) : new Int32Array(n);
  if (axes.length === 0) {
    y.set(x.data as ArrayLike<number>);
    return [{ dtype: out.dtype, shape: [...out.shape], data: y }];
  }
  // Group input elements by output (kept-dims index), in reduction order.
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const kst = stridesOf(kept);
  const groups: number[][] = Array.from({ length: n }, () => []);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (let i = 0; i < shape.length; i++) if (!axes.includes(i)) o += idx[i] * kst[i];
    groups[o].push(x.data[k]);
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
  groups.forEach((vals, o) => {
    if (ARG_OPS.includes(l.op)) {
      const max = l.op === 'ArgMax';
      const last = l.attrs.select_last_index === 1;
      let bi = 0;
      for (let r = 1; r < vals.length; r++) {
        const v = vals[r];
        const b = vals[bi];
        if (max ? v > b || (last && v === b) : v < b || (last && v === b)) bi = r;
      }
      y[o] = bi;
    } else if (l.op === 'ReduceLogSumExp') {
      const m = Math.max(...vals);
      y[o] = m + Math.log(vals.reduce((a, v) => a + Math.exp(v - m), 0));
    } else {
      const red = REDUCERS[l.op];
      const init = red.combine === 'sum' ? 0 : red.combine === 'prod' ? 1 : red.combine === 'max' ? -Infinity : Infinity;
      let acc = init;
      for (const v of vals) {
        const p = red.refPre(v);
        acc = red.combine === 'sum' ? acc + p : red.combine === 'prod' ? acc * p : red.combine === 'max' ? Math.max(acc, p) : Math.min(acc, p);
      }
      y[o] = red.refPost(acc, vals.length);
    }
  });
  return [{ dtype: out.dtype, shape: [...out.shape], data: y }];
}

export const kernels: Kernel[] = [{
  name: 'reduce',
  ops: [...REDUCE_OPS, ...ARG_OPS],
  variants: [
    { name: 'naive', description: 'one invocation per output, a loop over its reduction' },
    { name: 'vec4', description: 'one invocation per output (or four adjacent outputs) with vec4 loads along the contiguous run' },
    { name: 'workgroup', description: 'one workgroup per output: strided partial reductions, then a subgroup or shared-memory tree reduction' },
  ],
  defaultVariant: (c) => {
    const axes = axesOf(c);
    return axes && reduceGeometry(c.layer.inputs[0]!.shape, axes).size >= 1024 ? 'workgroup' : 'naive';
  },
  supports: reduceSupports,
  plan: reducePlan,
  reference: reduceReference,
  // A log of a sum, a root of a sum of squares: positive terms.
  inputDomain: (op, i) => (i === 0 && (op === 'ReduceLogSum' || op === 'ReduceL2') ? [0.1, 1] : undefined),
  // One add, multiply-add or comparison per input element (the final map per output not counted).
  cost: perInputElement,
}];
