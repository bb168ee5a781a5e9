/**
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against the reference (every reduction,
 * weights, ignore_index, spatial dims, SCE's log_prob output) and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, inputsFor, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses, runOpConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function loss(op: string, x: number[], attrs: Record<string, AttrInput>, weight: boolean, outs = 1): LayerCase {
  return casesFrom((g) => {
    g.input('x', 'float32', x);
    g.input('t', 'int64', [x[0], ...x.slice(2)]);
    if (weight) g.input('w', 'float32', [x[1]]);
    for (const o of g.node(op, ['x', 't', ...(weight ? ['w'] : [])], attrs, { outputs: outs })) g.output(o);
  })[0];
}

/** Targets in [0, C) with every fifth one −1 (the ignore_index of some cases). */
function withTargets(c: LayerCase): Array<HostTensor | null> {
  const ins = inputsFor(c);
  const t = c.layer.inputs[1]!;
  const C = c.layer.inputs[0]!.shape[1];
  ins[1] = { dtype: 'int64', shape: [...t.shape], data: Int32Array.from({ length: ins[1]!.data.length }, (_, i) => (i % 5 === 4 ? -1 : (i * 7) % C)) };
  if (ins[2]) ins[2] = { ...ins[2], data: Float32Array.from(ins[2].data, (v) => 1 + v / 2) };
  return ins;
}

describe('loss kernels against the reference', () => {
  it('NegativeLogLikelihoodLoss: none, sum, mean; weights; ignore_index', async () => {
    for (const [reduction, weight, ii] of [['none', false, undefined], ['sum', true, -1], ['mean', true, -1], ['mean', false, undefined]] as Array<[string, boolean, number | undefined]>) {
      const c = loss('NegativeLogLikelihoodLoss', [3, 5, 4, 2], { reduction, ...(ii !== undefined ? { ignore_index: ii } : {}) }, weight);
      expect(await agree(c, withTargets(c)), `${reduction} ${weight} ${ii}`).toEqual(['naive']);
    }
  });

  it('SoftmaxCrossEntropyLoss: reductions, weights, ignore_index, log_prob output', async () => {
    for (const [reduction, weight, outs] of [['mean', true, 2], ['none', false, 2], ['sum', false, 1]] as Array<[string, boolean, number]>) {
      const c = loss('SoftmaxCrossEntropyLoss', [4, 6, 3], { reduction, ignore_index: -1 }, weight, outs);
      expect(await agree(c, withTargets(c)), `${reduction} ${weight} ${outs}`).toEqual(['naive']);
    }
    // Two equal scores: loss log 2 for either target.
    const c = loss('SoftmaxCrossEntropyLoss', [1, 2], { reduction: 'mean' }, false);
    const y = kernelFor('SoftmaxCrossEntropyLoss')!.reference(c, [{ dtype: 'float32', shape: [1, 2], data: Float32Array.of(3, 3) }, { dtype: 'int64', shape: [1], data: Int32Array.of(1) }]);
    expect(y[0].data[0]).toBeCloseTo(Math.LN2, 6);
  });
});

describe('loss ONNX conformance', () => {
  it('every case passes (reference and kernel)', async () => {
    await expectEveryCasePasses('loss', ['NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss'], { passed: (n) => n * 2 }, (n) => runOpConformance(n, [], { f64AsF32: true }));
  }, 180_000);
});
