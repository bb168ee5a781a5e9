/**
 * Einsum (numpy semantics): the equation names each operand's dims with labels; a label repeated
 * within a term takes the diagonal, labels absent from the output are summed over, `...` stands
 * for broadcast leading dims, and without `->` the output is the ellipsis dims followed by the
 * labels used exactly once, sorted. A size-1 dim broadcasts against its label's size.
 *
 * Every operand dim becomes (label, stride) with stride 0 where it broadcasts; a repeated label's
 * strides add up (the diagonal of an [n, n] matrix has stride n + 1). Ellipsis dims become
 * labels of their own, right-aligned across operands.
 *
 * Variants:
 *  - `naive`: one output element per invocation, looping over every combination of the summed
 *    labels (any equation, any number of operands, float or integer).
 *  - `batched-gemm`: two operands whose labels split into batch (both operands and the output),
 *    m (first operand and output), n (second operand and output) and k (both operands, summed) —
 *    a batched matrix product after permuting dims. Operands already laid out as [batch, m, k] /
 *    [batch, k, m] (and [batch, k, n] / [batch, n, k]) are read in place; others are first packed
 *    by a permuting pass into f32 scratch. The product is a register-blocked GEMM (4×4 outputs
 *    per invocation), written straight to the output when its labels are in [batch, m, n] order,
 *    else to scratch and permuted by a last pass.
 * Float16 layers keep f16 in memory and accumulate in f32.
 */
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { elements, entry1d, gpuSize, header, prod, stridesOf } from './wgsl.js';
import { WG, checkTensors, decl, emptyPlan, gt, isFloat, nz, pass1d, values } from './movement.js';
import type { LayerSignature } from '../ir/types.js';
import { count } from './flops.js';

const KERNEL = 'einsum';

interface Operand {
  /** Distinct labels of the operand with their summed element strides (0 where broadcast). */
  stride: Map<string, number>;
  /** Labels in dim order (repeats kept). */
  labels: string[];
  shape: number[];
}

export interface EinsumSpec {
  ops: Operand[];
  sizes: Map<string, number>;
  out: string[];
  /** Labels summed over, in first-appearance order. */
  red: string[];
}

/** Labels of one term; an ellipsis is the single marker '.'. */
function parseTerm(t: string): string[] | string {
  const out: string[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t.startsWith('...', i)) {
      if (out.includes('.')) return `term '${t}' has two ellipses`;
      out.push('.');
      i += 2;
    } else if (/[A-Za-z]/.test(t[i])) out.push(t[i]);
    else return `term '${t}' has the character '${t[i]}'`;
  }
  return out;
}

/** Parses the layer's equation against its input shapes; a string is the reason it cannot. */
export function einsumSpec(c: LayerCase): EinsumSpec | string {
  const eqA = c.layer.attrs.equation;
  if (typeof eqA !== 'string') return 'no equation';
  const eq = eqA.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',').map(parseTerm);
  const shapes = c.layer.inputs.map((t) => t?.shape);
  if (terms.length !== shapes.length || shapes.some((s) => !s)) return `the equation has ${terms.length} operands, the node ${shapes.length} inputs`;
  const bad = terms.find((t) => typeof t === 'string');
  if (bad) return bad as string;
  // Ellipsis rank: the largest over operands; each operand's ellipsis dims are right-aligned.
  let ellRank = 0;
  terms.forEach((t, k) => {
    const labels = t as string[];
    if (labels.includes('.')) ellRank = Math.max(ellRank, shapes[k]!.length - (labels.length - 1));
  });
  const sizes = new Map<string, number>();
  const count = new Map<string, number>();
  const expanded: string[][] = [];
  for (const [k, t] of terms.entries()) {
    const labels = t as string[];
    const shape = shapes[k]!;
    const hasEll = labels.includes('.');
    const e = shape.length - (labels.length - (hasEll ? 1 : 0));
    if (hasEll ? e < 0 : e !== 0) return `operand ${k} has rank ${shape.length}, its term names ${labels.length} dims`;
    const full = labels.flatMap((l) => (l === '.' ? Array.from({ length: e }, (_, i) => `.${ellRank - e + i}`) : [l]));
    expanded.push(full);
    for (const [d, l] of full.entries()) {
      if (!l.startsWith('.')) count.set(l, (count.get(l) ?? 0) + 1);
      const prev = sizes.get(l);
      const s = shape[d];
      if (prev === undefined || prev === 1) sizes.set(l, s);
      else if (s !== 1 && s !== prev) return `label '${l}' has sizes ${prev} and ${s}`;
    }
  }
  let out: string[];
  const ell = Array.from({ length: ellRank }, (_, i) => `.${i}`);
  if (arrow >= 0) {
    const o = parseTerm(eq.slice(arrow + 2));
    if (typeof o === 'string') return o;
    out = o.flatMap((l) => (l === '.' ? ell : [l]));
    if (new Set(out).size !== out.length) return 'the output repeats a label';
    for (const l of out) if (!sizes.has(l)) return `output label '${l}' is in no operand`;
  } else {
    out = [...ell, ...[...count].filter(([, n]) => n === 1).map(([l]) => l).sort()];
  }
  const outShape = c.layer.outputs[0].shape;
  if (outShape.length !== out.length || out.some((l, i) => sizes.get(l) !== outShape[i])) return 'the output shape disagrees with the equation';
  const ops = expanded.map((labels, k) => {
    const shape = shapes[k]!;
    const st = stridesOf(shape);
    const stride = new Map<string, number>();
    labels.forEach((l, d) => {
      const s = shape[d] === 1 && sizes.get(l)! !== 1 ? 0 : st[d];
      stride.set(l, (stride.get(l) ?? 0) + s);
    });
    return { stride, labels, shape };
  });
  const seen = new Set(out);
  const red: string[] = [];
  for (const o of ops) for (const l of o.labels) if (!seen.has(l)) { seen.add(l); red.push(l); }
  return { ops, sizes, out, red };
}

