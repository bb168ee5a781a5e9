/**
 * Reading tensor *values* from TensorProtos — only ever for small tensors (shape math, attribute
 * constants) or a bounded sample (weight sparsity). Weights are never expanded in full.
 */
import { dtypeFromOnnx, dtypeSize, type DType } from './dtype.js';
import { packedFields, Reader, type PackedField, type TensorProto } from './proto.js';

/** A known tensor value. Integers (int64 too) are JS numbers; bool is 0/1. */
export interface ConstValue {
  dtype: DType;
  shape: number[];
  data: number[] | string[];
}

/** Integer tensors with at most this many elements have their values decoded for folding. */
export const MAX_FOLD_ELEMENTS = 1 << 16;
/**
 * Float tensors are weights far more often than shape math (Resize scales, Range bounds): only
 * tiny ones are decoded, so a model's many small weights are not expanded into JS arrays.
 */
export const MAX_FOLD_FLOAT_ELEMENTS = 64;

export function foldLimit(dtype: DType | undefined): number {
  return dtype && (dtype.startsWith('int') || dtype.startsWith('uint') || dtype === 'bool' || dtype === 'string')
    ? MAX_FOLD_ELEMENTS : MAX_FOLD_FLOAT_ELEMENTS;
}

/** Reads bytes of an external-data tensor on demand (set by the loader). */
export type ExternalReader = (t: TensorProto) => Uint8Array | undefined;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

export function tensorDtype(t: TensorProto): DType | undefined {
  return dtypeFromOnnx(t.dataType ?? 0);
}

/** Whether a tensor keeps its data in a side file (external data). */
export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === 1;
}

