/**
 * The MIT/IEEE Sparse Deep Neural Network Graph Challenge networks (Kepner et al., "Sparse Deep
 * Neural Network Graph Challenge", IEEE HPEC 2019; graphchallenge.mit.edu) as ONNX models:
 * L layers of N neurons, each layer Y_{l+1} = h(Y_l·W_l + b_l) with h(y) = min(max(y, 0), 32),
 * W_l sparse with 32 connections per neuron, and one bias value per network (−0.3 for 1024
 * neurons, −0.35 for 4096, −0.4 for 16384, −0.45 for 65536). The challenge runs 120, 480 and
 * 1920 layers; 120 is the default here.
 *
 * As ONNX, per layer: MatMul(Y, W_l) with W_l [N, N] stored as a sparse_initializer (COO, linear
 * indices, ascending), Add(b_l) with b_l [N], then h as Relu → Min(32): the formula's two clamps
 * as written, max(·, 0) then min(·, 32). (Clip(0, 32) is the same function in one node; dlprof's
 * analysis maps either to dlprof.SparseLinear with a clip to [0, 32].) The input is Y_0
 * [batch, N] with a symbolic `batch` (the challenge streams 60 000 feature rows).
 *
 * Connectivity: like the challenge's RadiX-Net topologies (Robinett & Kepner, "RadiX-Net:
 * Structured Sparse Matrices for Deep Neural Networks", 2019), every neuron has exactly the same
 * fan-in and fan-out: input neuron k connects to outputs (π_l(k) + o_{l,j}) mod N for j < 32,
 * with π_l a seeded random permutation and o_{l,j} 32 distinct seeded offsets — so each row and
 * each column of W_l holds exactly 32 non-zeros. Every connection has the weight 1/16 (one value
 * for all connections, as in the challenge's weights; 32·1/16 = 2 keeps activations from dying
 * or saturating through the layers).
 *
 * Size: a layer holds N·32 non-zeros at 12 bytes each (f32 value, int64 index): 120 layers are
 * 47 MB at N = 1024, 189 MB at 4096, 755 MB at 16384 and 3.0 GB at 65536 — past protobuf's 2 GB
 * message limit, so SPARSE_DNN_65536 must be built with fewer layers (`layers` ≤ 80) to be saved
 * as one file.
 */
import { prng, tensorProto } from '../src/onnx/write.js';
import { Exporter, type BatchDim, type BuiltModel } from './common.js';

export interface SparseDNNConfig {
  /** Neurons per layer. */
  neurons: number;
  layers: number;
  /** Connections per neuron (non-zeros per row and per column of each W_l). */
  nnzPerRow: number;
  /** The one bias value of every neuron. */
  bias: number;
  /** The activation's upper clamp (the challenge's YMAX). */
  ymax: number;
  /** Every connection's weight. */
  weight: number;
  batch: BatchDim;
  seed: number;
}

const base = { layers: 120, nnzPerRow: 32, ymax: 32, weight: 1 / 16, batch: 'batch' as BatchDim };

export const SPARSE_DNN_1024: SparseDNNConfig = { ...base, neurons: 1024, bias: -0.3, seed: 1024 };
export const SPARSE_DNN_4096: SparseDNNConfig = { ...base, neurons: 4096, bias: -0.35, seed: 4096 };
export const SPARSE_DNN_16384: SparseDNNConfig = { ...base, neurons: 16384, bias: -0.4, seed: 16384 };
export const SPARSE_DNN_65536: SparseDNNConfig = { ...base, neurons: 65536, bias: -0.45, seed: 65536 };
/** For unit tests: 64 neurons, 8 connections of weight 1/4 each (the same sum, 2, as 32 × 1/16), 4 layers. */
export const SPARSE_DNN_TINY: SparseDNNConfig = { ...base, neurons: 64, layers: 4, nnzPerRow: 8, bias: -0.3, weight: 1 / 4, seed: 64 };

/**
 * W_l's non-zeros as ascending linear indices k·N + c (see the module comment for the pattern).
 * Typed arrays throughout: the 65536-neuron layer has 2M of them.
 */
export function connections(n: number, nnz: number, rand: () => number): BigInt64Array {
  if (nnz > n) throw new Error(`${nnz} connections per neuron need at least that many neurons, not ${n}`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i]; perm[i] = perm[j]; perm[j] = t;
  }
  // nnz distinct offsets: the first nnz of a random permutation of 0 … n−1 (partial Fisher–Yates).
  const offs = new Int32Array(n);
  for (let i = 0; i < n; i++) offs[i] = i;
  for (let i = 0; i < nnz; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = offs[i]; offs[i] = offs[j]; offs[j] = t;
  }
  const out = new BigInt64Array(n * nnz);
  const cols = new Int32Array(nnz);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < nnz; j++) cols[j] = (perm[k] + offs[j]) % n;
    cols.sort();
    for (let j = 0; j < nnz; j++) out[k * nnz + j] = BigInt(k * n + cols[j]);
  }
  return out;
}

export function buildSparseDNN(cfg: SparseDNNConfig, name = 'sparse-dnn'): BuiltModel {
  const N = cfg.neurons;
  const e = new Exporter(name, cfg.seed);
  const rand = prng(cfg.seed);
  const ymax = e.sharedInit('ymax', 'float32', [], [cfg.ymax]);
  let y = e.input('input', 'float32', [cfg.batch, N]);
  for (let l = 0; l < cfg.layers; l++) {
    const s = `layers.${l}`;
    const w = `${s}.weight`;
    const idx = connections(N, cfg.nnzPerRow, rand);
    e.g.sparseInitializers.push({
      values: tensorProto(w, { dtype: 'float32', shape: [idx.length], data: new Float32Array(idx.length).fill(cfg.weight) }),
      indices: tensorProto(`${w}_indices`, { dtype: 'int64', shape: [idx.length], data: idx }),
      dims: [N, N],
    });
    const b = e.g.initNamed(`${s}.bias`, 'float32', [N], new Float32Array(N).fill(cfg.bias));
    y = e.op(s, 'Add', [e.op(s, 'MatMul', [y, w]), b]);
    y = e.op(s, 'Min', [e.op(s, 'Relu', [y]), ymax]);
  }
  e.output(y, 'output', 'float32', [cfg.batch, N]);
  return { graph: e.g, opsets: { '': 17 }, dims: typeof cfg.batch === 'string' ? { [cfg.batch]: 1 } : {} };
}
