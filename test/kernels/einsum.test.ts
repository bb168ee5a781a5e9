/**
 * Einsum: both variants against the reference over matmul patterns (in place, transposed operand,
 * packed operands, permuted output, broadcast ellipsis), diagonals, sums, three operands, integer
 * data — and ONNX's conformance cases (float64 data run as float32).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, gpu, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runOpConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function einsum(equation: string, shapes: number[][], dtype: DType = 'float32'): LayerCase {
  return casesFrom((g) => {
    const ins = shapes.map((s, i) => g.input(`x${i}`, dtype, s));
    g.output(g.op('Einsum', ins, { equation }), dtype);
  })[0];
}

const BOTH = ['naive', 'batched-gemm'];

describe('einsum against the reference', () => {
  it('batched matmul patterns run on both variants', async () => {
    expect(await agree(einsum('bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]))).toEqual(BOTH);
    expect(await agree(einsum('ij,kj->ik', [[5, 6], [7, 6]]))).toEqual(BOTH);
    expect(await agree(einsum('bhqd,bhkd->bhqk', [[1, 2, 5, 8], [1, 2, 6, 8]]))).toEqual(BOTH);
    // Operands in another order than [batch, m, k]: packed first.
    expect(await agree(einsum('bqhd,bkhd->bhqk', [[2, 5, 3, 4], [2, 6, 3, 4]]))).toEqual(BOTH);
    // Output permuted: written to scratch, then permuted.
    expect(await agree(einsum('ik,kj->ji', [[9, 3], [3, 6]]))).toEqual(BOTH);
    // Broadcast ellipsis: A's ellipsis [2, 1] against B's [5].
    const e = einsum('...ij,...jk->...ik', [[2, 1, 3, 4], [5, 4, 2]]);
    expect(e.layer.outputs[0].shape).toEqual([2, 5, 3, 2]);
    expect(await agree(e)).toEqual(BOTH);
    // Outer product (no k) and a matrix-vector product.
    expect(await agree(einsum('i,j->ij', [[5], [3]]))).toEqual(BOTH);
    expect(await agree(einsum('ij,j->i', [[6, 7], [7]]))).toEqual(BOTH);
    // float16 operands, packed and in place.
    expect(await agree(einsum('bqhd,bkhd->bhqk', [[1, 5, 2, 8], [1, 6, 2, 8]], 'float16'))).toEqual(BOTH);
    expect(await agree(einsum('ij,jk->ik', [[5, 8], [8, 3]], 'float16'))).toEqual(BOTH);
  });

  it('other equations run on naive, with the reason batched-gemm does not apply', async () => {
    expect(await agree(einsum('ii->i', [[4, 4]]))).toEqual(['naive']);
    expect(await agree(einsum('ii', [[5, 5]]))).toEqual(['naive']);
    expect(await agree(einsum('ij->', [[3, 4]]))).toEqual(['naive']);
    expect(await agree(einsum('...ii->...i', [[3, 4, 4]]))).toEqual(['naive']);
    const three = einsum('ij,jk,kl->il', [[2, 3], [3, 4], [4, 2]]);
    expect(await agree(three)).toEqual(['naive']);
    expect((await reasons(three))['batched-gemm']).toMatch(/3 operands/);
    const sumA = einsum('ij,jk->k', [[2, 3], [3, 4]]);
    expect(await agree(sumA)).toEqual(['naive']);
    expect((await reasons(sumA))['batched-gemm']).toMatch(/summed within one operand/);
    expect(await agree(einsum('ij,jk->ik', [[3, 4], [4, 2]], 'int32'))).toEqual(['naive']);
  });

  it('the reference on known values', () => {
    const c = einsum('ij,jk->ik', [[2, 2], [2, 2]]);
    const f = (v: number[]): HostTensor => ({ dtype: 'float32', shape: [2, 2], data: Float32Array.from(v) });
    expect([...kernelFor('Einsum')!.reference(c, [f([1, 2, 3, 4]), f([5, 6, 7, 8])])[0].data]).toEqual([19, 22, 43, 50]);
    const d = einsum('ii', [[2, 2]]);
    expect([...kernelFor('Einsum')!.reference(d, [f([1, 2, 3, 4])])[0].data]).toEqual([5]);
  });

  it('bad equations are unsupported with a reason', async () => {
    const { runner } = await gpu();
    const c = einsum('ij,jk->ik', [[2, 3], [3, 4]]);
    const bad = { ...c, layer: { ...c.layer, attrs: { equation: 'ij,j$->ik' } } };
    expect(kernelFor('Einsum')!.supports(bad, 'naive', runner.caps)).toEqual({ ok: false, reason: "term 'j$' has the character '$'" });
  });
});

describe('einsum ONNX conformance', () => {
  it('every case passes (float64 run as float32)', async () => {
    const names = conformanceCasesFor(['Einsum']);
    const t = await tallyConformance(names, (n) => runOpConformance(n, [], { f64AsF32: true }));
    printTally('einsum', t);
    expect(names.length).toBe(5);
    expect(t.failed).toEqual([]);
    // Each case: the reference, naive, and batched-gemm where the equation is a matmul (2 cases).
    expect(t.passed).toBe(5 * 2 + 2);
  }, 120_000);
});
