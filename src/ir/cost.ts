/**
 * Work and traffic of a layer, from its types and attributes alone.
 *
 * Conventions (as in Benanza and the roofline literature):
 *  - FLOPs count arithmetic operations; a multiply-add is 2 FLOPs. Comparisons, selects and
 *    transcendental functions count as 1 each per element unless noted (a GPU issues them as
 *    one or a few instructions; this keeps op families comparable, not exact).
 *  - Bytes are the compulsory traffic: every present input read once and every output written
 *    once, at the tensor's dtype size. Real kernels move more (re-reads, im2col buffers); the
 *    roofline uses this minimum so that "fraction of peak bandwidth" is an upper bound.
 *  - Params are the elements of constant inputs (weights).
 */
import { dtypeSize } from '../onnx/dtype.js';
import type { AttrValue, TensorType } from './types.js';

const elems = (t: TensorType | null | undefined): number => (t ? t.shape.reduce((a, b) => a * b, 1) : 0);
const num = (v: AttrValue | undefined, d: number): number => (typeof v === 'number' ? v : d);
const numsOf = (v: AttrValue | undefined): number[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined);

/** FLOPs per output element for elementwise ops beyond the default 1. */
const ELEMENTWISE_FLOPS: Record<string, number> = {
  // exp + add + div (sigmoid), or ~4 for tanh / erf approximations.
  Sigmoid: 4, Tanh: 4, Erf: 4, Softplus: 3, Softsign: 3, Elu: 3, Selu: 4, Celu: 4,
  // x * 0.5 * (1 + erf(x / sqrt 2)) ≈ erf (4) + 3.
  Gelu: 8, Mish: 8, HardSigmoid: 3, HardSwish: 4, LeakyRelu: 2, PRelu: 2, Clip: 2, Pow: 4,
  Exp: 2, Log: 2, Sqrt: 2, Reciprocal: 1, Sin: 4, Cos: 4,
};

/** Ops that move or reinterpret data without arithmetic. */
const DATA_MOVEMENT = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Split', 'Slice',
  'Gather', 'GatherElements', 'GatherND', 'ScatterElements', 'ScatterND', 'Scatter', 'Pad', 'Tile', 'Expand', 'Identity',
  'DepthToSpace', 'SpaceToDepth', 'Cast', 'CastLike', 'Dropout', 'Shape', 'Size', 'ConstantOfShape', 'Range',
  'Compress', 'ReverseSequence', 'Trilu', 'EyeLike', 'OneHot', 'NonZero', 'Constant', 'Upsample', 'Where']);

export function layerBytes(inputs: Array<TensorType | null>, outputs: TensorType[]): number {
  let b = 0;
  for (const t of [...inputs, ...outputs]) if (t) b += elems(t) * dtypeSize(t.dtype);
  return b;
}

