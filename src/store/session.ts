/**
 * A measuring session, shared by `bench` and `analyze`: the device, the store and this machine's
 * row in it; measuring a set of layer cases on every variant, reusing what the store already
 * has for this machine, committing each measurement as it finishes.
 */
import { performance } from 'node:perf_hooks';
import { closeGpu, fingerprint, openGpu, type AdapterSelection, type GpuContext, type MachineFingerprint } from '../gpu/device.js';
import { KernelRunner } from '../gpu/run.js';
import type { ModelGraph } from '../ir/graph.js';
import { kernelFor } from '../kernels/registry.js';
import { planHash, specializeCached } from '../kernels/specialize.js';
import type { AutotuneLevel, Kernel, LayerCase, TuneConfig } from '../kernels/types.js';
import { benchLayer, variantEntry, type BenchLayer, type MachineInfo, type VariantEntry } from './results.js';
import { fingerprintId, Store, type MeasurementRow } from './db.js';
import { PhaseClock, type Phase } from '../util/phases.js';
import type { Progress } from '../util/progress.js';
import { DEFAULT_TIMING, MAX_PASSES, Timer, type Outcome, type TimingOptions } from '../bench/harness.js';
import {
  autotuneCovers, DEFAULT_CONDITIONS, effectiveConditions, measureLayer, prepareLayer, prepareVariant, TUNE_RACE_FACTOR, tunedResult, tuneTarget, variantResult,
  configText, type CheckMemo, type Conditions, type LayerData, type LayerMeasurement, type ReadyVariant, type TuneTarget, type VariantResult,
} from '../bench/measure.js';
import type { Interleaver } from '../bench/interleave.js';
import { passOverhead, probeMachine } from '../bench/probe.js';
import { summarize, trimmedMean } from '../bench/stats.js';
import { RACE_FACTOR } from '../bench/stopping.js';

export interface Session {
  ctx: GpuContext;
  runner: KernelRunner;
  timer: Timer;
  store: Store;
  fp: MachineFingerprint;
  machineId: number;
  /** Set by Ctrl-C: stop after the current measurement. */
  interrupted: boolean;
  /** Where this session's time went, by phase. */
  clock: PhaseClock;
  close(): void;
}

/** Opens the GPU first, then the store: a missing adapter leaves the database untouched. */
export async function openSession(sel: AdapterSelection, dbPath: string, version: string): Promise<Session> {
  const ctx = await openGpu(sel);
  let store: Store;
  try {
    store = Store.open(dbPath);
  } catch (e) {
    closeGpu(ctx);
    throw e;
  }
  const runner = new KernelRunner(ctx);
  const timer = new Timer(runner);
  const fp = fingerprint(ctx, version);
  const s: Session = {
    ctx, runner, timer, store, fp, machineId: store.machineId(fp), interrupted: false, clock: new PhaseClock(),
    close: () => {
      process.off('SIGINT', onSigint);
      runner.destroy();
      closeGpu(ctx);
      store.close();
    },
  };
  const onSigint = (): void => {
    if (s.interrupted) process.exit(130);
    s.interrupted = true;
    process.stderr.write('\ninterrupted: finishing the current measurement (Ctrl-C again to abort now)\n');
  };
  process.on('SIGINT', onSigint);
  return s;
}

/** Probes peaks and the pass overhead when asked, or when this machine has not all of them stored yet; whether it probed. */
export async function ensureProbe(s: Session, force: boolean | undefined): Promise<boolean> {
  const kinds = s.ctx.timestamps ? ['fma-f32', 'pass-overhead'] : ['fma-f32'];
  if (!(force || (force === undefined && kinds.some((k) => !s.store.latestProbe(s.machineId, k))))) return false;
  process.stderr.write('probing peak compute, bandwidth and timing overhead…\n');
  for (const p of await s.clock.time('probe', () => probeMachine(s.runner, s.timer))) s.store.saveProbe(s.machineId, p.kind, p.value, p.unit, p.medianMs);
  return true;
}

