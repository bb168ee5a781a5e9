/**
 * Compress: the slices of `input` along `axis` (of the flattened input without `axis`) whose entry
 * in the bool `condition` is true, in order. A condition shorter than the axis drops the slices
 * past its end. The output's length along the axis is the number of true entries, so the layer has
 * a static shape only when the condition is a constant (the usual case: a fixed channel or token
 * selection); the kernels still read the condition from its buffer, as the runner binds it.
 *
 * The input is viewed as [outer, L, inner] (L = the axis, or every element without `axis`) and the
 * output as [outer, K, inner], K the count of true entries among the first min(|condition|, L).
 * Variants:
 *  - `scan`: one output element per invocation; it walks the condition to its k-th true entry
 *    (O(|condition|) reads per element, no scratch).
 *  - `table`: a first pass (one invocation) writes the K kept positions to a scratch table, then
 *    one output element per invocation reads its position from the table.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, prod } from './wgsl.js';
import { WG, attrNum, checkTensors, decl, emptyPlan, gt, nz, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

interface CompressGeometry {
  outer: number;
  /** The axis' length (every element of the input without `axis`). */
  L: number;
  inner: number;
  /** Kept slices: the output's length along the axis. */
  K: number;
  /** Condition entries that select: min(|condition|, L). */
  nc: number;
}

function geometry(c: LayerCase): CompressGeometry {
  const x = c.layer.inputs[0]!.shape;
  const y = c.layer.outputs[0].shape;
  const nc = elements(c.layer.inputs[1]!);
  if (c.layer.attrs.axis === undefined) {
    const L = prod(x);
    return { outer: 1, L, inner: 1, K: prod(y), nc: Math.min(nc, L) };
  }
  const a = attrNum(c, 'axis', 0);
  const axis = a < 0 ? a + x.length : a;
  return { outer: prod(x.slice(0, axis)), L: x[axis], inner: prod(x.slice(axis + 1)), K: y[axis], nc: Math.min(nc, x[axis]) };
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'scan' && variant !== 'table') return unsupported(`unknown variant ${variant}`);
  const [x, cond] = c.layer.inputs;
  if (!x || !cond) return unsupported('input or condition is missing');
  if (cond.dtype !== 'bool') return unsupported(`${cond.dtype} condition: only bool`);
  if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  return checkTensors(c, caps, [0, 1], elements(c.layer.outputs[0]));
}

/** WGSL: `k` (position along the kept axis), `o` and `i` (outer and inner index) of output element `gid`. */
function outputIndex(g: CompressGeometry): string {
  return `  let i = gid % ${nz(g.inner)}u;
  let k = (gid / ${nz(g.inner)}u) % ${nz(g.K)}u;
  let o = gid / ${nz(g.inner * g.K)}u;`;
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `compress/${variant}`;
  if (n === 0) return emptyPlan(label, t);
  const g = geometry(c);
  const X = { kind: 'input' as const, index: 0 };
  const C = { kind: 'input' as const, index: 1 };
  const Y = { kind: 'output' as const, index: 0 };
  const gather = `  y[gid] = x[(o * ${g.L}u + j) * ${g.inner}u + i];`;
  if (variant === 'scan') {
    const body = `${outputIndex(g)}
  var j = 0u;
  var seen = 0u;
  for (var p = 0u; p < ${g.nc}u; p++) {
    if (cond[p] != 0u) {
      if (seen == k) { j = p; break; }
      seen++;
    }
  }
${gather}`;
    const wgsl = `${header([t])}${decl(0, 'x', t, 'read')}
${decl(1, 'cond', 'u32', 'read')}
${decl(2, 'y', t, 'read_write')}

${entry1d(WG, n, body)}
`;
    return { passes: [pass1d(label, wgsl, n, caps, [X, C, Y])], scratch: [] };
  }
  // table: the kept positions, in order, by one invocation; then the gather.
  const build = `${decl(0, 'cond', 'u32', 'read')}
${decl(1, 'keep', 'u32', 'read_write')}

@compute @workgroup_size(1)
fn main() {
  var m = 0u;
  for (var p = 0u; p < ${g.nc}u; p++) {
    if (cond[p] != 0u && m < ${g.K}u) { keep[m] = p; m++; }
  }
}
`;
  const read = `${header([t])}${decl(0, 'x', t, 'read')}
${decl(1, 'keep', 'u32', 'read')}
${decl(2, 'y', t, 'read_write')}

${entry1d(WG, n, `${outputIndex(g)}
  let j = keep[k];
${gather}`)}
`;
  const K = { kind: 'scratch' as const, index: 0 };
  return {
    passes: [
      { label: `${label} positions`, wgsl: build, workgroups: [1, 1, 1], buffers: [C, K] },
      pass1d(`${label} gather`, read, n, caps, [X, K, Y]),
    ],
    scratch: [g.K * 4],
  };
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const cond = inputs[1]!.data;
  const g = geometry(c);
  const keep: number[] = [];
  for (let p = 0; p < g.nc; p++) if (Number(cond[p]) !== 0) keep.push(p);
  if (keep.length !== g.K) throw new Error(`Compress: the condition keeps ${keep.length} slices; the layer's output has ${g.K}`);
  const y = tensorLike(x, c.layer.outputs[0].shape);
  for (let o = 0; o < g.outer; o++) {
    keep.forEach((j, k) => {
      for (let i = 0; i < g.inner; i++) y.data[(o * g.K + k) * g.inner + i] = src[(o * g.L + j) * g.inner + i];
    });
  }
  return [y];
}

export const compressKernel: Kernel = {
  name: 'compress',
  ops: ['Compress'],
  variants: [
    { name: 'scan', description: 'one output element per invocation, walking the condition to its k-th true entry' },
    { name: 'table', description: 'the kept positions into a scratch table by one invocation, then one output element per invocation' },
  ],
  defaultVariant: () => 'scan',
  supports,
  plan,
  reference,
  cost: noFlops, // selects slices: data movement only
};

export const kernels: Kernel[] = [compressKernel];
