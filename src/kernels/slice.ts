/**
 * Slice: per axis a start, a step (negative steps walk backwards) and the output extent.
 *
 * Shape inference records the resolved, clamped starts/ends with their axes and steps as
 * attributes in every opset; a layer without them (built by hand) is resolved here from the
 * constant inputs by the same rules. Axes that are taken whole are merged into the axis before
 * them when that one is contiguous (step 1), so e.g. slicing channels of NCHW is one contiguous
 * run of C'·H·W per image.
 *
 * Variants:
 *  - `naive`: one output element per invocation.
 *  - `vec4`: one vec4 per invocation, when the innermost (merged) axis has step 1 and its start,
 *    extent and input extent are multiples of 4 (every vec4 is aligned in both tensors).
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, stridesOf, unravel } from './wgsl.js';
import { WG, attrInts, checkTensors, constInts, decl, emptyPlan, forEachIndex, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'slice';

export interface SliceAxis {
  /** Input extent. */
  dim: number;
  start: number;
  step: number;
  /** Output extent. */
  len: number;
}

/** Per input axis: start, step and extents. */
export function sliceAxes(c: LayerCase): SliceAxis[] {
  const inShape = c.layer.inputs[0]!.shape;
  const outShape = c.layer.outputs[0].shape;
  const r = inShape.length;
  const ax: SliceAxis[] = inShape.map((d, i) => ({ dim: d, start: 0, step: 1, len: outShape[i] }));
  let starts = attrInts(c, 'starts');
  let axes = attrInts(c, 'axes');
  let steps = attrInts(c, 'steps');
  if (starts) {
    axes ??= starts.map((_, k) => k);
    steps ??= starts.map(() => 1);
    axes.forEach((a, k) => { const i = a < 0 ? a + r : a; ax[i].start = starts![k]; ax[i].step = steps![k]; });
    return ax;
  }
  // Unrecorded: resolve from the constant inputs (ONNX Slice-13 clamping rules).
  starts = constInts(c, 1);
  if (!starts) throw new Error('Slice starts are neither recorded nor constant');
  axes = constInts(c, 3) ?? starts.map((_, k) => k);
  steps = constInts(c, 4) ?? starts.map(() => 1);
  axes.forEach((a0, k) => {
    const i = a0 < 0 ? a0 + r : a0;
    const d = inShape[i];
    const step = steps![k];
    let b = starts![k];
    if (b < 0) b += d;
    b = step > 0 ? Math.min(Math.max(b, 0), d) : Math.min(Math.max(b, 0), d - 1);
    ax[i].start = b;
    ax[i].step = step;
  });
  return ax;
}

/** Merges an axis taken whole into the contiguous (step 1) axis before it. */
function merged(ax: SliceAxis[]): SliceAxis[] {
  const out: SliceAxis[] = [];
  for (const a of ax) {
    const prev = out[out.length - 1];
    const whole = a.start === 0 && a.step === 1 && a.len === a.dim;
    if (prev && whole && prev.step === 1) {
      out[out.length - 1] = { dim: prev.dim * a.dim, start: prev.start * a.dim, step: 1, len: prev.len * a.dim };
    } else out.push({ ...a });
  }
  return out;
}

function vecOk(ax: SliceAxis[]): boolean {
  const last = ax[ax.length - 1];
  return !!last && last.step === 1 && last.start % 4 === 0 && last.len % 4 === 0 && last.dim % 4 === 0 && last.len > 0;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive' && variant !== 'vec4') return unsupported(`unknown variant ${variant}`);
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0], variant === 'vec4' ? n / 4 : n);
  if (!s.ok) return s;
  if (!c.layer.attrs.starts && !c.consts[1]) return unsupported('starts are neither recorded nor constant');
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  if (variant === 'vec4') {
    const m = merged(sliceAxes(c));
    const last = m[m.length - 1];
    if (!vecOk(m)) {
      return unsupported(last ? `the innermost contiguous run (start ${last.start}, extent ${last.len} of ${last.dim}, step ${last.step}) is not 4-aligned with step 1` : 'scalar tensor');
    }
  }
  return supported;
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  if (n === 0) return emptyPlan(`${KERNEL}/${variant}`, t);
  const vec = variant === 'vec4';
  const w = vec ? 4 : 1;
  const ax = merged(sliceAxes(c));
  if (vec) {
    const last = ax[ax.length - 1];
    ax[ax.length - 1] = { dim: last.dim / 4, start: last.start / 4, step: 1, len: last.len / 4 };
  }
  const st = stridesOf(ax.map((a) => a.dim));
  const base = ax.reduce((o, a, d) => o + a.start * st[d], 0);
  const terms = ax.map((a, d) => (a.len === 1 ? '' : `i32(i${d}) * ${a.step * st[d]}`)).filter(Boolean);
  const total = n / w;
  const body = `${unravel(ax.map((a) => a.len), 'gid')}
  y[gid] = x[u32(${base}${terms.map((s) => ` + ${s}`).join('')})];`;
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'y', t, 'read_write', vec)}

${entry1d(WG, total, body)}
`;
  return { passes: [pass1d(`${KERNEL}/${variant}`, wgsl, total, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const ax = sliceAxes(c);
  const st = stridesOf(x.shape);
  const outShape = c.layer.outputs[0].shape;
  const y = tensorLike(x, outShape);
  forEachIndex(outShape, (k, idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (ax[d].start + idx[d] * ax[d].step) * st[d];
    y.data[k] = src[off];
  });
  return [y];
}

export const sliceKernel: Kernel = {
  name: KERNEL,
  ops: ['Slice'],
  variants: [
    { name: 'naive', description: 'one output element per invocation' },
    { name: 'vec4', description: 'one vec4 per invocation; innermost contiguous run 4-aligned with step 1' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [sliceKernel];