/** Probes the pass overhead alone (a second or so), when the GPU has timestamps. */
export async function probePassOverhead(s: Session): Promise<void> {
  if (!s.ctx.timestamps) return;
  const p = await s.clock.time('probe', () => passOverhead(s.runner));
  s.store.saveProbe(s.machineId, p.kind, p.value, p.unit, p.medianMs);
}

export function machineInfo(s: Session): MachineInfo {
  const peak = (k: string): number | undefined => s.store.latestProbe(s.machineId, k)?.value;
  return { ...s.fp, fingerprint: fingerprintId(s.fp), peaks: { fmaF32GflopS: peak('fma-f32'), fmaF16GflopS: peak('fma-f16'), copyGBs: peak('copy'), passOverheadMs: peak('pass-overhead') } };
}

export function recordModels(s: Session, graphs: ModelGraph[]): void {
  for (const g of graphs) {
    s.store.upsertLayers([...g.layers.values()]);
    const counts = new Map<string, { count: number; first: number }>();
    g.nodes.forEach((n, i) => { const e = counts.get(n.key) ?? { count: 0, first: i }; e.count++; counts.set(n.key, e); });
    s.store.upsertModel({ path: g.path, name: g.name, fileBytes: g.fileBytes, layers: [...counts].map(([key, e]) => ({ key, count: e.count, firstPosition: e.first })) });
  }
}

function fromRow(r: MeasurementRow): VariantResult {
  return {
    variant: r.variant, status: r.status, reason: r.reason ?? undefined, batch: r.batch ?? undefined, wallMedianMs: r.wallMedianMs ?? undefined,
    maxAbsError: r.maxAbsError ?? undefined, samplesMs: r.samplesMs ?? undefined, stats: r.samplesMs ? summarize(r.samplesMs) : undefined,
    kernelHash: r.kernelHash ?? undefined, config: r.config ?? undefined, autotune: r.autotune ?? undefined,
  };
}

export interface MeasureOptions {
  force?: boolean;
  variants?: string[];
  timing?: TimingOptions;
  /** The state each execution starts in (default `cold-weights`); results under other conditions are neither reused nor replaced. */
  conditions?: Conditions;
  /** How many times each layer occurs in the model(s) (reported, and its weight copies under `inference`); default: counted from `order`, else once. */
  counts?: Map<string, number>;
  /**
   * The layers' keys in the order the model runs them, one per node (a repeated layer's key as
   * often as it occurs): under `inference` the default variants' rounds follow it (Timer.timeRounds),
   * each a model's inference on the benchmarks' buffers; without it each layer runs once a round.
   */
  order?: readonly string[];
  progress?: Progress;
  /** End-to-end runs to take between the submissions of the default variants' rounds (`inference` with timestamps only). */
  interleave?: Interleaver;
  /**
   * Awaited before the first timing: work that may run beside the checks but not beside a timing
   * (analyze: onnxruntime compiling its programs on its own device) is done by then.
   */
  beforeTiming?: { label: string; wait: () => Promise<void>; phase: Phase };
  /**
   * Autotuning: each layer's fastest tunable variant has its configurations searched this hard
   * (bench/measure.ts tuneTarget), once per layer and level; default `off`.
   */
  autotune?: AutotuneLevel;
  /** At most this many samples for the non-default variants and tuned configurations in rounds (BEST_SAMPLES); default: the timing's own. */
  bestSamples?: number;
}

export interface MeasureOutcome {
  runId: string;
  layers: BenchLayer[];
  measured: number;
  reused: number;
}

/**
 * The identity of the code a variant would run on a layer (specialize.ts planHash), null where the
 * variant does not support the layer (nothing runs). A stored result is reused only when made by
 * the same code: a changed kernel is measured again.
 */
