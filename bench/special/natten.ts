/**
 * Neighborhood attention (dlprof.NeighborhoodAttention) for `npm run bench:special`: the GEMM-based
 * and fused kernels (fused with keys from global memory, and fused-tiled with the haloed K and V
 * tiles in workgroup memory; all with their f16 forms) against the naive three-pass kernel, the comparison of
 * Hassani, Hwu & Shi, "Faster Neighborhood Attention" (NeurIPS 2024, arXiv 2403.04690): on GPUs
 * their GEMM kernels average +895 % (1-D) and +272 % (2-D) over naive kernels in full precision
 * (+496 % / +113 % in half), their fused kernels +1607 % / +581 % in half precision. Kernel sizes
 * 7 and 13, dilation 1 and 4; 1-D over 4096 tokens, 2-D over NAT-Mini's first-stage 56×56 tokens;
 * head dim 32.
 */
import type { SpecialCase } from './common.js';
import { layerCase } from './common.js';

const OPSETS = { '': 17, dlprof: 1 };

function na(shape: number[], kernel: number, dilation: number): SpecialCase['build'] {
  const nd = shape.length - 3;
  return () => layerCase((g) => {
    for (const n of ['q', 'k', 'v']) g.input(n, 'float32', shape);
    g.output(g.op('NeighborhoodAttention', ['q', 'k', 'v'], {
      kernel_size: new Array<number>(nd).fill(kernel), dilation: new Array<number>(nd).fill(dilation),
    }, { domain: 'dlprof' }), 'float32');
  }, OPSETS);
}

const CASES_1D: Array<[number, number]> = [[7, 1], [13, 1], [7, 4], [13, 4]];

export const cases: SpecialCase[] = [
  ...CASES_1D.map(([k, d]): SpecialCase => ({
    group: 'neighborhood attention 1-D', name: `k=${k} d=${d}, 4 heads, L=4096, D=32`, build: na([1, 4, 4096, 32], k, d), baseline: 'naive',
  })),
  ...CASES_1D.map(([k, d]): SpecialCase => ({
    group: 'neighborhood attention 2-D', name: `k=${k}×${k} d=${d}, 2 heads, 56×56, D=32`, build: na([1, 2, 56, 56, 32], k, d), baseline: 'naive',
  })),
];