/** WGSL identifier of a label's index variable. */
const v = (l: string): string => (l.startsWith('.') ? `e${l.slice(1)}` : `l${l.charCodeAt(0)}`);

/** WGSL: index variables of `labels` unravelled (row-major) from the flat index `flat`. */
function unravelLabels(labels: string[], sizes: Map<string, number>, flat: string): string {
  const sh = labels.map((l) => sizes.get(l)!);
  const st = stridesOf(sh);
  return labels.map((l, i) => `    let ${v(l)} = (${flat} / ${nz(st[i])}u) % ${nz(sh[i])}u;`).join('\n');
}

/** WGSL offset of an operand from the label index variables. */
function offsetOf(o: Operand): string {
  const terms = [...o.stride].filter(([, s]) => s !== 0).map(([l, s]) => (s === 1 ? v(l) : `${v(l)} * ${s}u`));
  return terms.length ? terms.join(' + ') : '0u';
}


/** Compute (accumulator) type: f32 for float layers, the GPU type otherwise. */
function accType(c: LayerCase): GpuType {
  const t = gt(c.layer.outputs[0]);
  return t === 'f16' ? 'f32' : t;
}

function typesAgree(c: LayerCase): Support {
  const ts = c.layer.inputs.map((t) => (t ? gt(t) : null));
  if (ts.some((t) => t !== gt(c.layer.outputs[0]))) return unsupported('operand and output element types differ');
  return supported;
}

// ---------------------------------------------------------------------------------------------
// naive

function planNaive(c: LayerCase, s: EinsumSpec, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `${KERNEL}/naive ${c.layer.attrs.equation}`;
  if (n === 0) return emptyPlan(label, t);
  const at = accType(c);
  const R = prod(s.red.map((l) => s.sizes.get(l)!));
  const decls = [...s.ops.map((_, k) => decl(k, `in${k}`, t, 'read')), decl(s.ops.length, 'y', t, 'read_write')];
  const product = s.ops.map((o, k) => `${at}(in${k}[${offsetOf(o)}])`).join(' * ');
  const body = `${unravelLabels(s.out, s.sizes, 'gid')}
  var acc = ${at}(0);
  for (var r = 0u; r < ${R}u; r++) {
${unravelLabels(s.red, s.sizes, 'r')}
    acc += ${product};
  }
  y[gid] = ${t}(acc);`;
  const wgsl = `${header([t])}${decls.join('\n')}\n\n${entry1d(WG, n, body)}\n`;
  const buffers: BufferRef[] = [...s.ops.map((_, index) => ({ kind: 'input' as const, index })), { kind: 'output', index: 0 }];
  return { passes: [pass1d(label, wgsl, n, caps, buffers)], scratch: [] };
}

// ---------------------------------------------------------------------------------------------
// batched-gemm

interface GemmShape {
  batch: string[];
  m: string[];
  n: string[];
  k: string[];
  Bt: number;
  M: number;
  N: number;
  K: number;
}