export function variantCode(kernel: Kernel, c: LayerCase, variant: string, s: Pick<Session, 'runner'>, config?: TuneConfig): string | null {
  // Asked for each case again when counting, compiling and measuring: planned once per runner
  // (its device's capabilities decide the plan), planning code, layer and variant.
  let byPlan = codes.get(s.runner);
  if (!byPlan) codes.set(s.runner, byPlan = new WeakMap());
  let memo = byPlan.get(kernel.plan);
  if (!memo) byPlan.set(kernel.plan, memo = new Map());
  const id = `${c.layer.key}/${variant}${config ? JSON.stringify(config) : ''}`;
  if (!memo.has(id)) {
    let code: string | null = null;
    try {
      if (kernel.supports(c, variant, s.runner.caps).ok) code = planHash(kernel.plan(c, variant, s.runner.caps, config));
    } catch {
      // a variant whose plan throws runs nothing
    }
    memo.set(id, code);
  }
  return memo.get(id)!;
}

const codes = new WeakMap<KernelRunner, WeakMap<Kernel['plan'], Map<string, string | null>>>();

/**
 * A case's (selected) variants, the stored results for them under the conditions and made by
 * today's code (a tuned result by its configuration's code), those still to measure, and whether
 * the layer still wants the tuning `opts.autotune` asks for: none of its stored tuned results was
 * searched that hard, and one of its variants has configurations to search.
 */
type ToMeasure = { existing: MeasurementRow[]; wanted: string[]; toMeasure: string[]; tune: boolean };

function variantsToMeasure(s: Session, c: LayerCase, opts: MeasureOptions): ToMeasure {
  const kernel = kernelFor(c.layer.op);
  const wanted = (kernel?.variants ?? []).map((v) => v.name).filter((v) => !opts.variants || opts.variants.includes(v));
  const stored = opts.force || !kernel ? [] : s.store.latestForLayer(s.machineId, c.layer.key, conditionsUsed(s, opts));
  const existing = stored.filter((e) => wanted.includes(e.variant) && (e.kernelHash ?? null) === variantCode(kernel!, c, e.variant, s, e.config ?? undefined));
  const level = opts.autotune ?? 'off';
  const toMeasure = wanted.filter((v) => !existing.some((e) => e.variant === v && !e.config));
  // As tuneTarget chooses: a variant at the layer's own precision with configurations to search.
  const tunable = (v: string): boolean => level !== 'off' && !v.endsWith('-f16') && kernel!.supports(c, v, s.runner.caps).ok
    && kernel!.tuning!(c, v, s.runner.caps, level).length >= 2;
  // Something to tune: a tunable variant measured now, or one the store has completed. (A layer
  // whose tunable variants all failed has none, and is not measured again for it.)
  const tune = level !== 'off' && !!kernel?.tuning && !existing.some((e) => e.config && autotuneCovers(e.autotune ?? undefined, level))
    && (toMeasure.some(tunable) || existing.some((e) => !e.config && e.status === 'completed' && tunable(e.variant)));
  return { existing, wanted, toMeasure, tune };
}

/**
 * A layer whose every variant comes from the store: its measurement with nothing measured now, as
 * prepareLayer would give it without making its synthetic data and weights (which took 3.3 s of
 * a warm ResNet-50 analysis on lavapipe, measuring nothing).
 */
function fromStore(c: LayerCase): LayerMeasurement {
  const kernel = kernelFor(c.layer.op);
  return { key: c.layer.key, op: c.layer.op, kernel: kernel?.name, defaultVariant: kernel?.defaultVariant(c), variants: [] };
}

/** The checks this machine has stored for a layer (measure.ts CheckMemo). */
function checkMemo(s: Session, c: LayerCase): CheckMemo {
  return {
    verified: (variant, kernelHash) => !!s.store.verification(s.machineId, c.layer.key, variant, kernelHash),
    onVerified: (variant, kernelHash, maxAbsError, reference) => s.store.saveVerification({ machineId: s.machineId, layerKey: c.layer.key, variant, kernelHash, maxAbsError, reference }),
  };
}

/** The conditions `opts` asks for, as this device can time them (effectiveConditions). */
function conditionsUsed(s: Session, opts: MeasureOptions): Conditions {
  return effectiveConditions(opts.conditions ?? DEFAULT_CONDITIONS, s.ctx.timestamps).conditions;
}

