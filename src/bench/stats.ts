/** Summary statistics of timing samples: pure functions, tested against exact numbers. */

export interface Stats {
  n: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p10: number;
  p90: number;
  /** Sample standard deviation (n − 1). */
  stddev: number;
  /** Coefficient of variation: stddev / mean. */
  cv: number;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (the "R-7" definition,
 * numpy's default): position h = (n − 1)·q in the sorted samples.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function summarize(samples: readonly number[]): Stats {
  const n = samples.length;
  if (n === 0) return { n: 0, min: NaN, max: NaN, mean: NaN, median: NaN, p10: NaN, p90: NaN, stddev: NaN, cv: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? s.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  const stddev = Math.sqrt(variance);
  return {
    n, min: s[0], max: s[n - 1], mean, median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9),
    stddev, cv: mean > 0 ? stddev / mean : 0,
  };
}

/**
 * Relative spread used to stop repeating: (p90 − p10) / median. Robust to the occasional outlier
 * (a preempted CPU core under lavapipe) that would inflate the CV.
 */
export function relativeSpread(samples: readonly number[]): number {
  const st = summarize(samples);
  return st.median > 0 ? (st.p90 - st.p10) / st.median : Infinity;
}

/** Geometric mean of positive numbers (for ratios). */
export function geomean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}
