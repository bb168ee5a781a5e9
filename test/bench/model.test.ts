/**
 * The CPU reference run (the output check for models onnxruntime cannot run) agrees with
 * onnxruntime on bundled fixtures.
 */
import { describe, expect, it } from 'vitest';
import { referenceRun } from '../../src/bench/model.js';
import { ortOutputs } from '../../src/bench/ort.js';
import { MODEL_TOLERANCE, compareOutputs } from '../../src/bench/verify.js';
import { syntheticInputs } from '../../src/gpu/run.js';
import { processModel } from '../../src/ir/process.js';
import type { HostTensor } from '../../src/kernels/types.js';
import { fixture } from '../support/models.js';

function inputsOf(g: ReturnType<typeof processModel>): Map<string, HostTensor> {
  return new Map(g.inputs.map((inp, i) => {
    const t = { dtype: inp.dtype as HostTensor['dtype'], shape: inp.shape as number[] };
    const [host] = syntheticInputs({ layer: { key: '', op: '', attrs: {}, inputs: [t], outputs: [], weights: [], flops: 0, bytes: 0, params: 0 }, consts: [null] }, 7 + i);
    return [inp.name, host!];
  }));
}

describe('referenceRun', () => {
  for (const [file, dims] of [['resnet-tiny.onnx', {}], ['vit-tiny.onnx', { batch: 2 }]] as const) {
    it(`${file}: dlprof's chained CPU references match onnxruntime's CPU outputs`, async () => {
      const path = fixture(file);
      const g = processModel(path, { dims: new Map(Object.entries(dims)), shapes: new Map() });
      const inputs = inputsOf(g);
      let steps = 0;
      const ours = await referenceRun(g, inputs, () => { steps++; });
      expect(steps).toBe(g.nodes.length);
      const theirs = await ortOutputs(path, inputs);
      for (const o of g.outputs) {
        const a = compareOutputs([ours.get(o.name)!], [theirs.get(o.name)!], undefined, MODEL_TOLERANCE);
        expect(a.ok, `${o.name}: ${JSON.stringify(a)}`).toBe(true);
      }
    });
  }
});
