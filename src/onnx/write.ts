/**
 * Writing ONNX models from code: the model builders in models/, the single-layer models of an
 * emitted micro-benchmark suite, and test fixtures all use this one builder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Dim } from './shapes/types.js';
import { dtypeSize, onnxFromDtype, type DType } from './dtype.js';
import type { onnx } from 'onnx-proto';
import { AttributeType, encodeModel, onnx as onnxRuntime } from './proto.js';

/** A float attribute whose value happens to be integral (1.0) must be marked as such. */
export class FloatAttr { constructor(readonly value: number) {} }
export const float = (v: number): FloatAttr => new FloatAttr(v);
export class FloatsAttr { constructor(readonly value: number[]) {} }
export const floats = (v: number[]): FloatsAttr => new FloatsAttr(v);

/**
 * In a function body (FunctionProto), an attribute that takes its value from the calling node's
 * attribute `ref` (AttributeProto.ref_attr_name); `type` is the attribute's type.
 */
export class RefAttr {
  constructor(readonly ref: string, readonly type: 'float' | 'int' | 'string' | 'floats' | 'ints' | 'tensor' | 'graph') {}
}
export const refAttr = (ref: string, type: RefAttr['type']): RefAttr => new RefAttr(ref, type);

/** A tensor value for attributes (Constant's `value`) and initializers. */
export interface TensorData {
  dtype: DType;
  shape: number[];
  /**
   * Values; omitted means deterministic pseudo-random (floats) or zeros (ints). A typed array
   * matching the dtype (Float32Array for float32, Int8Array for int8, …) is used as the raw
   * bytes directly, without a copy: that is how large weights are written quickly.
   */
  data?: ArrayLike<number> | ArrayLike<bigint> | string[];
}

export type AttrInput = number | string | number[] | string[] | FloatAttr | FloatsAttr | RefAttr | TensorData | GraphBuilder;

/** Deterministic PRNG (mulberry32) so generated models are byte-for-byte reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Typed-array classes whose little-endian bytes are exactly a dtype's raw_data encoding. */
const TYPED: Partial<Record<DType, { new (n: number): ArrayBufferView & ArrayLike<number | bigint> }>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
};
const LITTLE_ENDIAN = os.endianness() === 'LE';

function encodeRaw(t: TensorData, rand: () => number): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const typed = TYPED[t.dtype];
  if (LITTLE_ENDIAN && typed && t.data instanceof typed) {
    // Fast path: the array's bytes are the encoding (a view, not a copy).
    const v = t.data as ArrayBufferView & ArrayLike<number>;
    if (v.length !== n) throw new Error(`tensor data has ${v.length} elements, shape [${t.shape.join(', ')}] needs ${n}`);
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  if (LITTLE_ENDIAN && !t.data && t.dtype === 'float32') {
    // Same values as the generic path below (a Float32Array store rounds like writeFloatLE), faster.
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = (rand() - 0.5) * 0.2;
    return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  }
  const size = dtypeSize(t.dtype);
  const buf = Buffer.alloc(Math.ceil(n * size));
  const src = t.data as ArrayLike<number | bigint> | undefined;
  const get = (i: number): number => (src ? Number(src[i]) : t.dtype.startsWith('float') || t.dtype === 'bfloat16' ? (rand() - 0.5) * 0.2 : 0);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'float32': buf.writeFloatLE(get(i), i * 4); break;
      case 'float64': buf.writeDoubleLE(get(i), i * 8); break;
      case 'float16': buf.writeUInt16LE(floatToHalf(get(i)), i * 2); break;
      case 'int8': buf.writeInt8(get(i), i); break;
      case 'uint8': case 'bool': buf.writeUInt8(get(i), i); break;
      case 'int16': buf.writeInt16LE(get(i), i * 2); break;
      case 'uint16': buf.writeUInt16LE(get(i), i * 2); break;
      case 'int32': buf.writeInt32LE(get(i), i * 4); break;
      case 'uint32': buf.writeUInt32LE(get(i), i * 4); break;
      case 'int64': buf.writeBigInt64LE(src ? BigInt(src[i] as number | bigint) : 0n, i * 8); break;
      case 'uint64': buf.writeBigUInt64LE(src ? BigInt(src[i] as number | bigint) : 0n, i * 8); break;
      default: throw new Error(`cannot write ${t.dtype} tensors`);
    }
  }
  return buf;
}

export function floatToHalf(f: number): number {
  const f32 = new Float32Array([f]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && mant ? 0x200 : 0);
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  // Adding (not OR-ing) lets a rounding carry out of the mantissa bump the exponent.
  return sign | ((exp << 10) + ((mant + 0x1000) >> 13));
}

