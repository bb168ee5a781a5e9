/**
 * Expand and Tile: `naive` and `vec4` (splat and aligned-row forms) against the reference —
 * broadcasting along leading, middle and last axes, rank growth, repeats on every axis, int64,
 * bool and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function expand(shape: number[], target: number[], dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op('Expand', ['x', g.ints('s', target)]), dtype);
  })[0];
}

function tile(shape: number[], reps: number[], dtype: DType = 'float32') {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op('Tile', ['x', g.ints('r', reps)]), dtype);
  })[0];
}

describe('expand', () => {
  it('broadcast along leading, middle and last axes; rank growth', async () => {
    expect(await agree(expand([3, 1], [2, 3, 4]))).toEqual(['naive', 'vec4']);
    expect(await agree(expand([1, 8], [5, 8]))).toEqual(['naive', 'vec4']);
    expect(await agree(expand([4, 1, 3], [4, 5, 3]))).toEqual(['naive']);
    expect(await agree(expand([], [3, 4]))).toEqual(['naive', 'vec4']);
    expect(await agree(expand([2, 1, 6], [1, 1]))).toEqual(['naive']);
    const c = expand([4, 1, 3], [4, 5, 3]);
    expect((await reasons(c)).vec4).toMatch(/not a positive multiple of 4/);
  });
  it('Tile: repeats on every axis', async () => {
    expect(await agree(tile([2, 3], [3, 2]))).toEqual(['naive']);
    expect(await agree(tile([2, 4], [2, 3]))).toEqual(['naive', 'vec4']);
    expect(await agree(tile([3, 1], [1, 8]))).toEqual(['naive', 'vec4']);
    expect(await agree(tile([2, 3, 5], [1, 1, 1]))).toEqual(['naive']);
  });
  it('int64, bool and float16', async () => {
    expect(await agree(expand([1, 3], [5, 3], 'int64'))).toEqual(['naive']);
    expect(await agree(tile([2, 4], [3, 1], 'int64'))).toEqual(['naive', 'vec4']);
    await agree(expand([3, 1], [3, 5], 'bool'));
    expect(await agree(expand([2, 1, 4], [2, 3, 4], 'float16'))).toEqual(['naive', 'vec4']);
  });
});

describe('expand ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Expand', 'Tile']), runMovementConformance);
    printTally('expand', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Expand')!.cases).toBe(2);
    expect(t.perOp.get('Tile')!.cases).toBe(2);
    expect(t.perOp.get('Expand')!.skip + t.perOp.get('Tile')!.skip).toBe(0);
  }, 60_000);
});
