/**
 * The single registry from ONNX op type to kernel. A new op is one kernel file (exporting
 * `kernels`, its cost among them), one import line here, and its tests (docs/architecture.md,
 * Adding an op). The layer IR's FLOPs come from here too (`layerFlops`).
 */
import type { LayerSignature } from '../ir/types.js';
import type { Kernel } from './types.js';
import { perOutputElement } from './flops.js';
import { kernels as matmul } from './matmul.js';
import { kernels as conv } from './conv.js';
import { kernels as elementwise } from './elementwise.js';
import { kernels as normalization } from './normalization.js';
import { kernels as softmax } from './softmax.js';
import { kernels as reduce } from './reduce.js';
import { kernels as pool } from './pool.js';
import { kernels as copy } from './copy.js';
import { kernels as transpose } from './transpose.js';
import { kernels as concat } from './concat.js';
import { kernels as slice } from './slice.js';
import { kernels as gather } from './gather.js';
import { kernels as pad } from './pad.js';
import { kernels as resize } from './resize.js';
import { kernels as expand } from './expand.js';
import { kernels as split } from './split.js';
import { kernels as fused } from './fused.js';
import { kernels as misc } from './misc.js';
import { kernels as recurrent } from './recurrent.js';
import { kernels as einsum } from './einsum.js';
import { kernels as quantized } from './quantized.js';
import { kernels as indexing } from './indexing.js';
import { kernels as extra } from './extra.js';
import { kernels as sampling } from './sampling.js';
import { kernels as signal } from './signal.js';
import { kernels as rearrange } from './rearrange.js';
import { kernels as losses } from './losses.js';
import { kernels as random } from './random.js';
import { kernels as sparse } from './sparse.js';
import { kernels as deform } from './deform.js';
import { kernels as natten } from './natten.js';
import { kernels as compress } from './compress.js';

export const KERNELS: readonly Kernel[] = [
  ...matmul, ...conv, ...elementwise, ...normalization, ...softmax, ...reduce, ...pool,
  ...copy, ...transpose, ...concat, ...slice, ...gather, ...pad, ...resize, ...expand, ...split, ...fused, ...misc, ...sparse, ...deform,
  ...recurrent, ...einsum, ...quantized, ...indexing, ...extra, ...sampling, ...signal, ...rearrange, ...losses, ...random, ...natten,
  ...compress,
];

const BY_OP = new Map<string, Kernel>();
for (const k of KERNELS) {
  for (const op of k.ops) {
    if (BY_OP.has(op)) throw new Error(`op ${op} is served by two kernels: ${BY_OP.get(op)!.name} and ${k.name}`);
    BY_OP.set(op, k);
  }
}

export function kernelFor(op: string): Kernel | undefined {
  return BY_OP.get(op);
}

export function kernelOps(): string[] {
  return [...BY_OP.keys()].sort();
}

/**
 * Ops the model processor knows that no kernel serves yet and that only move data: 0 FLOPs, as
 * their kernel would declare. (NonZero, Shape and Size are folded or fail to a data-dependent shape
 * in practice; the entry keeps them from counting as arithmetic where one becomes a layer.)
 */
const DATA_OPS_WITHOUT_KERNEL: ReadonlySet<string> = new Set(['NonZero', 'Shape', 'Size', 'Constant']);

/**
 * FLOPs of one execution of a layer (`Layer.flops`): its kernel's `cost`; else 0 for the data
 * movement above, else one FLOP per output element. `l.op` is domain-qualified, as `Layer.op`.
 */
export function layerFlops(l: LayerSignature): number {
  const k = kernelFor(l.op);
  if (k?.cost) return k.cost(l);
  if (!k && DATA_OPS_WITHOUT_KERNEL.has(l.op)) return 0;
  return perOutputElement(l);
}
