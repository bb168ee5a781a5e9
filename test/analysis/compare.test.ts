import { describe, expect, it } from 'vitest';
import { changeInterval, compareLayers, normalQuantile, runNoise, verdictOf, type TimedLayer } from '../../src/analysis/compare.js';
import { trimmedMean } from '../../src/bench/stats.js';

/** Deterministic pseudo-random samples around `ms` (±5 %, a fixed sequence). */
function samples(ms: number, n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return ms * (0.95 + 0.1 * (x / 2147483648));
  });
}

const layer = (key: string, op: string, ms: number, s: number[] | null): TimedLayer => ({ key, op, count: 1, variant: 'v', ms, samplesMs: s });

describe('compare statistics', () => {
  it('normalQuantile matches the standard normal table', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });

  it('a bootstrap interval holds the true change and is repeatable', () => {
    const base = samples(1, 200, 1);
    const head = base.map((x) => x * 1.2);
    const [lo, hi] = changeInterval(base, head, 'k');
    expect(lo).toBeLessThan(0.2);
    expect(hi).toBeGreaterThan(0.2);
    expect(hi - lo).toBeLessThan(0.05);
    expect(changeInterval(base, head, 'k')).toEqual([lo, hi]);
    const same = changeInterval(base, samples(1, 200, 2), 'k');
    expect(same[0]).toBeLessThan(0);
    expect(same[1]).toBeGreaterThan(0);
  });

  it('calls a regression only past the threshold with the interval above zero', () => {
    expect(verdictOf(0.04, [0.01, 0.07], 0.05)).toBe('unchanged');
    expect(verdictOf(0.1, [0.02, 0.2], 0.05)).toBe('regression');
    expect(verdictOf(0.1, [-0.02, 0.2], 0.05)).toBe('uncertain');
    expect(verdictOf(-0.1, [-0.2, -0.01], 0.05)).toBe('improvement');
    expect(verdictOf(0.1, null, 0.05)).toBe('uncertain');
  });

  it('judges layers against the run shift: a machine 20 % slower is no regression, one op 40 % slower is', () => {
    const ops = ['Relu', 'Add', 'Conv', 'MatMul'];
    const base = Array.from({ length: 24 }, (_, i) => layer(`k${i}`, ops[i % 4], 0.01 * (i + 1), samples(0.01 * (i + 1), 60, i + 1)));
    const slowerMachine = base.map((l, i) => ({ ...l, samplesMs: samples(0.012 * (i + 1), 60, i + 100) }));
    const c = compareLayers(base, slowerMachine, 0.05);
    expect(c.runNoise.estimated).toBe(true);
    expect(c.runNoise.shift).toBeGreaterThan(0.15);
    expect(c.runNoise.shift).toBeLessThan(0.25);
    expect(c.summary.regressions + c.summary.opRegressions).toBe(0);
    const slowerConv = base.map((l, i) => ({ ...l, samplesMs: samples((l.op === 'Conv' ? 0.014 : 0.01) * (i + 1), 60, i + 100) }));
    const d = compareLayers(base, slowerConv, 0.05);
    expect(Math.abs(d.runNoise.shift)).toBeLessThan(0.03);
    expect(d.byOp.find((o) => o.op === 'Conv')!.verdict).toBe('regression');
    expect(d.byOp.filter((o) => o.verdict === 'regression').map((o) => o.op)).toEqual(['Conv']);
    expect(d.layers.filter((l) => l.verdict === 'regression').every((l) => l.op === 'Conv')).toBe(true);
    // The layer times are the samples' trimmed means.
    expect(d.layers.find((l) => l.key === 'k0')!.baseMs).toBe(trimmedMean(base[0].samplesMs!));
    expect(d.onlyBase).toEqual([]);
  });

  it('needs enough layers with samples to estimate run-to-run noise', () => {
    const few = Array.from({ length: 3 }, (_, i) => layer(`k${i}`, 'Relu', 1, samples(1, 20, i + 1)));
    expect(runNoise(compareLayers(few, few, 0.05).layers)).toMatchObject({ estimated: false, layers: 3 });
    const machines = compareLayers(few, few.map((l) => ({ ...l, key: l.key === 'k0' ? 'other' : l.key })), 0.05, { reports: false });
    expect(machines.onlyBase).toEqual([{ key: 'k0', op: 'Relu' }]);
    expect(machines.onlyHead).toEqual([{ key: 'other', op: 'Relu' }]);
    expect(machines.intervalConfidence).toBe(0.95);
  });
});
