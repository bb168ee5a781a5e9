/**
 * Index-driven ops: TopK, GatherND, ScatterND, ScatterElements (and the deprecated Scatter, the
 * same op without reductions), OneHot. Integer indices (int32/int64) are i32 on the GPU; a
 * negative index counts from the end. An index out of range is an error in ONNX: the references
 * throw, the kernels clamp so that a bad index can never reach outside a buffer.
 *
 *  - TopK: the K largest (or smallest) elements along `axis` with their indices, ties broken by
 *    the lower index (ONNX), always emitted in sorted order (also valid when sorted = 0).
 *    Variants: `rank` — one invocation per input element counts the elements that precede it in
 *    the order (O(L) each, L = axis length) and, if its rank is below K, writes itself at that
 *    rank: fully parallel, O(L²) work per row; `selection` — one invocation per row selects the
 *    K winners one after another, each the best element after the previous winner in the order
 *    (O(K·L) per row, no parallelism within a row: for few long rows and small K).
 *  - GatherND: one output element per invocation; the index tuple picks a slice of data.
 *  - ScatterND / ScatterElements / Scatter (`owner-computes`): one output element per invocation
 *    starts from data and applies, in index order, every update that targets it. Duplicate
 *    targets therefore combine deterministically with the reduction (none: the last update wins,
 *    as in the reference), with no atomics. ScatterElements scans only the updates along the
 *    axis (O(indices' axis length) per element); ScatterND scans every update tuple
 *    (O(number of tuples) per element), fine for the usual few-row updates (KV-cache writes).
 *  - OneHot: one output element per invocation compares its position along `axis` with the index.
 */
import type { TensorType } from '../ir/types.js';
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, prod, stridesOf } from './wgsl.js';
import { WG, attrNum, attrStr, checkTensors, decl, emptyPlan, gt, isFloat, nz, pass1d, values } from './movement.js';
import { noFlops } from './flops.js';

const isIndex = (t: TensorType | null | undefined): boolean => !!t && (t.dtype === 'int32' || t.dtype === 'int64');

function normIndex(k: number, d: number, op: string): number {
  const v = k < 0 ? k + d : k;
  if (!(v >= 0 && v < d)) throw new Error(`${op}: index ${k} is out of range for an axis of ${d}`);
  return v;
}

/** WGSL: `name` = the index expression `e` normalized (negative from the end) and clamped to [0, d). */
function readIdx(name: string, e: string, d: number): string {
  return `  var ${name}_r = i32(${e});
  if (${name}_r < 0i) { ${name}_r += ${d}i; }
  let ${name} = u32(clamp(${name}_r, 0i, ${Math.max(0, d - 1)}i));`;
}

function dataArray(t: TensorType, n: number): HostTensor['data'] {
  if (isFloat(t.dtype) || t.dtype === 'float64') return new Float32Array(n);
  if (t.dtype === 'bool' || t.dtype === 'uint8') return new Uint8Array(n);
  if (t.dtype.startsWith('uint')) return new Uint32Array(n);
  return new Int32Array(n);
}

/** A single-variant kernel with one pass of one invocation per output element (also used by extra.ts). */
export interface Simple {
  name: string;
  ops: string[];
  variant: string;
  description: string;
  /** Input slots bound (named in<slot>), in binding order. */
  bound(c: LayerCase): number[];
  check(c: LayerCase): Support;
  /** The entry point's body, one invocation per output element (`gid`). */
  body(c: LayerCase): string;
  /** Module-scope WGSL (helper functions) placed before the entry point. */
  helpers?(c: LayerCase): string;
  reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[];
  /** Kernel.cost. */
  cost?: Kernel['cost'];
}

