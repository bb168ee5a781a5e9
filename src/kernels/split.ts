/**
 * Split along an axis into outputs of the recorded sizes (the `split` attribute as shape
 * inference resolved it; equal when the model gave none — read here from the output shapes).
 *
 * The mirror of Concat: with outer/inner the products of the dims before/after the axis, output k
 * is `outer` contiguous chunks of len_k·inner elements, chunk o read from input offset
 * o·total·inner + off_k·inner.
 *
 * Variants:
 *  - `fused`: one pass over the input; each invocation writes its element to the output that owns
 *    it (all outputs bound, so at most maxStorageBuffersPerShaderStage − 1 outputs).
 *  - `per-output`: one pass per output copying its slice (vec4 when the chunks are 4-aligned).
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { elements, entry1d, header } from './wgsl.js';
import { WG, attrNum, checkDispatch, checkTensors, decl, gt, nz, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'split';

interface SplitGeometry {
  outer: number;
  inner: number;
  lens: number[];
  offs: number[];
  total: number;
}

function geometry(c: LayerCase): SplitGeometry {
  const x = c.layer.inputs[0]!.shape;
  let axis = attrNum(c, 'axis', 0);
  if (axis < 0) axis += x.length;
  const outer = x.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.slice(axis + 1).reduce((a, b) => a * b, 1);
  const lens = c.layer.outputs.map((t) => t.shape[axis]);
  const offs: number[] = [];
  let acc = 0;
  for (const l of lens) { offs.push(acc); acc += l; }
  return { outer, inner, lens, offs, total: x[axis] };
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'fused' && variant !== 'per-output') return unsupported(`unknown variant ${variant}`);
  const s = checkTensors(c, caps, [0], elements(c.layer.inputs[0] ?? { shape: [0] }));
  if (!s.ok) return s;
  const t = gt(c.layer.inputs[0]!);
  if (c.layer.outputs.some((y) => gt(y) !== t)) return unsupported('outputs differ from the input in element type');
  const g = geometry(c);
  if (g.lens.reduce((a, b) => a + b, 0) !== g.total) return unsupported(`output extents [${g.lens.join(',')}] do not sum to the input's ${g.total}`);
  if (variant === 'fused') {
    const bound = 1 + c.layer.outputs.length;
    if (bound > caps.maxStorageBuffersPerShaderStage) return unsupported(`${bound} buffers exceed the ${caps.maxStorageBuffersPerShaderStage} storage bindings per stage`);
    return supported;
  }
  for (const y of c.layer.outputs) {
    const d = checkDispatch(elements(y), WG, caps);
    if (!d.ok) return d;
  }
  return supported;
}

function fusedPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = geometry(c);
  const t = gt(c.layer.inputs[0]!);
  const n = elements(c.layer.inputs[0]!);
  const live = g.lens.map((_, k) => k).filter((k) => g.lens[k] > 0);
  const branches = live.map((k, j) => {
    const write = `y${k}[o * ${g.lens[k] * g.inner}u + ${g.offs[k] === 0 ? 'a' : `(a - ${g.offs[k]}u)`} * ${g.inner}u + i] = v;`;
    if (j === live.length - 1) return `{ ${write} }`;
    return `if (a < ${g.offs[k] + g.lens[k]}u) { ${write} }`;
  }).join(' else ');
  // Empty outputs are bound too (the plan binds every output) and touched once so that the
  // pipeline's automatic layout keeps their bindings.
  const touch = g.lens.map((_, k) => k).filter((k) => g.lens[k] === 0).map((k) => `  if (gid == 0xffffffffu) { y${k}[0] = v; }`).join('\n');
  const body = `  let i = gid % ${nz(g.inner)}u;
  let a = (gid / ${nz(g.inner)}u) % ${nz(g.total)}u;
  let o = gid / ${nz(g.total * g.inner)}u;
  let v = x[gid];
  ${branches}
${touch}`;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read')}
${c.layer.outputs.map((_, k) => decl(k + 1, `y${k}`, t, 'read_write')).join('\n')}

${entry1d(WG, n, body)}
`;
  return {
    passes: [pass1d(`${KERNEL}/fused`, wgsl, n, caps, [{ kind: 'input', index: 0 }, ...c.layer.outputs.map((_, k) => ({ kind: 'output' as const, index: k }))])],
    scratch: [],
  };
}

function perOutputPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = geometry(c);
  const t = gt(c.layer.inputs[0]!);
  const passes = g.lens.map((len, k): Pass => {
    const chunk = len * g.inner;
    const stride = g.total * g.inner;
    const src = g.offs[k] * g.inner;
    const vec = chunk > 0 && chunk % 4 === 0 && stride % 4 === 0 && src % 4 === 0;
    const w = vec ? 4 : 1;
    const n = (g.outer * chunk) / w;
    const body = `  let o = gid / ${nz(chunk / w)}u;
  let e = gid % ${nz(chunk / w)}u;
  y[gid] = x[o * ${stride / w}u + ${src / w}u + e];`;
    const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'y', t, 'read_write', vec)}

${entry1d(WG, n, body)}
`;
    return pass1d(`${KERNEL}/per-output output ${k}${vec ? ' vec4' : ''}`, wgsl, n, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: k }]);
  });
  return { passes, scratch: [] };
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  return variant === 'fused' ? fusedPlan(c, caps) : perOutputPlan(c, caps);
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = geometry(c);
  const x = inputs[0]!;
  const src = values(x);
  return c.layer.outputs.map((yt, k) => {
    const y = tensorLike(x, yt.shape);
    const chunk = g.lens[k] * g.inner;
    for (let o = 0; o < g.outer; o++) {
      const from = o * g.total * g.inner + g.offs[k] * g.inner;
      for (let e = 0; e < chunk; e++) y.data[o * chunk + e] = src[from + e];
    }
    return y;
  });
}

export const splitKernel: Kernel = {
  name: KERNEL,
  ops: ['Split'],
  variants: [
    { name: 'fused', description: 'one pass over the input writing each element to its output (all outputs bound)' },
    { name: 'per-output', description: 'one pass per output copying its slice (vec4 when aligned)' },
  ],
  // The default must run on any device: WebGPU guarantees 8 storage buffers per stage (input + 7).
  defaultVariant: (c) => (c.layer.outputs.length <= 7 ? 'fused' : 'per-output'),
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [splitKernel];
