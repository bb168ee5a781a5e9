/**
 * Small shared pieces for assembling WGSL (docs/architecture.md, Kernels): bindings, the f16
 * enable, the flat invocation id with its bounds guard, row-major index arithmetic and
 * broadcasting — so kernel files contain their algorithm, not boilerplate.
 */
import type { TensorType } from '../ir/types.js';
import type { DType } from '../onnx/dtype.js';
import type { DeviceCaps, GpuType } from './types.js';

export function gpuTypeOf(dtype: DType): GpuType {
  if (dtype === 'float32' || dtype === 'float64') return 'f32';
  if (dtype === 'float16') return 'f16';
  if (dtype.startsWith('uint') || dtype === 'bool') return 'u32';
  return 'i32';
}

/** Bytes per element on the GPU. */
export function gpuSize(t: GpuType): number {
  return t === 'f16' ? 2 : 4;
}

/** The product of a list of sizes (1 for none): an element count. */
export function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

export function elements(t: Pick<TensorType, 'shape'>): number {
  return prod(t.shape);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export interface BindingDecl {
  name: string;
  type: GpuType;
  /** Outputs and scratch are read_write; inputs read. */
  access: 'read' | 'read_write';
}

/** `enable f16;` when any binding or the compute type is f16. */
export function header(types: GpuType[]): string {
  return types.includes('f16') ? 'enable f16;\n' : '';
}

/**
 * Storage bindings in order (binding 0…n-1), then an optional uniform struct at binding n.
 * Arrays of f16 are declared as array<f16>.
 */
export function bindings(decls: BindingDecl[], uniformStruct?: string): string {
  const lines = decls.map((d, i) => `@group(0) @binding(${i}) var<storage, ${d.access}> ${d.name}: array<${d.type}>;`);
  if (uniformStruct) lines.push(`struct Params {\n${uniformStruct}\n};\n@group(0) @binding(${decls.length}) var<uniform> params: Params;`);
  return lines.join('\n');
}

export const WORKGROUP_1D = 256;

/**
 * Workgroup counts for `total` invocations of `wgSize` each, spread over x and y when x alone would
 * exceed the device's per-dimension limit. Pair with `flatIdPrelude`.
 */
export function dispatch1d(total: number, wgSize: number, caps: Pick<DeviceCaps, 'maxComputeWorkgroupsPerDimension'>): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / wgSize));
  const maxX = caps.maxComputeWorkgroupsPerDimension;
  if (groups <= maxX) return [groups, 1, 1];
  const y = Math.ceil(groups / maxX);
  if (y > maxX) throw new Error(`${total} invocations exceed the device's dispatch limits`);
  return [Math.ceil(groups / y), y, 1];
}

/** A 1-D compute entry point: `gid` is the flat invocation index, guarded by `total`. */
export function entry1d(wgSize: number, total: number | string, body: string): string {
  return `@compute @workgroup_size(${wgSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = (wid.y * nwg.x + wid.x) * ${wgSize}u + lid;
  if (gid >= ${typeof total === 'number' ? `${total}u` : total}) { return; }
${body}
}`;
}

/** WGSL statements declaring `${prefix}0…` = the row-major multi-index of flat index `flat` in `shape`. */
export function unravel(shape: readonly number[], flat: string, prefix = 'i'): string {
  const st = stridesOf(shape);
  return shape.map((_, d) => `  let ${prefix}${d} = (${flat} / ${st[d]}u) % ${shape[d]}u;`).join('\n');
}

/**
 * WGSL expression for the flat offset into an input of shape `inShape` broadcast (numpy rules)
 * to `outShape`, given the output multi-index variables `${prefix}0…`.
 */
export function broadcastOffset(outShape: readonly number[], inShape: readonly number[], prefix = 'i'): string {
  const st = stridesOf(inShape);
  const lead = outShape.length - inShape.length;
  const terms = inShape.map((d, j) => (d === 1 ? '' : `${prefix}${j + lead} * ${st[j]}u`)).filter(Boolean);
  return terms.length ? terms.join(' + ') : '0u';
}

/** A WGSL literal of the compute type. */
export function lit(v: number, t: GpuType): string {
  if (t === 'f32' || t === 'f16') {
    // WGSL has no infinity literal: the largest finite value stands in (a clamp bound, a max seed).
    const big = t === 'f16' ? '65504.0' : '3.4028234663852886e38';
    if (!Number.isFinite(v)) return v > 0 ? `${t}(${big})` : v < 0 ? `${t}(-${big})` : `${t}(0.0)`;
    const s = Number.isInteger(v) ? `${v}.0` : `${v}`;
    return `${t}(${s})`;
  }
  return t === 'u32' ? `${Math.max(0, Math.trunc(v))}u` : `${Math.trunc(v)}i`;
}
