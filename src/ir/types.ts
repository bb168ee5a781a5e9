import type { DType } from '../onnx/dtype.js';

// Dimensions and normalized attributes are what shape inference produces (onnx/shapes/types.ts).
export type { AttrValue, Dim, GraphSummary, TensorSummary } from '../onnx/shapes/types.js';
import type { AttrValue } from '../onnx/shapes/types.js';

/** The concrete type of a tensor in a layer: dtype and dims, all known. */
export interface TensorType {
  dtype: DType;
  shape: number[];
}

/** What dlprof knows about a constant input (a weight), without keeping its bytes. */
export interface WeightInfo {
  /** Index of the input that is constant. */
  input: number;
  /** Fraction of elements that are exactly zero, or null when the data is unavailable. */
  sparsity: number | null;
  /** Whether `sparsity` was counted over every element (else estimated from an even sample). */
  sparsityExact: boolean;
  /** Stored as a sparse_initializer in the model. */
  sparseInitializer: boolean;
}

/**
 * One ONNX node after shape inference, independent of where it occurs: the unit that is
 * de-duplicated, benchmarked and stored. Two nodes with equal `key` are the same layer.
 */
export interface Layer {
  key: string;
  /** Op type, domain-qualified for non-default domains (e.g. `com.microsoft.Attention`). */
  op: string;
  attrs: Record<string, AttrValue>;
  /** One entry per ONNX input slot; null for an omitted optional input. */
  inputs: Array<TensorType | null>;
  outputs: TensorType[];
  /** Constant inputs (weights); sparsity enters the key only when a weight is mostly zeros. */
  weights: WeightInfo[];
  /** Floating-point (or integer) operations of one execution; a multiply-add counts as 2 (`Kernel.cost`). */
  flops: number;
  /** Bytes read and written at minimum: every input and output once. */
  bytes: number;
  /** Elements of constant inputs (weights). */
  params: number;
}

/** What a layer's work follows from: its op, normalized attributes and tensor types (the FLOPs' arguments). */
export type LayerSignature = Pick<Layer, 'op' | 'attrs' | 'inputs' | 'outputs'>;

/**
 * FLOPs of one execution of a layer. The IR takes it from its caller (the kernels come after the IR
 * in the data flow): `layerFlops` in src/kernels/registry.ts, which asks the op's kernel.
 */
export type FlopsOf = (l: LayerSignature) => number;