/** The autotuning `requested` (--autotune), else this adapter's default: quick on a GPU, off on a software adapter (it would tune for a CPU). */
export function autotuneLevel(s: Pick<Session, 'ctx'>, requested?: string): AutotuneLevel {
  return (requested as AutotuneLevel | undefined) ?? (s.ctx.info.isFallback ? 'off' : 'quick');
}

/** How many of `cases` measureCases would measure (rather than take from the store). */
export function pendingCases(s: Session, cases: LayerCase[], opts: MeasureOptions = {}): number {
  return cases.filter((c) => { const v = variantsToMeasure(s, c, opts); return v.toMeasure.length > 0 || v.tune; }).length;
}

/**
 * What `analyze` caps a layer's other variants (and a tuning's configurations) at, in rounds
 * (MeasureOptions.bestSamples): there they are timed to find the layer's fastest, and their times
 * count only in the lower bounds and the ideal, where this many give a trimmed mean within a few
 * per cent (run spreads of ±2–9 % on our VM); the default variants, whose times the reconstruction
 * sums, take what their budget allows. Until every plan of a set of rounds has settled, the settled
 * ones keep running (the rounds keep their mix), so one slow-to-settle variant kept them all going:
 * on lavapipe, mobilenetv2's non-default variants took 27–80 samples each. `bench` takes no cap:
 * its results are what `compare` and a CI gate judge every variant by.
 */
export const BEST_SAMPLES = 10;

/**
 * Under `inference`, the variants timed together in rounds are prepared up to this much device
 * memory (or CHUNK_ITEMS of them) at a time: beyond any last-level cache, so rounds over a large
 * model read its weights from memory as its inferences do, while the whole of a small model's
 * layers share one set of rounds.
 */
const CHUNK_BYTES = 256 * 2 ** 20;
const CHUNK_ITEMS = 512;

/**
 * Compiles every program the pending variants of `cases` need, all in flight at once, before any is
 * checked: layers that differ only in sizes share their programs (specialize.ts), so a model needs a
 * few dozen, and a driver that compiles in parallel does so here.
 */
async function compilePending(s: Session, todo: ReadonlyArray<{ c: LayerCase } & ToMeasure>, opts: MeasureOptions): Promise<void> {
  const programs = new Map<string, string>();
  for (const { c, toMeasure } of todo) {
    const kernel = kernelFor(c.layer.op);
    if (!kernel) continue;
    for (const v of toMeasure) {
      if (!kernel.supports(c, v, s.runner.caps).ok) continue;
      try {
        for (const p of kernel.plan(c, v, s.runner.caps).passes) programs.set(specializeCached(p.wgsl).source, p.label);
      } catch {
        // reported when the variant is prepared
      }
    }
  }
  if (!programs.size) return;
  opts.progress?.phase(`compiling ${programs.size} programs for ${todo.length} layers`);
  s.clock.programs += await s.clock.time('compile', () => s.runner.precompile(programs));
}

