/**
 * Measuring one layer on every kernel variant that supports it: plan, prepare (synthetic inputs),
 * check against the CPU reference, then time under the given conditions. A variant that
 * disagrees with the reference beyond its tolerance is never timed; one that cannot run says why.
 */
import type { DeviceBuffer, Executor, Prepared } from '../gpu/executor.js';
import { syntheticInputs } from '../kernels/inputs.js';
import { AUTOTUNE_LEVELS, type AutotuneLevel, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type TuneConfig } from '../kernels/types.js';
import { kernelFor } from '../kernels/registry.js';
import { planHash } from '../kernels/specialize.js';
import { referenceOutputs, type Reference } from './reference.js';
import { RACE_FACTOR } from './stopping.js';
import { DEFAULT_TIMING, type Outcome, type RoundItem, type Timer, type TimingOptions } from './harness.js';
import { summarize, type Stats } from './stats.js';
import { compareOutputs } from './verify.js';

/**
 * The state each timed execution starts in; part of a measurement's identity in the store.
 *  - `inference` (the default): the layers being measured run in rounds, each once per round in
 *    its own timed pass, right after its activations were re-written (Timer.timeRounds): between
 *    two executions of a layer all the others run, so its weights, code and outputs were last
 *    touched a round ago and its inputs just now — as in an inference, where the other layers run
 *    between two executions of a layer and its input was just written by the layer before. (Timed
 *    alone, a layer re-run back to back keeps all of that in the cache: on lavapipe the tiny
 *    CNNs' layers timed that way summed 8–17 % below their model's measured time, and −1 to +4 %
 *    from it timed in rounds, the two methods alternated in one process.) `analyze` and `bench` time all pending layers of a
 *    run together; a layer timed on its own runs in rounds of itself. The default variants' rounds
 *    follow the models' order, a repeated layer once per occurrence (a round is an inference;
 *    MeasureOptions.order), and a sample is a layer's mean over its passes in a round.
 *    A layer the model repeats cycles through a set of weights per occurrence (rotation), as the
 *    model holds them;
 *  - `cold-weights`: one layer at a time; its weights cycle through copies spanning up to
 *    COLD_SPAN bytes, so they come from memory or the last-level cache, never from the private
 *    caches, while the activations stay hot;
 *  - `warm`: one layer at a time, the same buffers every time, weights and activations in the
 *    cache (the layer run again and again on its own, as a one-layer benchmark or onnxruntime's
 *    session does);
 *  - `cold`: one layer at a time, a buffer larger than the last-level cache overwritten before
 *    each sample.
 */
export const CONDITIONS = ['inference', 'cold-weights', 'warm', 'cold'] as const;
export type Conditions = (typeof CONDITIONS)[number];
export const DEFAULT_CONDITIONS: Conditions = 'inference';
/** One line per conditions, for reports. */
export const CONDITIONS_TEXT: Record<Conditions, string> = {
  inference: "the layers in rounds in the model's order, each right after its inputs were written, the others between two of its executions, as in an inference",
  'cold-weights': 'weights cycle through copies larger than the cache, activations hot',
  warm: 'the same buffers every time (weights and activations in the cache)',
  cold: 'caches flushed before each sample',
};
export const CONDITIONS_HELP = CONDITIONS.map((k) => `${k} (${CONDITIONS_TEXT[k]})`).join(', ');

/**
 * The conditions a measurement is taken (and stored) under on a device with or without GPU
 * timestamps, and what to tell the user when they differ from those asked for: `inference` rounds
 * are timed by timestamps inside one submission (Timer.timeRounds); without them each layer is
 * timed on its own by the wall clock, and `cold-weights` is the state that timing starts in (its
 * weights from memory, its activations hot), so it is stored as that, never as `inference`.
 */
export function effectiveConditions(requested: Conditions, timestamps: boolean): { conditions: Conditions; note?: string } {
  if (requested !== 'inference' || timestamps) return { conditions: requested };
  const conditions: Conditions = 'cold-weights';
  return { conditions, note: `the adapter has no GPU timestamps: layers were timed one at a time by the wall clock under '${conditions}' (${CONDITIONS_TEXT[conditions]}), not '${requested}'` };
}

/** Bytes the copies of a layer's weights span under `cold-weights`: above the last-level cache of CPUs and of GPUs up to H100/H200's 50 MB L2. */
export const COLD_SPAN = 64 * 2 ** 20;
/** Weights smaller than this are not copied (they stay in the cache in any model). */
const MIN_COLD_BYTES = 16 * 1024;
/**
 * At most this many copies: a measurement takes at most ~100 samples (DEFAULT_TIMING.maxSamples),
 * each on the next copy, so more would never be read. Weights under 512 KiB span less than
 * COLD_SPAN: beyond the private caches, maybe in the last-level one, as in a model run.
 */
