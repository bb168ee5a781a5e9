/**
 * Reduce* and ArgMax/ArgMin: every variant against the reference over various axes (last, first,
 * middle, several, all), keepdims, the axes-as-input form (opset 18), noop_with_empty_axes,
 * integer inputs, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, checkCaseWith, mapFloats, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

const OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** ReduceLogSum needs positive sums; products of many values in [-1, 1] underflow: use [0.5, 1.5). */
const positive = mapFloats((x) => 1 + x / 2);

async function agree(c: LayerCase): Promise<VariantCheck[]> {
  const r = await checkCaseWith(c, positive);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${c.layer.op} [${c.layer.inputs[0]!.shape}] axes ${JSON.stringify(c.layer.attrs.axes ?? c.layer.attrs.axis)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r;
}

const ran = (r: VariantCheck[]): string[] => r.filter((v) => v.supported).map((v) => v.variant);

describe('Reduce*', () => {
  it('every op over the last, first, middle, several and all axes (opset 18 axes input)', async () => {
    const plans: Array<[number[], number[] | null, number]> = [
      [[3, 5, 8], [-1], 1], [[3, 5, 8], [0], 0], [[3, 5, 8], [1], 1], [[2, 3, 4, 6], [1, 3], 0], [[3, 7], null, 1], [[4, 6, 5], [0, 1], 1],
    ];
    for (const [p, [shape, axes, keepdims]] of plans.entries()) {
      // Every op on the first two plans; the index arithmetic of the rest through a few.
      const ops = p < 2 ? OPS : ['ReduceSum', 'ReduceMax', 'ReduceLogSumExp'];
      const cases = casesFrom((g) => {
        g.input('x', 'float32', shape);
        for (const op of ops) g.output(g.op(op, axes ? ['x', g.ints('axes', axes)] : ['x'], { keepdims }));
      }, { '': 18 });
      expect(cases.length).toBe(ops.length);
      for (const c of cases) expect(ran(await agree(c))).toContain('workgroup');
    }
  });
  it('vec4 rows and columns; a large reduction for the workgroup tree', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [6, 40]);
      g.input('big', 'float32', [2, 3000]);
      g.output(g.op('ReduceMean', ['x', g.ints('a', [1])]));
      g.output(g.op('ReduceSum', ['x', g.ints('a', [0])]));
      g.output(g.op('ReduceMax', ['big', g.ints('a', [1])]));
      g.output(g.op('ReduceLogSumExp', ['big', g.ints('a', [1])]));
    }, { '': 18 });
    for (const c of cases) expect(ran(await agree(c))).toEqual(['naive', 'vec4', 'workgroup']);
  });
  it('attribute axes (opset 13 ReduceMean), noop_with_empty_axes, integers', async () => {
    const old = casesFrom((g) => {
      g.input('x', 'float32', [2, 5, 3]);
      g.output(g.op('ReduceMean', ['x'], { axes: [1], keepdims: 0 }));
    }, { '': 13 });
    const noop = casesFrom((g) => {
      g.input('x', 'float32', [2, 5, 3]);
      g.output(g.op('ReduceSum', ['x', g.ints('axes', [])], { noop_with_empty_axes: 1 }));
    }, { '': 18 });
    const ints = casesFrom((g) => {
      g.input('i', 'int32', [4, 9]);
      g.output(g.op('ReduceSum', ['i', g.ints('axes', [1])]), 'int32');
      g.output(g.op('ReduceMax', ['i', g.ints('axes', [0])]), 'int32');
    }, { '': 18 });
    for (const c of [...old, ...noop, ...ints]) await agree(c);
    expect(noop[0].layer.outputs[0].shape).toEqual([2, 5, 3]);
  });
});

describe('ArgMax/ArgMin', () => {
  it('axes, keepdims and select_last_index, with ties', async () => {
    for (const [shape, axis, last] of [[[3, 4, 5], 1, 0], [[3, 4, 5], -1, 1], [[6, 300], 1, 0], [[7, 2], 0, 1]] as Array<[number[], number, number]>) {
      const cases = casesFrom((g) => {
        g.input('x', 'float32', shape);
        for (const op of ['ArgMax', 'ArgMin']) g.output(g.op(op, ['x'], { axis, keepdims: 1, select_last_index: last }), 'int64');
      });
      // Quantized values make ties common.
      for (const c of cases) {
        const r = await checkCaseWith(c, mapFloats((x) => Math.round(x * 3)));
        for (const v of r) if (v.supported) expect(v.agreement?.ok, `${c.layer.op} ${v.variant}`).toBe(true);
        expect(ran(r)).toEqual(['naive', 'workgroup']);
      }
    }
  });
});

describe('reductions without subgroups', () => {
  it('shared-memory trees for Reduce*, LogSumExp and ArgMax/ArgMin', async () => {
    const cases = casesFrom((g) => {
      g.input('x', 'float32', [5, 700]);
      for (const op of ['ReduceSum', 'ReduceMax', 'ReduceLogSumExp']) g.output(g.op(op, ['x', g.ints('a', [1])]));
      for (const op of ['ArgMax', 'ArgMin']) g.output(g.op(op, ['x'], { axis: 1, select_last_index: op === 'ArgMin' ? 1 : 0 }), 'int64');
    }, { '': 18 });
    for (const c of cases) {
      const r = await checkCaseWith(c, mapFloats((x) => 1 + Math.round(x * 4) / 8), { subgroups: false });
      for (const v of r) if (v.supported) expect(v.agreement?.ok, `${c.layer.op} ${v.variant} no subgroups: ${JSON.stringify(v.agreement)}`).toBe(true);
      expect(ran(r)).toContain('workgroup');
    }
  });
});

describe('reduce ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor([...OPS, 'ArgMax', 'ArgMin']), runConformanceCase, { dataFallback: true });
    printTally('reduce', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('ArgMax')!.pass).toBeGreaterThanOrEqual(16);
  });
});
