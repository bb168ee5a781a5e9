import { describe, expect, it } from 'vitest';
import { geomean, quantile, relativeSpread, summarize, trimmedMean } from '../../src/bench/stats.js';

describe('timing statistics', () => {
  it('summarizes samples exactly', () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toEqual({ n: 5, min: 1, max: 5, mean: 3, median: 3, trimmedMean: 3, p10: 1.4, p90: 4.6, stddev: Math.sqrt(2.5), cv: Math.sqrt(2.5) / 3 });
  });

  it('trims a tenth of the samples from each end, fractional counts weighted', () => {
    // n = 10: the smallest and the largest dropped.
    expect(trimmedMean([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000])).toBe(5.5);
    // n = 5: half a sample from each end.
    expect(trimmedMean([100, 1, 2, 3, 4])).toBe((0.5 * 1 + 2 + 3 + 4 + 0.5 * 100) / 4);
    expect(trimmedMean([3, 1, 2], 0)).toBe(2);
    expect(trimmedMean([7])).toBe(7);
    expect(trimmedMean([])).toBeNaN();
  });

  it('keeps the modes of bimodal samples in proportion, where the median takes the larger one', () => {
    // 46 fast and 54 slow samples: 10 of each dropped.
    const xs = [...Array<number>(54).fill(60), ...Array<number>(46).fill(36)];
    const s = summarize(xs);
    expect(s.median).toBe(60);
    expect(s.trimmedMean).toBeCloseTo((36 * 36 + 44 * 60) / 80, 12);
    expect(s.mean).toBeCloseTo(48.96, 12);
  });

  it('interpolates quantiles between ranks (R-7)', () => {
    const xs = [10, 20, 30, 40];
    expect(quantile(xs, 0)).toBe(10);
    expect(quantile(xs, 1)).toBe(40);
    expect(quantile(xs, 0.5)).toBe(25);
    expect(quantile(xs, 0.1)).toBeCloseTo(13, 12);
    expect(quantile(xs, 0.9)).toBeCloseTo(37, 12);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('handles one sample and constant samples', () => {
    expect(summarize([7])).toMatchObject({ n: 1, median: 7, p10: 7, p90: 7, stddev: 0, cv: 0 });
    expect(relativeSpread([2, 2, 2])).toBe(0);
    expect(summarize([]).n).toBe(0);
  });

  it('measures relative spread as (p90 − p10) / median', () => {
    expect(relativeSpread([1, 2, 3, 4, 5])).toBeCloseTo((4.6 - 1.4) / 3, 12);
  });

  it('takes geometric means of ratios', () => {
    expect(geomean([2, 8])).toBeCloseTo(4, 12);
    expect(geomean([0.5, 2])).toBeCloseTo(1, 12);
  });
});
