/**
 * The CPU reference run (the output check for models onnxruntime cannot run) agrees with
 * onnxruntime on bundled fixtures; the whole-model GPU run repeats as its run count says, bound once
 * and run as often as asked.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { bindModel, modelInputs, referenceRun, runModel } from '../../src/bench/model.js';
import { ortOutputs } from '../../src/bench/ort.js';
import { MODEL_TOLERANCE, compareOutputs } from '../../src/bench/verify.js';
import { trimmedMean } from '../../src/bench/stats.js';
import { loadGraph } from '../../src/kernels/model.js';
import type { Kernel, LayerCase } from '../../src/kernels/types.js';
import { gpu, releaseGpu } from '../support/kernels.js';
import { fixture } from '../support/models.js';

describe('referenceRun', () => {
  for (const [file, dims] of [['resnet-tiny.onnx', {}], ['vit-tiny.onnx', { batch: 2 }]] as const) {
    it(`${file}: dlprof's chained CPU references match onnxruntime's CPU outputs`, async () => {
      const path = fixture(file);
      const g = loadGraph(path, { dims: new Map(Object.entries(dims)), shapes: new Map() });
      const inputs = modelInputs(g);
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

describe('runModel', () => {
  afterAll(releaseGpu);

  it('repeats at least `repeats` times, then on until the wall-time budget, and reports every run', async () => {
    const { runner } = await gpu();
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const inputs = modelInputs(g);
    const choose = (c: LayerCase, k: Kernel): string => k.defaultVariant(c);
    const fixed = await runModel(runner, g, inputs, choose, { repeats: 3 });
    expect(fixed.totalsMs).toHaveLength(3);
    expect(fixed.totalsMs.every((t) => t > 0)).toBe(true);
    expect(fixed.layers).toHaveLength(g.nodes.length);
    // Every layer's time in context is the trimmed mean of its samples, one a run.
    for (const l of fixed.layers) {
      expect(l.samplesMs).toHaveLength(3);
      expect(l.ms).toBe(trimmedMean(l.samplesMs));
    }
    // A run of this model takes a few ms (≤ ~100 ms even on a loaded lavapipe), so 1.5 s holds many.
    const budgeted = await runModel(runner, g, inputs, choose, { repeats: 3, budgetMs: 1500, maxRepeats: 12 });
    expect(budgeted.totalsMs.length).toBeGreaterThan(3);
    expect(budgeted.totalsMs.length).toBeLessThanOrEqual(12);
  });

  it('runs a bound model as often as asked, on the same buffers, per-layer timing only when asked', async () => {
    const { runner } = await gpu();
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const bound = await bindModel(runner, g, modelInputs(g), (c: LayerCase, k: Kernel) => k.defaultVariant(c));
    try {
      const totals = await bound.time({ repeats: 2, perLayer: false });
      const layered = await bound.time({ repeats: 1 });
      const unread = await bound.time({ repeats: 1, perLayer: false, readOutputs: false });
      expect(unread.outputs.size).toBe(0);
      expect(unread.totalsMs).toHaveLength(1);
      expect(totals.totalsMs).toHaveLength(2);
      expect(totals.layers.every((l) => l.ms === 0 && l.samplesMs.length === 0)).toBe(true);
      expect(layered.totalsMs).toHaveLength(1);
      expect(layered.layers.every((l) => l.ms > 0)).toBe(true);
      for (const o of g.outputs) expect(Array.from(layered.outputs.get(o.name)!.data)).toEqual(Array.from(totals.outputs.get(o.name)!.data));
    } finally {
      bound.release();
    }
  });

  it('times the layers in context in 3 runs at least and then only within layerBudgetMs; a warm-up only when asked', async () => {
    const { runner } = await gpu();
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    // The runner's submissions, counted: a run is one, its layers in context another.
    let submissions = 0;
    const counting = new Proxy(runner, {
      get: (t, k) => (k === 'submit' ? (...a: Parameters<typeof runner.submit>) => { submissions++; return t.submit(...a); } : Reflect.get(t, k, t)),
    });
    const bound = await bindModel(counting, g, modelInputs(g), (c: LayerCase, k: Kernel) => k.defaultVariant(c));
    try {
      const capped = await bound.time({ repeats: 6, layerBudgetMs: 0, readOutputs: false });
      expect(capped.totalsMs).toHaveLength(6);
      expect(capped.layers.every((l) => l.samplesMs.length === 3)).toBe(true);
      // 1 warm-up + 6 runs, each of the first 4 (the warm-up's included) with its layers' pass.
      expect(submissions).toBe(7 + 4);
      submissions = 0;
      const open = await bound.time({ repeats: 6, readOutputs: false, warmup: false });
      expect(open.layers.every((l) => l.samplesMs.length === 6)).toBe(true);
      expect(submissions).toBe(6 + 6);
    } finally {
      bound.release();
    }
  });
});