const MAX_COPIES = 128;

/**
 * The GPU inputs of `plan` that hold weights: the layer's constant inputs, or, for a plan that
 * builds its inputs on the host (KernelPlan.hostInputs keeps activations at their index), every
 * input but the layer's activations.
 */
export function weightInputs(c: LayerCase, plan: KernelPlan, p: Prepared): number[] {
  const weights = new Set(c.layer.weights.map((w) => w.input));
  if (!plan.hostInputs) return [...weights].filter((i) => p.inputs[i]);
  return p.inputs.flatMap((b, i) => (b && (i >= c.layer.inputs.length || weights.has(i)) ? [i] : []));
}

/**
 * `p` and the copies of it that `conditions` time in turn (see CONDITIONS); `release` frees the
 * copies. Under `inference`, a layer that occurs `occurrences` times in the model gets one set of
 * weights per occurrence, as the model has (up to COLD_SPAN of them): the rounds hold one
 * benchmark for all of its occurrences, and re-reading one set every round let a cache keep what
 * the model streams from memory (sparse-dnn-1024's 120 GEMVs with a 4 MiB weight each, this VM's
 * L3 32 MiB: 1.6 ms a GEMV in the rounds, 3.2 ms in the model, the reconstruction −52 %).
 */
export async function rotation(runner: Executor, kernel: Kernel, c: LayerCase, plan: KernelPlan, p: Prepared, conditions: Conditions, occurrences = 1):
  Promise<{ plans: Prepared[]; release(): void }> {
  const plans = [p];
  const release = (): void => { for (const q of plans.slice(1)) runner.releaseCopy(q, p); };
  if (conditions === 'warm' || conditions === 'cold') return { plans, release };
  const idx = weightInputs(c, plan, p);
  const bytes = idx.reduce((s, i) => s + p.inputs[i]!.size, 0);
  if (bytes < MIN_COLD_BYTES) return { plans, release };
  const span = Math.min(MAX_COPIES, Math.ceil(COLD_SPAN / bytes));
  // cold-weights: at least two, as a weight larger than COLD_SPAN re-read every sample measured up
  // to 15 % faster than in the model (sparse-dnn-4096's 64 MiB GEMV), though no cache holds it;
  // inference: one set per occurrence (a layer that occurs once keeps its own).
  const copies = conditions === 'cold-weights' ? Math.max(2, span) : Math.min(occurrences, span);
  for (let k = 1; k < copies; k++) {
    try {
      plans.push(await runner.copyWithFreshInputs(kernel, c, plan, p, idx, `${p.label} copy ${k}`));
    } catch {
      break; // out of device memory: time with the copies there are
    }
  }
  return { plans, release };
}

export interface VariantResult {
  variant: string;
  status: 'completed' | 'errored' | 'skipped' | 'mismatch';
  reason?: string;
  stats?: Stats;
  wallMedianMs?: number;
  samplesMs?: number[];
  batch?: number;
  maxAbsError?: number;
  /** The hash of the timed code (specialize.ts planHash); absent for a variant that does not support the layer. */
  kernelHash?: string;
  /** The configuration timed (Kernel.tuning), on a tuned result; absent: the variant's own. */
  config?: TuneConfig;
  /** On a tuned result: how hard its configurations were searched. */
  autotune?: Exclude<AutotuneLevel, 'off'>;
}

/**
 * A layer's check against its reference is done once per (layer, variant, code) on a machine and
 * stored (store/session.ts): `verified` says a variant's code was checked already, `onVerified` records
 * a check that passed.
 */
export interface CheckMemo {
  verified(variant: string, kernelHash: string): boolean;
  onVerified(variant: string, kernelHash: string, maxAbsError: number, reference: Reference['source']): void;
}

export interface LayerMeasurement {
  key: string;
  op: string;
  kernel?: string;
  defaultVariant?: string;
  variants: VariantResult[];
}

/** The outputs' dtype decides the tolerance, except for reduced-precision variants of float32 layers. */
function toleranceDtype(variant: string, c: LayerCase): string | undefined {
  return variant.endsWith('-f16') && c.layer.outputs[0]?.dtype === 'float32' ? 'float16' : undefined;
}

