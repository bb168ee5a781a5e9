/**
 * Comparing two sets of layer timings: two reports of the same machine (main against a pull
 * request), or two machines in one store. Pure functions.
 *
 * A layer's time is its samples' trimmed mean (stats.ts, what latencies sum). A change is the ratio
 * head ÷ base − 1 with a 95 % bootstrap confidence interval from the raw samples (both sides
 * resampled, as Criterion does): it is a regression only when it exceeds the threshold and the
 * interval lies wholly above zero, an improvement only when it is below −threshold and the interval
 * lies wholly below zero. A change past the threshold whose interval holds zero is `uncertain`: the
 * samples cannot tell it from noise, and it fails nothing.
 *
 * Samples from one run share that run's state (a shared VM's load, where the kernels' buffers
 * landed, lavapipe's threads), so their interval says nothing of how far a second run of the same
 * code lands: two runs of one commit on our 2-core VM moved every layer by about −10 % at once, and
 * single layers by a further 3–5 % (up to 39 %), with intervals a few percent wide. Two reports are
 * therefore compared as a random-effects model, log ratio = run shift + layer's run effect + sampling
 * error: the shift is the centre of the densest half of the shared layers' log ratios (the machine's
 * speed moving), and the layer's run effect is that half's scatter (1.4826 × its half-width, as for a
 * median absolute deviation) less what their sampling intervals already explain. A layer's interval
 * is of its change relative to the shift, widened by the run effect (in quadrature, in log space); a
 * regression's change must exceed the threshold as measured, and that interval must lie above zero.
 *
 * A machine's change of speed also moves kinds of layers unlike each other (compute-bound kernels
 * more than launch-bound ones), by up to about the shift itself, so every interval is also widened
 * by the shift. What one pair of runs cannot tell apart, it does not claim: a change that moves
 * nearly every layer alike reads as the machine's speed (reported as the shift, with a note), one
 * that moves about half of them widens the noise estimate, and on a machine whose speed moved by
 * s between the runs, a change much smaller than s is not called.
 *
 * The gate fails when any one of many layers regresses, so the intervals are family-wise: each at
 * 1 − 0.05 ÷ (layers + ops) (Bonferroni), so that a run of unchanged code fails with at most a 5 %
 * chance under this model. Each op is judged too, on its layers' summed time: the layers' own run
 * effects average out there, so a kernel made slower across its layers shows at the op even where
 * no single layer clears its own noise; the op's interval adds a run effect per op (below).
 *
 * Two machines are compared on their raw ratios and 95 % sampling intervals: there the scatter
 * across layers is what is being measured, not noise. */
import { TRIM, trimmedMean } from '../bench/stats.js';
import { prng } from '../onnx/write.js';

export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'uncertain';

export interface TimedLayer {
  key: string;
  op: string;
  /** Occurrences, for per-op and per-model sums. */
  count: number;
  variant: string | null;
  ms: number;
  samplesMs: number[] | null;
}

export interface LayerChange {
  key: string;
  op: string;
  count: number;
  baseVariant: string | null;
  headVariant: string | null;
  baseMs: number;
  headMs: number;
  /** head ÷ base. */
  ratio: number;
  /** ratio − 1. */
  change: number;
  /** The change relative to the run shift (reports; equal to `change` between machines): what the verdict judges. */
  relativeChange?: number;
  /** The 95 % confidence interval [low, high] of relativeChange (widened by the run-to-run noise); null without samples on both sides. */
  ci: [number, number] | null;
  verdict: Verdict;
}

export const CONFIDENCE = 0.95;
/** Resamples per interval; the interval's ends move by well under a percent between seeds at this count. */
export const RESAMPLES = 1000;
/** At most this many samples of a side take part (evenly spaced in time): the interval's cost stays bounded on layers timed thousands of times. */
const MAX_SAMPLES = 1000;

function seedOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function thin(xs: readonly number[]): number[] {
  if (xs.length <= MAX_SAMPLES) return [...xs];
  return Array.from({ length: MAX_SAMPLES }, (_, i) => xs[Math.floor((i * xs.length) / MAX_SAMPLES)]);
}

/**
 * The trimmed mean of a resample given as counts over the sorted samples, without sorting it: a run
 * of c copies of sorted[i] at positions [p, p + c) weighs its overlap with [cut, n − cut), as
 * stats.ts weighs single samples.
 */
function countsTrimmedMean(sorted: readonly number[], counts: Uint32Array, trim: number): number {
  const n = sorted.length;
  const cut = n * trim;
  let p = 0;
  let sum = 0;
  let weight = 0;
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    if (!c) continue;
    const w = Math.max(0, Math.min(p + c, n - cut) - Math.max(p, cut));
    sum += w * sorted[i];
    weight += w;
    p += c;
  }
  return sum / weight;
}

/** The percentile bootstrap interval of trimmedMean(head) ÷ trimmedMean(base) − 1. */
export function changeInterval(base: readonly number[], head: readonly number[], seed: string, confidence = CONFIDENCE, resamples = RESAMPLES): [number, number] {
  const b = thin(base).sort((x, y) => x - y);
  const h = thin(head).sort((x, y) => x - y);
  const next = prng(seedOf(seed));
  const cb = new Uint32Array(b.length);
  const ch = new Uint32Array(h.length);
  const ratios = new Float64Array(resamples);
  const draw = (counts: Uint32Array): void => {
    counts.fill(0);
    for (let i = 0; i < counts.length; i++) counts[Math.floor(next() * counts.length)]++;
  };
  for (let r = 0; r < resamples; r++) {
    draw(cb);
    draw(ch);
    ratios[r] = countsTrimmedMean(h, ch, TRIM) / countsTrimmedMean(b, cb, TRIM) - 1;
  }
  ratios.sort();
  const q = (p: number): number => ratios[Math.min(resamples - 1, Math.max(0, Math.round(p * (resamples - 1))))];
  return [q((1 - confidence) / 2), q(1 - (1 - confidence) / 2)];
}

/**
 * `change` must clear the threshold as measured, and `ci` (of the change relative to the run shift,
 * for reports) must exclude no change on the same side: a layer that kept its time while the rest
 * of the run sped up is not a regression, nor is one that slowed with the whole machine.
 */
export function verdictOf(change: number, ci: [number, number] | null, threshold: number): Verdict {
  if (Math.abs(change) <= threshold) return 'unchanged';
  if (!ci) return 'uncertain';
  if (change > 0) return ci[0] > 0 ? 'regression' : 'uncertain';
  return ci[1] < 0 ? 'improvement' : 'uncertain';
}

/** One layer in both: its change and its interval from its samples alone (verdict before widening). */
export function compareLayer(base: TimedLayer, head: TimedLayer, threshold: number): LayerChange {
  const baseMs = base.samplesMs?.length ? trimmedMean(base.samplesMs) : base.ms;
  const headMs = head.samplesMs?.length ? trimmedMean(head.samplesMs) : head.ms;
  const ratio = headMs / baseMs;
  const ci = base.samplesMs && base.samplesMs.length >= 2 && head.samplesMs && head.samplesMs.length >= 2
    ? changeInterval(base.samplesMs, head.samplesMs, base.key) : null;
  return {
    key: base.key, op: base.op, count: Math.max(base.count, head.count), baseVariant: base.variant, headVariant: head.variant,
    baseMs, headMs, ratio, change: ratio - 1, ci, verdict: verdictOf(ratio - 1, ci, threshold),
  };
}

/** Below this many layers with intervals, the scatter across layers is too few points to estimate run-to-run noise from. */
export const MIN_LAYERS_FOR_NOISE = 8;

