/**
 * Normalizations.
 *
 * `batchnorm` — BatchNormalization in inference form: y = (x − mean_c)·scale_c/√(var_c + ε) + B_c.
 *  - `naive`: one element per invocation, the per-channel square root and division per element.
 *  - `fused-affine`: a first pass folds the four per-channel vectors into y = a_c·x + b_c
 *    (a = scale/√(var + ε), b = B − mean·a, into scratch); the second pass is one multiply-add per
 *    element, four elements per invocation with vec4 access when the spatial size allows.
 *
 * `normalization` — the row normalizations: LayerNormalization (a row is X[i, axis…]),
 * InstanceNormalization (a row is one (n, c) plane) and GroupNormalization (a row is one (n, g):
 * C/G consecutive planes, contiguous in NCHW). They differ only in where scale and bias come from.
 *  - `two-pass`: one invocation per row: mean, then Σ(x − mean)², then the output (exact).
 *  - `workgroup`: one workgroup per row; each invocation keeps its share of the row in registers
 *    when it fits; one reduction of (Σd, Σd²) with d = x − x₀ (the row's first element: shifting
 *    by a value of the row keeps E[d²] − E[d]² free of the cancellation of the raw sums — the
 *    "shifted data" algorithm, Chan, Golub & LeVeque 1983), through subgroup operations when
 *    available, else a shared-memory tree.
 *  - `subgroup`: one subgroup per row, several rows per workgroup, no barriers.
 * Rows whose length is a multiple of 4 are read and written as vec4s.
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuTypeOf, header, prod } from './wgsl.js';
import { reduceWorkgroupSize, rowDispatch, rowEntry, subgroupHeader, wgReduceFn } from './reduce.js';
import { count } from './flops.js';

const num = (c: LayerCase, k: string, d: number): number => (typeof c.layer.attrs[k] === 'number' ? (c.layer.attrs[k] as number) : d);

function floatCheck(c: LayerCase, caps: DeviceCaps): Support {
  for (const t of [...c.layer.inputs, ...c.layer.outputs]) {
    if (!t) continue;
    if (t.dtype !== 'float32' && t.dtype !== 'float16') return unsupported(`${t.dtype} is not supported (float32, float16)`);
    if (t.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
    const bytes = elements(t) * (t.dtype === 'float16' ? 2 : 4);
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte binding limit`);
  }
  if (elements(c.layer.inputs[0]!) === 0) return unsupported('empty tensor');
  return supported;
}

function binding(i: number, name: string, type: string, write = false): string {
  return `@group(0) @binding(${i}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;
}

const ld = (st: GpuType, e: string, vec = false): string => (st === 'f32' ? e : `${vec ? 'vec4<f32>' : 'f32'}(${e})`);
const sv = (st: GpuType, e: string, vec = false): string => (st === 'f32' ? e : `${vec ? `vec4<${st}>` : st}(${e})`);

// ---------------------------------------------------------------------------------------------
// BatchNormalization

function bnGeometry(c: LayerCase): { C: number; spatial: number; n: number } {
  const s = c.layer.inputs[0]!.shape;
  return { C: s.length > 1 ? s[1] : 1, spatial: prod(s.slice(2)), n: prod(s) };
}

function bnSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  if (l.outputs.length > 1 || num(c, 'training_mode', 0) !== 0) return unsupported('training-mode BatchNormalization (running statistics) is not supported');
  if (num(c, 'spatial', 1) === 0) return unsupported('spatial=0 (per-activation statistics) is not supported');
  if (l.inputs.slice(0, 5).some((t) => !t)) return unsupported('all five inputs are required');
  const { C } = bnGeometry(c);
  for (let i = 1; i < 5; i++) if (elements(l.inputs[i]!) !== C) return unsupported(`input ${i} has ${elements(l.inputs[i]!)} elements, not ${C}`);
  const s = floatCheck(c, caps);
  if (!s.ok) return s;
  if (variant === 'naive' || variant === 'fused-affine') return supported;
  return unsupported(`unknown variant ${variant}`);
}

function bnPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const { C, spatial, n } = bnGeometry(c);
  const eps = num(c, 'epsilon', 1e-5);
  const xt = gpuTypeOf(l.inputs[0]!.dtype);
  const pt = l.inputs.slice(1, 5).map((t) => gpuTypeOf(t!.dtype));
  const label = `batchnorm/${variant} BatchNormalization`;
  const params = ['scale', 'bias', 'mean', 'vr'];
  const inputs = [0, 1, 2, 3, 4].map((index) => ({ kind: 'input' as const, index }));
  if (variant === 'naive') {
    const decl = [binding(0, 'x', xt), ...params.map((p, i) => binding(i + 1, p, pt[i])), binding(5, 'y', xt, true)].join('\n');
    const body = `  let ch = (gid / ${spatial}u) % ${C}u;
  let v = ${ld(xt, 'x[gid]')};
  let r = (v - ${ld(pt[2], 'mean[ch]')}) / sqrt(${ld(pt[3], 'vr[ch]')} + ${eps}) * ${ld(pt[0], 'scale[ch]')} + ${ld(pt[1], 'bias[ch]')};
  y[gid] = ${sv(xt, 'r')};`;
    const wgsl = `${header([xt, ...pt])}${decl}\n\n${entry1d(256, n, body)}\n`;
    return { passes: [{ label, wgsl, workgroups: dispatch1d(n, 256, caps), buffers: [...inputs, { kind: 'output', index: 0 }] }], scratch: [] };
  }
  // fused-affine: fold into (a, b) per channel, then one multiply-add per element.
  const fold = `${header(pt)}${[...params.map((p, i) => binding(i, p, pt[i])), binding(4, 'ab', 'vec2<f32>', true)].join('\n')}

${entry1d(64, C, `  let a = ${ld(pt[0], 'scale[gid]')} / sqrt(${ld(pt[3], 'vr[gid]')} + ${eps});
  ab[gid] = vec2<f32>(a, ${ld(pt[1], 'bias[gid]')} - ${ld(pt[2], 'mean[gid]')} * a);`)}
`;
  const vec = spatial % 4 === 0;
  const total = vec ? n / 4 : n;
  const t = vec ? `vec4<${xt}>` : xt;
  const body = vec
    ? `  let k = ab[(gid * 4u / ${spatial}u) % ${C}u];\n  y[gid] = ${sv(xt, `${ld(xt, 'x[gid]', true)} * k.x + k.y`, true)};`
    : `  let k = ab[(gid / ${spatial}u) % ${C}u];\n  y[gid] = ${sv(xt, `${ld(xt, 'x[gid]')} * k.x + k.y`)};`;
  const apply = `${header([xt])}${[binding(0, 'x', t), binding(1, 'ab', 'vec2<f32>'), binding(2, 'y', t, true)].join('\n')}

${entry1d(256, total, body)}
`;
  const passes: Pass[] = [
    { label: `${label} fold`, wgsl: fold, workgroups: dispatch1d(C, 64, caps), buffers: [...inputs.slice(1), { kind: 'scratch', index: 0 }] },
    { label: `${label} apply`, wgsl: apply, workgroups: dispatch1d(total, 256, caps), buffers: [inputs[0], { kind: 'scratch', index: 0 }, { kind: 'output', index: 0 }] },
  ];
  return { passes, scratch: [C * 8] };
}

function bnReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const [x, scale, bias, mean, vr] = inputs as HostTensor[];
  const { C, spatial } = bnGeometry(c);
  const eps = num(c, 'epsilon', 1e-5);
  const y = new Float32Array(x.data.length);
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / spatial) % C;
    y[i] = (x.data[i] - mean.data[ch]) / Math.sqrt(vr.data[ch] + eps) * scale.data[ch] + bias.data[ch];
  }
  return [{ dtype: x.dtype, shape: [...x.shape], data: y }];
}

// ---------------------------------------------------------------------------------------------
// Row normalizations: LayerNormalization, InstanceNormalization, GroupNormalization

type Affine =
  | { kind: 'column' } // LayerNorm: scale[k]
  | { kind: 'row'; period: number } // per row: scale[row % period] (InstanceNorm: C; GroupNorm-18: G)
  | { kind: 'channel'; groups: number; perGroup: number; spatial: number }; // GroupNorm-21: scale[(row % G)·C/G + k / spatial]

interface NormGeometry {
  rows: number;
  len: number;
  eps: number;
  affine: Affine;
  /** Rows read and written as vec4s. */
  vec: boolean;
  hasBias: boolean;
}

