/**
 * From the layer benchmarks to layer times (pure functions): each layer's default and best
 * variant's time as a layer of a model run (inRun: less the pass overhead), and its fastest f16
 * variant, the f16 what-if's candidate.
 */
import type { TuneConfig } from '../kernels/types.js';
import type { BenchLayer } from '../store/results.js';
import { inRun } from './framework.js';
import type { LayerTime } from './latency.js';

/** A variant and its time as a layer of a model run, ms. */
export interface VariantTime {
  variant: string;
  /** A tuned result's configuration (autotuning); absent: the variant's own. */
  config?: TuneConfig;
  ms: number;
}

export interface LayerTimes {
  /** Per layer key: the default variant's time and the fastest full-precision variant's. */
  times: Map<string, LayerTime>;
  /** Per layer key: the fastest f16 variant. */
  f16: Map<string, VariantTime>;
}

/** A kernel variant that computes in half precision. */
export const isF16 = (variant: string): boolean => variant.endsWith('-f16');

/**
 * A layer's completed variants with their times as layers of a model run (inRun), fastest first.
 * The time of a variant is its samples' trimmed mean (stats.ts TRIM): latencies are sums of layer
 * times, and so is the measured run, whose time is the same statistic of its runs.
 */
export function variantTimes(l: Pick<BenchLayer, 'variants'>, passOverheadMs: number): VariantTime[] {
  return l.variants.flatMap((v) => {
    const ms = v.status === 'completed' ? v.trimmedMeanMs : undefined;
    return ms === undefined ? [] : [{ variant: v.variant, ...(v.config ? { config: v.config } : {}), ms: inRun(ms, passOverheadMs) }];
  }).sort((a, b) => a.ms - b.ms);
}

/**
 * Layer times of the benchmarked layers. A layer has a time when its default variant completed
 * and so did at least one full-precision variant (the best); f16 variants are never the best, they
 * are kept apart for the f16 what-if.
 */
export function layerTimes(layers: ReadonlyArray<Pick<BenchLayer, 'key' | 'defaultVariant' | 'variants'>>, passOverheadMs: number): LayerTimes {
  const times = new Map<string, LayerTime>();
  const f16 = new Map<string, VariantTime>();
  for (const l of layers) {
    const done = variantTimes(l, passOverheadMs);
    const full = done.filter((v) => !isF16(v.variant));
    // What the model runs: the default variant in its own configuration.
    const def = done.find((v) => v.variant === l.defaultVariant && !v.config);
    if (def && full.length) {
      times.set(l.key, { defaultVariant: def.variant, defaultMs: def.ms, bestVariant: full[0].variant, bestMs: full[0].ms, ...(full[0].config ? { bestConfig: full[0].config } : {}) });
    }
    const half = done.find((v) => isF16(v.variant));
    if (half) f16.set(l.key, half);
  }
  return { times, f16 };
}

/** The fastest full-precision variant of each layer that has one (the fused layers of the fusion what-ifs). */
export function bestTimes(layers: ReadonlyArray<Pick<BenchLayer, 'key' | 'variants'>>, passOverheadMs: number): Map<string, VariantTime> {
  const best = new Map<string, VariantTime>();
  for (const l of layers) {
    const b = variantTimes(l, passOverheadMs).find((v) => !isF16(v.variant));
    if (b) best.set(l.key, b);
  }
  return best;
}

/** The layers whose f16 variant is faster than their best full-precision one (a layer without a time: any f16 time is faster). */
export function fasterF16(f16: Map<string, VariantTime>, times: Map<string, LayerTime>): Map<string, VariantTime> {
  return new Map([...f16].filter(([k, h]) => h.ms < (times.get(k)?.bestMs ?? Infinity)));
}
