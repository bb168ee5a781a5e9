/**
 * Library references (src/bench/reference.ts) and the checks stored per (layer, variant, code)
 * (src/store/session.ts): standard layers are checked against onnxruntime's CPU execution
 * provider, fused layers against their composition of standard nodes; a wrong kernel is caught; a
 * check and a measurement are reused only for the code that made them.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../src/bench/harness.js';
import { layerData, prepareVariant } from '../../src/bench/measure.js';
import { layerCase } from '../../src/bench/model.js';
import { referenceModel, referenceOutputs } from '../../src/bench/reference.js';
import { measureCases, openSession } from '../../src/store/session.js';
import { compareOutputs } from '../../src/bench/verify.js';
import { fusedCase } from '../../src/analysis/fused-layers.js';
import { findFusions } from '../../src/analysis/fusion.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { loadGraph } from '../../src/kernels/model.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { Kernel, LayerCase } from '../../src/kernels/types.js';
import { gpu, releaseGpu } from '../support/kernels.js';
import { noBindings, saveModel } from '../support/models.js';
import { tempDir } from '../support/tmp.js';

afterAll(releaseGpu);

/** Conv (3×3, bias) → Relu, and its layers as the model has them. */
function convRelu(): { cases: LayerCase[]; fused: LayerCase } {
  const g = loadGraph(saveModel((b) => {
    const x = b.input('x', 'float32', [1, 6, 9, 9]);
    const w = b.init('w', 'float32', [8, 6, 3, 3]);
    const bias = b.init('b', 'float32', [8]);
    b.output(b.op('Relu', [b.op('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]));
  }), noBindings());
  const fused = fusedCase(g, findFusions(g)[0]);
  if (!fused) throw new Error('no fused case');
  return { cases: g.nodes.map((n) => layerCase(g, n.key)), fused };
}

/** `kernel` with every pass's WGSL rewritten by `edit` (a test-only change of its code). */
function patched(kernel: Kernel, edit: (wgsl: string) => string): Kernel {
  return { ...kernel, plan: (c, v, caps) => { const p = kernel.plan(c, v, caps); return { ...p, passes: p.passes.map((x) => ({ ...x, wgsl: edit(x.wgsl) })) }; } };
}

describe('library references', () => {
  it('a standard layer runs as its own node on onnxruntime (CPU), a fused layer as its composition, and both agree with the CPU code', async () => {
    const { cases, fused } = convRelu();
    for (const c of [...cases, fused]) {
      const kernel = kernelFor(c.layer.op)!;
      expect(referenceModel(c, kernel)).not.toBeNull();
      const inputs = syntheticInputs(c, 2);
      const ref = await referenceOutputs(c, kernel, inputs);
      expect(ref.source).toBe('onnxruntime-cpu');
      expect(ref.fallback).toBeUndefined();
      expect(ref.outputs[0].shape).toEqual(c.layer.outputs[0].shape);
      expect(compareOutputs(ref.outputs, kernel.reference(c, inputs)).ok).toBe(true);
    }
    // A layer without its node (as a suite spec gives it) and no decomposition has only the CPU code.
    const conv = cases[0];
    expect(referenceModel({ ...conv, origin: undefined }, kernelFor('Conv')!)).toBeNull();
    expect((await referenceOutputs({ ...conv, origin: undefined }, kernelFor('Conv')!, syntheticInputs(conv, 2))).source).toBe('dlprof-cpu');
  });

  it('catches a deliberately wrong kernel against onnxruntime', async () => {
    const { runner } = await gpu();
    const { cases, fused } = convRelu();
    for (const c of [cases[0], fused]) {
      const kernel = kernelFor(c.layer.op)!;
      const variant = kernel.defaultVariant(c);
      const { inputs, want } = layerData(c, kernel, 1);
      const right = await prepareVariant(runner, kernel, c, variant, inputs, want, 'warm');
      if (!('item' in right)) throw new Error(`${variant}: ${right.reason}`);
      right.release();
      // An off-by-one tap: every output that reads that weight is wrong.
      const wrong = await prepareVariant(runner, patched(kernel, (w) => w.replace(/fma\(/g, '0.5 * fma(')), c, variant, inputs, want, 'warm');
      expect('item' in wrong ? 'ready' : wrong.status).toBe('mismatch');
      expect('item' in wrong ? '' : wrong.reason).toMatch(/disagrees with the reference \(onnxruntime-cpu\)/);
    }
  });
});

describe('checks and results are kept per code', () => {
  it('a check is stored and not repeated; a changed kernel is checked and measured again', async () => {
    const s = await openSession({}, join(tempDir(), 'ref.sqlite'), 'test');
    try {
      const { cases } = convRelu();
      const c = cases[0];
      const kernel = kernelFor('Conv')!;
      const timing = { ...DEFAULT_TIMING, budgetMs: 100, minTimeMs: 10 };
      const first = await measureCases(s, [c], { conditions: 'warm', timing, variants: ['direct'] });
      expect(first.measured).toBe(1);
      const hash = s.store.latestForLayer(s.machineId, c.layer.key, 'warm')[0].kernelHash!;
      expect(hash).toMatch(/^[0-9a-f]{16}$/);
      expect(s.store.verification(s.machineId, c.layer.key, 'direct', hash)?.reference).toBe('onnxruntime-cpu');
      // The stored check is used: the reference is not computed again.
      let asked = 0;
      const { inputs, want } = layerData(c, kernel, 1);
      const memo = { verified: (v: string, h: string) => !!s.store.verification(s.machineId, c.layer.key, v, h), onVerified: () => {} };
      const r = await prepareVariant(s.runner, kernel, c, 'direct', inputs, () => { asked++; return want(); }, 'warm', 1, memo);
      if (!('item' in r)) throw new Error(r.reason);
      r.release();
      expect(asked).toBe(0);
      expect(r.maxAbsError).toBeNull();
      // Same code: reused.
      expect((await measureCases(s, [c], { conditions: 'warm', timing, variants: ['direct'] })).reused).toBe(1);
      // Changed code (a comment is code too): measured and checked again, under its own hash.
      const orig = kernel.plan;
      kernel.plan = patched({ ...kernel, plan: orig }, (w) => `${w}\n// changed`).plan;
      try {
        const again = await measureCases(s, [c], { conditions: 'warm', timing, variants: ['direct'] });
        expect(again.measured).toBe(1);
        expect(again.reused).toBe(0);
        const newHash = s.store.latestForLayer(s.machineId, c.layer.key, 'warm')[0].kernelHash!;
        expect(newHash).not.toBe(hash);
        expect(s.store.verification(s.machineId, c.layer.key, 'direct', newHash)).toBeDefined();
      } finally {
        kernel.plan = orig;
      }
    } finally {
      s.close();
    }
  });
});
