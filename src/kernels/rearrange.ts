/**
 * ReverseSequence, CenterCropPad, Col2Im and Det.
 *  - ReverseSequence: along `time_axis`, the first lens[b] steps of batch entry b (along
 *    `batch_axis`) are reversed, the rest copied. `naive`: one output element per invocation.
 *  - CenterCropPad: each dim becomes its target size, centred: cropped by ⌊(in − out)/2⌋ at the
 *    start or padded with zeros by ⌊(out − in)/2⌋ (ONNX's reference). `naive`: one output element
 *    per invocation, its source index shifted (zero where it falls outside).
 *  - Col2Im: the inverse of im2col — each image element sums the column entries that cover it.
 *    `naive`: one image element per invocation loops over the block offsets and keeps those whose
 *    column position (p + pad − k·dilation)/stride is a whole number inside the column grid.
 *  - Det: the determinant of each trailing n×n matrix by Gaussian elimination with partial
 *    pivoting (the product of the pivots, negated per row swap). `lu`: one invocation per matrix,
 *    eliminating in place in an f32 copy of its matrix in scratch — O(n³) serial work per matrix,
 *    the batch in parallel.
 */
import {
  supported, unsupported,
  type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import { elements, entry1d, header, prod } from './wgsl.js';
import { WG, attrInts, attrNum, checkTensors, constInts, decl, emptyPlan, gt, isFloat, pass1d, values } from './movement.js';
import { noFlops } from './flops.js';
import { stridesOf } from './wgsl.js';
import { simpleKernel, type Simple } from './indexing.js';


// ---------------------------------------------------------------------------------------------
// ReverseSequence

function rsAxes(c: LayerCase): { b: number; t: number } {
  return { b: attrNum(c, 'batch_axis', 1), t: attrNum(c, 'time_axis', 0) };
}

const reverseSequence: Simple = {
  name: 'reverse-sequence',
  ops: ['ReverseSequence'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: noFlops, // moves data only
  bound: () => [0, 1],
  check(c) {
    const [x, lens] = c.layer.inputs;
    if (!x || x.shape.length < 2) return unsupported('input must have rank ≥ 2');
    if (!lens || (lens.dtype !== 'int64' && lens.dtype !== 'int32')) return unsupported('sequence_lens must be int32/int64');
    const { b, t } = rsAxes(c);
    if (!((b === 0 && t === 1) || (b === 1 && t === 0))) return unsupported('batch_axis and time_axis must be 0 and 1');
    if (elements(lens) !== x.shape[b]) return unsupported('sequence_lens length differs from the batch size');
    if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('input and output types differ');
    return supported;
  },
  body(c) {
    const x = c.layer.inputs[0]!.shape;
    const { b } = rsAxes(c);
    const inner = prod(x.slice(2));
    const [d0, d1] = x;
    // Dims 0 and 1 are (batch, time) or (time, batch).
    const bi = b === 0 ? 'i0' : 'i1';
    const ti = b === 0 ? 'i1' : 'i0';
    const T = b === 0 ? d1 : d0;
    return `  let r = gid % ${inner}u;
  let i1 = (gid / ${inner}u) % ${d1}u;
  let i0 = gid / ${inner * d1}u;
  let len = u32(clamp(in1[${bi}], 0i, ${T}i));
  let src = select(${ti}, len - 1u - ${ti}, ${ti} < len);
  let s0 = ${b === 0 ? 'i0' : 'src'};
  let s1 = ${b === 0 ? 'src' : 'i1'};
  y[gid] = in0[(s0 * ${d1}u + s1) * ${inner}u + r];`;
  },
  reference(c, inputs) {
    const x = c.layer.inputs[0]!.shape;
    const { b } = rsAxes(c);
    const inner = prod(x.slice(2));
    const [, d1] = x;
    const T = b === 0 ? x[1] : x[0];
    const X = values(inputs[0]!), L = values(inputs[1]!);
    const o = c.layer.outputs[0];
    const Y = new (X.constructor as new (n: number) => HostTensor['data'])(elements(o));
    for (let g = 0; g < Y.length; g++) {
      const r = g % inner, i1 = Math.floor(g / inner) % d1, i0 = Math.floor(g / (inner * d1));
      const [bi, ti] = b === 0 ? [i0, i1] : [i1, i0];
      const len = Math.max(0, Math.min(T, L[bi]));
      const src = ti < len ? len - 1 - ti : ti;
      const [s0, s1] = b === 0 ? [i0, src] : [src, i1];
      Y[g] = X[(s0 * d1 + s1) * inner + r];
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
  },
};

// ---------------------------------------------------------------------------------------------
// CenterCropPad

/** Per dim: source index = output index + shift (negative shifts pad). */
function cropShift(c: LayerCase): number[] {
  const xs = c.layer.inputs[0]!.shape, os = c.layer.outputs[0].shape;
  return xs.map((d, i) => (d >= os[i] ? Math.floor((d - os[i]) / 2) : -Math.floor((os[i] - d) / 2)));
}

const centerCropPad: Simple = {
  name: 'center-crop-pad',
  ops: ['CenterCropPad'],
  variant: 'naive',
  description: 'one output element per invocation, its source shifted to the centre',
  bound: () => [0],
  check(c) {
    const x = c.layer.inputs[0];
    if (!x || x.shape.length !== c.layer.outputs[0].shape.length || x.shape.length === 0) return unsupported('input and output ranks differ');
    if (gt(x) !== gt(c.layer.outputs[0])) return unsupported('input and output types differ');
    return supported;
  },
  body(c) {
    const xs = c.layer.inputs[0]!.shape, os = c.layer.outputs[0].shape;
    const sh = cropShift(c);
    const ost = stridesOf(os), ist = stridesOf(xs);
    const t = gt(c.layer.outputs[0]);
    const dims = os.map((_, d) => d);
    return `${dims.map((d) => `  let s${d} = i32((gid / ${ost[d]}u) % ${os[d]}u) + ${sh[d]}i;`).join('\n')}
  if (${dims.map((d) => `s${d} < 0i || s${d} >= ${xs[d]}i`).join(' || ')}) { y[gid] = ${t}(0); return; }
  y[gid] = in0[${dims.map((d) => `u32(s${d}) * ${ist[d]}u`).join(' + ')}];`;
  },
  reference(c, inputs) {
    const xs = c.layer.inputs[0]!.shape, o = c.layer.outputs[0];
    const sh = cropShift(c);
    const ost = stridesOf(o.shape), ist = stridesOf(xs);
    const X = values(inputs[0]!);
    const Y = new (X.constructor as new (n: number) => HostTensor['data'])(elements(o));
    for (let g = 0; g < Y.length; g++) {
      let off = 0, inside = true;
      for (let d = 0; d < xs.length; d++) {
        const s2 = (Math.floor(g / ost[d]) % o.shape[d]) + sh[d];
        if (s2 < 0 || s2 >= xs[d]) { inside = false; break; }
        off += s2 * ist[d];
      }
      Y[g] = inside ? X[off] : 0;
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
  },
};

// ---------------------------------------------------------------------------------------------
// Col2Im

interface C2I { N: number; C: number; img: number[]; block: number[]; dil: number[]; pb: number[]; st: number[]; cols: number[] }

function c2i(c: LayerCase): C2I | string {
  const x = c.layer.inputs[0];
  const img = constInts(c, 1), block = constInts(c, 2);
  if (!x || x.shape.length !== 3) return 'input must be [N, C·∏block, L]';
  if (!img || !block || img.length !== block.length) return 'image_shape and block_shape must be constants of one length';
  const n = img.length;
  const dil = attrInts(c, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(c, 'pads') ?? new Array<number>(2 * n).fill(0);
  const st = attrInts(c, 'strides') ?? new Array<number>(n).fill(1);
  const cols = img.map((d, i) => Math.floor((d + pads[i] + pads[i + n] - dil[i] * (block[i] - 1) - 1) / st[i]) + 1);
  if (cols.some((v) => v < 1) || prod(cols) !== x.shape[2]) return `L = ${x.shape[2]} is not the column count [${cols}] of the image`;
  return { N: x.shape[0], C: c.layer.outputs[0].shape[1], img, block, dil, pb: pads.slice(0, n), st, cols };
}

const col2Im: Simple = {
  name: 'col2im',
  ops: ['Col2Im'],
  variant: 'naive',
  description: 'one image element per invocation sums the column entries covering it',
  bound: () => [0],
  check(c) {
    const x = c.layer.inputs[0];
    if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
    const g = c2i(c);
    return typeof g === 'string' ? unsupported(g) : supported;
  },
  body(c) {
    const g = c2i(c) as C2I;
    const t = gt(c.layer.outputs[0]);
    const dims = g.img.map((_, i) => i);
    const ist = stridesOf(g.img), kst = stridesOf(g.block), cst = stridesOf(g.cols);
    const K = prod(g.block), L = prod(g.cols), IS = prod(g.img);
    return `  let pix = gid % ${IS}u;
  let ch = (gid / ${IS}u) % ${g.C}u;
  let b = gid / ${IS * g.C}u;
${dims.map((d) => `  let p${d} = i32((pix / ${ist[d]}u) % ${g.img[d]}u);`).join('\n')}
  var acc = 0.0f;
  for (var k = 0u; k < ${K}u; k++) {
    var ok = true;
    var l = 0u;
${dims.map((d) => `    {
      let num = p${d} + ${g.pb[d]}i - i32((k / ${kst[d]}u) % ${g.block[d]}u) * ${g.dil[d]}i;
      let q = num / ${g.st[d]}i;
      if (num < 0i || num % ${g.st[d]}i != 0i || q >= ${g.cols[d]}i) { ok = false; }
      l += u32(max(q, 0i)) * ${cst[d]}u;
    }`).join('\n')}
    if (ok) { acc += f32(in0[((b * ${g.C}u + ch) * ${K}u + k) * ${L}u + l]); }
  }
  y[gid] = ${t}(acc);`;
  },
  reference(c, inputs) {
    const g = c2i(c) as C2I;
    const X = values(inputs[0]!);
    const o = c.layer.outputs[0];
    const Y = new Float32Array(elements(o));
    const K = prod(g.block), L = prod(g.cols), IS = prod(g.img);
    const kst = stridesOf(g.block), cst = stridesOf(g.cols), ist = stridesOf(g.img);
    // Scatter form (im2col's adjoint), independent of the kernel's gather form.
    for (let b = 0; b < g.N; b++) {
      for (let ch = 0; ch < g.C; ch++) {
        for (let k = 0; k < K; k++) {
          for (let l = 0; l < L; l++) {
            let off = 0, inside = true;
            for (let d = 0; d < g.img.length; d++) {
              const p = (Math.floor(l / cst[d]) % g.cols[d]) * g.st[d] - g.pb[d] + (Math.floor(k / kst[d]) % g.block[d]) * g.dil[d];
              if (p < 0 || p >= g.img[d]) { inside = false; break; }
              off += p * ist[d];
            }
            if (inside) Y[(b * g.C + ch) * IS + off] += X[((b * g.C + ch) * K + k) * L + l];
          }
        }
      }
    }
    return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
  },
};

// ---------------------------------------------------------------------------------------------
// Det

function detCheck(c: LayerCase, caps: DeviceCaps): Support {
  const x = c.layer.inputs[0];
  if (!x || !isFloat(x.dtype)) return unsupported(`${x?.dtype ?? 'missing'} input: only float32/float16`);
  const r = x.shape.length;
  if (r < 2 || x.shape[r - 1] !== x.shape[r - 2]) return unsupported('input must be square matrices [..., n, n]');
  if (elements(x) * 4 > caps.maxStorageBufferBindingSize) return unsupported('the working copy exceeds the storage binding limit');
  return checkTensors(c, caps, [0], elements(c.layer.outputs[0]));
}

function detPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const x = c.layer.inputs[0]!;
  const n = x.shape[x.shape.length - 1];
  const batch = prod(x.shape.slice(0, -2));
  const t = gt(c.layer.outputs[0]);
  const label = 'det/lu Det';
  if (batch === 0) return emptyPlan(label, t);
  const nn = n * n;
  const body = `  let base = gid * ${nn}u;
  for (var i = 0u; i < ${nn}u; i++) { a[base + i] = f32(x[base + i]); }
  var det = 1.0f;
  for (var k = 0u; k < ${n}u; k++) {
    var p = k;
    var best = abs(a[base + k * ${n}u + k]);
    for (var r = k + 1u; r < ${n}u; r++) {
      let v = abs(a[base + r * ${n}u + k]);
      if (v > best) { best = v; p = r; }
    }
    if (best == 0.0f) { det = 0.0f; break; }
    if (p != k) {
      det = -det;
      for (var j = k; j < ${n}u; j++) {
        let tmp = a[base + k * ${n}u + j];
        a[base + k * ${n}u + j] = a[base + p * ${n}u + j];
        a[base + p * ${n}u + j] = tmp;
      }
    }
    let piv = a[base + k * ${n}u + k];
    det *= piv;
    for (var r = k + 1u; r < ${n}u; r++) {
      let f = a[base + r * ${n}u + k] / piv;
      for (var j = k + 1u; j < ${n}u; j++) { a[base + r * ${n}u + j] -= f * a[base + k * ${n}u + j]; }
    }
  }
  y[gid] = ${t}(det);`;
  const xt = gt(x);
  const wgsl = `${header([xt, t])}${decl(0, 'x', xt, 'read')}\n${decl(1, 'a', 'f32', 'read_write')}\n${decl(2, 'y', t, 'read_write')}\n\n${entry1d(WG, batch, body)}\n`;
  return {
    passes: [pass1d(label, wgsl, batch, caps, [{ kind: 'input', index: 0 }, { kind: 'scratch', index: 0 }, { kind: 'output', index: 0 }])],
    scratch: [Math.max(4, elements(x) * 4)],
  };
}

function detReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const x = c.layer.inputs[0]!;
  const n = x.shape[x.shape.length - 1];
  const X = values(inputs[0]!);
  const o = c.layer.outputs[0];
  const Y = new Float32Array(elements(o));
  for (let m = 0; m < Y.length; m++) {
    const a = Array.from(X.slice(m * n * n, (m + 1) * n * n));
    let det = 1;
    for (let k = 0; k < n; k++) {
      let p = k;
      for (let r = k + 1; r < n; r++) if (Math.abs(a[r * n + k]) > Math.abs(a[p * n + k])) p = r;
      if (a[p * n + k] === 0) { det = 0; break; }
      if (p !== k) { det = -det; for (let j = 0; j < n; j++) [a[k * n + j], a[p * n + j]] = [a[p * n + j], a[k * n + j]]; }
      det *= a[k * n + k];
      for (let r = k + 1; r < n; r++) {
        const f = a[r * n + k] / a[k * n + k];
        for (let j = k + 1; j < n; j++) a[r * n + j] -= f * a[k * n + j];
      }
    }
    Y[m] = det;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
}

const detKernel: Kernel = {
  name: 'det',
  ops: ['Det'],
  variants: [{ name: 'lu', description: 'one invocation per matrix, Gaussian elimination with partial pivoting' }],
  defaultVariant: () => 'lu',
  supports(c, variant, caps) {
    if (variant !== 'lu') return unsupported(`unknown variant ${variant}`);
    return detCheck(c, caps);
  },
  plan: (c, _v, caps) => detPlan(c, caps),
  reference: detReference,
};

export const kernels: Kernel[] = [...[reverseSequence, centerCropPad, col2Im].map(simpleKernel), detKernel];
