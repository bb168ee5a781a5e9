/**
 * A layer's results on a machine, measured now or reused from the store: what measuring produces
 * (store/session.ts) and what analysis and the reports read. One entry per kernel variant, with its
 * statistics and raw samples; the layer's default and best variants.
 */
import type { LayerMeasurement, VariantResult } from '../bench/measure.js';
import type { Stats } from '../bench/stats.js';
import type { MachineFingerprint } from '../gpu/device.js';
import type { TensorType } from '../ir/types.js';
import type { TuneConfig } from '../kernels/types.js';

export interface MachineInfo extends MachineFingerprint {
  fingerprint: string;
  /** Probed peaks, and the timing harness's pass overhead (ms; analyze subtracts it from each layer benchmark). */
  peaks: { fmaF32GflopS?: number; fmaF16GflopS?: number; copyGBs?: number; passOverheadMs?: number };
}

export interface VariantEntry {
  variant: string;
  /** On a tuned result (autotuning): the configuration found fastest, and how hard it was searched. */
  config?: TuneConfig;
  autotune?: 'quick' | 'full';
  status: VariantResult['status'];
  reason?: string;
  medianMs?: number;
  /** The samples' trimmed mean (stats.ts trimmedMean): what analyze sums into latencies. */
  trimmedMeanMs?: number;
  /** The raw samples: what `dlprof compare` takes its confidence intervals from. */
  samplesMs?: number[];
  minMs?: number;
  p10Ms?: number;
  p90Ms?: number;
  cv?: number;
  samples?: number;
  batch?: number;
  wallMedianMs?: number;
  maxAbsError?: number;
  /** Reused from an earlier run on this machine (not measured now). */
  reused: boolean;
}

export interface BenchLayer {
  key: string;
  op: string;
  inputs: Array<TensorType | null>;
  outputs: TensorType[];
  /** Occurrences across the benchmarked models. */
  count: number;
  flops: number;
  bytes: number;
  kernel: string | null;
  defaultVariant: string | null;
  bestVariant: string | null;
  /** The best variant's configuration when its tuned result is the best (autotuning); null otherwise. */
  bestConfig: TuneConfig | null;
  defaultMs: number | null;
  bestMs: number | null;
  /** Achieved by the best variant. */
  gflops: number | null;
  gbps: number | null;
  variants: VariantEntry[];
}

export function variantEntry(v: VariantResult, reused: boolean): VariantEntry {
  const s: Stats | undefined = v.stats;
  return {
    variant: v.variant, ...(v.config ? { config: v.config, autotune: v.autotune } : {}), status: v.status, reason: v.reason, reused,
    ...(s ? { medianMs: s.median, trimmedMeanMs: s.trimmedMean, minMs: s.min, p10Ms: s.p10, p90Ms: s.p90, cv: s.cv, samples: s.n } : {}),
    ...(v.samplesMs?.length ? { samplesMs: v.samplesMs } : {}),
    batch: v.batch, wallMedianMs: v.wallMedianMs, maxAbsError: v.maxAbsError,
  };
}

export function benchLayer(m: LayerMeasurement, c: { inputs: Array<TensorType | null>; outputs: TensorType[]; flops: number; bytes: number },
  count: number, entries: VariantEntry[]): BenchLayer {
  const done = entries.filter((e) => e.status === 'completed' && e.medianMs !== undefined);
  // The best variant at the layer's own precision; reduced-precision (-f16) variants are listed but
  // are a separate what-if (analyze's ideal), not an algorithm choice.
  const best = done.filter((e) => !e.variant.endsWith('-f16')).sort((a, b) => a.medianMs! - b.medianMs!)[0];
  const def = done.find((e) => e.variant === m.defaultVariant && !e.config);
  return {
    key: m.key, op: m.op, inputs: c.inputs, outputs: c.outputs, count, flops: c.flops, bytes: c.bytes,
    kernel: m.kernel ?? null, defaultVariant: m.defaultVariant ?? null, bestVariant: best?.variant ?? null, bestConfig: best?.config ?? null,
    defaultMs: def?.medianMs ?? null, bestMs: best?.medianMs ?? null,
    gflops: best ? c.flops / (best.medianMs! * 1e6) : null,
    gbps: best ? c.bytes / (best.medianMs! * 1e6) : null,
    variants: entries,
  };
}
