/** Summary statistics of timing samples: pure functions, tested against exact numbers. */

export interface Stats {
  n: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  /** TRIM-trimmed mean (trimmedMean): what latency sums use. */
  trimmedMean: number;
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

/**
 * The share of samples trimmed from each end by `trimmedMean`. A latency is a sum (a model's time
 * is the sum of its layers'), and means add where medians do not: a layer whose samples fall in two
 * modes (sparse-dnn-4096's GEMV on our VM: 33–40 ms or 57–66 ms, in phases of about a second) has
 * a median in whichever mode holds the majority, while a model run averages both. Trimming a tenth
 * at each end keeps most of the mean's additivity and drops the rare preempted sample — which a
 * long run, adding up hundreds of layers, holds every time: on lavapipe on a 2-core VM a 0.4 s run
 * of sparse-dnn-1024 held ~2.5 % of scheduler ticks that its layers' trimmed means dropped
 * (`npm run bench:run-split`).
 */
export const TRIM = 0.1;

/**
 * The mean of the samples with `trim` (0 ≤ trim < 0.5) of them removed from each end, fractional
 * counts weighted (n = 5, trim 0.1: the smallest and the largest count half): the same statistic
 * for every sample count.
 */
export function trimmedMean(samples: readonly number[], trim = TRIM): number {
  return sortedTrimmedMean([...samples].sort((a, b) => a - b), trim);
}

function sortedTrimmedMean(s: readonly number[], trim: number): number {
  const n = s.length;
  if (n === 0) return NaN;
  const cut = n * trim;
  let sum = 0;
  let weight = 0;
  s.forEach((x, i) => {
    // The part of [i, i + 1) inside [cut, n − cut).
    const w = Math.max(0, Math.min(i + 1, n - cut) - Math.max(i, cut));
    sum += w * x;
    weight += w;
  });
  return sum / weight;
}

export function summarize(samples: readonly number[]): Stats {
  const n = samples.length;
  if (n === 0) return { n: 0, min: NaN, max: NaN, mean: NaN, median: NaN, trimmedMean: NaN, p10: NaN, p90: NaN, stddev: NaN, cv: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? s.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  const stddev = Math.sqrt(variance);
  return {
    n, min: s[0], max: s[n - 1], mean, median: quantile(s, 0.5), trimmedMean: sortedTrimmedMean(s, TRIM), p10: quantile(s, 0.1), p90: quantile(s, 0.9),
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