function normGeometry(c: LayerCase): NormGeometry | string {
  const l = c.layer;
  const s = l.inputs[0]!.shape;
  const eps = num(c, 'epsilon', 1e-5);
  const scaleN = l.inputs[1] ? elements(l.inputs[1]) : -1;
  const biasN = l.inputs[2] ? elements(l.inputs[2]) : -1;
  let g: NormGeometry;
  if (l.op === 'LayerNormalization') {
    const raw = num(c, 'axis', -1);
    const axis = raw < 0 ? raw + s.length : raw;
    const len = prod(s.slice(axis));
    g = { rows: prod(s.slice(0, axis)), len, eps, affine: { kind: 'column' }, vec: len % 4 === 0, hasBias: biasN >= 0 };
    if (scaleN !== len || (biasN >= 0 && biasN !== len)) return `scale/bias of ${scaleN}/${biasN} elements do not cover the ${len}-element rows (broadcast affine is not supported)`;
  } else if (s.length < 2) {
    return `input of rank ${s.length} has no channel dimension`;
  } else if (l.op === 'InstanceNormalization') {
    const C = s[1];
    const len = prod(s.slice(2));
    g = { rows: s[0] * C, len, eps, affine: { kind: 'row', period: C }, vec: len % 4 === 0, hasBias: true };
    if (scaleN !== C || biasN !== C) return `scale/bias must have C = ${C} elements`;
  } else {
    const G = num(c, 'num_groups', 1);
    const C = s[1];
    const spatial = prod(s.slice(2));
    const len = (C / G) * spatial;
    const affine: Affine = scaleN === C && C !== G ? { kind: 'channel', groups: G, perGroup: C / G, spatial } : { kind: 'row', period: G };
    if (scaleN !== C && scaleN !== G) return `scale has ${scaleN} elements: neither C = ${C} nor num_groups = ${G}`;
    if (biasN !== scaleN) return 'scale and bias differ in length';
    g = { rows: s[0] * G, len, eps, affine, vec: len % 4 === 0 && (affine.kind !== 'channel' || spatial % 4 === 0), hasBias: true };
  }
  return g;
}

