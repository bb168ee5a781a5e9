/**
 * Measurement conditions (src/bench/measure.ts): which inputs are a layer's weights, the copies
 * `cold-weights` times in turn (each computes what the original does), the harness cycling
 * through them, and what `inference` prepares: a set of weights per occurrence of the layer in
 * the model (up to COLD_SPAN), the activations re-written before each execution.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, Timer } from '../../src/bench/harness.js';
import { COLD_SPAN, prepareVariant, rotation, weightInputs } from '../../src/bench/measure.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

/** MatMul x[8, K] · W[K, N] with W an initializer. */
function matmul(K: number, N: number): LayerCase {
  const [c] = casesFrom((b) => {
    const x = b.input('x', 'float32', [8, K]);
    const w = b.init('w', 'float32', [K, N], Float32Array.from({ length: K * N }, (_, i) => ((i * 13) % 17) / 17 - 0.5));
    b.output(b.op('MatMul', [x, w]));
  });
  return c;
}

describe('measurement conditions', () => {
  it('cold-weights times copies of the weights, each computing what the original does; warm times the original alone', async () => {
    const { runner } = await gpu();
    const c = matmul(256, 1024); // a 1 MiB weight
    const kernel = kernelFor(c.layer.op)!;
    const plan = kernel.plan(c, kernel.defaultVariant(c), runner.caps);
    const p = await runner.prepare(kernel, c, plan, syntheticInputs(c, 1), 'matmul');
    expect(weightInputs(c, plan, p)).toEqual([1]);
    expect((await rotation(runner, kernel, c, plan, p, 'warm')).plans).toEqual([p]);
    expect((await rotation(runner, kernel, c, plan, p, 'cold')).plans).toEqual([p]);
    // inference: one set of weights per occurrence, up to COLD_SPAN of them.
    expect((await rotation(runner, kernel, c, plan, p, 'inference')).plans).toEqual([p]);
    const three = await rotation(runner, kernel, c, plan, p, 'inference', 3);
    expect(three.plans).toHaveLength(3);
    expect(new Set(three.plans.map((q) => q.inputs[1])).size).toBe(3);
    three.release();
    const many = await rotation(runner, kernel, c, plan, p, 'inference', 1000);
    expect(many.plans).toHaveLength(COLD_SPAN / 2 ** 20);
    many.release();

    const cold = await rotation(runner, kernel, c, plan, p, 'cold-weights');
    expect(cold.plans.length).toBe(COLD_SPAN / 2 ** 20);
    expect(cold.plans[0]).toBe(p);
    for (const q of cold.plans.slice(1)) {
      expect(q.inputs[0]).toBe(p.inputs[0]); // activations shared (hot)
      expect(q.outputs).toEqual(p.outputs);
      expect(q.inputs[1]).not.toBe(p.inputs[1]); // weights: a buffer of its own
    }
    const want = await runner.run(p, c);
    for (const q of [cold.plans[1], cold.plans[cold.plans.length - 1]]) {
      expect(Array.from((await runner.run(q, c))[0].data)).toEqual(Array.from(want[0].data));
    }
    const timer = new Timer(runner);
    const out = await timer.time(cold.plans, { ...DEFAULT_TIMING, budgetMs: 300 });
    expect(out.status).toBe('completed');
    cold.release();
    // The original is intact after the copies are gone.
    expect(Array.from((await runner.run(p, c))[0].data)).toEqual(Array.from(want[0].data));
    runner.release(p);
  });

  it('leaves small weights alone, and counts a host-built plan\'s derived buffers as weights', async () => {
    const { runner } = await gpu();
    const small = matmul(16, 16); // 1 KiB: stays in the cache in any model
    const k = kernelFor(small.layer.op)!;
    const plan = k.plan(small, k.defaultVariant(small), runner.caps);
    const p = await runner.prepare(k, small, plan, syntheticInputs(small, 1), 'small');
    expect((await rotation(runner, k, small, plan, p, 'cold-weights')).plans).toEqual([p]);
    expect((await rotation(runner, k, small, plan, p, 'inference', 120)).plans).toEqual([p]);
    runner.release(p);

    const f32 = (...shape: number[]) => ({ dtype: 'float32' as const, shape });
    const weight = { sparsity: 0, sparsityExact: true, sparseInitializer: false };
    // A weight of COLD_SPAN or more: one copy besides the original (re-read every sample, it measured faster than in a model).
    const huge: LayerCase = {
      layer: { key: 'huge', op: 'MatMul', attrs: {}, inputs: [f32(1, 4096), f32(4096, 4096)], outputs: [f32(1, 4096)], weights: [{ input: 1, ...weight }], flops: 0, bytes: 0, params: 0 },
      consts: [null, null],
    };
    const hp = kernelFor('MatMul')!.plan(huge, kernelFor('MatMul')!.defaultVariant(huge), runner.caps);
    const hpp = await runner.prepare(kernelFor('MatMul')!, huge, hp, syntheticInputs(huge, 1), 'huge');
    expect(hpp.inputs[1]!.size).toBe(COLD_SPAN);
    const two = await rotation(runner, kernelFor('MatMul')!, huge, hp, hpp, 'cold-weights');
    expect(two.plans.length).toBe(2);
    two.release();
    // inference: no cache holds it, and the model has no second read of a set close behind.
    expect((await rotation(runner, kernelFor('MatMul')!, huge, hp, hpp, 'inference', 120)).plans).toEqual([hpp]);
    runner.release(hpp);

    // CSR built on the host: [X, rowPtr, col, val, bias] from the layer's [X, W, bias].
    const inputs = [f32(4, 64), f32(64, 32), f32(32)];
    const sparse: LayerCase = {
      layer: { key: 'sparse', op: 'dlprof.SparseLinear', attrs: { activation: 'Relu', sparsity: 0.9, trans_b: 0 }, inputs, outputs: [f32(4, 32)],
        weights: [{ input: 1, ...weight, sparsity: 0.9 }, { input: 2, ...weight }],
        flops: 0, bytes: 0, params: 0 },
      consts: [null, null, null],
    };
    const sk = kernelFor(sparse.layer.op)!;
    const csr = sk.plan(sparse, 'csr', runner.caps);
    const sp = await runner.prepare(sk, sparse, csr, syntheticInputs(sparse, 1), 'csr');
    expect(weightInputs(sparse, csr, sp)).toEqual([1, 2, 3, 4]);
    runner.release(sp);
  });

  it('inference: the activations, and only they, are re-written from a copy of their data; a repeated layer\'s weights are copied', async () => {
    const { runner } = await gpu();
    const c = matmul(256, 1024);
    const kernel = kernelFor(c.layer.op)!;
    const inputs = syntheticInputs(c, 1);
    const r = await prepareVariant(runner, kernel, c, kernel.defaultVariant(c), inputs, async () => ({ outputs: kernel.reference(c, inputs), source: 'dlprof-cpu' as const }), 'inference');
    if (!('item' in r)) throw new Error(`not ready: ${r.reason}`);
    expect(r.item.plans).toHaveLength(1);
    const p = r.item.plans[0];
    expect(r.item.before).toHaveLength(1);
    const [{ source, target }] = r.item.before!;
    expect(target).toBe(p.inputs[0]); // x, not the weight
    expect(source.size).toBe(target.size);
    // The copy holds x's data: overwrite x, copy back, and the layer computes what it did.
    const want = await runner.run(p, c);
    runner.device.queue.writeBuffer(target, 0, new Float32Array(target.size / 4).fill(3));
    const enc = runner.device.createCommandEncoder();
    enc.copyBufferToBuffer(source, 0, target, 0, target.size);
    runner.device.queue.submit([enc.finish()]);
    expect(Array.from((await runner.run(p, c))[0].data)).toEqual(Array.from(want[0].data));
    expect(r.bytes).toBe(p.bytes + source.size);
    r.release();
    // Four occurrences: four sets of weights, each counted in the bytes the rounds hold.
    const rep = await prepareVariant(runner, kernel, c, kernel.defaultVariant(c), inputs, async () => ({ outputs: kernel.reference(c, inputs), source: 'dlprof-cpu' as const }), 'inference', 4);
    if (!('item' in rep)) throw new Error(`not ready: ${rep.reason}`);
    expect(rep.item.plans).toHaveLength(4);
    expect(rep.bytes).toBe(rep.item.plans[0].bytes + 3 * rep.item.plans[0].inputs[1]!.size + rep.item.before![0].source.size);
    rep.release();

    // A variant that disagrees with its reference is not made ready.
    const wrong = await prepareVariant(runner, kernel, c, kernel.defaultVariant(c), inputs, async () => ({ outputs: [{ ...want[0], data: want[0].data.map((x) => x + 1) }], source: 'dlprof-cpu' as const }), 'inference');
    expect('item' in wrong ? 'ready' : wrong.status).toBe('mismatch');
  });
});