/**
 * A change that moves the compared total by less than this share of it is not a regression or an
 * improvement, whatever its interval (practical, not only statistical, significance): on a shared
 * 2-core VM, ops of a few µs (a global pool, a max pool: under 1 % of resnet-tiny) moved 8–18 %
 * between two runs of the same code while the run as a whole moved 0.4 %.
 */
export const MATERIAL_SHARE = 0.01;

/** `v`, unless the change behind it is immaterial to the total (MATERIAL_SHARE): then 'unchanged'. */
function material(v: Verdict, deltaMs: number, totalMs: number): Verdict {
  return (v === 'regression' || v === 'improvement') && Math.abs(deltaMs) < MATERIAL_SHARE * totalMs ? 'unchanged' : v;
}
const Z = 1.959964;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface RunNoise {
  /** Whether it was estimated (enough layers with samples on both sides, reports only). */
  estimated: boolean;
  /** Layers it was estimated from. */
  layers: number;
  /** The run's common change (head ÷ base − 1 of the median layer): how the machine's speed moved. */
  shift: number;
  /** Standard deviation of a layer's log ratio between two runs of the same code, beyond its samples' own. */
  sigma: number;
}

/** The run shift and the run-to-run part of the layers' scatter (see the module comment). */
export function runNoise(layers: LayerChange[]): RunNoise {
  const withCi = layers.filter((l) => l.ci && l.ratio > 0 && l.ci[0] > -1);
  if (withCi.length < MIN_LAYERS_FOR_NOISE) return { estimated: false, layers: withCi.length, shift: 0, sigma: 0 };
  // The shortest half of the sorted log ratios (Rousseeuw's LMS location and scale): the layers the
  // head left alone cluster tightly, so a change to a large minority of them (a kernel used by 40 %
  // of the layers) neither drags the shift along nor, much, the scale, as a median and MAD would.
  const logs = withCi.map((l) => Math.log(l.ratio)).sort((x, y) => x - y);
  const h = Math.floor(logs.length / 2) + 1;
  let best = 0;
  for (let i = 1; i + h - 1 < logs.length; i++) if (logs[i + h - 1] - logs[i] < logs[best + h - 1] - logs[best]) best = i;
  const m = (logs[best] + logs[best + h - 1]) / 2;
  const total = 1.4826 * (logs[best + h - 1] - logs[best]) / 2;
  const within = median(withCi.map((l) => (Math.log(1 + l.ci![1]) - Math.log(1 + l.ci![0])) / (2 * Z)));
  return { estimated: true, layers: withCi.length, shift: Math.exp(m) - 1, sigma: Math.sqrt(Math.max(0, total * total - within * within)) };
}

/** The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lowTail = (q: number): number => {
    const r = Math.sqrt(-2 * Math.log(q));
    return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1);
  };
  if (p < 0.02425) return lowTail(p);
  if (p > 1 - 0.02425) return -lowTail(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * The quantile of Student's t with 3 degrees of freedom (its distribution function is closed-form;
 * solved by bisection): the layers' run effects have tails far heavier than a normal's (in 13 pairs
 * of same-code runs, 11 of 546 layers moved 4–15 σ beyond the shift, where a normal puts 0.03), and
 * t₃ is the conventional heavy-tailed stand-in.
 */