/** Statistics outputs (LayerNormalization's Mean and InvStdDev) present in the layer. */
function statOutputs(c: LayerCase): number {
  return c.layer.op === 'LayerNormalization' ? c.layer.outputs.length - 1 : 0;
}

interface RowIo {
  decls: string;
  types: GpuType[];
  buffers: Array<{ kind: 'input' | 'output'; index: number }>;
}

function rowIo(c: LayerCase, g: NormGeometry): RowIo {
  const l = c.layer;
  const xt = gpuTypeOf(l.inputs[0]!.dtype);
  const st = gpuTypeOf(l.inputs[1]!.dtype);
  const vecAffine = g.vec && g.affine.kind === 'column';
  const decls: string[] = [];
  const buffers: RowIo['buffers'] = [];
  const add = (kind: 'input' | 'output', index: number, name: string, type: string): void => {
    decls.push(binding(buffers.length, name, type, kind === 'output'));
    buffers.push({ kind, index });
  };
  add('input', 0, 'x', g.vec ? `vec4<${xt}>` : xt);
  add('input', 1, 'sc', vecAffine ? `vec4<${st}>` : st);
  if (g.hasBias) add('input', 2, 'bi', vecAffine ? `vec4<${gpuTypeOf(l.inputs[2]!.dtype)}>` : gpuTypeOf(l.inputs[2]!.dtype));
  add('output', 0, 'y', g.vec ? `vec4<${xt}>` : xt);
  const types: GpuType[] = [xt, st];
  for (let o = 1; o <= statOutputs(c); o++) {
    const t = gpuTypeOf(l.outputs[o].dtype);
    types.push(t);
    add('output', o, o === 1 ? 'mean_out' : 'inv_out', t);
  }
  return { decls: decls.join('\n'), types, buffers };
}

