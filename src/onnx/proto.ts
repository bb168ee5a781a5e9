/**
 * The ONNX protobuf schema (onnx-proto's generated protobufjs code), configured for dlprof:
 *  - int64 fields decode to JS numbers, not Long objects (shape math never needs > 2^53; values such
 *    as INT64_MAX in Slice ends only lose precision beyond where they are clamped anyway);
 *  - TensorProto's packed numeric fields (float_data, int32_data, int64_data, double_data,
 *    uint64_data) are kept as views into the file buffer instead of being expanded into JS arrays,
 *    so a model's weights are never copied into JS objects (see `lazyTensorDecode`). raw_data is
 *    already a view (protobufjs slices Buffers without copying).
 */
import { createRequire } from 'node:module';
import type * as OnnxNs from 'onnx-proto';

const require = createRequire(import.meta.url);
const onnxProtoPath = require.resolve('onnx-proto');
// The protobufjs runtime onnx-proto was generated against (its own nested copy, if any).
const requireFromOnnxProto = createRequire(onnxProtoPath);
const protobuf = requireFromOnnxProto('protobufjs/minimal') as typeof import('protobufjs');
protobuf.util.Long = undefined as never;
protobuf.configure();

export const onnx = (require('onnx-proto') as typeof OnnxNs).onnx;
export type ModelProto = OnnxNs.onnx.ModelProto;
export type GraphProto = OnnxNs.onnx.IGraphProto;
export type NodeProto = OnnxNs.onnx.INodeProto;
export type TensorProto = OnnxNs.onnx.ITensorProto;
export type SparseTensorProto = OnnxNs.onnx.ISparseTensorProto;
export type AttributeProto = OnnxNs.onnx.IAttributeProto;
export type ValueInfoProto = OnnxNs.onnx.IValueInfoProto;
export type TypeProto = OnnxNs.onnx.ITypeProto;
export type FunctionProto = OnnxNs.onnx.IFunctionProto;
export const AttributeType = onnx.AttributeProto.AttributeType;
export const Reader = protobuf.Reader;
export const Writer = protobuf.Writer;

/**
 * A packed numeric field of a TensorProto left undecoded: `bytes` is a view of the encoded field,
 * `wire` says how its elements are encoded (varint for int32/int64/uint64, fixed32 for float,
 * fixed64 for double). Decoding happens on demand, in `tensor.ts`, and only for small tensors.
 */
export interface PackedField {
  wire: 'varint' | 'fixed32' | 'fixed64';
  bytes: Uint8Array;
}

/** Fields of TensorProto holding element data, by field number. */
const PACKED_FIELDS: Record<number, { prop: string; wire: PackedField['wire'] }> = {
  4: { prop: 'floatData', wire: 'fixed32' },
  5: { prop: 'int32Data', wire: 'varint' },
  7: { prop: 'int64Data', wire: 'varint' },
  10: { prop: 'doubleData', wire: 'fixed64' },
  11: { prop: 'uint64Data', wire: 'varint' },
};

const origTensorDecode = onnx.TensorProto.decode.bind(onnx.TensorProto);

/**
 * Decodes a TensorProto, replacing packed element fields by `PackedField` views (stored under
 * `packed`). Every other field is decoded by onnx-proto's own code, on a copy of the message
 * with those fields cut out, so this stays correct as the schema grows.
 */
function lazyTensorDecode(readerOrBuf: InstanceType<typeof Reader> | Uint8Array, length?: number): OnnxNs.onnx.TensorProto {
  const reader = readerOrBuf instanceof Reader ? readerOrBuf : Reader.create(readerOrBuf);
  const start = reader.pos;
  const end = length === undefined ? reader.len : reader.pos + length;
  const packed: Record<string, PackedField[]> = {};
  // Spans [from, to) of the message that are *not* packed data, decoded normally afterwards.
  const keep: Array<[number, number]> = [];
  let spanStart = start;
  let hasPacked = false;
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    const spec = PACKED_FIELDS[field];
    if (spec && wireType === 2) {
      const len = reader.uint32();
      if (reader.pos + len > end) throw new RangeError(`index out of range: ${reader.pos} + ${len} > ${end}`);
      (packed[spec.prop] ??= []).push({ wire: spec.wire, bytes: reader.buf.subarray(reader.pos, reader.pos + len) });
      reader.pos += len;
      if (fieldStart > spanStart) keep.push([spanStart, fieldStart]);
      spanStart = reader.pos;
      hasPacked = true;
    } else {
      reader.skipType(wireType);
    }
  }
  if (reader.pos > end) throw new RangeError(`index out of range: ${reader.pos} > ${end}`);
  let msg: OnnxNs.onnx.TensorProto;
  if (!hasPacked) {
    msg = origTensorDecode(reader.buf.subarray(start, end));
  } else {
    if (end > spanStart) keep.push([spanStart, end]);
    // Only the small non-data spans are copied; the data stays a view.
    const total = keep.reduce((s, [a, b]) => s + (b - a), 0);
    const rest = new Uint8Array(total);
    let o = 0;
    for (const [a, b] of keep) { rest.set(reader.buf.subarray(a, b), o); o += b - a; }
    msg = origTensorDecode(rest);
    (msg as unknown as { packed: Record<string, PackedField[]> }).packed = packed;
  }
  reader.pos = end;
  return msg;
}
(onnx.TensorProto as unknown as { decode: typeof lazyTensorDecode }).decode = lazyTensorDecode;

/** The undecoded packed element fields of a tensor decoded by dlprof, if any. */
export function packedFields(t: TensorProto): Record<string, PackedField[]> | undefined {
  return (t as { packed?: Record<string, PackedField[]> }).packed;
}

/** Decodes an ONNX ModelProto from a buffer. Throws protobufjs errors on malformed input. */
export function decodeModel(buf: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(buf);
}

export function encodeModel(model: OnnxNs.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model as Record<string, unknown>)).finish();
}
