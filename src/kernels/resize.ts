/**
 * Resize (opset 10–19) and Upsample: nearest, (multi)linear and cubic interpolation over any
 * axes, every coordinate transformation mode (half_pixel, half_pixel_symmetric,
 * pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize with a constant roi).
 *
 * Semantics follow the ONNX spec and its reference implementation (onnx/reference/ops/
 * op_resize.py), which the conformance outputs come from:
 *  - per axis, the scale s is the recorded one (shape inference records out/in when the model
 *    gave sizes), and the "output width" of the coordinate formulas is s·D (a float, as in the
 *    reference: align_corners with scales 0.6 on 4 uses 2.4, not 2);
 *  - every transformation is affine in the output index, x_orig = a·x + b, so a and b are baked
 *    per axis;
 *  - nearest rounds by nearest_mode and clamps; Resize-10 and Upsample have no nearest_mode and
 *    behave as onnxruntime's "simple" mode (floor when upsampling, ceil when downsampling);
 *  - linear and cubic use taps floor(x)+{0,1} and floor(x)+{−1…2} with the spec's weights (cubic
 *    with coefficient A), taps outside the input clamped to the edge, or with exclude_outside
 *    given zero weight and the rest renormalized; N-D interpolation is the tensor product of the
 *    per-axis weights (the reference's recursion is separable);
 *  - tf_crop_and_resize returns extrapolation_value where x_orig leaves [0, D−1] on any axis;
 *  - pytorch_half_pixel with a one-element output uses x_orig = 0 as the spec's formula and
 *    onnxruntime do (the reference uses −0.5; only cubic can tell them apart).
 * Axes with scale 1 (not tf_crop_and_resize) map every index to itself and are not interpolated.
 *
 * Nearest rounding meets ties (x_orig = k + ½) and integers exactly in common cases (×2, ×½, ×⅓):
 * f32 arithmetic on the GPU and f64 in the reference may land on either side of them, so x_orig
 * is snapped to the nearest multiple of ½ when within 1e-5·max(1, |x|) of it (far below any
 * coordinate difference a real scale produces: the spacing of x_orig is 1/s).
 *
 * Variants:
 *  - `naive`: one output element per invocation, all interpolated axes at once (2^k or 4^k taps).
 *  - `separable`: linear/cubic over ≥ 2 axes, one pass per axis through f32 scratch buffers
 *    (2+2 taps instead of 2×2, 4+4 instead of 4×4), downscaling axes first so the intermediates
 *    are small.
 */
import {
  supported, unsupported,
  type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { elements, entry1d, header, stridesOf, unravel } from './wgsl.js';
import {
  WG, attrNum, attrStr, checkDispatch, checkTensors, decl, emptyPlan, forEachIndex, gt, isFloat, pass1d,
  tensorLike, values,
} from './movement.js';
import type { LayerSignature } from '../ir/types.js';
import { count } from './flops.js';

const KERNEL = 'resize';
const TRANSFORMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'simple'];
/** At most this many taps per output element in one pass (4 cubic axes). */
const MAX_TAPS = 256;

type Mode = 'nearest' | 'linear' | 'cubic';

interface AxisMap {
  /** Input and output extents. */
  D: number;
  O: number;
  scale: number;
  /** x_orig = a·x + b. */
  a: number;
  b: number;
  /** Whether the axis is interpolated (else index i maps to i). */
  active: boolean;
}

interface ResizeSpec {
  mode: Mode;
  transform: string;
  nearest: string;
  cubicA: number;
  exclude: boolean;
  extrapolation: number;
  antialias: number;
  axes: AxisMap[];
}

function modeOf(c: LayerCase): string {
  const m = attrStr(c, 'mode', 'nearest').toLowerCase();
  return m === 'bilinear' || m === 'trilinear' ? 'linear' : m === 'bicubic' ? 'cubic' : m;
}

function scalesOf(c: LayerCase): number[] {
  const inShape = c.layer.inputs[0]!.shape;
  const outShape = c.layer.outputs[0].shape;
  const rec = c.layer.attrs.scales;
  if (Array.isArray(rec) && rec.length === inShape.length && typeof rec[0] === 'number') return rec as number[];
  const slot = c.layer.op === 'Upsample' ? 1 : c.layer.inputs.length > 2 && c.layer.inputs[2] ? 2 : 1;
  const cv = c.consts[slot];
  if (cv && cv.dtype.startsWith('float') && cv.data.length === inShape.length) return (cv.data as number[]).map(Number);
  return inShape.map((d, i) => (d === 0 ? 1 : outShape[i] / d));
}

