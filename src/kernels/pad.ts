/**
 * Pad: constant, reflect, edge and wrap modes; negative pads crop.
 *
 * Pads and the constant value come from the attributes shape inference records (`pads`, `value`,
 * in every opset, with opset-18 `axes` already expanded to all axes), or from the constant inputs
 * of a layer built by hand. Each output element maps back to input coordinate j = i − pad_begin
 * per axis; outside [0, D) the mode decides: the constant, the clamped edge, the mirror without
 * repeating the edge (period 2(D−1)), or wrapped around.
 *
 * Variants:
 *  - `naive`: one output element per invocation; only padded axes pay for the bounds logic.
 *  - `vec4`: one vec4 per invocation, when the last axis is not padded and is a multiple of 4 long.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, lit, stridesOf, unravel } from './wgsl.js';
import { WG, attrInts, attrNum, attrStr, checkTensors, constInts, decl, emptyPlan, forEachIndex, gt, pass1d, tensorLike, values } from './movement.js';
import { noFlops } from './flops.js';

const KERNEL = 'pad';
const MODES = ['constant', 'reflect', 'edge', 'wrap'];

interface PadSpec { pads: number[]; mode: string; value: number }

function padSpec(c: LayerCase): PadSpec | undefined {
  const r = c.layer.inputs[0]!.shape.length;
  const mode = attrStr(c, 'mode', 'constant');
  let pads = attrInts(c, 'pads');
  let value = attrNum(c, 'value', Number.NaN);
  if (!pads) {
    const p = constInts(c, 1);
    if (!p) return undefined;
    const axes = constInts(c, 3);
    pads = p;
    if (axes) {
      pads = new Array<number>(2 * r).fill(0);
      axes.forEach((a0, k) => { const a = a0 < 0 ? a0 + r : a0; pads![a] = p[k]; pads![a + r] = p[k + axes.length]; });
    }
  }
  if (Number.isNaN(value)) value = c.consts[2] ? Number(c.consts[2].data[0]) : 0;
  return { pads, mode, value };
}

function vecOk(c: LayerCase, p: PadSpec): boolean {
  const s = c.layer.inputs[0]!.shape;
  const r = s.length;
  return r > 0 && p.pads[r - 1] === 0 && p.pads[2 * r - 1] === 0 && s[r - 1] % 4 === 0 && s[r - 1] > 0;
}

function supports(c: LayerCase, variant: string, caps: DeviceCaps): Support {
  if (variant !== 'naive' && variant !== 'vec4') return unsupported(`unknown variant ${variant}`);
  const n = elements(c.layer.outputs[0]);
  const s = checkTensors(c, caps, [0], variant === 'vec4' ? n / 4 : n);
  if (!s.ok) return s;
  if (gt(c.layer.inputs[0]!) !== gt(c.layer.outputs[0])) return unsupported('input and output element types differ');
  const p = padSpec(c);
  if (!p) return unsupported('pads are neither recorded nor constant');
  if (!MODES.includes(p.mode)) return unsupported(`mode ${p.mode} is not supported`);
  const x = c.layer.inputs[0]!.shape;
  if (p.pads.length !== 2 * x.length) return unsupported(`${p.pads.length} pads for rank ${x.length}`);
  if (p.mode !== 'constant' && x.some((d, i) => d === 0 && (p.pads[i] > 0 || p.pads[i + x.length] > 0))) {
    return unsupported(`${p.mode} padding of an empty axis`);
  }
  if (variant === 'vec4' && !vecOk(c, p)) return unsupported('the last axis is padded or not a positive multiple of 4 long');
  return supported;
}

/** WGSL mapping output index `i{d}` to input index `j{d}` for a padded axis (sets `inside` false for constant mode). */
function mapAxis(d: number, dim: number, begin: number, mode: string): string {
  const j = `j${d}`;
  const lines = [`  var ${j} = i32(i${d}) - ${begin}i;`];
  if (mode === 'constant') lines.push(`  if (${j} < 0i || ${j} >= ${dim}i) { inside = false; }`);
  else if (mode === 'edge') lines.push(`  ${j} = clamp(${j}, 0i, ${dim - 1}i);`);
  else if (mode === 'wrap') lines.push(`  ${j} = ((${j} % ${dim}i) + ${dim}i) % ${dim}i;`);
  else {
    const period = 2 * (dim - 1);
    if (period === 0) lines.push(`  ${j} = 0i;`);
    else lines.push(`  ${j} = ((${j} % ${period}i) + ${period}i) % ${period}i;`, `  if (${j} >= ${dim}i) { ${j} = ${period}i - ${j}; }`);
  }
  return lines.join('\n');
}

