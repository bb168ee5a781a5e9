/** The relative-spread stopping criterion (src/bench/stopping.ts), decided from exact sample states. */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, Timer } from '../../src/bench/harness.js';
import { relativeSpreadCriterion, type StoppingCriterion } from '../../src/bench/stopping.js';
import { gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

const opts = { minSamples: 5, maxSamples: 8, targetSpread: 0.05, minTimeMs: 100, budgetMs: 1000 };
const c = relativeSpreadCriterion(opts);
const steady = [1, 1.01, 0.99, 1, 1.02];

describe('relative-spread criterion', () => {
  it('stops on a small spread only with enough samples spanning enough time', () => {
    expect(c.stop({ samplesMs: steady, sampledForMs: 150, spentMs: 200 })).toBe('spread');
    expect(c.stop({ samplesMs: steady.slice(0, 4), sampledForMs: 150, spentMs: 200 })).toBeNull();
    expect(c.stop({ samplesMs: steady, sampledForMs: 50, spentMs: 200 })).toBeNull();
    // p10..p90 of [1, 2, 1, 2, 1] spans 1 around a median of 1: far above 5 %.
    expect(c.stop({ samplesMs: [1, 2, 1, 2, 1], sampledForMs: 150, spentMs: 200 })).toBeNull();
  });

  it('stops at the sample cap, then on the budget (after three samples), then on the whole run\'s budget', () => {
    expect(c.stop({ samplesMs: [1, 2, 1, 2, 1, 2, 1, 2], sampledForMs: 150, spentMs: 200 })).toBe('samples');
    expect(c.stop({ samplesMs: [1, 2, 1], sampledForMs: 150, spentMs: 1001 })).toBe('budget');
    expect(c.stop({ samplesMs: [1, 2], sampledForMs: 150, spentMs: 5000 })).toBeNull();
    expect(c.stop({ samplesMs: [1, 2, 1, 2, 1], sampledForMs: 150, spentMs: 10, overall: true })).toBe('budget');
    expect(c.stop({ samplesMs: [1, 2, 1, 2], sampledForMs: 150, spentMs: 10, overall: true })).toBeNull();
  });

  it('stops a measurement that lost its race: every one of at least three samples above raceMs, or of fewer above twice it', () => {
    expect(c.stop({ samplesMs: [3, 2.5, 4], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBe('outpaced');
    // One sample at or below the bar, or too few samples: it may still be the fastest.
    expect(c.stop({ samplesMs: [3, 2, 4], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBeNull();
    expect(c.stop({ samplesMs: [3, 4], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBeNull();
    // Far behind from the first sample on (RACE_EARLY_FACTOR): lost already.
    expect(c.stop({ samplesMs: [4.1], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBe('outpaced');
    expect(c.stop({ samplesMs: [4.1, 5], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBe('outpaced');
    expect(c.stop({ samplesMs: [4.1, 3.9], sampledForMs: 10, spentMs: 10, raceMs: 2 })).toBeNull();
    expect(c.stop({ samplesMs: [], sampledForMs: 0, spentMs: 0, raceMs: 2 })).toBeNull();
    // Without a race the usual rules decide.
    expect(c.stop({ samplesMs: [3, 2.5, 4], sampledForMs: 10, spentMs: 10 })).toBeNull();
  });

  it('is what the harness consults: a criterion given to it decides how many samples it takes', async () => {
    const { runner } = await gpu();
    const timer = new Timer(runner);
    const { ctx } = await gpu();
    // An empty plan: nothing to dispatch, so only the criterion ends the sampling.
    const plan = { label: 'empty', pipelines: [], bindGroups: [], workgroups: [], inputs: [], outputs: [], scratch: [], uniforms: [], outputTypes: [], bytes: 0 };
    let asked = 0;
    const seven: StoppingCriterion = { stop: (s) => { asked++; return s.samplesMs.length >= 7 ? 'samples' : null; } };
    const out = await timer.time(plan, { ...DEFAULT_TIMING, criterion: seven });
    expect(out.status).toBe('completed');
    if (out.status === 'completed') {
      expect(out.samplesMs).toHaveLength(7);
      expect(out.stoppedBy).toBe('samples');
    }
    expect(asked).toBe(7);
    expect(ctx.lost).toBeUndefined();
  });
});
