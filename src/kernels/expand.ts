/**
 * Expand (numpy broadcast to a shape) and Tile (repeat along each axis).
 *
 * Both are the same gather: with the input's dims aligned to the output's from the right (missing
 * leading dims are 1), output index i maps to input index i mod D per axis — i itself where D
 * equals the output extent, 0 where D is 1 (Expand), the repetition's position otherwise (Tile).
 * The output shape is the layer's, so neither the target shape nor the repeats are needed.
 *
 * Variants:
 *  - `naive`: one output element per invocation.
 *  - `vec4`: one vec4 per invocation, when the output's last axis is a multiple of 4 long and the
 *    input's last axis is either 1 (each vec4 is one value splatted) or a multiple of 4 long (each
 *    vec4 is one aligned vec4 of the input).
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, stridesOf, unravel } from './wgsl.js';
import { WG, checkTensors, decl, emptyPlan, forEachIndex, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'expand';

/** Input dims aligned to the output's rank. */
function alignedInput(c: LayerCase): number[] {
  const x = c.layer.inputs[0]!.shape;
  const r = c.layer.outputs[0].shape.length;
  return [...new Array<number>(r - x.length).fill(1), ...x];
}

function vecMode(c: LayerCase): 'splat' | 'vec' | undefined {
  const o = c.layer.outputs[0].shape;
  const x = alignedInput(c);
  const r = o.length;
  if (r === 0 || o[r - 1] === 0 || o[r - 1] % 4 !== 0) return undefined;
  if (x[r - 1] === 1) return 'splat';
  return x[r - 1] % 4 === 0 ? 'vec' : undefined;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive' && variant !== 'vec4') return unsupported(`unknown variant ${variant}`);
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0], variant === 'vec4' ? n / 4 : n);
  if (!s.ok) return s;
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  const o = c.layer.outputs[0].shape;
  const x = alignedInput(c);
  if (x.length !== o.length) return unsupported(`input rank ${c.layer.inputs[0]!.shape.length} exceeds output rank ${o.length}`);
  if (x.some((d, i) => d === 0 ? o[i] !== 0 : o[i] % d !== 0)) return unsupported(`[${x.join(',')}] does not tile or broadcast to [${o.join(',')}]`);
  if (variant === 'vec4' && !vecMode(c)) {
    return unsupported(`output last axis ${o[o.length - 1] ?? 1} is not a positive multiple of 4, or input last axis ${x[x.length - 1] ?? 1} is neither 1 nor a multiple of 4`);
  }
  return supported;
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `${KERNEL}/${variant} ${c.layer.op}`;
  if (n === 0) return emptyPlan(label, t);
  const o = [...c.layer.outputs[0].shape];
  const x = alignedInput(c);
  const r = o.length;
  const mode = variant === 'vec4' ? vecMode(c) : undefined;
  if (mode) {
    o[r - 1] /= 4;
    if (mode === 'vec') x[r - 1] /= 4;
  }
  const st = stridesOf(x);
  const terms = x.map((d, i) => (d === 1 ? '' : `${d === o[i] ? `i${i}` : `(i${i} % ${d}u)`} * ${st[i]}u`)).filter(Boolean);
  const read = `x[${terms.join(' + ') || '0u'}]`;
  const body = `${unravel(o, 'gid')}
  y[gid] = ${mode === 'splat' ? `vec4<${t}>(${read})` : read};`;
  const total = n / (mode ? 4 : 1);
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read', mode === 'vec')}
${decl(1, 'y', t, 'read_write', !!mode)}

${entry1d(WG, total, body)}
`;
  return { passes: [pass1d(label, wgsl, total, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const xt = inputs[0]!;
  const src = values(xt);
  const o = c.layer.outputs[0].shape;
  const x = alignedInput(c);
  const st = stridesOf(x);
  const y = tensorLike(xt, o);
  forEachIndex(o, (k, idx) => {
    let off = 0;
    for (let i = 0; i < idx.length; i++) off += (idx[i] % x[i]) * st[i];
    y.data[k] = src[off];
  });
  return [y];
}

export const expandKernel: Kernel = {
  name: KERNEL,
  ops: ['Expand', 'Tile'],
  variants: [
    { name: 'naive', description: 'one output element per invocation' },
    { name: 'vec4', description: 'one vec4 per invocation; output last axis % 4 = 0, input last axis 1 or % 4 = 0' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [expandKernel];