/** A variant prepared, checked against its reference and ready to time; `release` frees it. */
export interface ReadyVariant {
  variant: string;
  /** The configuration prepared (autotuning); absent: the variant's own. */
  config?: TuneConfig;
  kernelHash: string;
  /** Its largest difference from the reference; null when its code had been checked before (CheckMemo). */
  maxAbsError: number | null;
  item: RoundItem;
  /** Device memory it holds, bytes. */
  bytes: number;
  release(): void;
}

/**
 * Copies of the activation inputs of `p` (every input but its weights), each paired with the input
 * it re-writes: the `inference` conditions copy them back right before each timed execution, as
 * the layer before writes a layer's input in a model.
 */
async function activationRefresh(runner: Executor, c: LayerCase, plan: KernelPlan, p: Prepared): Promise<Array<{ source: DeviceBuffer; target: DeviceBuffer }>> {
  const weights = new Set(weightInputs(c, plan, p));
  const targets = p.inputs.filter((b, i): b is DeviceBuffer => !!b && !weights.has(i));
  const sources = await runner.duplicate(targets, 'copy-source', `${p.label} activation`);
  return targets.map((target, i) => ({ source: sources[i], target }));
}

/**
 * Prepares `variant` for timing under `conditions`: plans, uploads, runs it once and checks its
 * outputs against the reference. A result instead when it cannot run, fails, or disagrees.
 */
export async function prepareVariant(runner: Executor, kernel: Kernel, c: LayerCase, variant: string,
  inputs: Array<HostTensor | null>, want: () => Promise<Reference>, conditions: Conditions = DEFAULT_CONDITIONS, occurrences = 1,
  memo?: CheckMemo, config?: TuneConfig): Promise<ReadyVariant | VariantResult> {
  const s = kernel.supports(c, variant, runner.caps);
  if (!s.ok) return { variant, status: 'skipped', reason: s.reason };
  if (runner.lost) return { variant, status: 'errored', reason: `device lost: ${runner.lost}`, config };
  let prepared: Prepared;
  const plan = kernel.plan(c, variant, runner.caps, config);
  const kernelHash = planHash(plan);
  try {
    prepared = await runner.prepare(kernel, c, plan, inputs, `${kernel.name}/${variant}${config ? ` ${configText(config)}` : ''} ${c.layer.op} ${c.layer.key}`);
  } catch (e) {
    return { variant, status: 'errored', reason: (e as Error).message, kernelHash, config };
  }
  try {
    let maxAbsError: number | null = null;
    if (!memo?.verified(variant, kernelHash)) {
      const got = await runner.run(prepared, c);
      const ref = await want();
      const agreement = compareOutputs(got, ref.outputs, toleranceDtype(variant, c));
      if (!agreement.ok) {
        runner.release(prepared);
        const w = agreement.worst;
        return { variant, status: 'mismatch', maxAbsError: agreement.maxAbsError, kernelHash, config,
          reason: `disagrees with the reference (${ref.source})${w ? ` at output ${w.output}[${w.index}]: ${w.got} vs ${w.want}` : ''} (rtol ${agreement.tolerance.rtol})` };
      }
      maxAbsError = agreement.maxAbsError;
      memo?.onVerified(variant, kernelHash, maxAbsError, ref.source);
    }
    const copies = await rotation(runner, kernel, c, plan, prepared, conditions, occurrences);
    // Only rounds make the activation copies (Timer.timeRounds; `inference` is only asked for with timestamps: effectiveConditions).
    let before: Array<{ source: DeviceBuffer; target: DeviceBuffer }> = [];
    try {
      if (conditions === 'inference') before = await activationRefresh(runner, c, plan, prepared);
    } catch (e) {
      copies.release();
      throw e;
    }
    const bytes = copies.plans.slice(1).reduce((a, q) => a + q.inputs.reduce((b, x, i) => b + (x && x !== prepared.inputs[i] ? x.size : 0), 0), prepared.bytes)
      + before.reduce((a, x) => a + x.source.size, 0);
    return {
      variant, config, kernelHash, maxAbsError, item: { plans: copies.plans, before }, bytes,
      release: () => {
        for (const x of before) x.source.destroy();
        copies.release();
        runner.release(prepared);
      },
    };
  } catch (e) {
    runner.release(prepared);
    return { variant, status: 'errored', reason: (e as Error).message, kernelHash, config };
  }
}

