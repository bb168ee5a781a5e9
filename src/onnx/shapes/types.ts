import type { DType } from '../dtype.js';
import type { GraphProto, SparseTensorProto, TensorProto } from '../proto.js';
import type { ConstValue } from '../tensor.js';

/** A dimension during inference: a number, or a symbolic name not bound (yet). */
export type Dim = number | string;

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


/** What inference knows of one tensor. */
export interface TensorInfo {
  /** Undefined only for the outputs of unknown ops without value_info. */
  dtype?: DType;
  /** Undefined when even the rank is unknown. String dims are symbolic (data-dependent). */
  shape?: Dim[];
  /** The tensor's value, when it is known at load time and small (shape math, constants). */
  value?: ConstValue;
  /** The tensor is a weight: an initializer or a Constant node's output (data not decoded). */
  weight?: { proto: TensorProto; sparse?: SparseTensorProto };
}

/** Reads a node's attributes; every read records the value used (default filled in). */
export interface AttrReader {
  has(name: string): boolean;
  int(name: string, def?: number): number;
  ints(name: string, def?: number[]): number[];
  float(name: string, def?: number): number;
  floats(name: string, def?: number[]): number[];
  string(name: string, def?: string): string;
  strings(name: string, def?: string[]): string[];
  tensor(name: string): TensorProto | undefined;
  graph(name: string): GraphProto | undefined;
}

/** Passed to an op's inference function; everything it may use about the node. */
export interface InferCtx {
  readonly op: string;
  readonly domain: string;
  /** Opset version of the node's domain. */
  readonly opset: number;
  /** Node name as printed in messages (escaped; generated when the model has none). */
  readonly node: string;
  /** One entry per input slot; undefined for an omitted optional input (''). */
  readonly inputs: ReadonlyArray<TensorInfo | undefined>;
  readonly numOutputs: number;
  readonly attr: AttrReader;
  /** Input i, which must be present. */
  input(i: number): TensorInfo;
  /** Whether optional input i is present. */
  has(i: number): boolean;
  /** dtype of input i (error if unknown). */
  dtype(i: number): DType;
  /** Shape of input i (error if its rank is unknown). */
  shape(i: number): Dim[];
  /** Known value of input i, if any. */
  value(i: number): ConstValue | undefined;
  /** Record a normalized attribute (e.g. pads computed from auto_pad), used for the layer key. */
  setAttr(name: string, value: AttrValue): void;
  /**
   * Leave an explicit attribute out of the normalized ones, where another attribute already says
   * the same (ConvTranspose's output_shape once pads are resolved).
   */
  dropAttr(name: string): void;
  /** A fresh symbolic dimension for data-dependent sizes. */
  symbol(hint: string): string;
  /** Infers a subgraph (If branches, Loop/Scan bodies) given its formal inputs' infos. */
  inferGraph(g: GraphProto, inputs: TensorInfo[]): TensorInfo[];
  /** Abort inference of this node with a reason (names the node). */
  fail(msg: string): never;
}

export interface OpSpec {
  /** Output dtypes and shapes, and values where they are known without evaluating (e.g. Shape). */
  infer(ctx: InferCtx): TensorInfo[];
  /**
   * Computes output values when every present input has a known value (constant folding of shape
   * math). Called only when the outputs are small. Return undefined to decline.
   */
  evaluate?(ctx: InferCtx, values: Array<ConstValue | undefined>): ConstValue[] | undefined;
}

/** Thrown by ctx.fail: a shape error in a node. */
export class ShapeError extends Error {
  constructor(message: string, readonly node: string) {
    super(message);
  }
}