/** The batch/m/n/k split of a two-operand equation, or the reason it is not a (batched) matmul. */
function gemmShape(s: EinsumSpec): GemmShape | string {
  if (s.ops.length !== 2) return `${s.ops.length} operands: a matmul has two`;
  const [a, b] = s.ops;
  for (const o of s.ops) if (new Set(o.labels).size !== o.labels.length) return 'a label repeats within an operand (a diagonal)';
  const inOut = new Set(s.out);
  const g: GemmShape = { batch: [], m: [], n: [], k: [], Bt: 1, M: 1, N: 1, K: 1 };
  for (const l of s.out) {
    const ia = a.stride.has(l), ib = b.stride.has(l);
    (ia && ib ? g.batch : ia ? g.m : g.n).push(l);
  }
  for (const l of a.labels) {
    if (inOut.has(l)) continue;
    if (!b.stride.has(l)) return `label '${l}' is summed within one operand`;
    g.k.push(l);
  }
  for (const l of b.labels) if (!inOut.has(l) && !a.stride.has(l)) return `label '${l}' is summed within one operand`;
  const size = (ls: string[]) => prod(ls.map((l) => s.sizes.get(l)!));
  return { ...g, Bt: size(g.batch), M: size(g.m), N: size(g.n), K: size(g.k) };
}

/**
 * How the GEMM reads an operand in place: element (b, x, k) at b·(X·K) + x·sx + k·sk, when its
 * dims are exactly [batch…, x…, k…] or [batch…, k…, x…] with no broadcast; null if it needs packing.
 */
function inPlace(o: Operand, g: GemmShape, xs: string[], X: number): { sx: number; sk: number } | null {
  const same = (p: string[]) => p.length === o.labels.length && p.every((l, i) => l === o.labels[i]);
  const natural = prod(o.shape) === g.Bt * X * g.K;
  if (!natural) return null;
  if (same([...g.batch, ...xs, ...g.k])) return { sx: g.K, sk: 1 };
  if (same([...g.batch, ...g.k, ...xs])) return { sx: 1, sk: X };
  return null;
}

/** A pass writing `dst` (f32 scratch) in the order of `labels`, read from an operand through its label strides. */
function packPass(label: string, src: Operand, srcType: GpuType, srcRef: BufferRef, labels: string[], s: EinsumSpec, dst: BufferRef, caps: DeviceCaps): Pass {
  const n = prod(labels.map((l) => s.sizes.get(l)!));
  const body = `${unravelLabels(labels, s.sizes, 'gid')}
  dst[gid] = f32(src[${offsetOf(src)}]);`;
  const wgsl = `${header([srcType])}${decl(0, 'src', srcType, 'read')}\n${decl(1, 'dst', 'f32', 'read_write')}\n\n${entry1d(WG, n, body)}\n`;
  return pass1d(label, wgsl, n, caps, [srcRef, dst]);
}