/** Reads element i of little-endian raw data as a number. */
function readRaw(dv: DataView, dtype: DType, i: number): number {
  switch (dtype) {
    case 'float32': return dv.getFloat32(i * 4, true);
    case 'float64': return dv.getFloat64(i * 8, true);
    case 'float16': return halfToFloat(dv.getUint16(i * 2, true));
    case 'bfloat16': return new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0];
    case 'int8': return dv.getInt8(i);
    case 'uint8': case 'bool': return dv.getUint8(i);
    case 'int16': return dv.getInt16(i * 2, true);
    case 'uint16': return dv.getUint16(i * 2, true);
    case 'int32': return dv.getInt32(i * 4, true);
    case 'uint32': return dv.getUint32(i * 4, true);
    case 'int64': return Number(dv.getBigInt64(i * 8, true));
    case 'uint64': return Number(dv.getBigUint64(i * 8, true));
    default: return NaN;
  }
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decodes all elements of packed fields (protobuf varint / fixed encodings). */
function decodePacked(fields: PackedField[], dtype: DType, limit: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.wire === 'varint') {
      const r = Reader.create(f.bytes);
      while (r.pos < r.len && out.length < limit) {
        // int32_data carries float16/bfloat16 bit patterns and small ints; int64 as signed.
        out.push(dtype === 'uint64' ? Number(r.uint64()) : Number(r.int64()));
      }
    } else {
      const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
      const w = f.wire === 'fixed32' ? 4 : 8;
      for (let o = 0; o + w <= f.bytes.byteLength && out.length < limit; o += w) {
        out.push(w === 4 ? dv.getFloat32(o, true) : dv.getFloat64(o, true));
      }
    }
  }
  if (dtype === 'float16') return out.map(halfToFloat);
  if (dtype === 'bfloat16') return out.map((b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
  return out;
}

/** The raw little-endian bytes of a tensor, if it stores its data that way (raw or external). */
function rawBytes(t: TensorProto, external?: ExternalReader): Uint8Array | undefined {
  if (isExternal(t)) return external?.(t);
  if (t.rawData && t.rawData.length > 0) return t.rawData;
  return undefined;
}

/**
 * The values of a tensor, or undefined when it has more than `limit` elements, stores them
 * externally and unreadably, or is of a type whose values dlprof does not decode.
 */
export function decodeTensor(t: TensorProto, external?: ExternalReader, maxElements?: number): ConstValue | undefined {
  const dtype = tensorDtype(t);
  if (!dtype) return undefined;
  const limit = maxElements ?? foldLimit(dtype);
  const shape = tensorDims(t);
  const n = elementCount(shape);
  if (!(n <= limit)) return undefined;
  if (dtype === 'string') {
    const s = (t.stringData ?? []).map((b) => Buffer.from(b).toString('utf8'));
    return s.length === n ? { dtype, shape, data: s } : undefined;
  }
  const raw = rawBytes(t, external);
  let data: number[];
  if (raw) {
    if (raw.byteLength < n * dtypeSize(dtype)) return undefined;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    data = new Array<number>(n);
    for (let i = 0; i < n; i++) data[i] = readRaw(dv, dtype, i);
  } else {
    const p = packedFields(t) ?? {};
    const fields = p.floatData ?? p.int32Data ?? p.int64Data ?? p.doubleData ?? p.uint64Data;
    if (fields) data = decodePacked(fields, dtype, n);
    else {
      // Unpacked (non-standard) encodings were decoded by protobufjs into arrays.
      const arr = (t.floatData?.length ? t.floatData : t.int32Data?.length ? t.int32Data
        : t.int64Data?.length ? t.int64Data : t.doubleData?.length ? t.doubleData : t.uint64Data) ?? [];
      data = (arr as Array<number>).map(Number);
      if (dtype === 'float16') data = data.map(halfToFloat);
    }
    if (data.length !== n) return undefined;
  }
  return { dtype, shape, data };
}

/**
 * Fraction of zero elements, exact for tensors up to `sampleLimit` elements and otherwise
 * estimated from `sampleLimit` evenly spaced elements (so a multi-GB model is never scanned in
 * full). Null when the data cannot be read.
 */
export function zeroFraction(t: TensorProto, external?: ExternalReader, sampleLimit = 1 << 16): { sparsity: number | null; exact: boolean } {
  const dtype = tensorDtype(t);
  if (!dtype || dtype === 'string') return { sparsity: null, exact: false };
  const n = elementCount(tensorDims(t));
  if (n === 0) return { sparsity: 0, exact: true };
  const size = dtypeSize(dtype);
  const raw = rawBytes(t, external);
  if (raw && size >= 1 && raw.byteLength >= n * size) {
    const samples = Math.min(n, sampleLimit);
    const step = n / samples;
    let zeros = 0;
    for (let s = 0; s < samples; s++) {
      const i = Math.floor(s * step);
      let allZero = true;
      // A float's -0 (sign bit only) counts as zero too.
      const base = i * size;
      for (let b = 0; b < size; b++) {
        let byte = raw[base + b];
        if (b === size - 1 && (dtype === 'float32' || dtype === 'float16' || dtype === 'float64' || dtype === 'bfloat16')) byte &= 0x7f;
        if (byte !== 0) { allZero = false; break; }
      }
      if (allZero) zeros++;
    }
    return { sparsity: zeros / samples, exact: samples === n };
  }
  const v = decodeTensor(t, external, sampleLimit);
  if (!v) return { sparsity: null, exact: false };
  const zeros = (v.data as number[]).reduce((z, x) => z + (x === 0 ? 1 : 0), 0);
  return { sparsity: zeros / v.data.length, exact: true };
}

/**
 * All of a tensor's values as a typed array (floats → Float32Array, integers → Int32Array with
 * int64 clamped to the int32 range, bool/uint8 → Uint8Array), for running a model. Undefined when
 * the data cannot be read (missing external file). This is the one place weights are expanded,
 * and only on demand.
 */
export function tensorValues(t: TensorProto, external?: ExternalReader): Float32Array | Int32Array | Uint8Array | undefined {
  const dtype = tensorDtype(t);
  if (!dtype || dtype === 'string') return undefined;
  const n = elementCount(tensorDims(t));
  const raw = rawBytes(t, external);
  if (dtype === 'float32' && raw && raw.byteLength >= n * 4) {
    // Copy into an aligned buffer: the view into the file may start at any offset.
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + n * 4));
  }
  const v = decodeTensor(t, external, Infinity);
  if (!v) return undefined;
  const nums = v.data as number[];
  if (dtype.startsWith('float') || dtype === 'bfloat16') return Float32Array.from(nums);
  if (dtype === 'bool' || dtype === 'uint8') return Uint8Array.from(nums);
  return Int32Array.from(nums, (x) => Math.max(-2147483648, Math.min(2147483647, x)));
}
