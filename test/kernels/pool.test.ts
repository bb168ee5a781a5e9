/**
 * MaxPool (Indices, storage order), AveragePool (count_include_pad), global pools: every variant
 * against the reference with pads, strides, dilations, ceil_mode, 1-D/3-D windows, float16 and
 * uint8, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, checkCase, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

async function agree(c: LayerCase): Promise<VariantCheck[]> {
  const r = await checkCase(c);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${c.layer.op} [${c.layer.inputs[0]!.shape}] ${JSON.stringify(c.layer.attrs)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  expect(r.some((v) => v.supported)).toBe(true);
  return r;
}

describe('MaxPool and AveragePool', () => {
  it('2-D windows with pads, strides, dilations and ceil_mode', async () => {
    const attrsList: Array<Record<string, number | number[]>> = [
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
      { kernel_shape: [3, 2], strides: [1, 2], pads: [0, 1, 2, 0], ceil_mode: 1 },
      { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 1, 1, 1] },
    ];
    for (const attrs of attrsList) {
      const cases = casesFrom((g) => {
        g.input('x', 'float32', [2, 3, 9, 8]);
        g.output(g.op('MaxPool', ['x'], attrs));
        g.output(g.op('AveragePool', ['x'], { ...attrs, dilations: undefined, ...(attrs.dilations ? {} : { count_include_pad: 0 }) }));
        g.output(g.op('AveragePool', ['x'], { ...attrs, dilations: undefined, count_include_pad: 1 }));
      }, { '': 18 });
      for (const c of cases) await agree(c);
    }
  });
  it('MaxPool Indices (row- and column-major), 1-D and 3-D windows, float16, uint8', async () => {
    const withIdx = casesFrom((g) => {
      g.input('x', 'float32', [1, 2, 6, 7]);
      const [y, i] = g.node('MaxPool', ['x'], { kernel_shape: [2, 3], strides: [2, 2], pads: [1, 1, 0, 1] }, { outputs: 2 });
      g.output(y); g.output(i, 'int64');
      const [y2, i2] = g.node('MaxPool', ['x'], { kernel_shape: [3, 3], storage_order: 1 }, { outputs: 2 });
      g.output(y2); g.output(i2, 'int64');
    });
    expect(withIdx.map((c) => c.layer.outputs.length)).toEqual([2, 2]);
    const more = casesFrom((g) => {
      g.input('a', 'float32', [2, 3, 11]);
      g.input('b', 'float32', [1, 2, 5, 6, 4]);
      g.input('h', 'float16', [1, 4, 6, 6]);
      g.input('u', 'uint8', [1, 2, 5, 5]);
      g.output(g.op('MaxPool', ['a'], { kernel_shape: [3], strides: [2] }));
      g.output(g.op('AveragePool', ['b'], { kernel_shape: [2, 3, 2], pads: [1, 0, 1, 0, 1, 1] }));
      g.output(g.op('AveragePool', ['h'], { kernel_shape: [2, 2], strides: [2, 2] }), 'float16');
      g.output(g.op('MaxPool', ['u'], { kernel_shape: [2, 2] }), 'uint8');
    });
    for (const c of [...withIdx, ...more]) await agree(c);
  });
});

describe('global pools', () => {
  it('GlobalAveragePool and GlobalMaxPool on vec4 and odd planes', async () => {
    for (const shape of [[2, 5, 7, 7], [1, 8, 4, 4], [2, 3, 10]]) {
      const cases = casesFrom((g) => {
        g.input('x', 'float32', shape);
        g.output(g.op('GlobalAveragePool', ['x']));
        g.output(g.op('GlobalMaxPool', ['x']));
      });
      for (const c of cases) {
        const r = await agree(c);
        expect(r.filter((v) => v.supported).map((v) => v.variant)).toEqual(shape[2] % 4 === 0 ? ['naive', 'vec4', 'workgroup'] : ['naive', 'workgroup']);
      }
    }
  });
});

describe('pool ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']), runConformanceCase, { dataFallback: true });
    printTally('pool', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('MaxPool')!.pass).toBeGreaterThanOrEqual(12);
  });
});
