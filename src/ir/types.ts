import type { DType } from '../onnx/dtype.js';

/** A dimension during inference: a number, or a symbolic name not bound (yet). */
export type Dim = number | string;

/** The concrete type of a tensor in a layer: dtype and dims, all known. */
export interface TensorType {
  dtype: DType;
  shape: number[];
}

/** Normalized attribute values (what the layer key is computed from). */
export type AttrValue = number | string | number[] | string[] | TensorSummary | GraphSummary;

/** An attribute holding a tensor: its type only, and the values when small. */
export interface TensorSummary {
  kind: 'tensor';
  dtype: DType;
  shape: number[];
  /** Element values, present when the tensor has at most 16 elements. */
  values?: number[] | string[];
}

/** An attribute holding a subgraph (If/Loop/Scan bodies): size only. */
export interface GraphSummary {
  kind: 'graph';
  name: string;
  nodes: number;
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
  /** Floating-point (or integer) operations; a multiply-add counts as 2. */
  flops: number;
  /** Bytes read and written at minimum: every input and output once. */
  bytes: number;
  /** Elements of constant inputs (weights). */
  params: number;
}