/** The result of timing a prepared variant. */
export function variantResult(r: ReadyVariant, outcome: Outcome): VariantResult {
  const maxAbsError = r.maxAbsError ?? undefined;
  if (outcome.status !== 'completed') return { variant: r.variant, status: outcome.status, reason: outcome.reason, maxAbsError, kernelHash: r.kernelHash, config: r.config };
  return {
    variant: r.variant, config: r.config, status: 'completed', stats: summarize(outcome.samplesMs), wallMedianMs: summarize(outcome.wallMs).median,
    samplesMs: outcome.samplesMs, batch: outcome.batch, maxAbsError, kernelHash: r.kernelHash,
    ...(outcome.stoppedBy === 'outpaced' ? { reason: `outpaced: every one of its ${outcome.samplesMs.length} samples took over ${r.config ? `${TUNE_RACE_FACTOR}× its variant's own configuration` : `${RACE_FACTOR}× the layer's default variant`}, so it was not timed further` } : {}),
  };
}

/** Prepares, checks and times one variant on its own (`inference`: in rounds of itself alone). */
export async function measureVariant(runner: Executor, timer: Timer, kernel: Kernel, c: LayerCase, variant: string,
  inputs: Array<HostTensor | null>, want: () => Promise<Reference>, timing: TimingOptions = DEFAULT_TIMING, conditions: Conditions = DEFAULT_CONDITIONS,
  memo?: CheckMemo, config?: TuneConfig): Promise<VariantResult> {
  const used = effectiveConditions(conditions, timer.usesTimestamps).conditions;
  const r = await prepareVariant(runner, kernel, c, variant, inputs, want, used, 1, memo, config);
  if (!('item' in r)) return r;
  try {
    const outcome = used === 'inference'
      ? (await timer.timeRounds([r.item], timing))[0]
      : await timer.time(r.item.plans, { ...timing, cacheFlush: used === 'cold' });
    return variantResult(r, outcome);
  } finally {
    r.release();
  }
}

/** A layer's synthetic inputs and its reference outputs for them (reference.ts), computed once when first asked for. */
export interface LayerData { inputs: Array<HostTensor | null>; want: () => Promise<Reference> }

export function layerData(c: LayerCase, kernel: Kernel, seed = 1): LayerData {
  const inputs = syntheticInputs(c, seed);
  let reference: Promise<Reference> | undefined;
  return { inputs, want: () => (reference ??= referenceOutputs(c, kernel, inputs)) };
}

interface LayerOptions {
  conditions?: Conditions;
  only?: string[];
  onVariant?: (variant: string, i: number, n: number) => void;
  seed?: number;
  /** How many times the layer occurs in the model(s) measured (rotation: its weight copies under `inference`). */
  occurrences?: number;
  /** Checks already done, and where to record new ones. */
  memo?: CheckMemo;
  /** Search the configurations of the layer's fastest tunable variant (`tuneTarget`); default `off`. */
  autotune?: AutotuneLevel;
  /** Results the store has for variants not measured now: the tuning may search one of them. */
  known?: VariantResult[];
}

function selected(kernel: Kernel, only?: string[]): string[] {
  return kernel.variants.map((v) => v.name).filter((v) => !only || only.includes(v));
}

/** Every variant of the layer's kernel (or those named in `only`), each timed after it is checked. */
export async function measureLayer(runner: Executor, timer: Timer, c: LayerCase, opts: LayerOptions & { timing?: TimingOptions } = {}): Promise<LayerMeasurement> {
  const kernel = kernelFor(c.layer.op);
  if (!kernel) return { key: c.layer.key, op: c.layer.op, variants: [] };
  const variants = selected(kernel, opts.only);
  const { inputs, want } = layerData(c, kernel, opts.seed);
  const results: VariantResult[] = [];
  for (const [i, v] of variants.entries()) {
    opts.onVariant?.(v, i, variants.length);
    results.push(await measureVariant(runner, timer, kernel, c, v, inputs, want, opts.timing, opts.conditions, opts.memo));
  }
  const target = opts.autotune && opts.autotune !== 'off' ? tuneTarget(kernel, c, runner.caps, opts.autotune, [...results, ...(opts.known ?? [])]) : undefined;
  if (target) {
    const tried: VariantResult[] = [];
    for (const [i, config] of target.configs.entries()) {
      opts.onVariant?.(`${target.base.variant} ${configText(config)} (autotuning ${i + 1}/${target.configs.length})`, i, target.configs.length);
      tried.push(await measureVariant(runner, timer, kernel, c, target.base.variant, inputs, want, opts.timing, opts.conditions, opts.memo, config));
    }
    results.push(tunedResult(target, tried));
  }
  return { key: c.layer.key, op: c.layer.op, kernel: kernel.name, defaultVariant: kernel.defaultVariant(c), variants: results };
}