/** FLOPs of one execution of the layer. */
export function layerFlops(op: string, attrs: Record<string, AttrValue>, inputs: Array<TensorType | null>, outputs: TensorType[]): number {
  const x = inputs[0];
  const y = outputs[0];
  const outN = elems(y);
  switch (op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv':
    case 'DeformConv':
    case 'MMCVModulatedDeformConv2d': // mmcv's DCNv2 (layerFlops gets the unqualified op): x, offset, mask, weight, bias
    case 'mmcv.MMCVModulatedDeformConv2d': {
      // Y[n, m, o…] = Σ_{c < C/group, k…} X · W: 2 · N·M·Π(out) · (C/group)·Π(kernel) FLOPs, + bias.
      const mmcv = op.endsWith('MMCVModulatedDeformConv2d');
      const w = op === 'QLinearConv' || mmcv ? inputs[3] : inputs[1];
      if (!w || !x) return 0;
      const perOut = w.shape.slice(1).reduce((a, b) => a * b, 1); // C/group · Π kernel
      let f = 2 * outN * perOut;
      const bias = op === 'QLinearConv' ? inputs[8] : op === 'DeformConv' ? inputs[3] : mmcv ? inputs[4] : inputs[2];
      if (bias) f += outN;
      if (op === 'DeformConv' || mmcv) {
        // Bilinear sampling: 4 taps × (mul + add) + weights ≈ 10 FLOPs per sampled input value,
        // one sample per (output position, input channel, kernel tap); plus the mask multiply.
        f += 10 * (outN / y.shape[1]) * x.shape[1] * w.shape.slice(2).reduce((a, b) => a * b, 1);
      }
      return f;
    }
    case 'ConvTranspose': {
      // Each input element scatters into (M/group)·Π(kernel) outputs with a multiply-add.
      const w = inputs[1];
      if (!w || !x) return 0;
      return 2 * elems(x) * w.shape.slice(1).reduce((a, b) => a * b, 1) + (inputs[2] ? outN : 0);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = x;
      if (!a) return 0;
      const k = a.shape.length ? a.shape[a.shape.length - 1] : 1;
      return 2 * outN * k;
    }
    case 'Gemm': {
      if (!x) return 0;
      const k = num(attrs.transA, 0) ? x.shape[0] : x.shape[1];
      return 2 * outN * k + (inputs[2] ? 2 * outN : 0); // alpha·AB + beta·C
    }
    case 'dlprof.SparseLinear': {
      // The useful work of a sparse weight, not its dense shape: 2·M·nnz with nnz = (1 − s)·K·N
      // (attribute `sparsity`), + M·N for the bias; Y's rows M are X's leading dimensions.
      const w = inputs[1];
      if (!x || !w) return 0;
      const k = x.shape.length ? x.shape[x.shape.length - 1] : 1;
      const nnz = Math.round((1 - num(attrs.sparsity, 0)) * elems(w));
      return (2 * (k ? elems(x) / k : 0) * nnz) + (inputs[2] ? outN : 0);
    }
    case 'Einsum': {
      // The loop nest runs over every distinct label (and the broadcast '...' dims): one
      // multiply-add per point when labels are contracted away, else one operation.
      const eq = typeof attrs.equation === 'string' ? attrs.equation.replace(/\s/g, '') : '';
      const sizes = new Map<string, number>();
      let ellipsis = 1;
      eq.split('->')[0].split(',').forEach((term, i) => {
        const t = inputs[i];
        if (!t) return;
        const [before, after] = term.includes('...') ? term.split('...') : [term, ''];
        [...before].forEach((c, j) => sizes.set(c, t.shape[j]));
        [...after].forEach((c, j) => sizes.set(c, t.shape[t.shape.length - after.length + j]));
        if (term.includes('...')) ellipsis = Math.max(ellipsis, t.shape.slice(before.length, t.shape.length - after.length).reduce((a, b) => a * b, 1));
      });
      const space = [...sizes.values()].reduce((a, b) => a * b, 1) * ellipsis;
      return space > outN ? 2 * space : space;
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const k = numsOf(attrs.kernel_shape) ?? [];
      return outN * k.reduce((a, b) => a * b, 1);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      return elems(x);
    case 'BatchNormalization':
      // Inference form: y = x·scale' + bias' (scale and shift precomputed per channel).
      return 2 * outN;
    case 'InstanceNormalization':
    case 'LayerNormalization':
    case 'GroupNormalization':
    case 'MeanVarianceNormalization':
      // mean (1) + variance (3: sub, mul, add) + normalize (2) + affine (2) per element.
      return 8 * elems(x);
    case 'LpNormalization':
      return 3 * elems(x);
    case 'LRN':
      return outN * (2 * num(attrs.size, 1) + 4);
    case 'Softmax':
    case 'LogSoftmax':
      // max, sub, exp (2), sum, div per element.
      return 6 * elems(x);
    case 'Hardmax':
      return 2 * elems(x);
    case 'NeighborhoodAttention': // graph.ts passes the unqualified op
    case 'dlprof.NeighborhoodAttention': {
      // NATTEN (Hassani et al. 2023): per query, QKᵀ and A·V over its kernel window (2 FLOPs per
      // multiply-add each) plus the window softmax (6 per score, as Softmax). Causal windows do at
      // most this much.
      const win = (numsOf(attrs.kernel_size) ?? [1]).reduce((a, b) => a * b, 1);
      const d = x ? x.shape[x.shape.length - 1] : 0;
      const queries = d ? elems(x) / d : 0;
      return queries * win * (2 * d * 2 + 6);
    }
    case 'com.microsoft.MultiHeadAttention':
    case 'com.microsoft.Attention': {
      // QKᵀ (2·L·S·Dq) and P·V (2·L·S·Dv) per batch row, plus the softmax (6 per score, as
      // Softmax); Attention adds its Q/K/V projection GEMM (2·B·L·Din·(Dq+Dk+Dv)).
      const h = num(attrs.num_heads, 1);
      if (!x || !inputs[1] || !y) return 0;
      const [B, L] = x.shape;
      const proj = op === 'com.microsoft.Attention';
      const dq = proj ? (numsOf(attrs.qkv_hidden_sizes)?.[0] ?? inputs[1].shape[1] / 3) : x.shape[2];
      const S = proj ? L : (inputs[1].shape[1] ?? L);
      const dv = y.shape[2];
      const attn = B * L * S * (2 * dq + 2 * dv + 6 * h);
      return attn + (proj ? 2 * B * L * x.shape[2] * inputs[1].shape[1] : 0);
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      // Per step and direction: gates = X·Wᵀ + H·Rᵀ (+ biases), 2·(I + H)·G·H FLOPs per batch
      // row, G = 4 (LSTM), 3 (GRU), 1 (RNN); plus ~10 elementwise FLOPs per gate element.
      const w = inputs[1];
      const r = inputs[2];
      if (!x || !w || !r) return 0;
      const layout = num(attrs.layout, 0);
      const seq = layout ? x.shape[1] : x.shape[0];
      const batch = layout ? x.shape[0] : x.shape[1];
      const dirs = w.shape[0];
      const gatesH = w.shape[1];
      const inSize = w.shape[2];
      const hidden = r.shape[2];
      return dirs * seq * batch * (2 * (inSize + hidden) * gatesH + 10 * gatesH);
    }
    default:
      break;
  }
  if (op.startsWith('Reduce') || op === 'ArgMax' || op === 'ArgMin') return elems(x);
  if (op === 'Resize' || op === 'Upsample' || op === 'GridSample') {
    const mode = typeof attrs.mode === 'string' ? attrs.mode : 'nearest';
    // Linear interpolation: 2^d taps × 2 FLOPs; cubic 4^d taps.
    const d = Math.max(0, (x?.shape.length ?? 2) - 2);
    return mode === 'nearest' ? 0 : outN * 2 * (mode === 'cubic' ? 4 ** d : 2 ** d);
  }
  if (op === 'QuantizeLinear' || op === 'DequantizeLinear' || op === 'DynamicQuantizeLinear') return 3 * elems(x);
  if (DATA_MOVEMENT.has(op)) return 0;
  if (op === 'Sum' || op === 'Max' || op === 'Min' || op === 'Mean') return outN * Math.max(1, inputs.filter(Boolean).length - 1);
  if (op === 'CumSum') return outN;
  // Elementwise default: FLOPs per output element.
  return outN * (ELEMENTWISE_FLOPS[op] ?? 1);
}