function planGemm(c: LayerCase, s: EinsumSpec, caps: DeviceCaps): KernelPlan {
  const g = gemmShape(s) as GemmShape;
  const t = gt(c.layer.outputs[0]);
  const lab = (p: string) => `${KERNEL}/batched-gemm ${c.layer.attrs.equation} ${p}`;
  const n = elements(c.layer.outputs[0]);
  if (n === 0) return emptyPlan(lab('empty'), t);
  const passes: Pass[] = [];
  const scratch: number[] = [4, 4, 4];
  const [a, b] = s.ops;
  // Packed operands are [batch, x, k]: element (b, x, k) at b·X·K + x·K + k.
  const operand = (o: Operand, i: 0 | 1, xs: string[], X: number, order: string[]): { ref: BufferRef; type: GpuType; sx: number; sk: number } => {
    const p = inPlace(o, g, xs, X);
    if (p) return { ref: { kind: 'input', index: i }, type: t, ...p };
    scratch[i] = Math.max(4, g.Bt * X * g.K * 4);
    passes.push(packPass(lab(`pack ${i ? 'B' : 'A'}`), o, t, { kind: 'input', index: i }, order, s, { kind: 'scratch', index: i }, caps));
    return { ref: { kind: 'scratch', index: i }, type: 'f32', sx: g.K, sk: 1 };
  };
  const A = operand(a, 0, g.m, g.M, [...g.batch, ...g.m, ...g.k]);
  const B = operand(b, 1, g.n, g.N, [...g.batch, ...g.n, ...g.k]);
  const direct = s.out.join(',') === [...g.batch, ...g.m, ...g.n].join(',');
  const yRef: BufferRef = direct ? { kind: 'output', index: 0 } : { kind: 'scratch', index: 2 };
  const yt: GpuType = direct ? t : 'f32';
  if (!direct) scratch[2] = g.Bt * g.M * g.N * 4;
  const mb = Math.ceil(g.M / 4), nb = Math.ceil(g.N / 4);
  const total = g.Bt * mb * nb;
  const rows = [0, 1, 2, 3];
  const body = `  let nq = gid % ${nb}u;
  let mq = (gid / ${nb}u) % ${mb}u;
  let bt = gid / ${nb * mb}u;
  let m0 = mq * 4u;
  let n0 = nq * 4u;
  let ab = bt * ${g.M * g.K}u;
  let bb = bt * ${g.K * g.N}u;
${rows.map((r) => `  let am${r} = ab + min(m0 + ${r}u, ${g.M - 1}u) * ${A.sx}u;`).join('\n')}
${rows.map((q) => `  let bn${q} = bb + min(n0 + ${q}u, ${g.N - 1}u) * ${B.sx}u;`).join('\n')}
${rows.map((r) => `  var acc${r} = vec4<f32>(0.0f);`).join('\n')}
  for (var k = 0u; k < ${g.K}u; k++) {
    let ka = k * ${A.sk}u;
    let kb = k * ${B.sk}u;
    let bv = vec4<f32>(${rows.map((q) => `f32(bm[bn${q} + kb])`).join(', ')});
${rows.map((r) => `    acc${r} += f32(am[am${r} + ka]) * bv;`).join('\n')}
  }
  let yb = bt * ${g.M * g.N}u;
${rows.map((r) => `  if (m0 + ${r}u < ${g.M}u) {
${rows.map((q) => `    if (n0 + ${q}u < ${g.N}u) { y[yb + (m0 + ${r}u) * ${g.N}u + n0 + ${q}u] = ${yt}(acc${r}[${q}]); }`).join('\n')}
  }`).join('\n')}`;
  const wgsl = `${header([A.type, B.type, yt])}${decl(0, 'am', A.type, 'read')}\n${decl(1, 'bm', B.type, 'read')}\n${decl(2, 'y', yt, 'read_write')}\n\n${entry1d(WG, total, body)}\n`;
  passes.push(pass1d(lab('gemm'), wgsl, total, caps, [A.ref, B.ref, yRef]));
  if (!direct) {
    // Output element (its labels) ← scratch [batch, m, n]: the flat b, m and n from their label groups.
    const flat = (ls: string[]) => {
      const st = stridesOf(ls.map((l) => s.sizes.get(l)!));
      return ls.length ? ls.map((l, i) => `${v(l)} * ${st[i]}u`).join(' + ') : '0u';
    };
    const body2 = `${unravelLabels(s.out, s.sizes, 'gid')}
  y[gid] = ${t}(src[((${flat(g.batch)}) * ${g.M}u + ${flat(g.m)}) * ${g.N}u + ${flat(g.n)}]);`;
    const wgsl2 = `${header([t])}${decl(0, 'src', 'f32', 'read')}\n${decl(1, 'y', t, 'read_write')}\n\n${entry1d(WG, n, body2)}\n`;
    passes.push(pass1d(lab('unpermute'), wgsl2, n, caps, [{ kind: 'scratch', index: 2 }, { kind: 'output', index: 0 }]));
  }
  return { passes, scratch };
}

// ---------------------------------------------------------------------------------------------

const VARIANTS = [
  { name: 'naive', description: 'one output element per invocation, looping over the summed labels' },
  { name: 'batched-gemm', description: 'two-operand (batched) matmul patterns: operands permuted to [batch, m, k]/[batch, k, n] where needed, then a 4×4 register-blocked GEMM' },
];

