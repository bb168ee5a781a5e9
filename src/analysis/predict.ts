/**
 * A model's latency on a machine it never ran on, from that machine's stored layer measurements
 * (DLBricks: end-to-end latency is the sum of the model's layers' latencies, each de-duplicated
 * layer measured once). Nothing runs: the store is enough.
 *
 * A layer's time is what `analyze` sums: its default variant's samples' trimmed mean, less the
 * target machine's probed per-pass overhead (at least a tenth of it kept), since a model run
 * records its layers in one pass. The layers the machine lacks are listed, and their share of the
 * time is estimated from their roofline time on that machine's probed peaks, scaled by how far the
 * measured layers of the same op (else all measured layers) sit above their own roofline time.
 */
import type { ModelGraph } from '../ir/graph.js';
import type { Layer } from '../ir/types.js';
import { trimmedMean } from '../bench/stats.js';
import { latencies, type LayerTime } from './latency.js';

export interface StoredVariant {
  variant: string;
  status: string;
  samplesMs: number[] | null;
  medianMs: number | null;
  /** A tuned result (autotuning): a candidate for the best, never the default a model runs. */
  tuned?: boolean;
}

export interface PredictInput {
  graph: Pick<ModelGraph, 'nodes' | 'layers'>;
  /** Each unique layer's default variant on dlprof's kernels ('' when no kernel takes its op). */
  defaultVariant: (layer: Layer) => string;
  /** The target machine's newest measurement of each variant of a layer under the chosen conditions. */
  stored: (key: string) => StoredVariant[];
  passOverheadMs: number;
  peaks: { gflops?: number; gbps?: number };
}

export interface PredictedLayer { key: string; op: string; count: number; variant: string; ms: number; bestVariant: string; bestMs: number }
export interface MissingLayer { key: string; op: string; count: number; reason: string; estimatedMs: number | null; flops: number; bytes: number }

export interface Prediction {
  /** Σ over the model's layers (repeats counted) of the measured layers' default-variant times. */
  predictedMs: number;
  sequentialLowerBoundMs: number;
  parallelLowerBoundMs: number;
  coverage: {
    layers: number; measuredLayers: number; uniqueLayers: number; measuredUniqueLayers: number;
    /** predictedMs ÷ (predictedMs + estimatedMissingMs); null when the missing layers' time cannot be estimated. */
    timeShare: number | null;
    estimatedMissingMs: number | null;
  };
  layers: PredictedLayer[];
  missing: MissingLayer[];
  byOp: Array<{ op: string; count: number; ms: number; pct: number }>;
}

const inRun = (ms: number, passOverheadMs: number): number => Math.max(ms - passOverheadMs, ms / 10);

function variantMs(v: StoredVariant, passOverheadMs: number): number | undefined {
  if (v.status !== 'completed') return undefined;
  const t = v.samplesMs?.length ? trimmedMean(v.samplesMs) : v.medianMs ?? undefined;
  return t === undefined || !Number.isFinite(t) ? undefined : inRun(t, passOverheadMs);
}

const roofMs = (l: Layer, peaks: PredictInput['peaks']): number | undefined =>
  (peaks.gflops && peaks.gbps ? Math.max(l.flops / (peaks.gflops * 1e6), l.bytes / (peaks.gbps * 1e6)) : undefined);

function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function predict(input: PredictInput): Prediction {
  const { graph: g } = input;
  const counts = new Map<string, number>();
  for (const n of g.nodes) counts.set(n.key, (counts.get(n.key) ?? 0) + 1);
  const times = new Map<string, LayerTime>();
  const layers: PredictedLayer[] = [];
  const missing: Array<Omit<MissingLayer, 'estimatedMs'>> = [];
  for (const [key, count] of counts) {
    const l = g.layers.get(key)!;
    const def = input.defaultVariant(l);
    const stored = input.stored(key);
    const done = stored.flatMap((v) => { const ms = variantMs(v, input.passOverheadMs); return ms === undefined ? [] : [{ variant: v.variant, ms, tuned: !!v.tuned }]; });
    const full = done.filter((v) => !v.variant.endsWith('-f16')).sort((a, b) => a.ms - b.ms);
    const d = done.find((v) => v.variant === def && !v.tuned);
    const base = { key, op: l.op, count, flops: l.flops, bytes: l.bytes };
    if (!def) missing.push({ ...base, reason: 'no kernel for this op' });
    else if (!stored.length) missing.push({ ...base, reason: 'not measured on this machine' });
    else if (!d) missing.push({ ...base, reason: `its default variant ${def} has no completed measurement on this machine (${stored.find((v) => v.variant === def)?.status ?? 'not measured'})` });
    else {
      times.set(key, { defaultVariant: def, defaultMs: d.ms, bestVariant: full[0]?.variant ?? def, bestMs: full[0]?.ms ?? d.ms });
      layers.push({ key, op: l.op, count, variant: def, ms: d.ms, bestVariant: full[0]?.variant ?? def, bestMs: full[0]?.ms ?? d.ms });
    }
  }
  const lat = latencies(g, times);
  // The missing layers' time, from the measured ones: a fixed cost per layer (the fastest measured
  // layer: launch and synchronization, which dominate small layers) plus their roofline time scaled
  // by how far the measured layers of the same op (else all of them) sit above their own.
  const floor = layers.length ? Math.min(...layers.map((p) => p.ms)) : undefined;
  const scale = (ls: PredictedLayer[]): number | undefined => median(ls.flatMap((p) => {
    const r = roofMs(g.layers.get(p.key)!, input.peaks);
    return r && floor !== undefined ? [Math.max(0, p.ms - floor) / r] : [];
  }));
  const overall = scale(layers);
  const withEstimate: MissingLayer[] = missing.map((m) => {
    const r = roofMs(g.layers.get(m.key)!, input.peaks);
    const k = scale(layers.filter((p) => p.op === m.op)) ?? overall;
    return { ...m, estimatedMs: r !== undefined && k !== undefined && floor !== undefined ? floor + r * k : null };
  });
  const estimatable = withEstimate.every((m) => m.estimatedMs !== null);
  const estimatedMissingMs = estimatable ? withEstimate.reduce((a, m) => a + m.count * m.estimatedMs!, 0) : null;
  const opMs = new Map<string, { count: number; ms: number }>();
  for (const p of layers) {
    const e = opMs.get(p.op) ?? { count: 0, ms: 0 };
    e.count += p.count;
    e.ms += p.count * p.ms;
    opMs.set(p.op, e);
  }
  const total = lat.reconstructedMs || 1;
  return {
    predictedMs: lat.reconstructedMs, sequentialLowerBoundMs: lat.sequentialLowerBoundMs, parallelLowerBoundMs: lat.parallelLowerBoundMs,
    coverage: {
      layers: g.nodes.length, measuredLayers: g.nodes.filter((n) => times.has(n.key)).length, uniqueLayers: counts.size, measuredUniqueLayers: times.size,
      timeShare: estimatedMissingMs === null ? null : lat.reconstructedMs / (lat.reconstructedMs + estimatedMissingMs || 1),
      estimatedMissingMs,
    },
    layers: layers.sort((a, b) => b.count * b.ms - a.count * a.ms),
    missing: withEstimate.sort((a, b) => (b.estimatedMs ?? 0) * b.count - (a.estimatedMs ?? 0) * a.count),
    byOp: [...opMs].map(([op, e]) => ({ op, count: e.count, ms: e.ms, pct: (100 * e.ms) / total })).sort((a, b) => b.ms - a.ms),
  };
}