export function tensorProto(name: string, t: TensorData, rand: () => number = prng(1)): onnx.ITensorProto {
  const proto: onnx.ITensorProto = { name, dataType: onnxFromDtype(t.dtype), dims: t.shape };
  if (t.dtype === 'string') proto.stringData = (t.data as string[]).map((s) => Buffer.from(s));
  else proto.rawData = encodeRaw(t, rand);
  return proto;
}

function valueInfo(name: string, dtype: DType, shape?: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxFromDtype(dtype),
        shape: shape && { dim: shape.map((d) => (typeof d === 'number' ? (d < 0 ? {} : { dimValue: d }) : { dimParam: d })) },
      },
    },
  };
}

function isTensorData(v: unknown): v is TensorData {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v;
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly sparseInitializers: onnx.ISparseTensorProto[] = [];
  readonly valueInfos: onnx.IValueInfoProto[] = [];
  private counter = 0;
  private readonly rand: () => number;

  /**
   * `namePrefix` is prepended to every generated name: subgraphs (If/Loop/Scan bodies) need one,
   * because names must be unique across a graph and all its subgraphs.
   */
  constructor(readonly name: string, seed = 1, readonly namePrefix = '') {
    this.rand = prng(seed);
  }

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    return `${this.namePrefix}${prefix}_${this.counter++}`;
  }

  /** Declares a graph input; string dims are symbolic (dim_param), -1 is an unnamed dim. */
  input(name: string, dtype: DType, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** Declares a graph output; dtype/shape are optional (inference fills them in). */
  output(name: string, dtype: DType = 'float32', shape?: Dim[]): string {
    this.outputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  valueInfo(name: string, dtype: DType, shape?: Dim[]): void {
    this.valueInfos.push(valueInfo(name, dtype, shape));
  }

  /** Adds an initializer (raw_data); without data it is pseudo-random (floats) or zero (ints). */
  init(prefix: string, dtype: DType, shape: number[], data?: TensorData['data']): string {
    const name = this.fresh(prefix);
    this.initializers.push(tensorProto(name, { dtype, shape, data }, this.rand));
    return name;
  }

  /** Adds an initializer with exactly this name (exporters name weights after parameters). */
  initNamed(name: string, dtype: DType, shape: number[], data?: TensorData['data']): string {
    this.initializers.push(tensorProto(name, { dtype, shape, data }, this.rand));
    return name;
  }

  /**
   * Adds an initializer whose bytes live in a side file (data_location = EXTERNAL). `length` is
   * written when given; the caller writes the side file.
   */
  externalInit(name: string, dtype: DType, shape: number[], location: string, offset: number, length?: number): string {
    const externalData = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }];
    if (length !== undefined) externalData.push({ key: 'length', value: String(length) });
    this.initializers.push({ name, dataType: onnxFromDtype(dtype), dims: shape, dataLocation: 1, externalData });
    return name;
  }

  /** An int64 initializer, the usual carrier of shapes and axes. */
  ints(prefix: string, values: number[], shape: number[] = [values.length]): string {
    return this.init(prefix, 'int64', shape, values);
  }

  /** Adds a weight stored as a sparse_initializer (COO, linear indices). */
  sparseInit(prefix: string, dtype: DType, shape: number[], indices: number[], values?: number[]): string {
    const name = this.fresh(prefix);
    this.sparseInitializers.push({
      values: tensorProto(name, { dtype, shape: [indices.length], data: values }, this.rand),
      indices: tensorProto(`${name}_indices`, { dtype: 'int64', shape: [indices.length], data: indices }),
      dims: shape,
    });
    return name;
  }

  /**
   * Adds a node and returns its output names. `outputs` is a count (fresh names) or the names.
   */
  node(op: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {},
    opts: { outputs?: number | string[]; name?: string; domain?: string } = {}): string[] {
    const outs = Array.isArray(opts.outputs) ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(op.toLowerCase()));
    const attribute: onnx.IAttributeProto[] = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attribute.push(this.attr(k, v));
    this.nodes.push({ opType: op, input: inputs, output: outs, attribute, name: opts.name ?? this.fresh(op), domain: opts.domain ?? '' });
    return outs;
  }

  /** Shorthand for a one-output node. */
  op(op: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, opts: { name?: string; domain?: string; output?: string } = {}): string {
    return this.node(op, inputs, attrs, { ...opts, outputs: opts.output ? [opts.output] : 1 })[0];
  }

  private attr(name: string, v: AttrInput): onnx.IAttributeProto {
    if (v instanceof RefAttr) return { name, type: AttributeType[v.type.toUpperCase() as 'FLOAT'], refAttrName: v.ref };
    if (v instanceof FloatAttr) return { name, type: AttributeType.FLOAT, f: v.value };
    if (v instanceof FloatsAttr) return { name, type: AttributeType.FLOATS, floats: v.value };
    if (v instanceof GraphBuilder) return { name, type: AttributeType.GRAPH, g: v.graph() };
    if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AttributeType.INT, i: v } : { name, type: AttributeType.FLOAT, f: v };
    if (typeof v === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(v) };
    if (isTensorData(v)) return { name, type: AttributeType.TENSOR, t: tensorProto('', v, this.rand) };
    if (v.length > 0 && typeof v[0] === 'string') return { name, type: AttributeType.STRINGS, strings: (v as string[]).map((s) => Buffer.from(s)) };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { name, type: AttributeType.INTS, ints: nums } : { name, type: AttributeType.FLOATS, floats: nums };
  }

  graph(): onnx.IGraphProto {
    return {
      name: this.name, node: this.nodes, input: this.inputs, output: this.outputs,
      initializer: this.initializers, sparseInitializer: this.sparseInitializers, valueInfo: this.valueInfos,
    };
  }

  /** The whole model. `opsets` maps domain to version ('' = default ONNX domain). */
  model(opsets: Record<string, number> = { '': 17 }, extra: Partial<onnx.IModelProto> = {}): onnx.IModelProto {
    return {
      irVersion: 8,
      producerName: 'dlprof-models',
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: this.graph(),
      ...extra,
    };
  }

  /**
   * This builder's nodes as a model-local function (ModelProto.functions): its inputs and outputs
   * are the declared graph inputs and outputs (types are not part of a FunctionProto).
   */
  functionProto(domain: string, name: string, attributes: string[] = [], opsets: Record<string, number> = { '': 17 }): onnx.IFunctionProto {
    return {
      domain, name, attribute: attributes, node: this.nodes,
      input: this.inputs.map((i) => i.name ?? ''), output: this.outputs.map((o) => o.name ?? ''),
      opsetImport: Object.entries(opsets).map(([d, version]) => ({ domain: d, version })),
    };
  }

  toBytes(opsets?: Record<string, number>, extra?: Partial<onnx.IModelProto>): Uint8Array {
    return encodeModel(this.model(opsets, extra));
  }

  save(file: string, opsets?: Record<string, number>, extra?: Partial<onnx.IModelProto>): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, this.toBytes(opsets, extra));
  }

  /**
   * Writes the model like `save`, but encodes the graph's initializers one at a time straight to
   * the file, so a multi-gigabyte model never exists as one buffer: memory stays at the weights
   * themselves plus one encoded tensor. The bytes differ from `save`'s only in field order (the
   * graph comes last, its initializers after its other fields), which protobuf readers accept.
   * Returns the number of bytes written.
   */
  saveStreamed(file: string, opsets?: Record<string, number>, extra?: Partial<onnx.IModelProto>): number {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const model = this.model(opsets, extra);
    const head = encodeModel({ ...model, graph: undefined });
    const graphHead = onnxRuntime.GraphProto.encode(onnxRuntime.GraphProto.fromObject({ ...model.graph, initializer: [] })).finish();
    // Sizes first (a length-delimited field needs its length up front), without encoding the data.
    const sizes = this.initializers.map((t) => tensorEncodedSize(t));
    let graphLen = graphHead.length;
    for (const s of sizes) graphLen += 1 + varint(s).length + s;
    const fd = fs.openSync(file, 'w');
    let written = 0;
    const put = (b: Uint8Array): void => { fs.writeSync(fd, b); written += b.length; };
    try {
      put(head);
      put(Uint8Array.of((7 << 3) | 2)); // ModelProto.graph, length-delimited
      put(varint(graphLen));
      put(graphHead);
      this.initializers.forEach((t, i) => {
        const bytes = onnxRuntime.TensorProto.encode(onnxRuntime.TensorProto.fromObject(t as Record<string, unknown>)).finish();
        if (bytes.length !== sizes[i]) throw new Error(`internal: tensor ${t.name} encoded to ${bytes.length} bytes, expected ${sizes[i]}`);
        put(Uint8Array.of((5 << 3) | 2)); // GraphProto.initializer, length-delimited
        put(varint(bytes.length));
        put(bytes);
      });
    } finally {
      fs.closeSync(fd);
    }
    return written;
  }
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return Uint8Array.from(out);
}

/** Encoded size of a TensorProto, computed without copying its raw_data. */
function tensorEncodedSize(t: onnx.ITensorProto): number {
  const raw = t.rawData;
  if (!raw || raw.length === 0) return onnxRuntime.TensorProto.encode(onnxRuntime.TensorProto.fromObject(t as Record<string, unknown>)).finish().length;
  const rest = onnxRuntime.TensorProto.encode(onnxRuntime.TensorProto.fromObject({ ...t, rawData: undefined } as Record<string, unknown>)).finish().length;
  return rest + 1 + varint(raw.length).length + raw.length; // field 9 (raw_data): tag, length, bytes
}
