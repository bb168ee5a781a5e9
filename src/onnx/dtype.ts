/** ONNX element types (TensorProto.DataType) as dlprof names them, with their sizes. */
export type DType =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string' | 'complex64' | 'complex128'
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'uint4' | 'int4';

/** Indexed by TensorProto.DataType number (ONNX 1.16). */
const BY_CODE: Array<DType | undefined> = [
  undefined, 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool',
  'float16', 'float64', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'uint4', 'int4',
];

/** Bytes per element; 4-bit types count as half a byte, strings as pointer-sized. */
const SIZE: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2,
  int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1, string: 8, complex64: 8, complex128: 16,
  float8e4m3fn: 1, float8e4m3fnuz: 1, float8e5m2: 1, float8e5m2fnuz: 1, uint4: 0.5, int4: 0.5,
};

export function dtypeFromOnnx(code: number | null | undefined): DType | undefined {
  return code == null ? undefined : BY_CODE[code];
}

export function onnxFromDtype(d: DType): number {
  const i = BY_CODE.indexOf(d);
  if (i < 0) throw new Error(`no ONNX code for dtype ${d}`);
  return i;
}

export function dtypeSize(d: DType): number {
  return SIZE[d];
}

export const FLOAT_TYPES: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz']);
export const INT_TYPES: ReadonlySet<DType> = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32',
  'uint32', 'int64', 'uint64', 'int4', 'uint4']);

export function isFloat(d: DType): boolean { return FLOAT_TYPES.has(d); }
export function isInt(d: DType): boolean { return INT_TYPES.has(d); }