/**
 * WGSL statements for one row (`row`, shared by `p` invocations numbered `lane`, reductions via
 * `red`). `mode`: 'two-pass' (exact: mean, then the centred sum of squares) or 'shifted' (one pass
 * of shifted sums); `cache` > 0 keeps that many units per invocation in registers.
 */
function rowNormBody(c: LayerCase, g: NormGeometry, o: { mode: 'two-pass' | 'shifted'; red: string; cache: number }): string {
  const l = c.layer;
  const xt = gpuTypeOf(l.inputs[0]!.dtype);
  const st = gpuTypeOf(l.inputs[1]!.dtype);
  const bt = g.hasBias ? gpuTypeOf(l.inputs[2]!.dtype) : 'f32';
  const vec = g.vec;
  const U = vec ? g.len / 4 : g.len;
  const T = vec ? 'vec4<f32>' : 'f32';
  const zero = vec ? 'vec4<f32>(0.0)' : '0.0';
  const hsum = (e: string): string => (vec ? `dot(${e}, vec4<f32>(1.0))` : e);
  const load = (u: string): string => ld(xt, `x[base + ${u}]`, vec);
  // Scale and bias at unit u (element k = u·4 in vec4 mode).
  let scale: string;
  let bias: string;
  let rowAffine = '';
  const a = g.affine;
  if (a.kind === 'column') {
    scale = ld(st, 'sc[u]', vec);
    bias = g.hasBias ? ld(bt, 'bi[u]', vec) : '0.0';
  } else if (a.kind === 'row') {
    rowAffine = `let rsc = ${ld(st, `sc[row % ${a.period}u]`)};\n    let rbi = ${ld(bt, `bi[row % ${a.period}u]`)};`;
    scale = 'rsc';
    bias = 'rbi';
  } else {
    const ch = `(row % ${a.groups}u) * ${a.perGroup}u + ${vec ? 'u * 4u' : 'u'} / ${a.spatial}u`;
    scale = ld(st, `sc[${ch}]`);
    bias = ld(bt, `bi[${ch}]`);
  }
  const loop = (stmt: string): string => (o.cache > 0
    ? `for (var j = 0u; j < ${o.cache}u; j++) {
      let u = lane + j * p;
      if (u < ${U}u) { ${stmt} }
    }`
    : `for (var u = lane; u < ${U}u; u += p) { ${stmt} }`);
  const val = o.cache > 0 ? 'v[j]' : load('u');
  let stats: string;
  if (o.mode === 'two-pass') {
    stats = `var s1 = ${zero};
    ${loop(`${o.cache > 0 ? `v[j] = ${load('u')}; ` : ''}s1 += ${val};`)}
    let mean = ${o.red}(${hsum('s1')}) / ${g.len}.0;
    var s2 = ${zero};
    ${loop(`let d = ${val} - mean; s2 += d * d;`)}
    let variance = ${o.red}(${hsum('s2')}) / ${g.len}.0;`;
  } else {
    stats = `let shift = ${ld(xt, vec ? 'x[base].x' : 'x[base]')};
    var s1 = ${zero};
    var s2 = ${zero};
    ${loop(`${o.cache > 0 ? `v[j] = ${load('u')}; ` : ''}let d = ${val} - shift; s1 += d; s2 += d * d;`)}
    let t = ${o.red}(vec2<f32>(${hsum('s1')}, ${hsum('s2')})) / ${g.len}.0;
    let mean = shift + t.x;
    let variance = max(t.y - t.x * t.x, 0.0);`;
  }
  const nStats = statOutputs(c);
  const statTypes = [1, 2].map((i) => (i <= nStats ? gpuTypeOf(l.outputs[i].dtype) : 'f32'));
  const writeStats = nStats ? `if (lane == 0u) {
      mean_out[row] = ${sv(statTypes[0], 'mean')};
      ${nStats > 1 ? `inv_out[row] = ${sv(statTypes[1], 'inv')};` : ''}
    }` : '';
  return `{
    let base = row * ${U}u;
    ${rowAffine}
    ${o.cache > 0 ? `var v: array<${T}, ${o.cache}>;` : ''}
    ${stats}
    let inv = inverseSqrt(variance + ${g.eps});
    ${loop(`y[base + u] = ${sv(xt, `(${val} - mean) * inv * ${scale} + ${bias}`, vec)};`)}
    ${writeStats}
  }`;
}

