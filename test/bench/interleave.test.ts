/** End-to-end runs interleaved with the layer benchmarks: how many, in which blocks, when. */
import { describe, expect, it } from 'vitest';
import { boundBytes, fitsBeside, INTERLEAVE_MAX_SHARE, Interleaver } from '../../src/bench/interleave.js';
import type { BoundModel, RunCount } from '../../src/bench/model.js';
import { loadGraph } from '../../src/kernels/model.js';
import { fixture } from '../support/models.js';

/** A model whose every run takes `runMs` (reported; the call itself sleeps `sleepMs`), recording how many runs each call asked for. */
function fakeModel(runMs: number, sleepMs = 0): BoundModel & { calls: number[]; warmups: boolean[]; released: boolean } {
  const m = {
    calls: [] as number[],
    warmups: [] as boolean[],
    released: false,
    time: async (count?: RunCount) => {
      const repeats = count?.repeats ?? 5;
      m.calls.push(repeats);
      m.warmups.push(count?.warmup ?? true);
      expect(count?.perLayer).toBe(false);
      expect(count?.readOutputs).toBe(false);
      if (sleepMs) await new Promise((r) => setTimeout(r, sleepMs));
      const totalsMs = Array.from({ length: repeats }, () => runMs);
      return { outputs: new Map(), layers: [], totalMs: runMs, totalsMs };
    },
    release: () => { m.released = true; },
  };
  return m;
}

describe('Interleaver', () => {
  it("takes a chunk's share of the runs in blocks, at least 8 blocks in all, holding the rounds until then", async () => {
    const model = fakeModel(1);
    const il = new Interleaver(model, { repeats: 16, budgetMs: 0 });
    await il.begin(0.5); // one run first (how long a run takes is not known yet), then 8 of the 16 wanted
    expect(model.calls).toEqual([1]);
    expect(il.hooks.hold()).toBe(true);
    while (il.hooks.hold()) await il.hooks.between();
    // Blocks of 2 runs (16 runs in at least 8 blocks), the last cut to what the chunk still needs.
    expect(model.calls).toEqual([1, 2, 2, 2, 1]);
    expect(il.totalsMs).toHaveLength(8);
    await il.hooks.between(); // the chunk has its runs: no more blocks
    expect(model.calls).toHaveLength(5);
    await il.begin(0.5);
    while (il.hooks.hold()) await il.hooks.between();
    expect(il.totalsMs).toHaveLength(16);
    expect(model.released).toBe(false); // the caller releases the model
  });

  it('warms up before each block until a run is known to span a block on its own', async () => {
    const short = fakeModel(2);
    const a = new Interleaver(short, { repeats: 40, budgetMs: 0, blockMs: 40 });
    await a.begin(1);
    while (a.hooks.hold()) await a.hooks.between();
    expect(short.warmups.every((w) => w)).toBe(true);
    const long = fakeModel(2100);
    const b = new Interleaver(long, { repeats: 4, budgetMs: 0 });
    await b.begin(1);
    while (b.hooks.hold()) await b.hooks.between();
    // The first block learns how long a run takes; the 2.1 s runs then go without warm-ups.
    expect(long.warmups).toEqual([true, false, false, false]);
    expect(b.totalsMs).toHaveLength(4);
  });

  it('takes at least budgetMs of runs, and a block spans about blockMs', async () => {
    const model = fakeModel(2);
    const il = new Interleaver(model, { repeats: 3, budgetMs: 400, blockMs: 40 });
    await il.begin(1);
    while (il.hooks.hold()) await il.hooks.between();
    expect(il.totalsMs).toHaveLength(200); // 400 ms of 2 ms runs
    expect(model.calls.slice(1, -1).every((n) => n === 20)).toBe(true); // 40 ms blocks
  });

  it('waits between blocks for as long as the last block took, and sizes the submissions to it', async () => {
    const model = fakeModel(1, 30);
    const il = new Interleaver(model, { repeats: 4, budgetMs: 0 });
    await il.begin(1);
    expect(il.submissionUs(1000)).toBeGreaterThanOrEqual(7000); // a quarter of a ≥ 30 ms block, in µs
    expect(il.submissionUs(1e9)).toBe(1e9);
    await il.hooks.between(); // right after the block: the rounds have not yet run as long as it
    expect(model.calls).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 40));
    await il.hooks.between();
    expect(model.calls).toHaveLength(2);
  });
});

describe('fitsBeside', () => {
  it('keeps a model bound beside the benchmarks while its layers take at most half the memory', () => {
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const total = boundBytes(g);
    expect(total).toBeGreaterThan(0);
    expect(fitsBeside(g)).toBe(true); // this host
    expect(fitsBeside(g, total / INTERLEAVE_MAX_SHARE)).toBe(true); // exactly the limit
    expect(fitsBeside(g, total / INTERLEAVE_MAX_SHARE - 1)).toBe(false);
    // sparse-dnn-4096's 7.7 GB beside the benchmarks on a 24 GB host, not on a 12 GB one.
    const [first] = g.nodes;
    const layers = new Map(g.layers);
    layers.set(first.key, { ...g.layers.get(first.key)!, bytes: 7.7e9 });
    expect(fitsBeside({ nodes: [first], layers }, 24e9)).toBe(true);
    expect(fitsBeside({ nodes: [first], layers }, 12e9)).toBe(false);
  });
});
