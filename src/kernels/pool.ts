/**
 * Pooling.
 *
 * `pool` — MaxPool (with the optional Indices output, storage_order 0/1) and AveragePool
 * (count_include_pad) over 1–3 spatial dims with pads, strides, dilations and ceil_mode (the
 * output shape comes from shape inference; windows are clipped to the input here).
 *  - `naive`: one output element per invocation, the window as nested loops.
 *
 * `global-pool` — GlobalAveragePool and GlobalMaxPool: a mean or max over each (n, c) plane, i.e.
 * the reduce kernel's ReduceMean/ReduceMax over the trailing axes, through its variants:
 *  - `naive`: one invocation per plane;
 *  - `vec4`: one invocation per plane with vec4 loads (plane size % 4 = 0);
 *  - `workgroup`: one workgroup per plane, partial sums then a subgroup/shared-memory tree.
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { dispatch1d, elements, entry1d, gpuTypeOf, header, prod, stridesOf } from './wgsl.js';
import { kernels as reduceKernels } from './reduce.js';
import { count, numsAttr, perInputElement } from './flops.js';

const ints = (c: LayerCase, k: string, d: number[]): number[] => (Array.isArray(c.layer.attrs[k]) ? (c.layer.attrs[k] as number[]) : d);
const num = (c: LayerCase, k: string, d: number): number => (typeof c.layer.attrs[k] === 'number' ? (c.layer.attrs[k] as number) : d);

interface Window {
  n: number;
  inSpatial: number[];
  outSpatial: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, as ONNX lays them out. */
  pads: number[];
  planes: number;
}

function windowOf(c: LayerCase): Window {
  const xs = c.layer.inputs[0]!.shape;
  const os = c.layer.outputs[0].shape;
  const n = xs.length - 2;
  const ones = new Array<number>(n).fill(1);
  return {
    n,
    inSpatial: xs.slice(2),
    outSpatial: os.slice(2),
    kernel: ints(c, 'kernel_shape', ones),
    strides: ints(c, 'strides', ones),
    dilations: ints(c, 'dilations', ones),
    pads: ints(c, 'pads', new Array<number>(2 * n).fill(0)),
    planes: xs[0] * xs[1],
  };
}

function computeType(t: GpuType): GpuType {
  return t === 'f16' ? 'f32' : t;
}

function lowest(t: GpuType): string {
  return t === 'f32' ? '-3.4028234663852886e38' : t === 'i32' ? '(-2147483647i - 1i)' : '0u';
}

function poolSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const l = c.layer;
  const x = l.inputs[0];
  if (!x) return unsupported('input is missing');
  if (x.shape.length < 3 || x.shape.length > 5) return unsupported(`rank ${x.shape.length}: 1 to 3 spatial dims are supported`);
  const dt = x.dtype;
  const float = dt === 'float32' || dt === 'float16';
  const intOk = l.op === 'MaxPool' && ['int8', 'uint8', 'int32', 'int64', 'uint32'].includes(dt);
  if (!float && !intOk) return unsupported(`${l.op} on ${dt} is not supported`);
  if (dt === 'float16' && !caps.f16) return unsupported('float16 needs the shader-f16 feature');
  if (typeof l.attrs.auto_pad === 'string' && l.attrs.auto_pad !== 'NOTSET') return unsupported(`auto_pad ${l.attrs.auto_pad} was not resolved to pads (unknown input dims)`);
  if (num(c, 'storage_order', 0) === 1 && l.outputs.length > 1 && x.shape.length !== 4) return unsupported('column-major Indices are supported for 2-D pooling only');
  if (elements(x) === 0 || elements(l.outputs[0]) === 0) return unsupported('empty tensor');
  for (const t of [x, ...l.outputs]) {
    const bytes = elements(t) * (t.dtype === 'float16' ? 2 : 4);
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`a ${bytes}-byte tensor exceeds the ${caps.maxStorageBufferBindingSize}-byte binding limit`);
  }
  return variant === 'naive' ? supported : unsupported(`unknown variant ${variant}`);
}

function poolPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const l = c.layer;
  const w = windowOf(c);
  const st = gpuTypeOf(l.inputs[0]!.dtype);
  const ct = computeType(st);
  const max = l.op === 'MaxPool';
  const withIndices = max && l.outputs.length > 1;
  const total = elements(l.outputs[0]);
  const outSt = stridesOf(w.outSpatial);
  const inSt = stridesOf(w.inSpatial);
  const planeIn = elements({ shape: w.inSpatial });
  const planeOut = elements({ shape: w.outSpatial });
  const lines: string[] = [];
  lines.push(`  let plane = gid / ${planeOut}u;`);
  lines.push(`  let base = plane * ${planeIn}u;`);
  for (let d = 0; d < w.n; d++) {
    lines.push(`  let o${d} = i32((gid / ${outSt[d]}u) % ${w.outSpatial[d]}u);`);
    lines.push(`  let s${d} = o${d} * ${w.strides[d]} - ${w.pads[d]};`);
  }
  const includePad = num(c, 'count_include_pad', 0) !== 0;
  if (max) {
    lines.push(`  var best = ${lowest(ct)};`);
    lines.push('  var bi = 0u;');
  } else {
    lines.push('  var acc = 0.0;');
    lines.push('  var cnt = 0u;');
  }
  let indent = '  ';
  for (let d = 0; d < w.n; d++) {
    lines.push(`${indent}for (var k${d} = 0; k${d} < ${w.kernel[d]}; k${d}++) {`);
    indent += '  ';
    lines.push(`${indent}let i${d} = s${d} + k${d} * ${w.dilations[d]};`);
    if (!max && includePad) {
      // Elements of the padded input count, also as zeros; beyond the end pad (ceil_mode) not.
      lines.push(`${indent}if (i${d} >= ${w.inSpatial[d] + w.pads[d + w.n]}) { break; }`);
    } else {
      lines.push(`${indent}if (i${d} >= ${w.inSpatial[d]}) { break; }`);
    }
    if (!(!max && includePad)) lines.push(`${indent}if (i${d} < 0) { continue; }`);
  }
  const valid = Array.from({ length: w.n }, (_, d) => `i${d} >= 0 && i${d} < ${w.inSpatial[d]}`).join(' && ');
  const flat = Array.from({ length: w.n }, (_, d) => (inSt[d] === 1 ? `u32(i${d})` : `u32(i${d}) * ${inSt[d]}u`)).join(' + ');
  const load = (e: string): string => (st === ct ? `x[${e}]` : `${ct}(x[${e}])`);
  if (max) {
    lines.push(`${indent}let off = ${flat};`);
    lines.push(`${indent}let v = ${load('base + off')};`);
    lines.push(`${indent}if (v > best) { best = v; bi = off; }`);
  } else if (includePad) {
    lines.push(`${indent}cnt++;`);
    lines.push(`${indent}if (${valid}) { acc += ${load(`base + ${flat}`)}; }`);
  } else {
    lines.push(`${indent}cnt++;`);
    lines.push(`${indent}acc += ${load(`base + ${flat}`)};`);
  }
  for (let d = w.n - 1; d >= 0; d--) {
    indent = indent.slice(2);
    lines.push(`${indent}}`);
  }
  const store = (e: string): string => (st === ct ? e : `${st}(${e})`);
  if (max) {
    lines.push(`  y[gid] = ${store('best')};`);
    if (withIndices) {
      let idx = 'bi';
      if (num(c, 'storage_order', 0) === 1) {
        // Column-major within the plane: h + w·H.
        const [H, W] = w.inSpatial;
        idx = `(bi / ${W}u) + (bi % ${W}u) * ${H}u`;
      }
      lines.push(`  yi[gid] = i32(plane * ${planeIn}u + ${idx});`);
    }
  } else {
    lines.push(`  y[gid] = ${store('acc / f32(max(cnt, 1u))')};`);
  }
  const decls = [`@group(0) @binding(0) var<storage, read> x: array<${st}>;`, `@group(0) @binding(1) var<storage, read_write> y: array<${st}>;`];
  if (withIndices) decls.push('@group(0) @binding(2) var<storage, read_write> yi: array<i32>;');
  const wgsl = `${header([st])}${decls.join('\n')}\n\n${entry1d(64, total, lines.join('\n'))}\n`;
  const buffers = [{ kind: 'input' as const, index: 0 }, { kind: 'output' as const, index: 0 }];
  if (withIndices) buffers.push({ kind: 'output', index: 1 });
  return { passes: [{ label: `pool/${variant} ${l.op}`, wgsl, workgroups: dispatch1d(total, 64, caps), buffers }], scratch: [] };
}

function poolReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const l = c.layer;
  const x = inputs[0]!;
  const w = windowOf(c);
  const max = l.op === 'MaxPool';
  const includePad = num(c, 'count_include_pad', 0) !== 0;
  const colMajor = num(c, 'storage_order', 0) === 1;
  const out = l.outputs[0];
  const total = elements(out);
  const float = out.dtype === 'float32' || out.dtype === 'float16';
  const y = float ? new Float32Array(total) : new Int32Array(total);
  const yi = new Int32Array(total);
  const planeIn = elements({ shape: w.inSpatial });
  const planeOut = elements({ shape: w.outSpatial });
  const inSt = stridesOf(w.inSpatial);
  const outSt = stridesOf(w.outSpatial);
  for (let i = 0; i < total; i++) {
    const plane = Math.floor(i / planeOut);
    const o = w.outSpatial.map((d, k) => Math.floor(i / outSt[k]) % d);
    let best = -Infinity;
    let bi = 0;
    let acc = 0;
    let cnt = 0;
    const k = new Array<number>(w.n).fill(0);
    for (;;) {
      const pos = k.map((kk, d) => o[d] * w.strides[d] - w.pads[d] + kk * w.dilations[d]);
      const inPadded = pos.every((p, d) => p >= -w.pads[d] && p < w.inSpatial[d] + w.pads[d + w.n]);
      const valid = pos.every((p, d) => p >= 0 && p < w.inSpatial[d]);
      if (valid) {
        const off = pos.reduce((a, p, d) => a + p * inSt[d], 0);
        const v = x.data[plane * planeIn + off];
        if (max && v > best) { best = v; bi = off; }
        acc += v;
      }
      if (includePad ? inPadded : valid) cnt++;
      let d = w.n - 1;
      while (d >= 0 && ++k[d] >= w.kernel[d]) { k[d] = 0; d--; }
      if (d < 0) break;
    }
    if (max) {
      y[i] = best;
      const idx = colMajor ? Math.floor(bi / w.inSpatial[1]) + (bi % w.inSpatial[1]) * w.inSpatial[0] : bi;
      yi[i] = plane * planeIn + idx;
    } else {
      y[i] = acc / Math.max(cnt, 1);
    }
  }
  const res: HostTensor[] = [{ dtype: out.dtype, shape: [...out.shape], data: y }];
  if (max && l.outputs.length > 1) res.push({ dtype: l.outputs[1].dtype, shape: [...l.outputs[1].shape], data: yi });
  return res;
}

// ---------------------------------------------------------------------------------------------
// Global pools: the reduce kernel's ReduceMean / ReduceMax over the spatial axes.

const reduce = reduceKernels[0];

function asReduce(c: LayerCase): LayerCase {
  const rank = c.layer.inputs[0]!.shape.length;
  const op = c.layer.op === 'GlobalMaxPool' ? 'ReduceMax' : 'ReduceMean';
  return { layer: { ...c.layer, op, attrs: { axes: Array.from({ length: rank - 2 }, (_, i) => i + 2), keepdims: 1, noop_with_empty_axes: 0 } }, consts: [] };
}

function globalSupports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  const x = c.layer.inputs[0];
  if (!x || x.shape.length < 3) return unsupported('input must be [N, C, spatial…]');
  if (x.dtype !== 'float32' && x.dtype !== 'float16') return unsupported(`${x.dtype} is not supported (float32, float16)`);
  return reduce.supports(asReduce(c), variant, caps);
}

function globalPlan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const p = reduce.plan(asReduce(c), variant, caps);
  return { ...p, passes: p.passes.map((pass) => ({ ...pass, label: `global-pool/${variant} ${c.layer.op}` })) };
}

export const kernels: Kernel[] = [
  {
    name: 'pool',
    ops: ['MaxPool', 'AveragePool'],
    variants: [{ name: 'naive', description: 'one output element per invocation, the window as nested loops' }],
    defaultVariant: () => 'naive',
    supports: poolSupports,
    plan: poolPlan,
    reference: poolReference,
    // One comparison or add per window element per output: Π(Y)·Π(kernel_shape).
    cost: (l) => count(l.outputs[0]) * prod(numsAttr(l.attrs.kernel_shape) ?? []),
  },
  {
    name: 'global-pool',
    ops: ['GlobalAveragePool', 'GlobalMaxPool'],
    variants: reduce.variants,
    defaultVariant: (c) => reduce.defaultVariant(asReduce(c)),
    supports: globalSupports,
    plan: globalPlan,
    reference: (c, inputs) => reduce.reference(asReduce(c), inputs),
    // One comparison or add per input element (as the reduce kernel).
    cost: perInputElement,
  },
];