export function simpleKernel(s: Simple): Kernel {
  return {
    name: s.name,
    ops: s.ops,
    variants: [{ name: s.variant, description: s.description }],
    defaultVariant: () => s.variant,
    supports(c, variant, caps) {
      if (variant !== s.variant) return unsupported(`unknown variant ${variant}`);
      const chk = s.check(c);
      if (!chk.ok) return chk;
      return checkTensors(c, caps, s.bound(c), elements(c.layer.outputs[0]));
    },
    plan(c, variant, caps) {
      const o = c.layer.outputs[0];
      const t = gt(o);
      const n = elements(o);
      const label = `${s.name}/${variant} ${c.layer.op}`;
      if (n === 0) return emptyPlan(label, t);
      const slots = s.bound(c);
      const types: GpuType[] = [...slots.map((i) => gt(c.layer.inputs[i]!)), t];
      const decls = [...slots.map((i, k) => decl(k, `in${i}`, types[k], 'read')), decl(slots.length, 'y', t, 'read_write')];
      const wgsl = `${header(types)}${decls.join('\n')}\n${s.helpers?.(c) ?? ''}\n\n${entry1d(WG, n, s.body(c))}\n`;
      const buffers: BufferRef[] = [...slots.map((index) => ({ kind: 'input' as const, index })), { kind: 'output', index: 0 }];
      return { passes: [pass1d(label, wgsl, n, caps, buffers)], scratch: [] };
    },
    reference: s.reference,
    cost: s.cost,
  };
}

// ---------------------------------------------------------------------------------------------
// TopK

interface TopKGeo { outer: number; L: number; inner: number; K: number; largest: boolean }

function topkGeo(c: LayerCase): TopKGeo {
  const x = c.layer.inputs[0]!.shape;
  const r = x.length;
  const a0 = attrNum(c, 'axis', -1);
  const axis = a0 < 0 ? a0 + r : a0;
  return {
    outer: prod(x.slice(0, axis)), L: x[axis], inner: prod(x.slice(axis + 1)),
    K: c.layer.outputs[0].shape[axis], largest: attrNum(c, 'largest', 1) !== 0,
  };
}

function topkCheck(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x || x.shape.length === 0) return unsupported('input must have rank ≥ 1');
  if (x.dtype === 'bool') return unsupported('bool input');
  const a0 = attrNum(c, 'axis', -1);
  if (a0 < -x.shape.length || a0 >= x.shape.length) return unsupported(`axis ${a0} out of range`);
  if (c.layer.outputs.length !== 2) return unsupported('needs both outputs');
  if (gt(c.layer.outputs[0]) !== gt(x)) return unsupported('values and input types differ');
  const g = topkGeo(c);
  if (!(g.K >= 0 && g.K <= g.L)) return unsupported(`K = ${g.K} is not within the axis length ${g.L}`);
  return supported;
}

/** WGSL predicate: (a, ia) comes before (b, ib) in TopK order. */
const before = (largest: boolean) => `fn before(a: ${'T'}, ia: u32, b: ${'T'}, ib: u32) -> bool {
  return a ${largest ? '>' : '<'} b || (a == b && ia < ib);
}`;

function topkPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const g = topkGeo(c);
  const t = gt(c.layer.inputs[0]!);
  const label = `topk/${variant}`;
  const n = elements(c.layer.outputs[0]);
  if (n === 0) {
    // Both outputs are empty: one pass that binds both and writes nothing.
    const wgsl = `${header([t])}${decl(0, 'yv', t, 'read_write')}\n${decl(1, 'yi', 'i32', 'read_write')}\n\n${entry1d(WG, 0, '  yv[gid] = yv[gid];\n  yi[gid] = yi[gid];')}\n`;
    return { passes: [{ label: `${label} (empty)`, wgsl, workgroups: [1, 1, 1], buffers: [{ kind: 'output', index: 0 }, { kind: 'output', index: 1 }] }], scratch: [] };
  }
  const decls = `${decl(0, 'x', t, 'read')}\n${decl(1, 'yv', t, 'read_write')}\n${decl(2, 'yi', 'i32', 'read_write')}\nalias T = ${t};\n${before(g.largest)}`;
  const buffers: BufferRef[] = [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }, { kind: 'output', index: 1 }];
  if (variant === 'rank') {
    const total = g.outer * g.L * g.inner;
    const body = `  let inr = gid % ${g.inner}u;
  let j = (gid / ${g.inner}u) % ${g.L}u;
  let o = gid / ${g.inner * g.L}u;
  let base = o * ${g.L * g.inner}u + inr;
  let v = x[gid];
  var rank = 0u;
  for (var i = 0u; i < ${g.L}u; i++) {
    if (before(x[base + i * ${g.inner}u], i, v, j)) { rank++; }
  }
  if (rank < ${g.K}u) {
    let dst = (o * ${g.K}u + rank) * ${g.inner}u + inr;
    yv[dst] = v;
    yi[dst] = i32(j);
  }`;
    return { passes: [pass1d(label, `${header([t])}${decls}\n\n${entry1d(WG, total, body)}\n`, total, caps, buffers)], scratch: [] };
  }
  const rows = g.outer * g.inner;
  // Each round takes the best element that comes after the previous winner in the order.
  const body = `  let inr = gid % ${g.inner}u;
  let o = gid / ${g.inner}u;
  let base = o * ${g.L * g.inner}u + inr;
  var pv = x[base];
  var pi = 0u;
  for (var r = 0u; r < ${g.K}u; r++) {
    var found = false;
    var bv = pv;
    var bi = 0u;
    for (var i = 0u; i < ${g.L}u; i++) {
      let v = x[base + i * ${g.inner}u];
      if ((r == 0u || before(pv, pi, v, i)) && (!found || before(v, i, bv, bi))) { bv = v; bi = i; found = true; }
    }
    let dst = (o * ${g.K}u + r) * ${g.inner}u + inr;
    yv[dst] = bv;
    yi[dst] = i32(bi);
    pv = bv;
    pi = bi;
  }`;
  return { passes: [pass1d(label, `${header([t])}${decls}\n\n${entry1d(WG, rows, body)}\n`, rows, caps, buffers)], scratch: [] };
}

function topkReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = topkGeo(c);
  const x = values(inputs[0]!);
  const [vo, io] = c.layer.outputs;
  const yv = dataArray(vo, elements(vo));
  const yi = new Int32Array(elements(io));
  const order = Array.from({ length: g.L }, (_, i) => i);
  for (let o = 0; o < g.outer; o++) {
    for (let inr = 0; inr < g.inner; inr++) {
      const at = (i: number) => x[(o * g.L + i) * g.inner + inr];
      const idx = [...order].sort((a, b) => (at(a) === at(b) ? a - b : g.largest ? at(b) - at(a) : at(a) - at(b)));
      for (let r = 0; r < g.K; r++) {
        const dst = (o * g.K + r) * g.inner + inr;
        yv[dst] = at(idx[r]);
        yi[dst] = idx[r];
      }
    }
  }
  return [{ dtype: vo.dtype, shape: [...vo.shape], data: yv }, { dtype: io.dtype, shape: [...io.shape], data: yi }];
}

const topkKernel: Kernel = {
  name: 'topk',
  ops: ['TopK'],
  variants: [
    { name: 'rank', description: 'one invocation per element counts its rank in the row; parallel, O(L²) per row' },
    { name: 'selection', description: 'one invocation per row selects the K winners in turn; O(K·L) per row' },
  ],
  // rank's O(L²) per row loses badly on long rows (64×1000, K = 10 on lavapipe: 209 ms against
  // 1.6 ms); it is the natural choice only for short rows, where its parallelism pays.
  defaultVariant: (c) => (topkGeo(c).L <= 128 ? 'rank' : 'selection'),
  supports(c, variant, caps) {
    if (variant !== 'rank' && variant !== 'selection') return unsupported(`unknown variant ${variant}`);
    const chk = topkCheck(c);
    if (!chk.ok) return chk;
    const g = topkGeo(c);
    return checkTensors(c, caps, [0], variant === 'rank' ? g.outer * g.L * g.inner : g.outer * g.inner);
  },
  plan: topkPlan,
  reference: topkReference,
};

// ---------------------------------------------------------------------------------------------
// GatherND

interface NDGeo { b: number; m: number; data: number[]; tuples: number; slice: number; batchTuples: number }

function ndGeo(data: number[], ind: number[], b: number): NDGeo {
  const m = ind[ind.length - 1];
  const tuples = prod(ind.slice(0, -1));
  return { b, m, data, tuples, slice: prod(data.slice(b + m)), batchTuples: prod(ind.slice(b, -1)) };
}