export function t3Quantile(p: number): number {
  const cdf = (t: number): number => 0.5 + (Math.atan(t / Math.sqrt(3)) + (t / Math.sqrt(3)) / (1 + (t * t) / 3)) / Math.PI;
  let lo = -1e4;
  let hi = 1e4;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A change in log space: centre, and the standard errors below and above it. */
interface LogChange { c: number; below: number; above: number }

/** A layer's change in log space, its sampling errors from its 95 % bootstrap interval, and the run effect, in quadrature. */
function logChange(ratio: number, ci: [number, number] | null, sigma: number): LogChange | null {
  if (!ci) return null;
  const c = Math.log(ratio);
  const lo = Math.log(Math.max(1e-9, 1 + ci[0]));
  const hi = Math.log(1 + ci[1]);
  return { c, below: Math.sqrt(((c - lo) / Z) ** 2 + sigma ** 2), above: Math.sqrt(((hi - c) / Z) ** 2 + sigma ** 2) };
}

const interval = (x: LogChange, z: number): [number, number] => [Math.exp(x.c - z * x.below) - 1, Math.exp(x.c + z * x.above) - 1];

export interface OpChange {
  op: string; layers: number; baseMs: number; headMs: number; ratio: number;
  /** Relative to the run shift (reports), as for layers. */
  relativeChange: number;
  ci: [number, number] | null;
  verdict: Verdict;
  faster: { base: number; head: number; neither: number };
}

export interface Comparison {
  layers: LayerChange[];
  runNoise: RunNoise;
  /** The confidence of each interval: 95 % between machines; family-wise over layers and ops between reports. */
  intervalConfidence: number;
  onlyBase: Array<{ key: string; op: string }>;
  onlyHead: Array<{ key: string; op: string }>;
  byOp: OpChange[];
  summary: { shared: number; regressions: number; improvements: number; unchanged: number; uncertain: number;
    /** Ops whose summed time regressed / improved. */
    opRegressions: number; opImprovements: number;
    /** Where each side is faster beyond the threshold with its interval excluding no change. */
    baseFaster: number; headFaster: number; neither: number;
    /** Σ count × time over the shared layers, and its ratio. */
    baseMs: number; headMs: number; ratio: number };
}

/**
 * Every layer both sides have, by key; the ones only one has; sums by op (occurrences counted).
 * `reports`: two runs of (possibly) different code on one machine, judged against the run's own noise
 * (module comment); otherwise two machines, on their raw intervals.
 */
export function compareLayers(base: TimedLayer[], head: TimedLayer[], threshold: number, opts: { reports: boolean } = { reports: true }): Comparison {
  const h = new Map(head.map((l) => [l.key, l]));
  const b = new Map(base.map((l) => [l.key, l]));
  const raw = base.filter((l) => h.has(l.key)).map((l) => compareLayer(l, h.get(l.key)!, threshold));
  const noise = opts.reports ? runNoise(raw) : { estimated: false, layers: 0, shift: 0, sigma: 0 };
  const ops = [...new Set(raw.map((l) => l.op))];
  const confidence = opts.reports ? 1 - (1 - CONFIDENCE) / Math.max(1, raw.length + ops.length) : CONFIDENCE;
  const z = normalQuantile(1 - (1 - confidence) / 2);
  // Single layers: heavy-tailed run effects (t3Quantile); ops average theirs, and keep the normal.
  const zLayer = t3Quantile(1 - (1 - confidence) / 2);
  const k = 1 + noise.shift;
  const logs = new Map<string, LogChange | null>();
  // A layer's run effect, and how far the machine's change of speed may move it apart from the rest.
  const layerSigma = Math.hypot(noise.sigma, Math.log(k));
  const totalBaseMs = raw.reduce((a, l) => a + l.count * l.baseMs, 0);
  const layers: LayerChange[] = raw.map((l) => {
    if (!opts.reports) return { ...l, relativeChange: l.change };
    const ratio = l.ratio / k;
    const x = logChange(ratio, l.ci ? [(1 + l.ci[0]) / k - 1, (1 + l.ci[1]) / k - 1] : null, layerSigma);
    logs.set(l.key, x);
    const ci = x ? interval(x, zLayer) : null;
    return { ...l, relativeChange: ratio - 1, ci, verdict: material(verdictOf(l.change, ci, threshold), l.count * (l.headMs / k - l.baseMs), totalBaseMs) };
  });
  // Ops: each one's log ratio is about the base-time-weighted mean of its layers' (delta method), so
  // the layers' own run effects average out; but a machine's change of speed moves ops unlike each
  // other (compute-bound kernels more than launch-bound ones: two runs of one commit 20 % apart moved
  // Conv 15 % more than the rest), a run effect per op, estimated from the ops' scatter as the layers'
  // is from theirs (with too few ops to estimate it, the layers' is taken).
  const opStats = ops.map((op) => {
    const ls = layers.filter((l) => l.op === op);
    const baseMs = ls.reduce((a, l) => a + l.count * l.baseMs, 0);
    const headMs = ls.reduce((a, l) => a + l.count * l.headMs, 0);
    const w = ls.map((l) => (l.count * l.baseMs) / baseMs);
    const x = opts.reports && ls.every((l) => logs.get(l.key)) ? {
      c: Math.log(headMs / baseMs / k),
      below: Math.sqrt(ls.reduce((a, l, i) => a + (w[i] * Math.sqrt(Math.max(0, logs.get(l.key)!.below ** 2 - layerSigma ** 2))) ** 2, 0)),
      above: Math.sqrt(ls.reduce((a, l, i) => a + (w[i] * Math.sqrt(Math.max(0, logs.get(l.key)!.above ** 2 - layerSigma ** 2))) ** 2, 0)),
    } : null;
    return { op, ls, baseMs, headMs, x };
  });
  const known = opStats.filter((o) => o.x).map((o) => o.x!);
  // How far the run shift itself may move one op more than the rest: as far as the shift (two runs
  // of one commit, the machine 20 and 32 % slower in the second: Conv 20 % more than the rest).
  const drift = Math.abs(Math.log(k));
  let opSigma = noise.sigma;
  if (known.length >= 4) {
    const m = median(known.map((x) => x.c));
    const total = 1.4826 * median(known.map((x) => Math.abs(x.c - m)));
    const within = median(known.map((x) => (x.below + x.above) / 2));
    opSigma = Math.sqrt(Math.max(0, total * total - within * within));
  }
  const byOp = new Map<string, OpChange>();
  for (const { op, ls, baseMs, headMs, x } of opStats) {
    const ci = x ? interval({ c: x.c, below: Math.hypot(x.below, opSigma, drift), above: Math.hypot(x.above, opSigma, drift) }, z) : null;
    const faster = { base: 0, head: 0, neither: 0 };
    for (const l of ls) {
      if (l.verdict === 'regression') faster.base++;
      else if (l.verdict === 'improvement') faster.head++;
      else faster.neither++;
    }
    byOp.set(op, { op, layers: ls.length, baseMs, headMs, ratio: headMs / baseMs, relativeChange: headMs / baseMs / k - 1, ci,
      verdict: opts.reports ? material(verdictOf(headMs / baseMs - 1, ci, threshold), headMs / k - baseMs, totalBaseMs) : verdictOf(headMs / baseMs - 1, null, threshold), faster });
  }
  const count = (v: Verdict): number => layers.filter((l) => l.verdict === v).length;
  const baseMs = layers.reduce((a, l) => a + l.count * l.baseMs, 0);
  const headMs = layers.reduce((a, l) => a + l.count * l.headMs, 0);
  return {
    layers: layers.sort((x, y) => y.change - x.change),
    runNoise: noise,
    intervalConfidence: confidence,
    onlyBase: base.filter((l) => !h.has(l.key)).map((l) => ({ key: l.key, op: l.op })),
    onlyHead: head.filter((l) => !b.has(l.key)).map((l) => ({ key: l.key, op: l.op })),
    byOp: [...byOp.values()].sort((x, y) => y.baseMs - x.baseMs),
    summary: {
      shared: layers.length, opRegressions: [...byOp.values()].filter((o) => o.verdict === 'regression').length,
      opImprovements: [...byOp.values()].filter((o) => o.verdict === 'improvement').length, regressions: count('regression'), improvements: count('improvement'), unchanged: count('unchanged'), uncertain: count('uncertain'),
      baseFaster: count('regression'), headFaster: count('improvement'), neither: count('unchanged') + count('uncertain'),
      baseMs, headMs, ratio: baseMs ? headMs / baseMs : NaN,
    },
  };
}