function plan(c: LayerCase, variant: string, caps: DeviceCaps): KernelPlan {
  const t = gt(c.layer.outputs[0]);
  const n = elements(c.layer.outputs[0]);
  if (n === 0) return emptyPlan(`${KERNEL}/${variant}`, t);
  const p = padSpec(c)!;
  const vec = variant === 'vec4';
  const xs = [...c.layer.inputs[0]!.shape];
  const ys = [...c.layer.outputs[0].shape];
  const r = xs.length;
  if (vec) { xs[r - 1] /= 4; ys[r - 1] /= 4; }
  const st = stridesOf(xs);
  const padded = xs.map((_, d) => p.pads[d] !== 0 || p.pads[d + r] !== 0);
  const maps = xs.map((dim, d) => (padded[d] ? mapAxis(d, dim, p.pads[d], p.mode) : '')).filter(Boolean).join('\n');
  const off = xs.map((_, d) => (padded[d] ? `u32(j${d}) * ${st[d]}u` : `i${d} * ${st[d]}u`)).join(' + ') || '0u';
  const T = vec ? `vec4<${t}>` : t;
  const constant = p.mode === 'constant';
  const body = `${unravel(ys, 'gid')}
${constant ? '  var inside = true;\n' : ''}${maps}
${constant ? `  if (!inside) { y[gid] = ${T}(${lit(p.value, t)}); return; }\n` : ''}  y[gid] = x[${off}];`;
  const total = n / (vec ? 4 : 1);
  const wgsl = `${header([t])}${decl(0, 'x', t, 'read', vec)}
${decl(1, 'y', t, 'read_write', vec)}

${entry1d(WG, total, body)}
`;
  return { passes: [pass1d(`${KERNEL}/${variant} ${p.mode}`, wgsl, total, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }])], scratch: [] };
}

function reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = inputs[0]!;
  const src = values(x);
  const p = padSpec(c)!;
  const r = x.shape.length;
  const st = stridesOf(x.shape);
  const outShape = c.layer.outputs[0].shape;
  const y = tensorLike(x, outShape);
  forEachIndex(outShape, (k, idx) => {
    let off = 0;
    for (let i = 0; i < r; i++) {
      let j = idx[i] - p.pads[i];
      const d = x.shape[i];
      if (j < 0 || j >= d) {
        if (p.mode === 'constant') { off = -1; break; }
        if (p.mode === 'edge') j = Math.min(Math.max(j, 0), d - 1);
        else if (p.mode === 'wrap') j = ((j % d) + d) % d;
        else {
          const period = 2 * (d - 1);
          j = period === 0 ? 0 : ((j % period) + period) % period;
          if (j >= d) j = period - j;
        }
      }
      off += j * st[i];
    }
    y.data[k] = off < 0 ? p.value : src[off];
  });
  return [y];
}

export const padKernel: Kernel = {
  name: KERNEL,
  ops: ['Pad'],
  variants: [
    { name: 'naive', description: 'one output element per invocation' },
    { name: 'vec4', description: 'one vec4 per invocation; last axis unpadded and a multiple of 4 long' },
  ],
  defaultVariant: () => 'naive',
  supports,
  plan,
  reference,
  cost: noFlops, // moves data only
};

export const kernels: Kernel[] = [padKernel];
