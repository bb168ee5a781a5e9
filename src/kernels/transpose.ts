/**
 * Transpose (perm; default: reversed axes).
 *
 * Both variants first simplify the permutation: unit dims are dropped and runs of axes that stay
 * adjacent and in order are merged (NCHW→NHWC, perm [0,2,3,1], becomes [N, C, H·W] with perm
 * [0,2,1]). The index arithmetic then has as few dims as the data movement really has.
 *
 * Variants:
 *  - `naive`: one output element per invocation, gathering from the input (reads are strided,
 *    writes contiguous).
 *  - `tiled`: for a swap of the last two (merged) axes with any batch in front, a 32×32 tile is
 *    read row-wise into workgroup memory and written row-wise from it, so both global reads and
 *    writes are contiguous. The tile has 33 columns so that column reads fall in distinct banks.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, gpuSize, header, stridesOf, unravel } from './wgsl.js';
import { attrInts, checkTensors, emptyPlan, decl, forEachIndex, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'transpose';
const TILE = 32;
const ROWS = 8;

export function permOf(c: LayerCase): number[] {
  const r = c.layer.inputs[0]!.shape.length;
  return attrInts(c, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
}

/** The permutation with unit dims dropped and in-order runs merged: input dims and perm. */
export function simplify(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((d, a) => d !== 1);
  const renum = new Array<number>(shape.length).fill(-1);
  let k = 0;
  shape.forEach((_, a) => { if (keep[a]) renum[a] = k++; });
  const s1 = shape.filter((_, a) => keep[a]);
  const p1 = perm.filter((a) => keep[a]).map((a) => renum[a]);
  // Merge output-adjacent axes that are input-adjacent too.
  const groups: number[][] = [];
  for (const a of p1) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] + 1 === a) g.push(a); else groups.push([a]);
  }
  // Groups, ordered by their first input axis, are the merged input axes.
  const order = groups.map((g, i) => i).sort((i, j) => groups[i][0] - groups[j][0]);
  const pos = new Array<number>(groups.length);
  order.forEach((gi, newAxis) => { pos[gi] = newAxis; });
  const s2 = order.map((gi) => groups[gi].reduce((acc, a) => acc * s1[a], 1));
  const p2 = groups.map((_, gi) => pos[gi]);
  return { shape: s2, perm: p2 };
}

/** [batch, rows, cols] of a last-two-axes swap after simplification, or undefined. */
function swapGeometry(c: LayerCase): { b: number; r: number; c: number } | undefined {
  const { shape, perm } = simplify(c.layer.inputs[0]!.shape, permOf(c));
  if (perm.length === 2 && perm[0] === 1) return { b: 1, r: shape[0], c: shape[1] };
  if (perm.length === 3 && perm[0] === 0 && perm[1] === 2 && perm[2] === 1) return { b: shape[0], r: shape[1], c: shape[2] };
  return undefined;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0], n);
  if (!s.ok) return s;
  if (variant === 'naive') return supported;
  if (variant !== 'tiled') return unsupported(`unknown variant ${variant}`);
  const g = swapGeometry(c);
  if (!g) {
    const sp = simplify(c.layer.inputs[0]!.shape, permOf(c));
    return unsupported(`perm [${permOf(c).join(',')}] is, after merging axes, perm [${sp.perm.join(',')}] of [${sp.shape.join(',')}]: not a swap of the last two axes`);
  }
  const max = caps.maxComputeWorkgroupsPerDimension;
  if (Math.ceil(g.c / TILE) > max || Math.ceil(g.r / TILE) > max || g.b > max) return unsupported(`a ${g.b}×${g.r}×${g.c} tiling exceeds the device's dispatch limits`);
  if (TILE * ROWS > caps.maxComputeInvocationsPerWorkgroup) return unsupported(`needs ${TILE * ROWS} invocations per workgroup`);
  const bytes = TILE * (TILE + 1) * gpuSize(gt(c.layer.inputs[0]!));
  if (bytes > caps.maxComputeWorkgroupStorageSize) return unsupported(`the tile needs ${bytes} bytes of workgroup memory`);
  return supported;
}

function naivePlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.inputs[0]!);
  const { shape, perm } = simplify(c.layer.inputs[0]!.shape, permOf(c));
  const out = perm.map((a) => shape[a]);
  const ist = stridesOf(shape);
  const n = elements(c.layer.outputs[0]);
  const off = perm.map((a, d) => `i${d} * ${ist[a]}u`).join(' + ') || '0u';
  const body = `${unravel(out, 'gid')}
  y[gid] = x[${off}];`;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read')}
${decl(1, 'y', t, 'read_write')}

${entry1d(256, n, body)}
`;
  return { passes: [pass1d(`${KERNEL}/naive`, wgsl, n, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
}

function tiledPlan(c: LayerCase): KernelPlan {
  const t = gt(c.layer.inputs[0]!);
  const g = swapGeometry(c)!;
  const P = TILE + 1;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read')}
${decl(1, 'y', t, 'read_write')}

var<workgroup> tile: array<${t}, ${TILE * P}>;

@compute @workgroup_size(${TILE}, ${ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = wid.z * ${g.r * g.c}u;
  let c0 = wid.x * ${TILE}u;
  let r0 = wid.y * ${TILE}u;
  for (var k = 0u; k < ${TILE}u; k += ${ROWS}u) {
    let r = r0 + lid.y + k;
    let cc = c0 + lid.x;
    if (r < ${g.r}u && cc < ${g.c}u) { tile[(lid.y + k) * ${P}u + lid.x] = x[base + r * ${g.c}u + cc]; }
  }
  workgroupBarrier();
  for (var k = 0u; k < ${TILE}u; k += ${ROWS}u) {
    let cc = c0 + lid.y + k;
    let r = r0 + lid.x;
    if (cc < ${g.c}u && r < ${g.r}u) { y[base + cc * ${g.r}u + r] = tile[lid.x * ${P}u + lid.y + k]; }
  }
}
`;
  return {
    passes: [{
      label: `${KERNEL}/tiled`,
      wgsl,
      workgroups: [Math.max(1, Math.ceil(g.c / TILE)), Math.max(1, Math.ceil(g.r / TILE)), Math.max(1, g.b)],
      buffers: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }],
    }],
    scratch: [],
  };
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  if (elements(c.layer.outputs[0]) === 0) return emptyPlan(`${KERNEL}/${variant}`, gt(c.layer.outputs[0]));
  return variant === 'tiled' ? tiledPlan(c) : naivePlan(c, caps);
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const perm = permOf(c);
  const ist = stridesOf(x.shape);
  const outShape = perm.map((a) => x.shape[a]);
  const y = tensorLike(x, outShape);
  forEachIndex(outShape, (k, idx) => {
    let off = 0;
    for (let d = 0; d < perm.length; d++) off += idx[d] * ist[perm[d]];
    y.data[k] = src[off];
  });
  return [y];
}

export const transposeKernel: Kernel = {
  name: KERNEL,
  ops: ['Transpose'],
  variants: [
    { name: 'naive', description: 'one output element per invocation, strided gather from the input' },
    { name: 'tiled', description: '32×32 workgroup-memory tile; last two (merged) axes swapped, any batch' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [transposeKernel];
