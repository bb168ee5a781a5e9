/**
 * When a measurement has enough samples: a stopping criterion the harness is given (harness.ts
 * TimingOptions.criterion), as nvbench's are objects its measurements consult after each sample.
 * The harness only reports where a measurement stands; the criterion decides.
 */
import { relativeSpread } from './stats.js';

export type StopReason = 'spread' | 'samples' | 'budget' | 'outpaced';

/** Where a measurement stands after a sample. */
export interface SampleState {
  samplesMs: readonly number[];
  /** Wall time since its first sample, ms. */
  sampledForMs: number;
  /** Its own time spent so far, ms (wall time for one plan; GPU time for a plan in rounds). */
  spentMs: number;
  /** Whether the work it is part of ran past what it may take as a whole (rounds of n plans: n budgets). */
  overall?: boolean;
  /**
   * A time the measurement only matters below: a variant is timed to find a layer's fastest, so
   * one slower than this on every sample (RACE_SAMPLES of them), or than RACE_EARLY_FACTOR times
   * this on its first, cannot be it.
   */
  raceMs?: number;
}

/** Samples a measurement takes before it may be called outpaced. */
export const RACE_SAMPLES = 3;

/**
 * How much slower than the fastest known variant of its layer a variant's every sample must be
 * before its timing stops: a variant at or below the fastest would need RACE_SAMPLES samples all
 * twice its true time. Such a variant keeps the samples it has, and is reported as outpaced.
 */
export const RACE_FACTOR = 2;

/**
 * Before RACE_SAMPLES, samples all this many times `raceMs` decide already: a variant at or below
 * the fastest would need its first sample RACE_FACTOR · RACE_EARLY_FACTOR (4) times its true time.
 * On a software adapter this spares the second and third samples of a hopeless variant of a large
 * layer, each as long as the first: resnet50's direct convolutions, plain and fused, took 20 s of
 * its cold analysis's samples on lavapipe, three samples each.
 */
export const RACE_EARLY_FACTOR = 2;

export interface StoppingCriterion {
  /** Why to stop now, or null to take another sample. */
  stop(s: SampleState): StopReason | null;
}

export interface RelativeSpreadOptions {
  minSamples: number;
  maxSamples: number;
  /** Stop once (p90 − p10) / median is at most this… */
  targetSpread: number;
  /** …and the samples span at least this many ms of wall time (a burst of interference can make close samples agree). */
  minTimeMs: number;
  /** Stop past this much time (after at least min(3, minSamples) samples). */
  budgetMs: number;
}

/**
 * nvbench's relative-spread criterion, with dlprof's measures: stop once the samples' relative
 * spread ((p90 − p10) / median) is at most `targetSpread` with at least `minSamples` spanning
 * `minTimeMs`; else at `maxSamples`; else past the budget. Before all of these, a measurement
 * racing a faster one (`raceMs`) stops once it has lost: the racing that autotuners use, which on
 * a software adapter spares the seconds a sample of a hopeless variant of a large layer takes.
 */
export function relativeSpreadCriterion(o: RelativeSpreadOptions): StoppingCriterion {
  return {
    stop(s) {
      const m = s.samplesMs.length;
      if (s.raceMs !== undefined && m > 0 && Math.min(...s.samplesMs) > (m >= RACE_SAMPLES ? 1 : RACE_EARLY_FACTOR) * s.raceMs) return 'outpaced';
      if (m >= o.minSamples && relativeSpread(s.samplesMs) <= o.targetSpread && s.sampledForMs >= o.minTimeMs) return 'spread';
      if (m >= o.maxSamples) return 'samples';
      if ((m >= Math.min(3, o.minSamples) && s.spentMs > o.budgetMs) || (m >= o.minSamples && !!s.overall)) return 'budget';
      return null;
    },
  };
}
