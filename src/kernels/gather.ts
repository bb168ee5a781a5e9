/**
 * Gather (rows of `data` along `axis`, picked by an index tensor) and GatherElements (one element
 * per index, along `axis`). Indices are int32 or int64 (i32 on the GPU); a negative index counts
 * from the end. An index out of range is an error in ONNX: the references throw, the kernels clamp
 * so that a bad index can never read outside the buffer.
 *
 * Gather views data as [outer, d, inner] and the output as [outer, nIdx, inner].
 * Variants:
 *  - `naive`: one output element per invocation (embedding lookups, token gathers, shape math).
 *  - `vec4`: one vec4 per invocation, when inner (the row length) is a multiple of 4 — the usual
 *    embedding table with hidden size 4k.
 * GatherElements has one variant, `naive`.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, stridesOf, unravel } from './wgsl.js';
import { WG, attrNum, checkTensors, decl, emptyPlan, forEachIndex, gt, nz, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

function axisOf(c: LayerCase): number {
  const r = c.layer.inputs[0]!.shape.length;
  const a = attrNum(c, 'axis', 0);
  return a < 0 ? a + r : a;
}

function indexCheck(c: LayerCase): Support {
  const it = c.layer.inputs[1];
  if (!it) return unsupported('indices are missing');
  if (it.dtype !== 'int32' && it.dtype !== 'int64') return unsupported(`${it.dtype} indices are not supported (int32/int64)`);
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('data and output element types differ');
  return supported;
}

/** WGSL: `k`, the normalized and clamped index read from `ind[j]` for an axis of extent d. */
function readIndex(j: string, d: number): string {
  return `  var k = ind[${j}];
  if (k < 0i) { k += ${d}i; }
  let kk = u32(clamp(k, 0i, ${Math.max(0, d - 1)}i));`;
}

function normIndex(k: number, d: number, op: string): number {
  const v = k < 0 ? k + d : k;
  if (v < 0 || v >= d) throw new Error(`${op}: index ${k} is out of range for an axis of ${d}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Gather

interface GatherGeometry { outer: number; d: number; inner: number; nIdx: number }

function gatherGeometry(c: LayerCase): GatherGeometry {
  const x = c.layer.inputs[0]!.shape;
  const axis = axisOf(c);
  return {
    outer: x.slice(0, axis).reduce((a, b) => a * b, 1),
    d: x[axis],
    inner: x.slice(axis + 1).reduce((a, b) => a * b, 1),
    nIdx: elements(c.layer.inputs[1]!),
  };
}

function gatherSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive' && variant !== 'vec4') return unsupported(`unknown variant ${variant}`);
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0, 1], variant === 'vec4' ? n / 4 : n);
  if (!s.ok) return s;
  const ic = indexCheck(c);
  if (!ic.ok) return ic;
  if (variant === 'vec4') {
    const g = gatherGeometry(c);
    if (g.inner === 0 || g.inner % 4 !== 0) return unsupported(`row length ${g.inner} (the dims after the axis) is not a positive multiple of 4`);
  }
  return supported;
}

function gatherPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `gather/${variant}`;
  if (n === 0) return emptyPlan(label, t);
  const g = gatherGeometry(c);
  const vec = variant === 'vec4';
  const inner = vec ? g.inner / 4 : g.inner;
  const total = n / (vec ? 4 : 1);
  const body = `  let i = gid % ${nz(inner)}u;
  let j = (gid / ${nz(inner)}u) % ${nz(g.nIdx)}u;
  let o = gid / ${nz(inner * g.nIdx)}u;
${readIndex('j', g.d)}
  y[gid] = x[(o * ${g.d}u + kk) * ${inner}u + i];`;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'ind', 'i32', 'read')}
${decl(2, 'y', t, 'read_write', vec)}

${entry1d(WG, total, body)}
`;
  return {
    passes: [pass1d(label, wgsl, total, caps, [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }, { kind: 'output', index: 0 }])],
    scratch: [],
  };
}

function gatherReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const ind = inputs[1]!.data;
  const g = gatherGeometry(c);
  const y = tensorLike(x, c.layer.outputs[0].shape);
  for (let o = 0; o < g.outer; o++) {
    for (let j = 0; j < g.nIdx; j++) {
      const k = normIndex(Number(ind[j]), g.d, 'Gather');
      const from = (o * g.d + k) * g.inner;
      const to = (o * g.nIdx + j) * g.inner;
      for (let i = 0; i < g.inner; i++) y.data[to + i] = src[from + i];
    }
  }
  return [y];
}

export const gatherKernel: Kernel = {
  name: 'gather',
  ops: ['Gather'],
  variants: [
    { name: 'naive', description: 'one output element per invocation' },
    { name: 'vec4', description: 'one vec4 per invocation; rows (dims after the axis) a multiple of 4 long' },
  ],
  defaultVariant: () => 'naive',
  supports: gatherSupports,
  plan: gatherPlan,
  reference: gatherReference,
  cost: noFlops, // moves data only
};

// ---------------------------------------------------------------------------------------------
// GatherElements

function elementsSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive') return unsupported(`unknown variant ${variant}`);
  const s = checkTensors(c, caps, [0, 1], elements(c.layer.outputs[0]));
  if (!s.ok) return s;
  const ic = indexCheck(c);
  if (!ic.ok) return ic;
  if (c.layer.inputs[1]!.shape.length !== c.layer.inputs[0]!.shape.length) return unsupported('indices and data differ in rank');
  return supported;
}

function elementsPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `gather-elements/${variant}`;
  if (n === 0) return emptyPlan(label, t);
  const xs = c.layer.inputs[0]!.shape;
  const is = c.layer.inputs[1]!.shape;
  const axis = axisOf(c);
  const st = stridesOf(xs);
  const off = [...xs.keys()].map((d) => (d === axis ? `kk * ${st[d]}u` : `i${d} * ${st[d]}u`)).join(' + ');
  const body = `${unravel(is, 'gid')}
${readIndex('gid', xs[axis])}
  y[gid] = x[${off}];`;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read')}
${decl(1, 'ind', 'i32', 'read')}
${decl(2, 'y', t, 'read_write')}

${entry1d(WG, n, body)}
`;
  return {
    passes: [pass1d(label, wgsl, n, caps, [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }, { kind: 'output', index: 0 }])],
    scratch: [],
  };
}

function elementsReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const ind = inputs[1]!;
  const axis = axisOf(c);
  const st = stridesOf(x.shape);
  const y = tensorLike(x, ind.shape);
  forEachIndex(ind.shape, (k, idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) {
      off += (d === axis ? normIndex(Number(ind.data[k]), x.shape[axis], 'GatherElements') : idx[d]) * st[d];
    }
    y.data[k] = src[off];
  });
  return [y];
}

export const gatherElementsKernel: Kernel = {
  name: 'gather-elements',
  ops: ['GatherElements'],
  variants: [{ name: 'naive', description: 'one output element per invocation' }],
  defaultVariant: () => 'naive',
  supports: elementsSupports,
  plan: elementsPlan,
  reference: elementsReference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [gatherKernel, gatherElementsKernel];
