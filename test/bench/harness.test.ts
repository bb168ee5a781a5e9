/** The timing harness on the real device (lavapipe here): samples, batching, stopping rules. */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, Timer } from '../../src/bench/harness.js';
import { probeMachine } from '../../src/bench/probe.js';
import { summarize } from '../../src/bench/stats.js';
import type { Prepared } from '../../src/gpu/executor.js';
import type { KernelRunner } from '../../src/gpu/run.js';
import type { Kernel, LayerCase } from '../../src/kernels/types.js';
import { bindings, dispatch1d, entry1d, type BindingDecl } from '../../src/kernels/wgsl.js';
import type { TensorType } from '../../src/ir/types.js';
import { gpu, releaseGpu } from '../support/kernels.js';

/**
 * y = x·k repeated `work` times per element: a kernel whose cost we control; `counted` adds a
 * second output, a u32 its executions increment (atomically).
 */
function spin(n: number, work: number, counted = false): { kernel: Kernel; c: LayerCase } {
  const t = { dtype: 'float32' as const, shape: [n] };
  const outputs: TensorType[] = counted ? [t, { dtype: 'uint32', shape: [1] }] : [t];
  const c: LayerCase = { layer: { key: 'spin', op: 'Spin', attrs: {}, inputs: [t], outputs, weights: [], flops: 0, bytes: 0, params: 0 }, consts: [null] };
  const decls: BindingDecl[] = [{ name: 'x', type: 'f32', access: 'read' }, { name: 'y', type: 'f32', access: 'read_write' }];
  if (counted) decls.push({ name: 'runs', type: 'u32', access: 'read_write' });
  const count = counted ? '\n  if (gid == 0u) { atomicAdd(&runs[0], 1u); }' : '';
  const kernel: Kernel = {
    name: 'spin', ops: [], variants: [{ name: 'v', description: '' }], defaultVariant: () => 'v', supports: () => ({ ok: true }),
    plan: (_c, _v, caps) => ({
      scratch: [],
      passes: [{ label: 'spin', buffers: [{ kind: 'input', index: 0 }, ...outputs.map((_, index) => ({ kind: 'output' as const, index }))], workgroups: dispatch1d(n, 64, caps),
        wgsl: `${bindings(decls).replace('array<u32>', 'array<atomic<u32>>')}
${entry1d(64, n, `  var a = x[gid];\n  for (var i = 0u; i < ${work}u; i++) { a = a * 0.999 + 0.001; }\n  y[gid] = a;${count}`)}` }],
    }),
    reference: () => [],
  };
  return { kernel, c };
}

/** A spin kernel prepared over `n` zeros. */
async function prepareSpin(runner: KernelRunner, n: number, work: number, label: string, counted = false): Promise<Prepared> {
  const { kernel, c } = spin(n, work, counted);
  return runner.prepare(kernel, c, kernel.plan(c, 'v', runner.caps), [{ dtype: 'float32', shape: [n], data: new Float32Array(n) }], label);
}

/** How often a counted spin plan has run (its second output). */
async function executions(runner: KernelRunner, p: Prepared): Promise<number> {
  return (await runner.read(p.outputs[1], { dtype: 'uint32', shape: [1] }, 'u32')).data[0];
}

afterAll(releaseGpu);