/** The resolved resize, or a reason it cannot run. */
function specOf(c: LayerCase): ResizeSpec | string {
  const mode = modeOf(c);
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') return `mode ${mode} is not supported`;
  const legacy = c.layer.op === 'Upsample' || c.layer.attrs.nearest_mode === undefined;
  const transform = c.layer.op === 'Upsample' ? 'asymmetric' : attrStr(c, 'coordinate_transformation_mode', legacy ? 'asymmetric' : 'half_pixel');
  if (!TRANSFORMS.includes(transform)) return `coordinate_transformation_mode ${transform} is not supported`;
  const nearest = legacy ? 'simple' : attrStr(c, 'nearest_mode', 'round_prefer_floor');
  if (!NEAREST_MODES.includes(nearest)) return `nearest_mode ${nearest} is not supported`;
  const inShape = c.layer.inputs[0]!.shape;
  const outShape = c.layer.outputs[0].shape;
  const r = inShape.length;
  if (outShape.length !== r) return 'input and output ranks differ';
  const scales = scalesOf(c);
  const bad = scales.findIndex((x) => !(x > 0) || !Number.isFinite(x));
  if (bad >= 0) return `scale ${scales[bad]} of axis ${bad} is not a positive number`;
  let roi: number[] | undefined;
  if (transform === 'tf_crop_and_resize') {
    const v = c.consts[1];
    if (!v || v.data.length !== 2 * r) return 'tf_crop_and_resize needs a constant roi of 2·rank values';
    roi = (v.data as number[]).map(Number);
  }
  const axes = inShape.map((D, i): AxisMap => {
    const O = outShape[i];
    const s = scales[i];
    const width = s * D;
    let a = 1 / s;
    let b = 0;
    switch (transform) {
      case 'half_pixel': b = 0.5 / s - 0.5; break;
      case 'half_pixel_symmetric': b = (D / 2) * (1 - O / width) + 0.5 / s - 0.5; break;
      // The spec (and onnxruntime): 0 when the output has one element.
      case 'pytorch_half_pixel': if (O > 1) b = 0.5 / s - 0.5; else a = 0; break;
      case 'align_corners': a = width === 1 ? 0 : (D - 1) / (width - 1); break;
      case 'asymmetric': break;
      case 'tf_crop_and_resize': {
        const [r0, r1] = [roi![i], roi![i + r]];
        if (width === 1) { a = 0; b = ((r1 - r0) * (D - 1)) / 2 + r0 * (D - 1); } else { a = ((r1 - r0) * (D - 1)) / (width - 1); b = r0 * (D - 1); }
        break;
      }
    }
    const active = transform === 'tf_crop_and_resize' || s !== 1 || D !== O;
    return { D, O, scale: s, a, b, active };
  });
  return {
    mode, transform, nearest,
    cubicA: attrNum(c, 'cubic_coeff_a', -0.75),
    exclude: attrNum(c, 'exclude_outside', 0) !== 0,
    extrapolation: attrNum(c, 'extrapolation_value', 0),
    antialias: attrNum(c, 'antialias', 0),
    axes,
  };
}

function tapsPerAxis(mode: Mode): number {
  return mode === 'nearest' ? 1 : mode === 'linear' ? 2 : 4;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive' && variant !== 'separable') return unsupported(`unknown variant ${variant}`);
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0], n);
  if (!s.ok) return s;
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  const spec = specOf(c);
  if (typeof spec === 'string') return unsupported(spec);
  if (spec.antialias) return unsupported('antialias is not supported');
  if (spec.mode !== 'nearest' && !isFloat(c.layer.inputs[0]!.dtype)) return unsupported(`${spec.mode} interpolation of ${c.layer.inputs[0]!.dtype} is not supported`);
  if (spec.axes.some((ax) => ax.O > 0 && ax.D === 0)) return unsupported('resizing an empty axis');
  const active = spec.axes.filter((ax) => ax.active).length;
  if (variant === 'naive') {
    if (tapsPerAxis(spec.mode) ** active > MAX_TAPS) return unsupported(`${active} interpolated axes need more than ${MAX_TAPS} taps`);
    return supported;
  }
  if (spec.mode === 'nearest') return unsupported('nearest is a single gather: nothing to separate');
  if (active < 2) return unsupported(`${active} interpolated axis: nothing to separate`);
  for (const sh of separableShapes(spec).slice(1, -1)) {
    const bytes = sh.reduce((x, y) => x * y, 1) * 4;
    if (bytes > caps.maxStorageBufferBindingSize) return unsupported(`an intermediate of ${bytes} bytes exceeds the storage binding limit`);
  }
  for (const sh of separableShapes(spec).slice(1)) {
    const d = checkDispatch(sh.reduce((x, y) => x * y, 1), WG, caps);
    if (!d.ok) return d;
  }
  return supported;
}