/**
 * Every variant of the layer's kernel (or those named in `only`) prepared and checked, to be timed
 * later together with other layers' (`inference` rounds): `m` holds the results of those that
 * cannot be timed, `ready` the others (release them after timing).
 */
export async function prepareLayer(runner: Executor, c: LayerCase, opts: LayerOptions = {}): Promise<{ m: LayerMeasurement; ready: ReadyVariant[]; data?: LayerData }> {
  const kernel = kernelFor(c.layer.op);
  const m: LayerMeasurement = { key: c.layer.key, op: c.layer.op, kernel: kernel?.name, defaultVariant: kernel?.defaultVariant(c), variants: [] };
  const ready: ReadyVariant[] = [];
  if (!kernel) return { m, ready };
  const variants = selected(kernel, opts.only);
  const data = layerData(c, kernel, opts.seed);
  const { inputs, want } = data;
  for (const [i, v] of variants.entries()) {
    opts.onVariant?.(v, i, variants.length);
    const r = await prepareVariant(runner, kernel, c, v, inputs, want, opts.conditions, opts.occurrences, opts.memo);
    if ('item' in r) ready.push(r);
    else m.variants.push(r);
  }
  return { m, ready, data };
}

/** The fastest completed variant at the layer's own precision (reduced-precision -f16 variants excluded). */
export function bestVariant(vs: VariantResult[]): VariantResult | undefined {
  return vs.filter((v) => v.status === 'completed' && v.stats && !v.variant.endsWith('-f16')).sort((a, b) => a.stats!.median - b.stats!.median)[0];
}

// ---------------------------------------------------------------------------------------------
// Autotuning: a tunable variant's configurations (Kernel.tuning) timed against its own

/**
 * A configuration whose every one of its first samples is over this many times its variant's own
 * configuration stops there (stopping.ts racing): a tuning keeps what it finds within a quarter of
 * the best so far and spends little on the rest.
 */
export const TUNE_RACE_FACTOR = 1.25;

/** `a` at least as thorough a search as `b`. */
export function autotuneCovers(a: AutotuneLevel | undefined, b: AutotuneLevel): boolean {
  return AUTOTUNE_LEVELS.indexOf(a ?? 'off') >= AUTOTUNE_LEVELS.indexOf(b);
}

/** A configuration as the reports show it: `TM64 TP32 TK16 RM8 RP4`. */
export function configText(config: TuneConfig): string {
  return Object.entries(config).map(([k, v]) => `${k}${v}`).join(' ');
}

/** What one layer's tuning searches: the variant, its own result (timed), and the configurations to time against it. */
export interface TuneTarget {
  base: VariantResult & { stats: Stats };
  own: TuneConfig;
  configs: TuneConfig[];
  level: Exclude<AutotuneLevel, 'off'>;
}

/**
 * The variant a layer's tuning searches: its fastest completed variant at the layer's own
 * precision (a reduced-precision -f16 variant is a what-if, not a choice) among those with a search
 * space here; undefined when none has one. Only the fastest is tuned: its configurations are where
 * the layer's best time can improve, and each configuration is a program to compile and check.
 */
export function tuneTarget(kernel: Kernel, c: LayerCase, caps: Executor['caps'], level: AutotuneLevel, results: VariantResult[]): TuneTarget | undefined {
  if (level === 'off' || !kernel.tuning) return undefined;
  const done = results.filter((v): v is VariantResult & { stats: Stats } => v.status === 'completed' && !!v.stats && !v.config && !v.variant.endsWith('-f16'))
    .sort((a, b) => a.stats.trimmedMean - b.stats.trimmedMean);
  for (const base of done) {
    const space = kernel.tuning(c, base.variant, caps, level);
    if (space.length >= 2) return { base, own: space[0], configs: space.slice(1), level };
  }
  return undefined;
}

/**
 * The tuned result of `t`: the fastest (trimmed mean, what analysis sums) of the variant's own
 * configuration and the configurations `tried`, with its configuration and the search's level. A
 * configuration that failed its check or its run is not a candidate.
 */
export function tunedResult(t: TuneTarget, tried: VariantResult[]): VariantResult {
  const best = tried.filter((v): v is VariantResult & { stats: Stats } => v.status === 'completed' && !!v.stats && !v.reason)
    .reduce<VariantResult & { stats: Stats }>((b, v) => (v.stats.trimmedMean < b.stats.trimmedMean ? v : b), t.base);
  return { ...best, config: best === t.base ? t.own : best.config, autotune: t.level, reason: undefined };
}