/** Measures every case on every (selected) variant, reusing stored results unless `force`. */
export async function measureCases(s: Session, cases: LayerCase[], opts: MeasureOptions = {}): Promise<MeasureOutcome> {
  const { store, machineId } = s;
  const conditions = conditionsUsed(s, opts);
  const timing = opts.timing ?? DEFAULT_TIMING;
  const bestTiming = opts.bestSamples ? { ...timing, maxSamples: Math.min(timing.maxSamples, Math.max(timing.minSamples, opts.bestSamples)) } : timing;
  const counts = opts.counts ?? new Map<string, number>();
  if (!opts.counts) for (const key of opts.order ?? []) counts.set(key, (counts.get(key) ?? 0) + 1);
  store.upsertLayers(cases.map((c) => c.layer));
  const runId = store.newRunId();
  const startedAt = new Date().toISOString();
  const layers: BenchLayer[] = [];
  let measured = 0;
  let reused = 0;
  const t0 = performance.now();
  const eta = (i: number): string => (i > 0 ? ` · ETA ${Math.round((((performance.now() - t0) / i) * (cases.length - i)) / 1000)} s` : '');

  /** Stores what was measured for a case, and adds it (with what the store had) to `layers`. */
  // Each variant's result in its own configuration, then its tuned one (a configuration searched
  // for the layer; bench/measure.ts tunedResult), each measured now or taken from the store.
  const record = (c: LayerCase, m: LayerMeasurement, existing: MeasurementRow[], wanted: string[]): void => {
    const entries: VariantEntry[] = [];
    for (const name of wanted) {
      for (const tuned of [false, true]) {
        const v = m.variants.find((x) => x.variant === name && !!x.config === tuned);
        const old = existing.find((e) => e.variant === name && !!e.config === tuned);
        if (!v && old) {
          entries.push(variantEntry(fromRow(old), true));
          reused++;
        } else if (v) {
          // A measurement cut short by Ctrl-C is not written.
          if (s.interrupted && v.status !== 'completed') continue;
          store.insertMeasurement({
            runId, machineId, layerKey: c.layer.key, variant: v.variant, conditions, status: v.status, reason: v.reason, medianMs: v.stats?.median,
            minMs: v.stats?.min, p10Ms: v.stats?.p10, p90Ms: v.stats?.p90, cv: v.stats?.cv, samples: v.stats?.n, batch: v.batch,
            wallMedianMs: v.wallMedianMs, maxAbsError: v.maxAbsError, samplesMs: v.samplesMs, kernelHash: v.kernelHash, config: v.config, autotune: v.autotune,
          });
          entries.push(variantEntry(v, false));
          measured++;
        }
      }
    }
    layers.push(benchLayer(m, c.layer, counts.get(c.layer.key) ?? 1, entries));
  };

  // What each case needs (the store's results, the variants still to measure, tuning): asked once.
  const todo = cases.map((c) => ({ c, ...variantsToMeasure(s, c, opts) }));
  await compilePending(s, todo, opts);

  // `inference`: every pending variant prepared and checked first, then timed together in rounds.
  if (conditions === 'inference') {
    type Pending = {
      c: LayerCase; m: LayerMeasurement; existing: MeasurementRow[]; wanted: string[]; ready: ReadyVariant[];
      /** Autotuning wanted, and what it needs: the layer's inputs and reference, the configurations' results. */
      tune: boolean; data?: LayerData; tried: VariantResult[];
    };
    const level = opts.autotune ?? 'off';
    let chunk: Pending[] = [];
    let bytes = 0;
    const pending = todo.filter((t) => t.toMeasure.length || t.tune).length;
    if (pending) opts.progress?.phase(`checking ${todo.reduce((a, t) => a + t.toMeasure.length, 0)} variants of ${pending} layers against their references, then timing them`);
    // The indices of `keys` (the chunk's default variants' layers) in the model's order: each once
    // a round without an order, or when one of them is not in it, or an inference's passes would not
    // fit a submission.
    const modelOrder = (keys: string[]): number[] | undefined => {
      if (!opts.order) return undefined;
      const index = new Map(keys.map((key, k) => [key, k]));
      const seq = opts.order.flatMap((key) => (index.has(key) ? [index.get(key)!] : []));
      return seq.length <= MAX_PASSES && new Set(seq).size === keys.length ? seq : undefined;
    };
    // The default variants (what the model runs) in rounds of their own, so their rounds hold what
    // an inference does, then the other variants in theirs.
    const timeChunk = async (done: number): Promise<void> => {
      const ready = chunk.flatMap((p) => p.ready);
      if ((ready.length || chunk.some((p) => p.tune)) && opts.beforeTiming) {
        opts.progress?.step(done, cases.length, `waiting for ${opts.beforeTiming.label} before timing`);
        await s.clock.time(opts.beforeTiming.phase, () => opts.beforeTiming!.wait());
      }
      try {
        const outcomes = new Map<ReadyVariant, Outcome>();
        // A layer is stored as soon as all of its variants have their outcome, so a run killed while
        // timing keeps every layer that had finished.
        const recorded = new Set<Pending>();
        const owner = new Map(chunk.flatMap((p) => p.ready.map((r) => [r, p] as const)));
        const settle = (r: ReadyVariant, o: Outcome): void => {
          outcomes.set(r, o);
          const p = owner.get(r)!;
          if (recorded.has(p) || p.tune || !p.ready.every((x) => outcomes.has(x))) return;
          recorded.add(p);
          for (const x of p.ready) p.m.variants.push(variantResult(x, outcomes.get(x)!));
          record(p.c, p.m, p.existing, p.wanted);
        };
        // Each layer's default variant, by the layer's key.
        const defaults = new Map(chunk.flatMap((p) => p.ready.filter((r) => r.variant === p.m.defaultVariant).map((r) => [r, p.c.layer.key] as const)));
        // The other variants race their layer's default (stopping.ts RACE_FACTOR): timed to find the
        // fastest, one slower than twice the default on every sample stops there.
        const defaultMs = new Map<string, number>();
        const raceMs = (r: ReadyVariant): number | undefined => {
          const key = owner.get(r)!.c.layer.key;
          const ms = defaultMs.get(key);
          return ms === undefined ? undefined : RACE_FACTOR * ms;
        };
        for (const [what, group] of [['default', [...defaults.keys()]], ['other', ready.filter((r) => !defaults.has(r))]] as const) {
          if (!group.length) continue;
          if (what === 'other') {
            for (const [r, key] of defaults) {
              const o = outcomes.get(r);
              if (o?.status === 'completed') defaultMs.set(key, trimmedMean(o.samplesMs));
            }
          }
          // What the model runs, paired in time with its end-to-end runs (interleave.ts).
          const il = what === 'default' ? opts.interleave : undefined;
          if (il) await il.begin(chunk.filter((p) => p.ready.length).length / Math.max(1, pending));
          const groupTiming = what === 'other' ? bestTiming : timing;
          const out = await s.clock.time('timing', () => s.timer.timeRounds(group.map((r) => (what === 'other' ? { ...r.item, raceMs: raceMs(r) } : r.item)), il ? { ...groupTiming, minPassUs: il.submissionUs(timing.minPassUs) } : groupTiming, {
            ...il?.hooks,
            stop: () => s.interrupted || !!s.ctx.lost,
            onProgress: (stopped, n) => opts.progress?.step(done, cases.length, `timing ${n} ${what} variants of ${chunk.length} layers in rounds: ${stopped}/${n} settled`),
            onSettled: (k, o) => settle(group[k], o),
          }, what === 'default' ? modelOrder(group.map((r) => defaults.get(r)!)) : undefined));
          group.forEach((r, k) => { if (!outcomes.has(r)) settle(r, out[k]); });
        }
        await tuneChunk(chunk.filter((p) => p.tune), outcomes, done);
        for (const p of chunk) {
          if (recorded.has(p)) continue;
          for (const r of p.ready) p.m.variants.push(variantResult(r, outcomes.get(r)!));
          record(p.c, p.m, p.existing, p.wanted);
        }
      } finally {
        for (const r of ready) r.release();
        chunk = [];
        bytes = 0;
      }
    };
    /**
     * Autotuning, after the chunk's variants are timed: each tuned layer's fastest tunable variant
     * (timed now or stored) in its other configurations, each checked, then raced in rounds against
     * the variant's own time (TUNE_RACE_FACTOR); the fastest becomes the layer's tuned result.
     */
    const tuneChunk = async (tuning: Pending[], outcomes: Map<ReadyVariant, Outcome>, done: number): Promise<void> => {
      const candidates: Array<{ p: Pending; t: TuneTarget; r: ReadyVariant }> = [];
      const targets = new Map<Pending, TuneTarget>();
      try {
        for (const p of tuning) {
          const kernel = kernelFor(p.c.layer.op)!;
          const results = [...p.m.variants, ...p.ready.map((r) => variantResult(r, outcomes.get(r)!)), ...p.existing.filter((e) => !e.config).map(fromRow)];
          const t = tuneTarget(kernel, p.c, s.runner.caps, level, results);
          if (!t || !p.data) continue;
          targets.set(p, t);
          for (const [k, config] of t.configs.entries()) {
            if (s.interrupted || s.ctx.lost) break;
            opts.progress?.step(done, cases.length, `${p.c.layer.op} ${p.c.layer.key} · ${t.base.variant} ${configText(config)} (autotuning, checking ${k + 1}/${t.configs.length})`);
            const r = await s.clock.time('check', () => prepareVariant(s.runner, kernel, p.c, t.base.variant, p.data!.inputs, p.data!.want, conditions,
              counts.get(p.c.layer.key), checkMemo(s, p.c), config));
            if ('item' in r) candidates.push({ p, t, r });
            else p.tried.push(r);
          }
        }
        if (candidates.length && !s.interrupted && !s.ctx.lost) {
          const out = await s.clock.time('timing', () => s.timer.timeRounds(candidates.map(({ t, r }) => ({ ...r.item, raceMs: TUNE_RACE_FACTOR * t.base.stats.trimmedMean })), bestTiming, {
            stop: () => s.interrupted || !!s.ctx.lost,
            onProgress: (stopped, n) => opts.progress?.step(done, cases.length, `autotuning: timing ${n} configurations of ${targets.size} layers in rounds: ${stopped}/${n} settled`),
          }));
          candidates.forEach(({ p, r }, k) => p.tried.push(variantResult(r, out[k])));
        }
      } finally {
        for (const { r } of candidates) r.release();
      }
      for (const [p, t] of targets) p.m.variants.push(tunedResult(t, p.tried));
      for (const p of tuning) p.tune = false;
    };
    for (const [i, { c, existing, wanted, toMeasure, tune }] of todo.entries()) {
      if (s.interrupted || s.ctx.lost) break;
      if (!toMeasure.length && !tune) {
        record(c, fromStore(c), existing, wanted);
        continue;
      }
      const { m, ready, data } = await s.clock.time('check', () => prepareLayer(s.runner, c, {
        conditions, only: toMeasure, occurrences: counts.get(c.layer.key), memo: checkMemo(s, c), onVariant: (v) => opts.progress?.step(i + 1, cases.length, `${c.layer.op} ${c.layer.key} · ${v} (checking)${eta(i)}`),
      }));
      bytes += ready.reduce((a, r) => a + r.bytes, 0);
      chunk.push({ c, m, existing, wanted, ready, tune, data: tune ? data : undefined, tried: [] });
      if (bytes >= CHUNK_BYTES || chunk.reduce((a, p) => a + p.ready.length, 0) >= CHUNK_ITEMS) await timeChunk(i + 1);
    }
    if (chunk.length) await timeChunk(cases.length);
  } else {
    // Here each variant is checked and timed in turn: nothing runs beside them.
    if (opts.beforeTiming && todo.some((t) => t.toMeasure.length || t.tune)) await s.clock.time(opts.beforeTiming.phase, () => opts.beforeTiming!.wait());
    for (const [i, { c, existing, wanted, toMeasure, tune }] of todo.entries()) {
      if (s.interrupted || s.ctx.lost) break;
      if (!toMeasure.length && !tune) {
        record(c, fromStore(c), existing, wanted);
        continue;
      }
      const m = await s.clock.time('timing', () => measureLayer(s.runner, s.timer, c, {
        timing,
        conditions,
        only: toMeasure,
        autotune: tune ? opts.autotune : 'off',
        known: existing.filter((e) => !e.config).map(fromRow),
        memo: checkMemo(s, c),
        onVariant: (v) => opts.progress?.step(i + 1, cases.length, `${c.layer.op} ${c.layer.key} · ${v}${eta(i)}`),
      }));
      record(c, m, existing, wanted);
    }
  }
  opts.progress?.done();
  // In the cases' order, whatever order their timings finished in.
  const at = new Map(cases.map((c, i) => [c.layer.key, i]));
  layers.sort((a, b) => at.get(a.key)! - at.get(b.key)!);
  if (!s.interrupted && !s.ctx.lost) store.finishRun({ id: runId, machineId, startedAt, options: { variants: opts.variants, force: opts.force, conditions }, measurements: measured });
  return { runId, layers, measured, reused };
}
