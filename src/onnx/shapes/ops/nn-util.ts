/**
 * Helpers shared by the convolution, pooling, normalization and recurrent ops: sliding-window
 * geometry (kernel, strides, dilations, pads resolved from auto_pad), and small dim utilities.
 */
import type { Dim } from '../types.js';
import { dtypeFromOnnx, onnxFromDtype, type DType } from '../../dtype.js';
import type { InferCtx } from '../types.js';

/** A dim that stays symbolic when its source is: a fresh symbol named after `hint`. */
export function symOr(ctx: InferCtx, hint: string, ...sources: Dim[]): string | undefined {
  return sources.some((d) => typeof d === 'string') ? ctx.symbol(hint) : undefined;
}

/** The dtype named by an ONNX TensorProto.DataType code held in attribute `name`. */
export function dtypeAttr(ctx: InferCtx, name: string, def: DType): DType {
  const code = ctx.attr.int(name, onnxFromDtype(def));
  return dtypeFromOnnx(code) ?? ctx.fail(`attribute '${name}' names unknown data type ${code}`);
}

/** The value of a known 1-element (scalar or [1]) input, or undefined. */
export function scalarValue(ctx: InferCtx, i: number): number | undefined {
  const v = ctx.has(i) ? ctx.value(i) : undefined;
  if (!v || v.data.length !== 1) return undefined;
  return Number(v.data[0]);
}

/** The values of a known 1-D integer input (shapes, sizes), or undefined. */
export function intsValue(ctx: InferCtx, i: number): number[] | undefined {
  const v = ctx.has(i) ? ctx.value(i) : undefined;
  return v ? (v.data as number[]).map(Number) : undefined;
}

/** Sliding-window attributes, normalized: what an explicit-pads layer with the same result would say. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_0 … begin_n-1, end_0 … end_n-1], as ONNX lays them out. */
  pads: number[];
  /** The auto_pad as written ('NOTSET' once pads are resolved). */
  autoPad: string;
}

export interface WindowOptions {
  /** Spatial rank. */
  n: number;
  /** Kernel from the weight's spatial dims (Conv): the default of `kernel_shape`. */
  kernelFromWeight?: Dim[];
  /** Whether this op/opset has a `dilations` attribute. */
  dilations: boolean;
}

function checkLen(ctx: InferCtx, name: string, v: number[], len: number): void {
  if (v.length !== len) ctx.fail(`attribute '${name}' has ${v.length} values; the input has ${len / (name === 'pads' ? 2 : 1)} spatial dims${name === 'pads' ? ` (pads needs ${len})` : ''}`);
}

/** Reads kernel_shape, strides, dilations, auto_pad and pads (defaults filled in). */
export function readWindow(ctx: InferCtx, o: WindowOptions): Window {
  const ones = new Array<number>(o.n).fill(1);
  let kernel: number[];
  if (o.kernelFromWeight) {
    const kw = o.kernelFromWeight;
    if (ctx.attr.has('kernel_shape')) kernel = ctx.attr.ints('kernel_shape');
    else {
      if (!kw.every((d) => typeof d === 'number')) ctx.fail('kernel_shape is absent and the weight\'s spatial dims are unknown');
      kernel = kw as number[];
      ctx.setAttr('kernel_shape', kernel);
    }
  } else {
    kernel = ctx.attr.ints('kernel_shape');
  }
  checkLen(ctx, 'kernel_shape', kernel, o.n);
  const strides = ctx.attr.ints('strides', ones);
  checkLen(ctx, 'strides', strides, o.n);
  const dilations = o.dilations ? ctx.attr.ints('dilations', ones) : ones;
  checkLen(ctx, 'dilations', dilations, o.n);
  const autoPad = ctx.attr.string('auto_pad', 'NOTSET');
  let pads = new Array<number>(2 * o.n).fill(0);
  if (autoPad === 'NOTSET') {
    pads = ctx.attr.ints('pads', pads);
    checkLen(ctx, 'pads', pads, 2 * o.n);
  } else if (!['SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) {
    ctx.fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
  for (const [name, v] of [['kernel_shape', kernel], ['strides', strides], ['dilations', dilations]] as const) {
    if (v.some((x) => !(x >= 1))) ctx.fail(`attribute '${name}' must be positive, got [${v.join(',')}]`);
  }
  if (pads.some((p) => p < 0)) ctx.fail(`attribute 'pads' must be non-negative, got [${pads.join(',')}]`);
  return { kernel, strides, dilations, pads, autoPad };
}

/** Effective (dilated) extent of a kernel along one axis. */
export function effectiveKernel(k: number, d: number): number {
  return (k - 1) * d + 1;
}

/**
 * Output spatial dims of a sliding window (Conv and pools) over `spatial` input dims, resolving
 * auto_pad into explicit pads. SAME_*: output = ceil(in / stride), total padding
 * (out - 1)·stride + effective kernel − in, the odd unit at the end (UPPER) or the start (LOWER);
 * VALID is zero padding. Otherwise out = floor-or-ceil((in + pads − effective kernel) / stride) + 1
 * (ONNX Conv/MaxPool "Output shape"). With ceil_mode a last window that would start entirely in
 * the end padding is dropped, as PyTorch and onnxruntime do.
 *
 * Records the resolved `pads` and `auto_pad = NOTSET` (when every input dim is known), so an
 * auto-padded layer and its explicit-pads twin share one canonical attribute set.
 */
export function windowOutput(ctx: InferCtx, spatial: readonly Dim[], w: Window, ceilMode = false): Dim[] {
  const n = spatial.length;
  const pads = [...w.pads];
  const out: Dim[] = [];
  let resolved = true;
  for (let i = 0; i < n; i++) {
    const x = spatial[i];
    const ek = effectiveKernel(w.kernel[i], w.dilations[i]);
    const s = w.strides[i];
    if (typeof x === 'string') {
      out.push(ctx.symbol('spatial'));
      if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') resolved = false;
      continue;
    }
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
      const o = Math.ceil(x / s);
      const total = Math.max(0, (o - 1) * s + ek - x);
      const small = Math.floor(total / 2);
      pads[i] = w.autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i];
      out.push(o);
      continue;
    }
    const span = x + pads[i] + pads[i + n] - ek;
    if (span < 0) ctx.fail(`window of extent ${ek} (kernel ${w.kernel[i]}, dilation ${w.dilations[i]}) is larger than the padded input (${x} + ${pads[i] + pads[i + n]}) along spatial axis ${i}`);
    let o = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceilMode && (o - 1) * s >= x + pads[i]) o--;
    out.push(o);
  }
  if (resolved) {
    ctx.setAttr('pads', pads);
    ctx.setAttr('auto_pad', 'NOTSET');
  }
  w.pads = pads;
  return out;
}

/** Checks a tensor has at least `min` dims (batch, channel, spatial…) and returns its shape. */
export function shapeAtLeast(ctx: InferCtx, i: number, min: number, what: string): Dim[] {
  const s = ctx.shape(i);
  if (s.length < min) ctx.fail(`${what} must have rank ≥ ${min}, got rank ${s.length} [${s.join(',')}]`);
  return s;
}

/** Two dims that must agree: the number when either is known, failing when both are and differ. */
export function unify(ctx: InferCtx, a: Dim, b: Dim, what: string): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) ctx.fail(`${what}: ${a} != ${b}`);
  return typeof a === 'number' ? a : b;
}

/** `shape` with every axis from `from` on set to 1 (a keepdims reduction over the trailing axes). */
export function reducedShape(shape: readonly Dim[], from: number): Dim[] {
  return shape.map((d, i) => (i >= from ? 1 : d));
}