function supportsOf(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (!VARIANTS.some((x) => x.name === variant)) return unsupported(`unknown variant ${variant}`);
  const s = einsumSpec(c);
  if (typeof s === 'string') return unsupported(s);
  const ta = typesAgree(c);
  if (!ta.ok) return ta;
  if (c.layer.outputs[0].dtype === 'bool') return unsupported('bool operands');
  const chk = checkTensors(c, caps, s.ops.map((_, i) => i), elements(c.layer.outputs[0]));
  if (!chk.ok) return chk;
  if (s.ops.length + 1 > caps.maxStorageBuffersPerShaderStage) return unsupported(`${s.ops.length} operands exceed the device's storage buffers per stage`);
  if (variant === 'batched-gemm') {
    if (!isFloat(c.layer.outputs[0].dtype)) return unsupported('integer einsum runs on naive only');
    const g = gemmShape(s);
    if (typeof g === 'string') return unsupported(g);
    const plan = planGemm(c, s, caps);
    for (const b of plan.scratch) if (b > caps.maxStorageBufferBindingSize) return unsupported(`a ${b}-byte scratch buffer exceeds the storage binding limit`);
    const groups = Math.ceil((g.Bt * Math.ceil(g.M / 4) * Math.ceil(g.N / 4)) / WG);
    if (groups > caps.maxComputeWorkgroupsPerDimension ** 2) return unsupported('the GEMM exceeds the dispatch limits');
  }
  return supported;
}

function planOf(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const s = einsumSpec(c) as EinsumSpec;
  return variant === 'batched-gemm' ? planGemm(c, s, caps) : planNaive(c, s, caps);
}

function referenceOf(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const s = einsumSpec(c);
  if (typeof s === 'string') throw new Error(`Einsum: ${s}`);
  const xs = inputs.map((t) => values(t!));
  const o = c.layer.outputs[0];
  const n = elements(o);
  const int = !isFloat(o.dtype);
  const data = int ? (o.dtype.startsWith('uint') ? new Uint32Array(n) : new Int32Array(n)) : new Float32Array(n);
  const outSizes = s.out.map((l) => s.sizes.get(l)!);
  const redSizes = s.red.map((l) => s.sizes.get(l)!);
  const R = prod(redSizes);
  // Per operand, its strides along the output labels and along the summed labels (0 where absent):
  // offsets are then two dot products, with no per-element label lookups.
  const so = s.ops.map((op) => s.out.map((l) => op.stride.get(l) ?? 0));
  const sr = s.ops.map((op) => s.red.map((l) => op.stride.get(l) ?? 0));
  const oi = new Array<number>(s.out.length).fill(0);
  const ri = new Array<number>(s.red.length).fill(0);
  const base = new Array<number>(xs.length).fill(0);
  const unravelInto = (dst: number[], sizes: number[], flat: number) => {
    for (let i = sizes.length - 1; i >= 0; i--) { dst[i] = flat % sizes[i]; flat = Math.floor(flat / sizes[i]); }
  };
  for (let g = 0; g < n; g++) {
    unravelInto(oi, outSizes, g);
    for (let k = 0; k < xs.length; k++) { let b = 0; for (let j = 0; j < oi.length; j++) b += oi[j] * so[k][j]; base[k] = b; }
    let acc = 0;
    for (let r = 0; r < R; r++) {
      unravelInto(ri, redSizes, r);
      let p = 1;
      for (let k = 0; k < xs.length; k++) {
        let off = base[k];
        for (let j = 0; j < ri.length; j++) off += ri[j] * sr[k][j];
        p = int ? Math.imul(p, xs[k][off]) : p * xs[k][off];
      }
      acc = int ? (acc + p) | 0 : acc + p;
    }
    data[g] = acc;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data }];
}

/**
 * The loop nest runs over every distinct label (and the broadcast '...' dims): one multiply-add
 * (2 FLOPs) per point when labels are contracted away, else one operation per point.
 */
function cost(l: LayerSignature): number {
  const eq = typeof l.attrs.equation === 'string' ? l.attrs.equation.replace(/\s/g, '') : '';
  const sizes = new Map<string, number>();
  let ellipsis = 1;
  eq.split('->')[0].split(',').forEach((term, i) => {
    const t = l.inputs[i];
    if (!t) return;
    const [before, after] = term.includes('...') ? term.split('...') : [term, ''];
    [...before].forEach((c, j) => sizes.set(c, t.shape[j]));
    [...after].forEach((c, j) => sizes.set(c, t.shape[t.shape.length - after.length + j]));
    if (term.includes('...')) ellipsis = Math.max(ellipsis, prod(t.shape.slice(before.length, t.shape.length - after.length)));
  });
  const space = prod([...sizes.values()]) * ellipsis;
  return space > count(l.outputs[0]) ? 2 * space : space;
}

export const einsumKernel: Kernel = {
  name: KERNEL,
  ops: ['Einsum'],
  variants: VARIANTS,
  defaultVariant: () => 'naive',
  supports: supportsOf,
  plan: planOf,
  reference: referenceOf,
  cost,
};

export const kernels: Kernel[] = [einsumKernel];
