/**
 * Softmax/LogSoftmax: every variant against the reference over the last axis, a middle axis, odd
 * row lengths (vec4 rows straddling), long rows (online softmax), float16, the opset < 13 2-D
 * coercion, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, checkCase, checkCaseWith, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

async function agree(c: LayerCase): Promise<VariantCheck[]> {
  const r = await checkCase(c);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${c.layer.op} [${c.layer.inputs[0]!.shape}] axis ${String(c.layer.attrs.axis)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r;
}

const ran = (r: VariantCheck[]): string[] => r.filter((v) => v.supported).map((v) => v.variant);

function softmaxCases(op: string, shape: number[], axis: number, dtype: 'float32' | 'float16' = 'float32', opset = 17): LayerCase[] {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op(op, ['x'], { axis }), dtype);
  }, { '': opset });
}

describe('softmax', () => {
  it('last axis: attention-like rows (odd length), aligned rows, short rows', async () => {
    for (const [shape, axis] of [[[2, 3, 37, 37], -1], [[3, 5, 64], -1], [[4, 6], -1], [[2, 7, 3], 2], [[5], 0]] as Array<[number[], number]>) {
      for (const op of ['Softmax', 'LogSoftmax']) {
        const r = await agree(softmaxCases(op, shape, axis)[0]);
        expect(ran(r)).toEqual(['naive', 'workgroup', 'subgroup']);
      }
    }
  });
  it('a middle axis and the first axis', async () => {
    for (const [shape, axis] of [[[4, 9, 5], 1], [[6, 3, 8], 0], [[2, 3, 4, 5], -2]] as Array<[number[], number]>) {
      for (const op of ['Softmax', 'LogSoftmax']) await agree(softmaxCases(op, shape, axis)[0]);
    }
  });
  it('long rows take the online path', async () => {
    for (const op of ['Softmax', 'LogSoftmax']) {
      await agree(softmaxCases(op, [3, 5003], -1)[0]);
      await agree(softmaxCases(op, [2, 4096], -1)[0]);
    }
  });
  it('without subgroups: shared-memory trees (and no subgroup variant)', async () => {
    for (const [shape, axis] of [[[3, 5, 37], -1], [[2, 4096], -1], [[4, 9, 5], 1]] as Array<[number[], number]>) {
      for (const op of ['Softmax', 'LogSoftmax']) {
        const c = softmaxCases(op, shape, axis)[0];
        const r = await checkCaseWith(c, undefined, { subgroups: false });
        for (const v of r) if (v.supported) expect(v.agreement?.ok, `${op} [${shape}] ${v.variant} no subgroups`).toBe(true);
        expect(ran(r)).toEqual(['naive', 'workgroup']);
      }
    }
  });
  it('float16', async () => {
    await agree(softmaxCases('Softmax', [2, 5, 50], -1, 'float16')[0]);
    await agree(softmaxCases('LogSoftmax', [3, 8, 4], 1, 'float16')[0]);
  });
  it('opset < 13 coerces to 2-D at the axis when the layer says so', async () => {
    const c = softmaxCases('Softmax', [2, 3, 5], 1, 'float32', 11)[0];
    const legacy: LayerCase = { ...c, layer: { ...c.layer, attrs: { ...c.layer.attrs, coerce_2d: 1 } } };
    await agree(legacy);
    const { kernels } = await import('../../src/kernels/softmax.js');
    const x = { dtype: 'float32' as const, shape: [2, 3, 5], data: Float32Array.from({ length: 30 }, (_, i) => i / 7) };
    const [y] = kernels[0].reference(legacy, [x]);
    // Each of the 2 rows of 15 sums to 1 (not each of the 10 columns of 3).
    const s0 = (y.data as Float32Array).slice(0, 15).reduce((a, b) => a + b, 0);
    expect(s0).toBeCloseTo(1, 5);
  });
});

describe('softmax ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Softmax', 'LogSoftmax']), runConformanceCase, { dataFallback: true });
    printTally('softmax', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Softmax')!.pass).toBeGreaterThanOrEqual(14);
  });
});
