/**
 * Pad: `naive` and `vec4` against the reference in constant, reflect, edge and wrap modes —
 * spatial pads of NCHW, asymmetric and negative (cropping) pads, a constant value, the opset-2
 * attribute form, opset-18 axes, int64 and float16 — and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function pad(shape: number[], pads: number[], mode: string, opts: { value?: number; dtype?: DType; axes?: number[]; opset?: number } = {}) {
  const dtype = opts.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    const ins = ['x', g.ints('p', pads)];
    if (opts.value !== undefined || opts.axes) ins.push(opts.value !== undefined ? g.init('v', dtype, [], [opts.value]) : '');
    if (opts.axes) ins.push(g.ints('a', opts.axes));
    g.output(g.op('Pad', ins, { mode }), dtype);
  }, { '': opts.opset ?? 19 })[0];
}

describe('pad', () => {
  it('constant, reflect, edge and wrap on NCHW spatial axes', async () => {
    for (const mode of ['constant', 'reflect', 'edge', 'wrap']) {
      expect(await agree(pad([1, 2, 5, 6], [0, 0, 1, 2, 0, 0, 2, 3], mode))).toEqual(['naive']);
    }
  });
  it('a constant value, asymmetric and negative pads', async () => {
    await agree(pad([3, 7], [1, 0, 2, 3], 'constant', { value: 2.5 }));
    const crop = pad([4, 9], [-1, 2, 0, -3], 'constant', { value: -1 });
    expect(crop.layer.outputs[0].shape).toEqual([3, 8]);
    await agree(crop);
    await agree(pad([4, 9], [-1, 2, 1, -3], 'edge'));
    await agree(pad([5], [4, 4], 'reflect'));
    await agree(pad([1, 6], [0, 3, 0, 0], 'reflect'));
  });
  it('vec4 when the last axis is unpadded and 4-aligned', async () => {
    expect(await agree(pad([2, 3, 8], [0, 1, 0, 1, 2, 0], 'constant', { value: 7 }))).toEqual(['naive', 'vec4']);
    expect(await agree(pad([2, 3, 8], [1, 1, 0, 0, 2, 0], 'reflect'))).toEqual(['naive', 'vec4']);
    const c = pad([2, 3, 6], [0, 1, 0, 1, 2, 0], 'edge');
    expect(await agree(c)).toEqual(['naive']);
    expect((await reasons(c)).vec4).toMatch(/last axis/);
  });
  it('opset-2 attributes and opset-18 axes', async () => {
    const old = casesFrom((g) => {
      g.input('x', 'float32', [3, 4]);
      g.output(g.op('Pad', ['x'], { pads: [1, 0, 0, 2], mode: 'constant', value: 1.5 }));
    }, { '': 2 })[0];
    expect(old.layer.outputs[0].shape).toEqual([4, 6]);
    await agree(old);
    const ax = pad([2, 3, 4], [1, 2, 0, 1], 'edge', { axes: [-2, 0], opset: 18 });
    // pads are [begins…, ends…] in the order of axes: axis 1 gets 1 before, axis 0 gets 2 before and 1 after.
    expect(ax.layer.outputs[0].shape).toEqual([5, 4, 4]);
    expect(await agree(ax)).toEqual(['naive', 'vec4']);
  });
  it('int64, bool and float16', async () => {
    await agree(pad([3, 5], [1, 1, 1, 1], 'constant', { value: -3, dtype: 'int64' }));
    await agree(pad([3, 5], [2, 0, 0, 2], 'reflect', { dtype: 'int64' }));
    await agree(pad([3, 4], [1, 0, 1, 0], 'constant', { dtype: 'bool' }));
    expect(await agree(pad([2, 3, 4], [0, 1, 0, 0, 1, 0], 'constant', { value: 0.5, dtype: 'float16' }))).toEqual(['naive', 'vec4']);
  });
});

describe('pad ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Pad']), runMovementConformance);
    printTally('pad', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Pad')!.cases).toBe(3);
    expect(t.perOp.get('Pad')!.skip).toBe(0);
  }, 60_000);
});
