/**
 * Transpose: the naive gather and the 32×32 tiled variant against the reference — matrices with
 * partial tiles, batched swaps, NCHW↔NHWC (a batched swap once axes are merged), permutations
 * that are not swaps (tiled says why), unit dims, int64 and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { simplify } from '../../src/kernels/transpose.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function transpose(shape: number[], perm?: number[], dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op('Transpose', ['x'], { perm }), dtype);
  })[0];
}

describe('transpose', () => {
  it('merges axes that move together and drops unit dims', () => {
    expect(simplify([2, 3, 4, 5], [0, 2, 3, 1])).toEqual({ shape: [2, 3, 20], perm: [0, 2, 1] });
    expect(simplify([2, 3, 4, 5], [0, 3, 1, 2])).toEqual({ shape: [2, 12, 5], perm: [0, 2, 1] });
    expect(simplify([1, 3, 1, 5], [3, 2, 1, 0])).toEqual({ shape: [3, 5], perm: [1, 0] });
    expect(simplify([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
    expect(simplify([2, 3, 4, 5], [1, 0, 3, 2])).toEqual({ shape: [2, 3, 4, 5], perm: [1, 0, 3, 2] });
    expect(simplify([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
  });
  it('matrices: full and partial tiles, default perm', async () => {
    for (const shape of [[64, 32], [33, 70], [5, 3], [1, 100], [97, 1]]) {
      const ran = await agree(transpose(shape));
      expect(ran).toContain('naive');
      if (shape[0] > 1 && shape[1] > 1) expect(ran).toContain('tiled');
    }
  });
  it('batched swaps of the last two axes and NCHW↔NHWC', async () => {
    expect(await agree(transpose([3, 40, 37], [0, 2, 1]))).toEqual(['naive', 'tiled']);
    expect(await agree(transpose([2, 3, 33, 9], [0, 1, 3, 2]))).toEqual(['naive', 'tiled']);
    expect(await agree(transpose([2, 5, 6, 7], [0, 2, 3, 1]))).toEqual(['naive', 'tiled']);
    expect(await agree(transpose([2, 6, 7, 5], [0, 3, 1, 2]))).toEqual(['naive', 'tiled']);
  });
  it('general permutations run naive; tiled says why not', async () => {
    const c = transpose([2, 3, 4, 5], [1, 0, 3, 2]);
    expect(await agree(c)).toEqual(['naive']);
    expect((await reasons(c)).tiled).toMatch(/not a swap of the last two axes/);
    expect(await agree(transpose([4, 3, 5], [1, 0, 2]))).toEqual(['naive']);
    expect(await agree(transpose([2, 3, 4, 5, 3], [4, 2, 0, 3, 1]))).toEqual(['naive']);
    expect(await agree(transpose([3, 1, 4], [1, 0, 2]))).toEqual(['naive']);
  });
  it('int64, bool and float16', async () => {
    expect(await agree(transpose([35, 9], [1, 0], 'int64'))).toEqual(['naive', 'tiled']);
    expect(await agree(transpose([3, 4, 5], [2, 0, 1], 'bool'))).toEqual(['naive', 'tiled']);
    expect(await agree(transpose([3, 4, 5], [2, 1, 0], 'bool'))).toEqual(['naive']);
    expect(await agree(transpose([2, 40, 34], [0, 2, 1], 'float16'))).toEqual(['naive', 'tiled']);
  });
});

describe('transpose ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Transpose']), runMovementConformance);
    printTally('transpose', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Transpose')!.cases).toBe(7);
    expect(t.perOp.get('Transpose')!.skip).toBe(0);
  }, 60_000);
});