const SG_WG = 64;
const SG_ASSUMED = 8;
const MAX_CACHED_FLOATS = 32;

function cacheUnits(g: NormGeometry, p: number): number {
  const U = g.vec ? g.len / 4 : g.len;
  const k = Math.ceil(U / p);
  return k * (g.vec ? 4 : 1) <= MAX_CACHED_FLOATS ? k : 0;
}

function normWorkgroupSize(g: NormGeometry): number {
  return reduceWorkgroupSize(g.len);
}

function normSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (!c.layer.inputs[0] || !c.layer.inputs[1]) return unsupported('X and scale are required');
  const g = normGeometry(c);
  if (typeof g === 'string') return unsupported(g);
  const s = floatCheck(c, caps);
  if (!s.ok) return s;
  switch (variant) {
    case 'two-pass': case 'workgroup': return supported;
    case 'subgroup': return caps.subgroups ? supported : unsupported('needs the subgroups feature');
    default: return unsupported(`unknown variant ${variant}`);
  }
}

function normPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const g = normGeometry(c) as NormGeometry;
  const io = rowIo(c, g);
  const label = `normalization/${variant} ${c.layer.op}`;
  let wgsl: string;
  let workgroups: [number, number, number];
  if (variant === 'two-pass') {
    const body = `  let row = gid;\n  let lane = 0u;\n  let p = 1u;\n  ${rowNormBody(c, g, { mode: 'two-pass', red: '', cache: 0 })}`;
    wgsl = `${header(io.types)}${io.decls}\n\n${entry1d(64, g.rows, body)}\n`;
    workgroups = dispatch1d(g.rows, 64, caps);
  } else if (variant === 'workgroup') {
    const wg = normWorkgroupSize(g);
    const sg = caps.subgroups;
    const body = `  let lane = lid;\n  let p = ${wg}u;\n  ${rowNormBody(c, g, { mode: 'shifted', red: 'red_sum', cache: cacheUnits(g, wg) })}`;
    wgsl = `${header(io.types)}${subgroupHeader(sg)}${io.decls}\n\n${wgReduceFn('red_sum', 'vec2<f32>', 'sum', wg, sg)}\n\n${rowEntry(wg, sg, g.rows, body)}\n`;
    workgroups = rowDispatch(g.rows, caps);
  } else {
    const cache = cacheUnits(g, SG_ASSUMED);
    const uncached = rowNormBody(c, g, { mode: 'shifted', red: 'subgroupAdd', cache: 0 });
    const body = cache > 0 ? `if (p >= ${SG_ASSUMED}u) ${rowNormBody(c, g, { mode: 'shifted', red: 'subgroupAdd', cache })} else ${uncached}` : uncached;
    wgsl = `${header(io.types)}${subgroupHeader(true)}${io.decls}

@compute @workgroup_size(${SG_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_id) sgid: u32,
  @builtin(num_subgroups) nsg: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgs: u32) {
  let p = min(sgs, ${SG_WG}u);
  let step = nwg.x * nwg.y * nsg;
  for (var row = (wid.y * nwg.x + wid.x) * nsg + sgid; row < ${g.rows}u; row += step) {
    ${body}
  }
}
`;
    workgroups = dispatch1d(g.rows, SG_WG / SG_ASSUMED, caps);
  }
  return { passes: [{ label, wgsl, workgroups, buffers: io.buffers }], scratch: [] };
}

function normReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = normGeometry(c) as NormGeometry;
  const x = inputs[0]!;
  const sc = inputs[1]!.data;
  const bi = inputs[2]?.data;
  const y = new Float32Array(x.data.length);
  const means = new Float32Array(g.rows);
  const invs = new Float32Array(g.rows);
  for (let r = 0; r < g.rows; r++) {
    const base = r * g.len;
    let s = 0;
    for (let k = 0; k < g.len; k++) s += x.data[base + k];
    const mean = s / g.len;
    let v = 0;
    for (let k = 0; k < g.len; k++) v += (x.data[base + k] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / g.len + g.eps);
    means[r] = mean;
    invs[r] = inv;
    const a = g.affine;
    for (let k = 0; k < g.len; k++) {
      const i = a.kind === 'column' ? k : a.kind === 'row' ? r % a.period : (r % a.groups) * a.perGroup + Math.floor(k / a.spatial);
      y[base + k] = (x.data[base + k] - mean) * inv * sc[i] + (bi ? bi[i] : 0);
    }
  }
  const out: HostTensor[] = [{ dtype: x.dtype, shape: [...x.shape], data: y }];
  const n = statOutputs(c);
  if (n >= 1) out.push({ dtype: c.layer.outputs[1].dtype, shape: [...c.layer.outputs[1].shape], data: means });
  if (n >= 2) out.push({ dtype: c.layer.outputs[2].dtype, shape: [...c.layer.outputs[2].shape], data: invs });
  return out;
}

export const kernels: Kernel[] = [
  {
    name: 'batchnorm',
    ops: ['BatchNormalization'],
    variants: [
      { name: 'naive', description: 'one element per invocation; √(var + ε) and the division per element' },
      { name: 'fused-affine', description: 'per-channel a = scale/√(var + ε), b = B − mean·a folded in a first pass; then one multiply-add per element (vec4)' },
    ],
    defaultVariant: () => 'naive',
    supports: bnSupports,
    plan: bnPlan,
    reference: bnReference,
    // The running variance: positive.
    inputDomain: (_op, i) => (i === 4 ? [0.5, 1.5] : undefined),
    // Inference form: y = x·scale' + bias' (scale and shift precomputed per channel), 2 per output element.
    cost: (l) => 2 * count(l.outputs[0]),
  },
  {
    name: 'normalization',
    ops: ['LayerNormalization', 'InstanceNormalization', 'GroupNormalization'],
    variants: [
      { name: 'two-pass', description: 'one invocation per row: mean, then the centred sum of squares, then the output' },
      { name: 'workgroup', description: 'one workgroup per row: the row in registers, one (shifted) sum/sum-of-squares reduction via subgroups or shared memory' },
      { name: 'subgroup', description: 'one subgroup per row, several rows per workgroup: shifted sums with subgroup adds, no barriers' },
    ],
    defaultVariant: () => 'workgroup',
    supports: normSupports,
    plan: normPlan,
    reference: normReference,
    // Mean (1) + variance (3: sub, mul, add) + normalize (2) + affine (2): 8 per input element.
    cost: (l) => 8 * count(l.inputs[0]),
  },
];