describe('timing harness', () => {
  it('times with GPU timestamps, each execution its own pass, short kernels several to a submission', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    expect(timer.usesTimestamps).toBe(true);
    const p = await prepareSpin(runner, 256, 1, 'spin');
    // A 20 ms target: far above one execution of this kernel even on a loaded machine (a 1 ms
    // target is not: lavapipe's per-pass cost alone approaches it when the cores are busy).
    const out = await timer.time(p, { ...DEFAULT_TIMING, budgetMs: 500, minPassUs: 20_000 });
    const flushed = await timer.time(p, { ...DEFAULT_TIMING, budgetMs: 500, minPassUs: 20_000, cacheFlush: true });
    runner.release(p);
    expect(out.status).toBe('completed');
    if (out.status !== 'completed') return;
    expect(out.source).toBe('timestamp');
    expect(out.batch).toBeGreaterThan(1); // microseconds of work: several executions per submission
    expect(out.samplesMs.length).toBeGreaterThanOrEqual(DEFAULT_TIMING.minSamples);
    expect(out.samplesMs.every((s) => s > 0)).toBe(true);
    expect(flushed.status === 'completed' && flushed.batch).toBe(1); // every execution after its own flush
  });

  it('ranks more work as more time (ratio, not absolute)', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const med = async (work: number) => {
      const p = await prepareSpin(runner, 64 * 1024, work, 'spin');
      const out = await timer.time(p, { ...DEFAULT_TIMING, budgetMs: 1500 });
      runner.release(p);
      if (out.status !== 'completed') throw new Error(out.reason);
      return summarize(out.samplesMs).median;
    };
    const small = await med(16);
    const big = await med(256);
    expect(big / small).toBeGreaterThan(4); // 16× the loop iterations
  });

  it('stops at the budget even when samples never settle', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const p = await prepareSpin(runner, 4096, 64, 'spin');
    const out = await timer.time(p, { ...DEFAULT_TIMING, targetSpread: 0, minSamples: 3, maxSamples: 10_000, budgetMs: 300 });
    runner.release(p);
    expect(out.status === 'completed' && out.stoppedBy).toBe('budget');
  });

  it('stops on a settled spread only once the samples span minTimeMs', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const p = await prepareSpin(runner, 256, 1, 'spin');
    // Any spread counts as settled: without a floor it stops at minSamples, with one it samples on.
    const settled = { ...DEFAULT_TIMING, targetSpread: Infinity, minSamples: 3, maxSamples: 10_000, budgetMs: 5000, minPassUs: 0 };
    const quick = await timer.time(p, { ...settled, minTimeMs: 0 });
    const t0 = performance.now();
    const floored = await timer.time(p, { ...settled, minTimeMs: 300 });
    const took = performance.now() - t0;
    runner.release(p);
    if (quick.status !== 'completed' || floored.status !== 'completed') throw new Error('timing failed');
    expect(quick.stoppedBy).toBe('spread');
    expect(quick.samplesMs).toHaveLength(3);
    expect(floored.stoppedBy).toBe('spread');
    expect(took).toBeGreaterThanOrEqual(300);
    expect(floored.samplesMs.length).toBeGreaterThan(3);
  });

  it('times several plans together in rounds, each its own samples, with the copies before each execution made', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const n = 64 * 1024;
    const small = await prepareSpin(runner, n, 16, 'spin 16');
    const big = await prepareSpin(runner, n, 256, 'spin 256');
    const source = runner.upload({ dtype: 'float32', shape: [n], data: new Float32Array(n).fill(7) }, 'f32', 'source');
    const outs = await timer.timeRounds([{ plans: [small], before: [{ source, target: small.inputs[0]! }] }, { plans: [big] }], { ...DEFAULT_TIMING, budgetMs: 3000 });
    const x = await runner.read(small.inputs[0]!, { dtype: 'float32', shape: [n] }, 'f32');
    const stopped = await timer.timeRounds([{ plans: [small] }], DEFAULT_TIMING, { stop: () => true });
    source.destroy();
    runner.release(small);
    runner.release(big);
    const [a, b] = outs;
    if (a.status !== 'completed' || b.status !== 'completed') throw new Error('timing in rounds failed');
    expect(a.samplesMs.length).toBeGreaterThanOrEqual(DEFAULT_TIMING.minSamples);
    expect(b.samplesMs.length).toBeGreaterThanOrEqual(DEFAULT_TIMING.minSamples);
    expect(summarize(b.samplesMs).median / summarize(a.samplesMs).median).toBeGreaterThan(4); // 16× the loop iterations
    expect(Array.from(x.data).every((v) => v === 7)).toBe(true); // the copy ran before the small plan
    expect(stopped[0]).toEqual({ status: 'errored', reason: 'interrupted' });
  });

  it('takes a plan past its budget out of the rounds, leaving the others to settle', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const quick = await prepareSpin(runner, 64, 1, 'counted 1', true);
    const slow = await prepareSpin(runner, 256 * 1024, 4096, 'counted 4096', true);
    // Any spread settles, but only at 5 samples; a budget of 100 ms of GPU time, which the slow
    // plan (~100 ms each on lavapipe) exceeds by its third sample and the quick one (µs each, ms
    // on a loaded machine) does not reach.
    const opts = { ...DEFAULT_TIMING, targetSpread: Infinity, minSamples: 5, minTimeMs: 0, budgetMs: 100 };
    const settled: Array<[number, unknown]> = [];
    const [a, b] = await timer.timeRounds([{ plans: [quick] }, { plans: [slow] }], opts, { onSettled: (i, o) => settled.push([i, o]) });
    // Each plan's outcome is handed over as it settles (the caller stores it then), and is the one returned.
    expect(settled.map(([i]) => i).sort()).toEqual([0, 1]);
    expect(settled.find(([i]) => i === 0)![1]).toBe(a);
    expect(settled.find(([i]) => i === 1)![1]).toBe(b);
    const quickRuns = await executions(runner, quick);
    const slowRuns = await executions(runner, slow);
    runner.release(quick);
    runner.release(slow);
    if (a.status !== 'completed' || b.status !== 'completed') throw new Error('timing in rounds failed');
    expect(b.stoppedBy).toBe('budget');
    expect(b.samplesMs).toHaveLength(3);
    expect(a.stoppedBy).toBe('spread');
    expect(a.samplesMs).toHaveLength(5);
    // Executions counted by the kernels themselves: the warm-up rounds, then `batch` per sample;
    // the slow plan ran in no round after its third sample.
    expect(slowRuns).toBe(DEFAULT_TIMING.warmup + 3 * b.batch);
    expect(quickRuns).toBe(DEFAULT_TIMING.warmup + 5 * a.batch);
  });

  it('takes a plan that lost its race out of the rounds, after one sample when it is far behind', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const quick = await prepareSpin(runner, 64, 1, 'race quick', true);
    const slow = await prepareSpin(runner, 256 * 1024, 4096, 'race slow', true);
    // Nothing settles on spread; the slow plan races a bar of 1 µs, which its first sample exceeds
    // many times over (RACE_EARLY_FACTOR; the three-sample rule near the bar is stopping.test.ts's:
    // real samples are too noisy to land between the bar and twice it on a loaded machine).
    const opts = { ...DEFAULT_TIMING, targetSpread: 0, minSamples: 8, maxSamples: 8, minTimeMs: 0, budgetMs: 60_000 };
    const [a, b] = await timer.timeRounds([{ plans: [quick] }, { plans: [slow], raceMs: 0.001 }], opts);
    const slowRuns = await executions(runner, slow);
    runner.release(quick);
    runner.release(slow);
    if (a.status !== 'completed' || b.status !== 'completed') throw new Error('timing in rounds failed');
    expect(b.stoppedBy).toBe('outpaced');
    expect(b.samplesMs).toHaveLength(1);
    expect(b.samplesMs[0]).toBeGreaterThan(0.002);
    // Counted by the kernel itself: the warm-up rounds, then one sample's executions.
    expect(slowRuns).toBe(DEFAULT_TIMING.warmup + b.batch);
    expect(a.stoppedBy).toBe('samples');
    expect(a.samplesMs).toHaveLength(8);
  });

  it('holds the rounds while asked, calling between after each submission, then settles on the usual rules', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const p = await prepareSpin(runner, 64, 1, 'held', true);
    // Any spread settles at 2 samples, at most 4 samples, a budget nothing could stay under: all
    // suspended while held (12 submissions), the spread rule applying at the first after.
    const opts = { ...DEFAULT_TIMING, targetSpread: Infinity, minSamples: 2, maxSamples: 4, minTimeMs: 0, budgetMs: 0 };
    let betweens = 0;
    let executedBefore = -1;
    const [out] = await timer.timeRounds([{ plans: [p] }], opts, {
      hold: () => betweens < 12,
      between: async () => {
        betweens++;
        // Nothing of the rounds is left on the GPU when between runs: the count read now is final for this submission.
        if (betweens === 1) executedBefore = await executions(runner, p);
      },
    });
    const executed = await executions(runner, p);
    runner.release(p);
    if (out.status !== 'completed') throw new Error('timing in rounds failed');
    // µs of work: several rounds a submission, a sample each.
    const rounds = executedBefore - DEFAULT_TIMING.warmup;
    expect(rounds).toBeGreaterThan(1);
    expect(out.stoppedBy).toBe('spread');
    expect(out.batch).toBe(1); // executions a sample: once a round
    expect(out.samplesMs).toHaveLength(13 * rounds); // past maxSamples and the budget while held
    expect(betweens).toBe(13);
    expect(executed).toBe(DEFAULT_TIMING.warmup + 13 * rounds);
  });

  it('runs the rounds in the order given, a plan as often as it appears, a sample the mean of its passes in one round', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const a = await prepareSpin(runner, 64, 1, 'a', true);
    const b = await prepareSpin(runner, 64 * 1024, 256, 'b', true);
    // b's round takes ms: one round a submission, so executions count rounds exactly.
    const opts = { ...DEFAULT_TIMING, targetSpread: Infinity, minSamples: 4, maxSamples: 4, minTimeMs: 0, budgetMs: 10_000 };
    const outs = await timer.timeRounds([{ plans: [a] }, { plans: [b] }], opts, {}, [0, 1, 0, 0]);
    const aRuns = await executions(runner, a);
    const bRuns = await executions(runner, b);
    await expect(timer.timeRounds([{ plans: [a] }, { plans: [b] }], opts, {}, [0, 0])).rejects.toThrow('timing in rounds: plan 1 is not in the order');
    runner.release(a);
    runner.release(b);
    const [oa, ob] = outs;
    if (oa.status !== 'completed' || ob.status !== 'completed') throw new Error('timing in rounds failed');
    expect(oa.batch).toBe(3);
    expect(ob.batch).toBe(1);
    expect(oa.samplesMs).toHaveLength(4);
    expect(ob.samplesMs).toHaveLength(4);
    expect(aRuns).toBe(3 * (DEFAULT_TIMING.warmup + 4));
    expect(bRuns).toBe(DEFAULT_TIMING.warmup + 4);
    expect(summarize(ob.samplesMs).median / summarize(oa.samplesMs).median).toBeGreaterThan(4);
  });

  it('probes peak compute and bandwidth', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const peaks = await probeMachine(runner, timer);
    const byKind = Object.fromEntries(peaks.map((p) => [p.kind, p]));
    expect(byKind['fma-f32'].value).toBeGreaterThan(0.1); // GFLOP/s; lavapipe on 2 cores gives ~15
    expect(byKind.copy.value).toBeGreaterThan(0.1); // GB/s
    expect(byKind['fma-f32'].unit).toBe('GFLOP/s');
  });
});