function ndCheck(c: LayerCase, b: number): Support {
  const [x, ind] = c.layer.inputs;
  if (!x || !isIndex(ind)) return unsupported(`${ind?.dtype ?? 'missing'} indices are not supported (int32/int64)`);
  const q = ind!.shape;
  if (q.length < 1) return unsupported('indices must have rank ≥ 1');
  const m = q[q.length - 1];
  if (b < 0 || b >= q.length || b + m > x.shape.length) return unsupported('batch_dims and the index length exceed the data rank');
  for (let i = 0; i < b; i++) if (q[i] !== x.shape[i]) return unsupported('batch dims of data and indices differ');
  if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('data and output types differ');
  return supported;
}

/** WGSL: `off` = the data offset of index tuple `tp` (flat over indices' leading dims) in the batch it belongs to. */
function tupleOffset(g: NDGeo, ind: string): string {
  const st = stridesOf(g.data);
  const lines = [`  let bt = tp / ${nz(g.batchTuples)}u;`, `  var off = bt * ${prod(g.data.slice(g.b))}u;`];
  for (let j = 0; j < g.m; j++) {
    lines.push(readIdx(`q${j}`, `${ind}[tp * ${g.m}u + ${j}u]`, g.data[g.b + j]));
    lines.push(`  off += q${j} * ${st[g.b + j]}u;`);
  }
  return lines.join('\n');
}

function tupleOffsetHost(g: NDGeo, ind: ArrayLike<number>, tp: number, op: string): number {
  const st = stridesOf(g.data);
  let off = Math.floor(tp / Math.max(1, g.batchTuples)) * prod(g.data.slice(g.b));
  for (let j = 0; j < g.m; j++) off += normIndex(ind[tp * g.m + j], g.data[g.b + j], op) * st[g.b + j];
  return off;
}

