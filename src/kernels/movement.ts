/**
 * Shared pieces of the data-movement kernels (copy, transpose, concat, split, slice, gather, pad,
 * resize, expand): which tensors have a GPU element type, the limits every pass must respect
 * (binding size, dispatch size), storage declarations that may be vec4, and small host helpers
 * for the CPU references.
 *
 * Data movement never converts: a tensor moves in its own GPU element type (gpuTypeOf), so int64
 * travels as i32 and bool as u32, exactly as the runner uploads them.
 */
import type { TensorType } from '../ir/types.js';
import type { DType } from '../onnx/dtype.js';
import { halfToFloat } from '../onnx/tensor.js';
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuSize, gpuTypeOf, header } from './wgsl.js';

/** Element types with no faithful GPU representation here (float64 would silently lose bits). */
const NO_GPU_TYPE: ReadonlySet<DType> = new Set(['float64', 'bfloat16', 'string', 'complex64', 'complex128',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'uint4', 'int4']);

export const WG = 256;

/** The GPU element type of a tensor. */
export function gt(t: TensorType): GpuType {
  return gpuTypeOf(t.dtype);
}

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float16';
}

/**
 * The checks every data-movement variant shares: each bound tensor (`bound` input slots, and every
 * output) has a GPU type the device offers and fits one storage binding, and a 1-D dispatch of
 * `total` invocations (when given) fits the device's workgroup grid.
 */
export function checkTensors(c: LayerCase, caps: DeviceCaps, bound: number[] = [0], total?: number): Support {
  const ts: Array<[string, TensorType | null]> = [
    ...bound.map((i): [string, TensorType | null] => [`input ${i}`, c.layer.inputs[i] ?? null]),
    ...c.layer.outputs.map((t, i): [string, TensorType | null] => [`output ${i}`, t]),
  ];
  for (const [what, t] of ts) {
    if (!t) return unsupported(`${what} is missing`);
    if (NO_GPU_TYPE.has(t.dtype)) return unsupported(`${t.dtype} tensors have no WGSL element type`);
    if (t.dtype === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
    const bytes = elements(t) * gpuSize(gt(t));
    if (bytes > caps.maxStorageBufferBindingSize) {
      return unsupported(`${what} (${bytes} bytes) exceeds the ${caps.maxStorageBufferBindingSize}-byte storage binding limit`);
    }
  }
  if (total !== undefined) return checkDispatch(total, WG, caps);
  return supported;
}

/** Whether `total` invocations in groups of `wg` fit the 2-D spread of dispatch1d. */
export function checkDispatch(total: number, wg: number, caps: DeviceCaps): Support {
  const groups = Math.ceil(total / wg);
  const max = caps.maxComputeWorkgroupsPerDimension;
  if (groups > max * max) return unsupported(`${total} invocations exceed the device's dispatch limits`);
  return supported;
}

/** A storage binding; `vec` declares array<vec4<T>>. */
export function decl(binding: number, name: string, t: GpuType, access: 'read' | 'read_write', vec = false): string {
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${vec ? `vec4<${t}>` : t}>;`;
}

/** A 1-D pass over `total` invocations of WG each. */
export function pass1d(label: string, wgsl: string, total: number, caps: DeviceCaps, buffers: Pass['buffers']): Pass {
  return { label, wgsl, workgroups: dispatch1d(total, WG, caps), buffers };
}

/** `x` as WGSL source of an unsigned constant. */
export const u = (x: number): string => `${x}u`;

// ---------------------------------------------------------------------------------------------
// Host helpers for the references

type Data = HostTensor['data'];

/** Host data as the reference reads it: float16 raw bits (Uint16Array) become floats. */
export function values(t: HostTensor): Data {
  if (t.dtype === 'float16' && t.data instanceof Uint16Array) return Float32Array.from(t.data, (h) => halfToFloat(h));
  return t.data;
}

/** A zeroed array of the same kind as `like`. */
export function alloc(like: Data, n: number): Data {
  const Ctor = like.constructor as new (n: number) => Data;
  return new Ctor(n);
}

/** An output tensor of `dtype` and `shape`, data of the same kind as `like`. */
export function tensorLike(like: HostTensor, shape: number[], dtype: DType = like.dtype): HostTensor {
  return { dtype, shape: [...shape], data: alloc(values(like), shape.reduce((a, b) => a * b, 1)) };
}

/** Calls `f(flat, index)` for every element of `shape` in row-major order (index is reused). */
export function forEachIndex(shape: readonly number[], f: (flat: number, idx: number[]) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(k, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** Integer values of a constant input, or undefined. */
export function constInts(c: LayerCase, i: number): number[] | undefined {
  const v = c.consts[i];
  return v ? (v.data as number[]).map(Number) : undefined;
}

/** Attribute as a number list, or undefined. */
export function attrInts(c: LayerCase, name: string): number[] | undefined {
  const a = c.layer.attrs[name];
  return Array.isArray(a) && (a.length === 0 || typeof a[0] === 'number') ? (a as number[]) : undefined;
}

export function attrNum(c: LayerCase, name: string, dflt: number): number {
  const a = c.layer.attrs[name];
  return typeof a === 'number' ? a : dflt;
}

export function attrStr(c: LayerCase, name: string, dflt: string): string {
  const a = c.layer.attrs[name];
  return typeof a === 'string' ? a : dflt;
}

/**
 * A divisor for baked index arithmetic: a zero extent only occurs when the pass has no
 * invocations, and WGSL rejects a constant division by zero, so it becomes 1.
 */
export const nz = (x: number): number => Math.max(1, x);

/** A plan for an empty output: one dispatch that writes nothing (the output must still be bound). */
export function emptyPlan(label: string, t: GpuType): KernelPlan {
  const wgsl = `${header([t])}${decl(0, 'y', t, 'read_write')}

${entry1d(WG, 0, '  y[gid] = y[gid];')}
`;
  return { passes: [{ label: `${label} (empty)`, wgsl, workgroups: [1, 1, 1], buffers: [{ kind: 'output', index: 0 }] }], scratch: [] };
}
