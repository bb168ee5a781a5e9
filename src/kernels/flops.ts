/**
 * Helpers for `Kernel.cost` (the counting conventions are on `cost` in types.ts): element counts
 * and attributes of a layer signature, and the costs many kernels share.
 */
import type { AttrValue, LayerSignature, TensorType } from '../ir/types.js';
import { prod } from './wgsl.js';

/** Elements of a tensor; 0 for an omitted one. */
export const count = (t: TensorType | null | undefined): number => (t ? prod(t.shape) : 0);

/** A number attribute, or `d` when absent or of another type. */
export const numAttr = (v: AttrValue | undefined, d: number): number => (typeof v === 'number' ? v : d);

/** A list-of-numbers attribute, or undefined. */
export const numsAttr = (v: AttrValue | undefined): number[] | undefined =>
  (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined);

/** The cost of an op that only moves or reinterprets data (Reshape, Transpose, Gather, Pad…): no arithmetic. */
export const noFlops = (): number => 0;

/** One FLOP per output element: the default for an op whose kernel declares no cost (registry.ts layerFlops). */
export const perOutputElement = (l: LayerSignature): number => count(l.outputs[0]);

/** One FLOP per element of input 0 (a reduction or a global pool reads each element once). */
export const perInputElement = (l: LayerSignature): number => count(l.inputs[0]);
