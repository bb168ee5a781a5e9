/**
 * Concat along any axis, of any number of inputs.
 *
 * View every tensor as [outer, len·inner] where outer is the product of the dims before the axis
 * and inner of those after: input k is `outer` contiguous chunks of len_k·inner elements, and
 * chunk o goes to output offset o·total·inner + off_k·inner (off_k = Σ_{j<k} len_j).
 *
 * Variants:
 *  - `select`: one pass over the output; each invocation finds its input from the position along
 *    the axis (a chain of comparisons against baked offsets). All inputs are bound at once, so a
 *    pass takes at most maxStorageBuffersPerShaderStage − 1 inputs: more inputs are split into
 *    groups, one pass per group, each writing its group's part of the output.
 *  - `per-input`: one pass per input, each copying that input into its slice of the output (no
 *    selection; vec4 when the input's chunks and their destinations are 4-aligned).
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { elements, entry1d, header } from './wgsl.js';
import { WG, attrNum, nz, checkDispatch, checkTensors, decl, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'concat';

export interface ConcatGeometry {
  outer: number;
  inner: number;
  /** Extent of each input along the axis. */
  lens: number[];
  /** Offset of each input along the axis. */
  offs: number[];
  total: number;
}

export function concatGeometry(c: LayerCase): ConcatGeometry {
  const out = c.layer.outputs[0].shape;
  const r = out.length;
  let axis = attrNum(c, 'axis', 0);
  if (axis < 0) axis += r;
  const outer = out.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = out.slice(axis + 1).reduce((a, b) => a * b, 1);
  const lens = c.layer.inputs.map((t) => t!.shape[axis] ?? 1);
  const offs: number[] = [];
  let acc = 0;
  for (const l of lens) { offs.push(acc); acc += l; }
  return { outer, inner, lens, offs, total: acc };
}

/** Inputs per `select` pass: all buffers but the output. */
function groupSize(caps: DeviceCaps): number {
  return Math.max(1, caps.maxStorageBuffersPerShaderStage - 1);
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'select' && variant !== 'per-input') return unsupported(`unknown variant ${variant}`);
  if (c.layer.inputs.length === 0) return unsupported('no inputs');
  const s = checkTensors(c, caps, c.layer.inputs.map((_, i) => i), elements(c.layer.outputs[0]));
  if (!s.ok) return s;
  const t = gt(c.layer.outputs[0]);
  if (c.layer.inputs.some((x) => gt(x!) !== t)) return unsupported('inputs and output differ in element type');
  if (caps.maxStorageBuffersPerShaderStage < 2) return unsupported('needs 2 storage buffers per stage');
  for (const x of c.layer.inputs) {
    const d = checkDispatch(elements(x!), WG, caps);
    if (!d.ok) return d;
  }
  return supported;
}

function selectPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = concatGeometry(c);
  const t = gt(c.layer.outputs[0]);
  const G = groupSize(caps);
  const passes: Pass[] = [];
  for (let first = 0; first < g.lens.length; first += G) {
    const ks = g.lens.map((_, k) => k).slice(first, first + G);
    const base = g.offs[first];
    const span = ks.reduce((a, k) => a + g.lens[k], 0);
    const n = g.outer * span * g.inner;
    // Invocation → (o, a, i) within this group's part of the output, a relative to `base`.
    const branches = ks.map((k, j) => {
      const rel = g.offs[k] - base;
      const read = `x${j}[o * ${g.lens[k] * g.inner}u + ${rel === 0 ? 'a' : `(a - ${rel}u)`} * ${g.inner}u + i]`;
      if (j === ks.length - 1) return `{ v = ${read}; }`;
      return `if (a < ${rel + g.lens[k]}u) { v = ${read}; }`;
    }).join(' else ');
    const body = `  let i = gid % ${nz(g.inner)}u;
  let a = (gid / ${nz(g.inner)}u) % ${nz(span)}u;
  let o = gid / ${nz(span * g.inner)}u;
  var v: ${t};
  ${branches}
  y[o * ${g.total * g.inner}u + (a + ${base}u) * ${g.inner}u + i] = v;`;
    const wgsl = `${header([t])}${ks.map((k, j) => decl(j, `x${j}`, t, 'read')).join('\n')}
${decl(ks.length, 'y', t, 'read_write')}

${entry1d(WG, n, body)}
`;
    passes.push(pass1d(`${KERNEL}/select inputs ${first}..${first + ks.length - 1}`, wgsl, n, caps,
      [...ks.map((k) => ({ kind: 'input' as const, index: k })), { kind: 'output', index: 0 }]));
  }
  return { passes, scratch: [] };
}

function perInputPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = concatGeometry(c);
  const t = gt(c.layer.outputs[0]);
  const passes = g.lens.map((len, k): Pass => {
    const chunk = len * g.inner;
    const stride = g.total * g.inner;
    const dst = g.offs[k] * g.inner;
    const vec = chunk > 0 && chunk % 4 === 0 && stride % 4 === 0 && dst % 4 === 0;
    const w = vec ? 4 : 1;
    const n = (g.outer * chunk) / w;
    const body = `  let o = gid / ${nz(chunk / w)}u;
  let e = gid % ${nz(chunk / w)}u;
  y[o * ${stride / w}u + ${dst / w}u + e] = x[gid];`;
    const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'y', t, 'read_write', vec)}

${entry1d(WG, n, body)}
`;
    return pass1d(`${KERNEL}/per-input input ${k}${vec ? ' vec4' : ''}`, wgsl, n, caps, [{ kind: 'input', index: k }, { kind: 'output', index: 0 }]);
  });
  return { passes, scratch: [] };
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  return variant === 'per-input' ? perInputPlan(c, caps) : selectPlan(c, caps);
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = concatGeometry(c);
  const xs = inputs.map((x) => values(x!));
  const y = tensorLike(inputs[0]!, c.layer.outputs[0].shape);
  for (let o = 0; o < g.outer; o++) {
    xs.forEach((src, k) => {
      const chunk = g.lens[k] * g.inner;
      const dst = o * g.total * g.inner + g.offs[k] * g.inner;
      for (let e = 0; e < chunk; e++) y.data[dst + e] = src[o * chunk + e];
    });
  }
  return [y];
}

export const concatKernel: Kernel = {
  name: KERNEL,
  ops: ['Concat'],
  variants: [
    { name: 'select', description: 'one pass over the output selecting the source input (groups of inputs when they exceed the binding limit)' },
    { name: 'per-input', description: 'one pass per input copying it into its slice of the output (vec4 when aligned)' },
  ],
  defaultVariant: () => 'select',
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [concatKernel];
