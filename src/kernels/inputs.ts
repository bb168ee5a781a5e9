/**
 * A layer's synthetic inputs: deterministic data for timing it and for checking it against its
 * reference, in each input's domain (Kernel.inputDomain), with weights as sparse as the model's
 * where it says so. Host data only: any executor uploads it.
 */
import { SPARSE_KEY_THRESHOLD } from '../ir/key.js';
import type { DType } from '../onnx/dtype.js';
import { kernelFor } from './registry.js';
import type { HostTensor, LayerCase } from './types.js';
import { elements } from './wgsl.js';

/** Deterministic input data for a layer (for timing, and for checking against the reference). */
export function syntheticInputs(c: LayerCase, seed = 1): Array<HostTensor | null> {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return c.layer.inputs.map((t, i) => {
    if (!t) return null;
    const n = elements(t);
    const cv = c.consts[i];
    if (cv) {
      const data = isFloat(t.dtype) ? Float32Array.from(cv.data as number[]) : Int32Array.from(cv.data as number[], (x) => clampI32(x));
      return { dtype: t.dtype, shape: [...t.shape], data };
    }
    // Ops defined on part of the reals only say where (Kernel.inputDomain).
    const [lo, hi] = kernelFor(c.layer.op)?.inputDomain?.(c.layer.op, i) ?? [-1, 1];
    if (isFloat(t.dtype)) {
      const data = Float32Array.from({ length: n }, () => lo + rand() * (hi - lo));
      const sparsity = weightSparsity(c, i);
      if (sparsity !== null && sparsity >= SPARSE_KEY_THRESHOLD) sparsify(data, t.shape, sparsity, weightColumns(c, i), rand);
      return { dtype: t.dtype, shape: [...t.shape], data };
    }
    if (t.dtype === 'bool') return { dtype: t.dtype, shape: [...t.shape], data: Uint8Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0)) };
    // sequence_lens of the recurrent ops: full-length sequences, what a benchmark of the layer means.
    if (i === 4 && (c.layer.op === 'LSTM' || c.layer.op === 'GRU' || c.layer.op === 'RNN')) {
      const x = c.layer.inputs[0]!.shape;
      const T = c.layer.attrs.layout === 1 ? x[1] : x[0];
      return { dtype: t.dtype, shape: [...t.shape], data: new Int32Array(n).fill(T) };
    }
    // Integer data inputs are most often indices: keep them small and non-negative.
    return { dtype: t.dtype, shape: [...t.shape], data: Int32Array.from({ length: n }, () => Math.floor(rand() * 2)) };
  });
}

/** The recorded sparsity of input i when it is a weight (a SparseLinear's `sparsity` attribute otherwise), else null. */
function weightSparsity(c: LayerCase, i: number): number | null {
  const w = c.layer.weights.find((x) => x.input === i);
  if (w && w.sparsity !== null) return w.sparsity;
  const a = c.layer.attrs.sparsity;
  return c.layer.op === 'dlprof.SparseLinear' && i === 1 && typeof a === 'number' ? a : null;
}

/**
 * Whether input i is a [K, N] weight consumed by columns (a MatMul/Gemm B without transpose):
 * its non-zeros are then counted per column (an output neuron's fan-in); otherwise per row of
 * the leading dimension (an output channel of a convolution, a row of a transposed Gemm B).
 */
function weightColumns(c: LayerCase, i: number): boolean {
  const a = c.layer.attrs;
  const flag = (k: string): boolean => typeof a[k] === 'number' && a[k] !== 0;
  switch (c.layer.op) {
    case 'MatMul': return i === 1;
    case 'Gemm': case 'dlprof.FusedMatMul': return i === 1 && !flag('transB');
    case 'dlprof.SparseLinear': return i === 1 && !flag('trans_b');
    default: return false;
  }
}

/**
 * Zeroes `data` in place to the recorded sparsity s with a fixed fan-in: every group (a column
 * of the trailing [K, N] matrices when `columns`, else a slab under one index of the first
 * dimension) keeps exactly round((1 − s)·size) of its elements, at deterministic random
 * positions — as the Sparse DNN Challenge's weights have a fixed number of connections per
 * neuron. Timing a sparse layer on dense random data would measure the wrong kernel work.
 */
function sparsify(data: Float32Array, shape: readonly number[], s: number, columns: boolean, rand: () => number): void {
  const n = data.length;
  if (n === 0) return;
  let groups: number;
  let size: number;
  let at: (g: number, j: number) => number;
  if (columns && shape.length >= 2) {
    const K = shape[shape.length - 2];
    const N = shape[shape.length - 1];
    size = K;
    groups = n / K;
    at = (g, j) => Math.floor(g / N) * K * N + j * N + (g % N);
  } else {
    groups = shape.length >= 2 ? shape[0] : 1;
    size = n / groups;
    at = (g, j) => g * size + j;
  }
  const keep = Math.round((1 - s) * size);
  const perm = new Int32Array(size);
  const kept = new Uint8Array(size);
  for (let g = 0; g < groups; g++) {
    // Partial Fisher–Yates: the first `keep` slots of a random permutation are the survivors.
    for (let j = 0; j < size; j++) perm[j] = j;
    kept.fill(0);
    for (let j = 0; j < keep; j++) {
      const r = j + Math.floor(rand() * (size - j));
      const tmp = perm[j]; perm[j] = perm[r]; perm[r] = tmp;
      kept[perm[j]] = 1;
    }
    for (let j = 0; j < size; j++) if (!kept[j]) data[at(g, j)] = 0;
  }
}

function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'float64' || d === 'bfloat16';
}

function clampI32(x: number): number {
  return Math.max(-2147483648, Math.min(2147483647, x));
}
