/**
 * Sparse layers (dlprof.SparseLinear, the Sparse DNN Graph Challenge layer Y = min(max(X·W + b,
 * 0), 32)): the dense GEMM a runtime runs on a mostly-zero weight, against CSR SpMM + epilogue and
 * the fused sliced-ELL kernel, at 90%, 99% and 99.9% zeros. A batch of M = 256 feature rows (the
 * challenge streams 60 000 MNIST-derived rows through each layer; a slice keeps the dense
 * baseline well under a second on lavapipe). `extra` is the challenge's throughput figure,
 * edges/s = M·nnz / time.
 */
import type { LayerCase } from '../../src/kernels/types.js';
import { edgesPerSecond } from '../../src/kernels/sparse.js';
import type { SpecialCase } from './common.js';

/** A SparseLinear layer case: X [M, K], W [K, N] with `sparsity` zeros, bias, ReLU clipped at 32. */
function sparseLayer(M: number, K: number, N: number, sparsity: number): LayerCase {
  const f32 = (...shape: number[]) => ({ dtype: 'float32' as const, shape });
  const inputs = [f32(M, K), f32(K, N), f32(N)];
  const attrs = { activation: 'Clip', clip_max: 32, clip_min: 0, sparsity, trans_b: 0 };
  const key = `sparse-${M}-${K}-${N}-${sparsity}`;
  return {
    layer: { key, op: 'dlprof.SparseLinear', attrs, inputs, outputs: [f32(M, N)], flops: 0, bytes: 0, params: 0,
      weights: [{ input: 1, sparsity, sparsityExact: true, sparseInitializer: true }] },
    consts: inputs.map(() => null),
  };
}

const edges = (c: LayerCase, ms: number): string => `${(edgesPerSecond(c, ms) / 1e9).toFixed(3)} GE/s`;

export const cases: SpecialCase[] = [[256, 1024], [16, 4096]].flatMap(([m, n]) => [0.9, 0.99, 0.999].map((s): SpecialCase => ({
  group: 'sparse layers (SpMM + bias + ReLU≤32)',
  name: `M ${m}, ${n}×${n}, ${(100 * s).toFixed(1)}% zeros (${Math.round((1 - s) * n)} nnz/column)`,
  build: () => sparseLayer(m, n, n, s),
  baseline: 'dense',
  extra: edges,
})));