// ---------------------------------------------------------------------------------------------
// WGSL

const f32Lit = (v: number): string => {
  if (!Number.isFinite(v)) return v > 0 ? '3.4028234663852886e38' : '-3.4028234663852886e38';
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** Helper functions for the pass: snapping, nearest rounding, linear and cubic taps. */
function helpers(spec: ResizeSpec): string {
  const A = f32Lit(spec.cubicA);
  const excl = spec.exclude;
  const fns: string[] = [];
  if (spec.mode === 'nearest') {
    fns.push(`fn snap(x: f32) -> f32 {
  let q = round(x * 2.0) * 0.5;
  if (abs(x - q) <= 1e-5 * max(1.0, abs(x))) { return q; }
  return x;
}`);
    const round = {
      round_prefer_floor: 'let f = floor(x); if (x - f <= 0.5) { return i32(f); } return i32(f) + 1;',
      round_prefer_ceil: 'let f = floor(x); if (x - f < 0.5) { return i32(f); } return i32(f) + 1;',
      floor: 'return i32(floor(x));',
      ceil: 'return i32(ceil(x));',
      // onnxruntime's opset < 11 mode: ceil when downsampling, else truncation toward 0.
      simple: 'if (down) { return i32(ceil(x)); } return i32(trunc(x));',
    }[spec.nearest]!;
    fns.push(`fn nearest(x0: f32, d: i32, down: bool) -> u32 {
  let x = snap(x0);
  return u32(clamp(pick(x, down), 0, d - 1));
}
fn pick(x: f32, down: bool) -> i32 { ${round} }`);
  }
  // Taps as vectors (vec2 linear, vec4 cubic): indices clamped to the axis, weights per the
  // spec, and with exclude_outside the weights of taps outside the axis zeroed and renormalized.
  const vecTaps = (k: number, weights: string): string => {
    const V = `vec${k}`;
    const offs = k === 2 ? 'vec2<i32>(0, 1)' : 'vec4<i32>(-1, 0, 1, 2)';
    return `struct Taps { i: ${V}<u32>, w: ${V}<f32> }
fn taps(x: f32, d: i32) -> Taps {
  let fl = floor(x);
  let r = x - fl;
  let p = ${V}<i32>(i32(fl)) + ${offs};
${weights}
${excl ? `  let inside = (p >= ${V}<i32>(0)) & (p < ${V}<i32>(d));
  let wi = select(${V}<f32>(0.0), w, inside);
  let wn = wi / dot(wi, ${V}<f32>(1.0));` : '  let wn = w;'}
  return Taps(${V}<u32>(clamp(p, ${V}<i32>(0), ${V}<i32>(d - 1))), wn);
}`;
  };
  if (spec.mode === 'linear') fns.push(vecTaps(2, '  let w = vec2<f32>(1.0 - r, r);'));
  if (spec.mode === 'cubic') {
    // Distances to the taps: r+1 and 2−r lie in [1, 2], r and 1−r in [0, 1].
    fns.push(vecTaps(4, `  let A = ${A};
  let t = vec4<f32>(r + 1.0, r, 1.0 - r, 2.0 - r);
  let near = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
  let far = ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A;
  let w = select(far, near, vec4<bool>(false, true, true, false));`));
  }
  return fns.join('\n\n');
}

/**
 * One pass: from `src` (shape inShape, element type st) to `dst` (shape outShape, type dt),
 * interpolating the axes in `axes` (indices into spec.axes); other axes map index to index.
 */
function passWgsl(spec: ResizeSpec, inShape: number[], outShape: number[], axes: number[], st: GpuType, dt: GpuType): string {
  const ist = stridesOf(inShape);
  const lines: string[] = [unravel(outShape, 'gid')];
  const extrap = spec.transform === 'tf_crop_and_resize';
  const fixed = inShape.map((_, d) => (axes.includes(d) ? '' : `i${d} * ${ist[d]}u`)).filter(Boolean);
  lines.push(`  let base = ${fixed.join(' + ') || '0u'};`);
  for (const d of axes) {
    const ax = spec.axes[d];
    lines.push(`  let x${d} = f32(i${d}) * ${f32Lit(ax.a)} + ${f32Lit(ax.b)};`);
    if (extrap) lines.push(`  if (x${d} < 0.0 || x${d} > ${f32Lit(ax.D - 1)}) { y[gid] = ${dt}(${f32Lit(spec.extrapolation)}); return; }`);
  }
  if (spec.mode === 'nearest') {
    const off = axes.map((d) => `nearest(x${d}, ${spec.axes[d].D}, ${spec.axes[d].scale < 1}) * ${ist[d]}u`);
    lines.push(`  y[gid] = ${st === dt ? '' : dt}(x[${['base', ...off].join(' + ')}]);`);
  } else {
    const k = tapsPerAxis(spec.mode);
    for (const d of axes) lines.push(`  let t${d} = taps(x${d}, ${spec.axes[d].D});`);
    lines.push('  var acc = 0.0;');
    // Outer axes loop over their taps; the innermost interpolated axis is one dot product.
    const last = axes[axes.length - 1];
    const outer = axes.slice(0, -1);
    const row = ['base', ...outer.map((d) => `t${d}.i[k${d}] * ${ist[d]}u`)].join(' + ');
    const comps = ['x', 'y', 'z', 'w'].slice(0, k);
    let inner = last === undefined
      ? 'acc = f32(x[base]);'
      : `let o = ${row};
    acc += ${[...outer.map((d) => `t${d}.w[k${d}]`), `dot(t${last}.w, vec${k}<f32>(${comps.map((q) => `f32(x[o + t${last}.i.${q} * ${ist[last]}u])`).join(', ')}))`].join(' * ')};`;
    for (const d of [...outer].reverse()) inner = `for (var k${d} = 0u; k${d} < ${k}u; k${d}++) {\n    ${inner}\n  }`;
    lines.push(`  ${inner}`);
    lines.push(`  y[gid] = ${dt}(acc);`);
  }
  return `${header([st, dt])}${decl(0, 'x', st, 'read')}
${decl(1, 'y', dt, 'read_write')}

${helpers(spec)}

${entry1d(WG, elements({ shape: outShape }), lines.join('\n'))}
`;
}

/** Shapes from input to output of the separable passes: downscaling axes first. */
function separableShapes(spec: ResizeSpec): number[][] {
  const order = separableOrder(spec);
  const shapes = [spec.axes.map((a) => a.D)];
  for (const d of order) {
    const s = [...shapes[shapes.length - 1]];
    s[d] = spec.axes[d].O;
    shapes.push(s);
  }
  return shapes;
}

function separableOrder(spec: ResizeSpec): number[] {
  return spec.axes.map((_, d) => d).filter((d) => spec.axes[d].active)
    .sort((p, q) => spec.axes[p].O / spec.axes[p].D - spec.axes[q].O / spec.axes[q].D || q - p);
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  const label = `${KERNEL}/${variant} ${c.layer.op}`;
  if (n === 0) return emptyPlan(label, t);
  const spec = specOf(c) as ResizeSpec;
  const inShape = c.layer.inputs[0]!.shape;
  const outShape = c.layer.outputs[0].shape;
  if (variant === 'naive') {
    const axes = spec.axes.map((_, d) => d).filter((d) => spec.axes[d].active);
    const wgsl = passWgsl(spec, inShape, outShape, axes, t, t);
    return { passes: [pass1d(`${label} ${spec.mode}`, wgsl, n, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
  }
  const order = separableOrder(spec);
  const shapes = separableShapes(spec);
  const scratch: number[] = [];
  const passes: Pass[] = [];
  // Intermediates ping-pong between two f32 scratch buffers.
  for (let p = 0; p < order.length; p++) {
    const last = p === order.length - 1;
    const src: Pass['buffers'][number] = p === 0 ? { kind: 'input', index: 0 } : { kind: 'scratch', index: (p - 1) % 2 };
    const dst: Pass['buffers'][number] = last ? { kind: 'output', index: 0 } : { kind: 'scratch', index: p % 2 };
    if (!last) {
      const bytes = Math.max(4, shapes[p + 1].reduce((x, y) => x * y, 1) * 4);
      scratch[p % 2] = Math.max(scratch[p % 2] ?? 0, bytes);
    }
    const wgsl = passWgsl(spec, shapes[p], shapes[p + 1], [order[p]], p === 0 ? t : 'f32', last ? t : 'f32');
    const total = shapes[p + 1].reduce((x, y) => x * y, 1);
    passes.push(pass1d(`${label} ${spec.mode} axis ${order[p]}`, wgsl, total, caps, [src, dst]));
  }
  return { passes, scratch };
}

// ---------------------------------------------------------------------------------------------
// Reference

function snapJs(x: number): number {
  const q = Math.round(x * 2) / 2;
  return Math.abs(x - q) <= 1e-5 * Math.max(1, Math.abs(x)) ? q : x;
}

function nearestJs(x0: number, D: number, mode: string, down: boolean): number {
  const x = snapJs(x0);
  const f = Math.floor(x);
  let k: number;
  switch (mode) {
    case 'round_prefer_floor': k = x - f <= 0.5 ? f : f + 1; break;
    case 'round_prefer_ceil': k = x - f < 0.5 ? f : f + 1; break;
    case 'floor': k = f; break;
    case 'ceil': k = Math.ceil(x); break;
    default: k = down ? Math.ceil(x) : Math.trunc(x);
  }
  return Math.min(Math.max(k, 0), D - 1);
}

/** Taps (indices, weights) of one axis at x_orig, per the spec's linear/cubic weights. */
function tapsJs(x: number, D: number, spec: ResizeSpec): Array<[number, number]> {
  const f = Math.floor(x);
  const r = x - f;
  let w: number[];
  let first: number;
  if (spec.mode === 'linear') { w = [1 - r, r]; first = f; } else {
    const A = spec.cubicA;
    const c = (t: number): number => {
      const a = Math.abs(t);
      if (a <= 1) return (A + 2) * a ** 3 - (A + 3) * a ** 2 + 1;
      if (a < 2) return A * a ** 3 - 5 * A * a ** 2 + 8 * A * a - 4 * A;
      return 0;
    };
    w = [c(r + 1), c(r), c(1 - r), c(2 - r)];
    first = f - 1;
  }
  if (spec.exclude) {
    w = w.map((v, j) => (first + j < 0 || first + j >= D ? 0 : v));
    const s = w.reduce((p, q) => p + q, 0);
    w = w.map((v) => v / s);
  }
  return w.map((v, j) => [Math.min(Math.max(first + j, 0), D - 1), v]);
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const xt = inputs[0]!;
  const src = values(xt);
  const spec = specOf(c);
  if (typeof spec === 'string') throw new Error(`Resize: ${spec}`);
  const outShape = c.layer.outputs[0].shape;
  const ist = stridesOf(xt.shape);
  const y = tensorLike(xt, outShape);
  const r = outShape.length;
  forEachIndex(outShape, (k, idx) => {
    // Per axis: the (index, weight) taps.
    const per: Array<Array<[number, number]>> = [];
    for (let d = 0; d < r; d++) {
      const ax = spec.axes[d];
      if (!ax.active) { per.push([[idx[d], 1]]); continue; }
      const x = ax.a * idx[d] + ax.b;
      if (spec.transform === 'tf_crop_and_resize' && (x < 0 || x > ax.D - 1)) { per.length = 0; break; }
      per.push(spec.mode === 'nearest' ? [[nearestJs(x, ax.D, spec.nearest, ax.scale < 1), 1]] : tapsJs(x, ax.D, spec));
    }
    if (per.length < r) { y.data[k] = spec.extrapolation; return; }
    let acc = 0;
    const walk = (d: number, off: number, w: number): void => {
      if (d === r) { acc += w * src[off]; return; }
      for (const [i, wi] of per[d]) walk(d + 1, off + i * ist[d], w * wi);
    };
    walk(0, 0, 1);
    y.data[k] = acc;
  });
  return [y];
}

/**
 * Interpolation FLOPs, also GridSample's (sampling.ts): a multiply-add per tap, 2^d taps (linear)
 * or 4^d (cubic) over the d = rank − 2 spatial dims per output element; nearest (the default
 * when `mode` is absent) only copies: 0.
 */
export function interpolationFlops(l: LayerSignature): number {
  const mode = typeof l.attrs.mode === 'string' ? l.attrs.mode : 'nearest';
  const d = Math.max(0, (l.inputs[0]?.shape.length ?? 2) - 2);
  return mode === 'nearest' ? 0 : count(l.outputs[0]) * 2 * (mode === 'cubic' ? 4 ** d : 2 ** d);
}

export const resizeKernel: Kernel = {
  name: KERNEL,
  ops: ['Resize', 'Upsample'],
  variants: [
    { name: 'naive', description: 'one output element per invocation, all interpolated axes at once' },
    { name: 'separable', description: 'linear/cubic: one pass per interpolated axis through f32 scratch, downscaling axes first' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  cost: interpolationFlops,
};

export const kernels: Kernel[] = [resizeKernel];