const gatherND: Simple = {
  name: 'gather-nd',
  ops: ['GatherND'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: noFlops, // moves data only
  bound: () => [0, 1],
  check: (c) => ndCheck(c, attrNum(c, 'batch_dims', 0)),
  body(c) {
    const g = ndGeo(c.layer.inputs[0]!.shape, c.layer.inputs[1]!.shape, attrNum(c, 'batch_dims', 0));
    return `  let s = gid % ${nz(g.slice)}u;
  let tp = gid / ${nz(g.slice)}u;
${tupleOffset(g, 'in1')}
  y[gid] = in0[off + s];`;
  },
  reference(c, inputs) {
    const g = ndGeo(c.layer.inputs[0]!.shape, c.layer.inputs[1]!.shape, attrNum(c, 'batch_dims', 0));
    const x = values(inputs[0]!), ind = values(inputs[1]!);
    const o = c.layer.outputs[0];
    const y = dataArray(o, elements(o));
    for (let tp = 0; tp < g.tuples; tp++) {
      const off = tupleOffsetHost(g, ind, tp, 'GatherND');
      for (let s = 0; s < g.slice; s++) y[tp * g.slice + s] = x[off + s];
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

// ---------------------------------------------------------------------------------------------
// Scatter family

const REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'];

function reduction(c: LayerCase): string {
  return c.layer.op === 'Scatter' ? 'none' : attrStr(c, 'reduction', 'none');
}

function combineWgsl(r: string, acc: string, u: string): string {
  switch (r) {
    case 'add': return `${acc} + ${u}`;
    case 'mul': return `${acc} * ${u}`;
    case 'max': return `max(${acc}, ${u})`;
    case 'min': return `min(${acc}, ${u})`;
    default: return u;
  }
}

function combineHost(r: string, dtype: string): (a: number, b: number) => number {
  const int = !isFloat(dtype as never) && dtype !== 'float64';
  switch (r) {
    case 'add': return int ? (a, b) => (a + b) | 0 : (a, b) => a + b;
    case 'mul': return int ? (a, b) => Math.imul(a, b) : (a, b) => a * b;
    case 'max': return Math.max;
    case 'min': return Math.min;
    default: return (_a, b) => b;
  }
}

function scatterCheck(c: LayerCase): Support {
  const [x, ind, upd] = c.layer.inputs;
  if (!x || !upd) return unsupported('data or updates missing');
  if (!isIndex(ind)) return unsupported(`${ind?.dtype ?? 'missing'} indices are not supported (int32/int64)`);
  if (gt(x) !== gt(upd) || gt(x) !== gt(c.layer.outputs[0])) return unsupported('data, updates and output types differ');
  const r = reduction(c);
  if (!REDUCTIONS.includes(r)) return unsupported(`reduction ${r}`);
  if (r !== 'none' && x.dtype === 'bool') return unsupported(`reduction ${r} on bool data`);
  return supported;
}

const scatterND: Simple = {
  name: 'scatter-nd',
  ops: ['ScatterND'],
  variant: 'owner-computes',
  description: 'one output element per invocation applies, in order, every update tuple that targets it',
  cost: noFlops, // moves data only
  bound: () => [0, 1, 2],
  check(c) {
    const s = scatterCheck(c);
    if (!s.ok) return s;
    const [x, ind, upd] = c.layer.inputs as TensorType[];
    const q = ind.shape;
    const m = q[q.length - 1];
    if (q.length < 1 || m > x.shape.length) return unsupported('index tuples longer than the data rank');
    const want = [...q.slice(0, -1), ...x.shape.slice(m)];
    if (upd.shape.length !== want.length || upd.shape.some((d, i) => d !== want[i])) return unsupported(`updates are [${upd.shape}], expected [${want}]`);
    return supported;
  },
  body(c) {
    const g = ndGeo(c.layer.inputs[0]!.shape, c.layer.inputs[1]!.shape, 0);
    const t = gt(c.layer.outputs[0]);
    return `  let s = gid % ${nz(g.slice)}u;
  let row = gid - s;
  var acc = in0[gid];
  for (var tp = 0u; tp < ${g.tuples}u; tp++) {
${tupleOffset(g, 'in1').replace(/^/gm, '  ')}
    if (off == row) { acc = ${combineWgsl(reduction(c), 'acc', `in2[tp * ${g.slice}u + s]`)}; }
  }
  y[gid] = ${t}(acc);`;
  },
  reference(c, inputs) {
    const g = ndGeo(c.layer.inputs[0]!.shape, c.layer.inputs[1]!.shape, 0);
    const x = values(inputs[0]!), ind = values(inputs[1]!), u = values(inputs[2]!);
    const o = c.layer.outputs[0];
    const y = dataArray(o, elements(o));
    y.set(x as ArrayLike<number>);
    const f = combineHost(reduction(c), o.dtype);
    for (let tp = 0; tp < g.tuples; tp++) {
      const off = tupleOffsetHost(g, ind, tp, 'ScatterND');
      for (let s = 0; s < g.slice; s++) y[off + s] = f(y[off + s], u[tp * g.slice + s]);
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

function elemAxis(c: LayerCase): number {
  const r = c.layer.inputs[0]!.shape.length;
  const a = attrNum(c, 'axis', 0);
  return a < 0 ? a + r : a;
}

const scatterElements: Simple = {
  name: 'scatter-elements',
  ops: ['ScatterElements', 'Scatter'],
  variant: 'owner-computes',
  description: 'one output element per invocation applies, in order, the updates along the axis that target it',
  cost: noFlops, // moves data only
  bound: () => [0, 1, 2],
  check(c) {
    const s = scatterCheck(c);
    if (!s.ok) return s;
    const [x, ind, upd] = c.layer.inputs as TensorType[];
    const a = elemAxis(c);
    if (a < 0 || a >= x.shape.length) return unsupported('axis out of range');
    if (ind.shape.length !== x.shape.length || upd.shape.some((d, i) => d !== ind.shape[i]) || upd.shape.length !== ind.shape.length) return unsupported('indices and updates must have data\'s rank and equal shapes');
    if (ind.shape.some((d, i) => i !== a && d > x.shape[i])) return unsupported('indices exceed data outside the axis');
    return supported;
  },
  body(c) {
    const x = c.layer.inputs[0]!.shape, q = c.layer.inputs[1]!.shape;
    const a = elemAxis(c);
    const xs = stridesOf(x), qs = stridesOf(q);
    const t = gt(c.layer.outputs[0]);
    // The updates that can target element p are those at p with p[axis] replaced by any position
    // along indices' axis (and only when p lies inside indices' shape off the axis).
    const dims = x.map((_, d) => d);
    const inside = dims.filter((d) => d !== a && q[d] < x[d]).map((d) => `p${d} < ${q[d]}u`);
    const qbase = dims.filter((d) => d !== a).map((d) => `p${d} * ${qs[d]}u`).join(' + ') || '0u';
    return `${dims.map((d) => `  let p${d} = (gid / ${xs[d]}u) % ${x[d]}u;`).join('\n')}
  var acc = in0[gid];
  if (${inside.length ? inside.join(' && ') : 'true'}) {
    let qb = ${qbase};
    for (var i = 0u; i < ${q[a]}u; i++) {
      let k = qb + i * ${qs[a]}u;
${readIdx('j', 'in1[k]', x[a]).replace(/^/gm, '    ')}
      if (j == p${a}) { acc = ${combineWgsl(reduction(c), 'acc', 'in2[k]')}; }
    }
  }
  y[gid] = ${t}(acc);`;
  },
  reference(c, inputs) {
    const x = c.layer.inputs[0]!.shape, q = c.layer.inputs[1]!.shape;
    const a = elemAxis(c);
    const xs = stridesOf(x), qs = stridesOf(q);
    const d0 = values(inputs[0]!), ind = values(inputs[1]!), u = values(inputs[2]!);
    const o = c.layer.outputs[0];
    const y = dataArray(o, elements(o));
    y.set(d0 as ArrayLike<number>);
    const f = combineHost(reduction(c), o.dtype);
    for (let k = 0; k < ind.length; k++) {
      let off = 0;
      for (let d = 0; d < q.length; d++) {
        const p = Math.floor(k / qs[d]) % q[d];
        off += (d === a ? normIndex(ind[k], x[a], c.layer.op) : p) * xs[d];
      }
      y[off] = f(y[off], u[k]);
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: y }];
  },
};

// ---------------------------------------------------------------------------------------------
// OneHot

const oneHot: Simple = {
  name: 'one-hot',
  ops: ['OneHot'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: noFlops, // moves data only
  bound: () => [0, 2],
  check(c) {
    const [ind, , vals] = c.layer.inputs;
    if (!ind || !vals) return unsupported('indices or values missing');
    if (ind.dtype === 'bool' || ind.dtype === 'float64') return unsupported(`${ind.dtype} indices`);
    if (elements(vals) !== 2) return unsupported('values must hold [off, on]');
    if (gt(vals) !== gt(c.layer.outputs[0])) return unsupported('values and output types differ');
    const a = attrNum(c, 'axis', -1);
    if (a < 0 || a > ind.shape.length) return unsupported(`axis ${a} out of range`);
    return supported;
  },
  body(c) {
    const out = c.layer.outputs[0].shape;
    const a = attrNum(c, 'axis', -1);
    const depth = out[a];
    const inner = prod(out.slice(a + 1));
    // Indices are truncated toward zero (float indices too), negative ones count from depth.
    return `  let inr = gid % ${nz(inner)}u;
  let pos = (gid / ${nz(inner)}u) % ${nz(depth)}u;
  let o = gid / ${nz(inner * depth)}u;
  var k = i32(in0[o * ${inner}u + inr]);
  if (k < 0i) { k += ${depth}i; }
  y[gid] = select(in2[0], in2[1], k == i32(pos));`;
  },
  reference(c, inputs) {
    const out = c.layer.outputs[0];
    const a = attrNum(c, 'axis', -1);
    const depth = out.shape[a];
    const inner = prod(out.shape.slice(a + 1));
    const ind = values(inputs[0]!), v = values(inputs[2]!);
    const y = dataArray(out, elements(out));
    for (let g = 0; g < y.length; g++) {
      const inr = g % inner, pos = Math.floor(g / inner) % depth, o = Math.floor(g / (inner * depth));
      let k = Math.trunc(ind[o * inner + inr]);
      if (k < 0) k += depth;
      y[g] = k === pos ? v[1] : v[0];
    }
    return [{ dtype: out.dtype, shape: [...out.shape], data: y }];
  },
};

export const kernels: Kernel[] = [topkKernel, ...[gatherND, scatterND, scatterElements, oneHot].map(simpleKernel)];
