/**
 * Reshape, Flatten, Squeeze and Unsqueeze: the element order is unchanged, only the dims are, so
 * the work is one contiguous copy of the input buffer (what a runtime that cannot alias the
 * buffer pays; a runtime that aliases pays nothing, which the analysis can treat as a fusion).
 *
 * Variants:
 *  - `copy`: one element per invocation.
 *  - `copy-vec4`: one vec4 per invocation (16 bytes for 32-bit types), when the element count is a
 *    positive multiple of 4.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header } from './wgsl.js';
import { WG, checkTensors, decl, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'copy';

function count(c: LayerCase): number {
  return elements(c.layer.outputs[0]);
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const n = count(c);
  if (variant !== 'copy' && variant !== 'copy-vec4') return unsupported(`unknown variant ${variant}`);
  const vec = variant === 'copy-vec4';
  if (elements(c.layer.inputs[0] ?? { shape: [0] }) !== n) return unsupported('input and output element counts differ');
  if (vec && (n === 0 || n % 4 !== 0)) return unsupported(`element count ${n} is not a positive multiple of 4`);
  const s = checkTensors(c, caps, [0], vec ? n / 4 : n);
  if (!s.ok) return s;
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  return supported;
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const vec = variant === 'copy-vec4';
  const total = vec ? count(c) / 4 : count(c);
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'y', t, 'read_write', vec)}

${entry1d(WG, total, '  y[gid] = x[gid];')}
`;
  return {
    passes: [pass1d(`${KERNEL}/${variant} ${c.layer.op}`, wgsl, total, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])],
    scratch: [],
  };
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const y = tensorLike(x, c.layer.outputs[0].shape);
  (y.data as Float32Array).set(values(x) as Float32Array);
  return [y];
}

export const copyKernel: Kernel = {
  name: KERNEL,
  ops: ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'],
  variants: [
    { name: 'copy', description: 'one element per invocation' },
    { name: 'copy-vec4', description: 'one vec4 (4 elements) per invocation; element count % 4 = 0' },
  ],
  defaultVariant: (c) => (count(c) > 0 && count(c) % 4 === 0 ? 'copy-vec4' : 'copy'),
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [copyKernel];
