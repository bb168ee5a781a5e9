/**
 * Gather and GatherElements against the reference with indices in range, negative ones included
 * (the synthetic inputs would only give 0 and 1): embedding lookups (vec4 rows), gathers on inner
 * axes, scalar and 2-D indices, int32 and int64 indices, constant indices, int64 and float16
 * data — and ONNX's conformance cases (indices fed as data).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, inputsFor, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

/** Indices for an axis of extent d: a spread over [−d, d), negative ones included. */
function indicesFor(c: LayerCase, d: number): Array<HostTensor | null> {
  const ins = inputsFor(c);
  const it = c.layer.inputs[1]!;
  const n = it.shape.reduce((a, b) => a * b, 1);
  ins[1] = { dtype: it.dtype, shape: [...it.shape], data: Int32Array.from({ length: n }, (_, i) => ((i * 7 + 3) % (2 * d)) - d) };
  return ins;
}

function gather(op: 'Gather' | 'GatherElements', shape: number[], ishape: number[], axis: number, opts: { dtype?: DType; itype?: 'int64' | 'int32' } = {}) {
  const dtype = opts.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.input('i', opts.itype ?? 'int64', ishape);
    g.output(g.op(op, ['x', 'i'], { axis }), dtype);
  })[0];
}

async function check(op: 'Gather' | 'GatherElements', shape: number[], ishape: number[], axis: number, opts: { dtype?: DType; itype?: 'int64' | 'int32' } = {}): Promise<string[]> {
  const c = gather(op, shape, ishape, axis, opts);
  return agree(c, indicesFor(c, shape[axis < 0 ? axis + shape.length : axis]));
}

describe('gather', () => {
  it('embedding lookups: rows of a table, vec4 when rows are a multiple of 4', async () => {
    expect(await check('Gather', [50, 16], [2, 5], 0)).toEqual(['naive', 'vec4']);
    expect(await check('Gather', [30, 7], [9], 0)).toEqual(['naive']);
    const c = gather('Gather', [30, 7], [9], 0);
    expect((await reasons(c)).vec4).toMatch(/not a positive multiple of 4/);
  });
  it('inner axes, negative axes, scalar and 2-D indices, int32 indices', async () => {
    expect(await check('Gather', [3, 9, 8], [4], 1)).toEqual(['naive', 'vec4']);
    await check('Gather', [3, 5, 6], [2, 3], -1);
    await check('Gather', [4, 6], [], 1);
    await check('Gather', [6, 4], [], 0, { itype: 'int32' });
    await check('Gather', [2, 3, 5, 2], [3, 1], 2, { itype: 'int32' });
  });
  it('constant indices (a layer with known indices)', async () => {
    const c = casesFrom((g) => {
      g.input('x', 'float32', [3, 10, 4]);
      g.output(g.op('Gather', ['x', g.ints('i', [-1, 0, 9, 3, -10])], { axis: 1 }));
    })[0];
    expect(c.consts[1]).not.toBeNull();
    expect(await agree(c)).toEqual(['naive', 'vec4']);
  });
  it('int64 and float16 data', async () => {
    expect(await check('Gather', [6, 4], [5], 0, { dtype: 'int64' })).toEqual(['naive', 'vec4']);
    expect(await check('Gather', [7, 12], [3, 2], 0, { dtype: 'float16' })).toEqual(['naive', 'vec4']);
  });
  it('the reference rejects an index out of range', () => {
    const c = gather('Gather', [3, 4], [2], 0);
    const x = { dtype: 'float32' as const, shape: [3, 4], data: new Float32Array(12) };
    expect(() => kernelFor('Gather')!.reference(c, [x, { dtype: 'int64', shape: [2], data: Int32Array.from([0, 3]) }])).toThrow(/out of range/);
  });
});

describe('gather-elements', () => {
  it('every axis, negative indices, indices smaller than data', async () => {
    expect(await check('GatherElements', [4, 5], [4, 5], 0)).toEqual(['naive']);
    await check('GatherElements', [4, 5], [3, 7], 1);
    await check('GatherElements', [3, 4, 5], [2, 4, 3], -1);
    await check('GatherElements', [3, 4, 5], [3, 6, 5], 1, { itype: 'int32' });
    await check('GatherElements', [5, 6], [5, 2], 1, { dtype: 'int64' });
    await check('GatherElements', [5, 6], [3, 6], 0, { dtype: 'float16' });
  });
});

describe('gather ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Gather', 'GatherElements']), runMovementConformance);
    printTally('gather', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Gather')!.cases).toBe(4);
    expect(t.perOp.get('GatherElements')!.cases).toBe(3);
    expect(t.perOp.get('Gather')!.skip + t.perOp.get('GatherElements')!.skip).toBe(0);
  }, 60_000);
});
