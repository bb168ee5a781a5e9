/**
 * `dlprof analyze` as a pipeline of stages, in this order:
 *
 *  1. measure: parse the model, benchmark the layers the store lacks (with end-to-end runs between
 *     or before them), run the model end to end on the default variants and check its outputs
 *     against onnxruntime (measureLayers, endToEnd);
 *  2. latencies: layer times from the benchmarks, less the pass overhead (layer-times.ts), and the
 *     f16 what-if, a re-run with the faster f16 variants (f16WhatIf);
 *  3. bounds: reconstructed latency and the sequential and parallel lower bounds (latency.ts);
 *  4. fusion what-ifs: each fusable chain's fused layer measured (fusionWhatIfs) and the ideal
 *     latency with those that pay off (ideal.ts);
 *  5. framework comparison: onnxruntime's WebGPU execution provider on the same model
 *     (frameworkRun), split into kernel and host time and matched to the layers (framework.ts);
 *  6. suggestions (suggest.ts), notes (notes.ts) and the result (result.ts).
 *
 * The stages here touch the GPU, the store and onnxruntime; the arithmetic is in the pure modules
 * they call. The steps run in the order the measurements need: onnxruntime compiles beside the
 * layer checks, and nothing runs beside a timing.
 *
 * When every layer comes from the store (and not --force), so do the model-level measurements
 * stored for the same model, code, conditions and settings: the end-to-end runs, the f16 re-run
 * and onnxruntime's run (storedOr; store/model-runs.ts). A warm analysis then runs nothing.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_TIMING } from '../bench/harness.js';
import { fitsBeside, Interleaver } from '../bench/interleave.js';
import { effectiveConditions, type Conditions } from '../bench/measure.js';
import { bindModel, canRun, layerCase, modelInputs, referenceRun, runModel, type BoundModel, type ModelRun, type RunPlan } from '../bench/model.js';
import { ortOutputs, startOrtFramework, type FrameworkResult, type OrtFrameworkRun, type OrtProfile } from '../bench/ort.js';
import { compareOutputs } from '../bench/verify.js';
import type { AdapterSelection } from '../gpu/device.js';
import { dedupe } from '../ir/dedupe.js';
import type { ModelGraph } from '../ir/graph.js';
import { loadGraph } from '../kernels/model.js';
import { kernelFor } from '../kernels/registry.js';
import type { AutotuneLevel, HostTensor, LayerCase } from '../kernels/types.js';
import type { Bindings } from '../onnx/shapes/engine.js';
import { defaultDbPath } from '../store/db.js';
import { codeIdentity, modelIdentity, onnxruntimeIdentity, storedModelRun, storeModelRun, type ModelRunKey } from '../store/model-runs.js';
import type { BenchLayer } from '../store/results.js';
import { autotuneLevel, BEST_SAMPLES, ensureProbe, machineInfo, type MeasureOptions, measureCases, openSession, pendingCases, probePassOverhead, recordModels, type Session } from '../store/session.js';
import { DlprofError, EXIT } from '../util/errors.js';
import type { Progress } from '../util/progress.js';
import { hostShapeMs, splitFramework } from './framework.js';
import { fusedCase } from './fused-layers.js';
import { findFusions, type FusionGroup } from './fusion.js';
import { fusionTimes, idealLatency, idealNodeTime, type FusionTime } from './ideal.js';
import { latencies, type LayerTime } from './latency.js';
import { bestTimes, fasterF16, layerTimes, type VariantTime } from './layer-times.js';
import { fusionNote, latencyNotes, measurementNotes, modelNotes } from './notes.js';
import { analyzeResult, measuredLatency, outputCheck, reconstructionError } from './result.js';
import { endToEndRecord, measuredAtText, reusedWhat, reuseNote, type EndToEndRecord, type F16Record, type FrameworkRecord, type Reused } from './stored-runs.js';
import { frameworkFigures, suggest } from './suggest.js';
import type { AnalyzeResult } from './types.js';

export interface AnalyzeOptions {
  /** The ONNX file, and how its inputs are bound (--dim, --shape, --value, --defaults). */
  model: string;
  bindings: Bindings;
  gpu: AdapterSelection;
  /** The results database; default defaultDbPath(). */
  db?: string;
  /** dlprof's version: part of the machine's identity in the store. */
  version: string;
  /** Re-measure layers the store already has results for, and the model-level runs. */
  force?: boolean;
  /** Timed end-to-end runs, at least; repeated past that until `runBudgetMs` has passed. */
  runs: number;
  runBudgetMs: number;
  /** Time budget per variant measurement, ms. */
  budgetMs: number;
  conditions: Conditions;
  /** Measure onnxruntime's WebGPU execution provider on the same model. */
  framework: boolean;
  /** Probe the machine's peaks: true always, false never, undefined when the store lacks a probe. */
  probe?: boolean;
  /** --autotune; undefined: the adapter's default (store/session.ts autotuneLevel). */
  autotune?: string;
}

/**
 * Whole-model f16 tolerance: outputs computed with f16 kernels may differ from float32 ones by
 * ~2⁻¹¹ per operation, compounding over the layers; 5% of the output's magnitude keeps the
 * classification-level result while catching overflow (inf/NaN) and badly conditioned layers.
 */
const F16_MODEL_TOLERANCE = { rtol: 5e-2, atol: 5e-2 };

/** What the stages of one analysis share. */
interface Analysis {
  o: AnalyzeOptions;
  progress: Progress;
  s: Session;
  g: ModelGraph;
  inputs: Map<string, HostTensor>;
  chooseDefault: (c: LayerCase) => string;
  can: RunPlan;
  conditions: Conditions;
  autotune: AutotuneLevel;
  /**
   * How its layers are measured, the same for the model's layers and the fused ones, and for what
   * is counted as pending (every layer from the store decides `reuse`): --force, the timing and its
   * conditions, autotuning, the cap on the other variants' samples.
   */
  measure: Pick<MeasureOptions, 'force' | 'progress' | 'timing' | 'conditions' | 'autotune' | 'bestSamples'>;
  endToEnd: { repeats: number; budgetMs: number; layerBudgetMs: number };
  /** The notes, in the order the stages add them. */
  notes: string[];
  /** The model bound for the end-to-end runs: between the layer benchmarks (when it fits beside them) and after them, bound once. */
  bound?: BoundModel;
  /** onnxruntime's framework baseline, started with the layer benchmarks (measureLayers), measured by frameworkRun. */
  ortRun?: OrtFrameworkRun;
  /** The model's identity in the store (store/model-runs.ts modelIdentity). */
  modelId: string;
  /** Whether stored model-level measurements stand in for running: every layer came from the store, and no --force (measureLayers). */
  reuse: boolean;
  /** The stored measurements used instead of measuring, and when they were taken. */
  reused: Reused[];
  /** The outputs to check the model's against, computed when first asked for (outputReference). */
  reference: () => Promise<Reference>;
}

/** The output check's reference: its outputs and name, unless neither onnxruntime nor dlprof's CPU references ran the model; a note on the fallback. */
interface Reference {
  outputs?: Map<string, HostTensor>;
  name?: string;
  note: string | null;
}

/** The model run on dlprof's kernels: the measured run (null when the model cannot run) and the runs beside the benchmarks, with the output check. */
type EndToEnd = Omit<EndToEndRecord, 'run'> & { run: EndToEndRecord['run'] | null };

/** Analyzes a model: measures what the store lacks, runs the stages, and returns the result (progress on stderr). */
export async function analyzeModel(o: AnalyzeOptions, progress: Progress): Promise<AnalyzeResult> {
  const t0 = performance.now();
  const g = loadGraph(o.model, o.bindings);
  const modelId = modelIdentity(g);
  const parseMs = performance.now() - t0;
  const notes = modelNotes(g);
  const cases = dedupe([g]).map((u) => layerCase(g, u.layer.key));
  const s = await openSession(o.gpu, o.db ?? defaultDbPath(), o.version);
  s.clock.add('parse', parseMs);
  const { conditions, note } = effectiveConditions(o.conditions, s.ctx.timestamps);
  if (note) notes.push(note);
  let a: Analysis | undefined;
  try {
    recordModels(s, [g]);
    const probed = await ensureProbe(s, o.probe);
    const inputs = modelInputs(g);
    const chooseDefault = (c: LayerCase): string => kernelFor(c.layer.op)?.defaultVariant(c) ?? '';
    let reference: Promise<Reference> | undefined;
    const autotune = autotuneLevel(s, o.autotune);
    a = {
      o, progress, s, g, inputs, chooseDefault, can: canRun(s.runner, g, chooseDefault), conditions, notes, autotune,
      measure: { force: o.force, progress, timing: { ...DEFAULT_TIMING, budgetMs: o.budgetMs }, conditions, autotune, bestSamples: BEST_SAMPLES },
      endToEnd: { repeats: o.runs, budgetMs: o.runBudgetMs, layerBudgetMs: kernelRunsBudgetMs(o) },
      modelId, reuse: false, reused: [], reference: () => (reference ??= outputReference(a!)),
    };

    // 1. measure
    const bench = await measureLayers(a, cases, probed);
    if (s.interrupted) throw new DlprofError('interrupted; finished layer measurements were kept', 'E_INTERRUPTED', EXIT.interrupted);
    const passOverheadMs = s.store.latestProbe(s.machineId, 'pass-overhead')?.value ?? 0;
    // 2. latencies
    const { times, f16 } = layerTimes(bench.layers, passOverheadMs);
    notes.push(...measurementNotes(bench.layers, times));
    const e2e = await endToEnd(a, bench);
    const faster = fasterF16(f16, times);
    const half = await f16WhatIf(a, times, faster, e2e.run);
    const framework = await frameworkRun(a);
    // 3. bounds
    const lat = latencies(g, times);
    // 4. fusion what-ifs, and the ideal latency
    const f16Ideal = half.used ? faster : undefined;
    const nodeTime = idealNodeTime(g, times, f16Ideal);
    const { groups, fusions } = await fusionWhatIfs(a, passOverheadMs, nodeTime);
    const ideal = idealLatency(g, fusions, nodeTime);
    const unfused = fusionNote(groups.length, fusions.length);
    if (unfused) notes.push(unfused);
    // 5. framework comparison
    const measured = measuredLatency({ duringTotalsMs: e2e.duringTotalsMs, before: e2e.before, after: e2e.run });
    const split = framework.latency ? splitFramework(g, framework.latency, framework.profile, (id) => times.get(g.nodes[id].key)?.defaultMs, passOverheadMs) : null;
    // 6. suggestions, notes, result
    const suggestions = suggest({
      graph: g, times, f16: f16Ideal, fusions, sequentialLowerBoundMs: lat.sequentialLowerBoundMs,
      parallelLowerBoundMs: lat.parallelLowerBoundMs, criticalPath: lat.criticalPath, measuredMs: measured.measuredMs ?? lat.reconstructedMs,
      framework: frameworkFigures(split), dlprofKernelMs: lat.reconstructedMs, hostShapeMs: hostShapeMs(g, framework.profile),
    });
    notes.push(...latencyNotes(measured, { reconstructionError: reconstructionError(lat.reconstructedMs, measured.measuredMs), sequentialLowerBoundMs: lat.sequentialLowerBoundMs }));
    const reusedNote = reuseNote(a.reused);
    if (reusedNote) notes.push(reusedNote);
    const machine = machineInfo(s);
    process.stderr.write(`analysis ${s.clock.text()}\n`);
    return analyzeResult({
      graph: g, analysisTime: s.clock.summary(), reused: a.reused, machine, conditions, autotune: a.autotune, times, run: e2e.run, measured, latencies: lat,
      idealMs: ideal.length, f16: half, fusionGroups: groups.length, fusions, correctness: e2e.correctness, framework: framework.latency, split, suggestions, notes,
    });
  } finally {
    a?.bound?.release();
    await a?.ortRun?.close();
    s.close();
  }
}

/**
 * The layer benchmarks. When layers are benchmarked now, the model also runs while they are: in
 * blocks between the default variants' rounds (`inference`, which has timestamps; a model that
 * fits beside them; interleave.ts), else before them. On a machine whose speed drifts (a shared
 * VM: 10–20 % within seconds on ours) a measurement taken only after them compares with a
 * different machine state. When none is (every layer from the store, no --force), stored
 * model-level measurements may stand in for the runs (`a.reuse`). onnxruntime's framework
 * baseline is started here, to compile beside the layer checks, unless its stored run will do.
 */
async function measureLayers(a: Analysis, cases: LayerCase[], probed: boolean): Promise<{
  layers: BenchLayer[]; before: ModelRun | null; duringTotalsMs: number[] | null;
}> {
  const { o, s, g, progress } = a;
  let before: ModelRun | null = null;
  let during: Interleaver | undefined;
  if (pendingCases(s, cases, a.measure) > 0) {
    // The pass overhead subtracted from these benchmarks, measured next to them (unless just
    // probed, or --no-probe): one probe kept from a slow moment of a drifting machine would
    // bias every later analysis (on our VM 19.8 µs once, ~2.5 µs usually).
    if (!probed && o.probe === undefined) await probePassOverhead(s);
    if (a.can.ok && a.conditions === 'inference' && fitsBeside(g)) {
      const bound = await s.clock.time('end-to-end', () => bindModel(s.runner, g, a.inputs, a.chooseDefault, (w) => progress.step(1, 1, `end-to-end runs between the layer benchmarks: ${w}`)));
      a.bound = bound;
      during = new Interleaver(bound, { ...a.endToEnd, onProgress: (w) => progress.step(1, 1, w) });
    } else if (a.can.ok) {
      before = await s.clock.time('end-to-end', () => runModel(s.runner, g, a.inputs, a.chooseDefault, { ...a.endToEnd, perLayer: false }, (w) => progress.step(1, 1, `end-to-end run before the layer benchmarks: ${w}`)));
      progress.done();
    }
  } else {
    a.reuse = !o.force;
  }
  // onnxruntime's WebGPU EP (the framework baseline) compiles its programs in a process of its own
  // (startOrtFramework), beside dlprof's checks; measureCases waits for it before any timing.
  const ortRun = a.ortRun = o.framework && !(a.reuse && storedModelRun(s, frameworkKey(a))) ? startOrtFramework(o.model, a.inputs, { runs: frameworkRuns(o), profileBudgetMs: kernelRunsBudgetMs(o) }) : undefined;
  const ortWarm = ortRun && { label: "onnxruntime's WebGPU execution provider to compile its programs", wait: () => ortRun.ready, phase: 'onnxruntime' as const };
  const m = await measureCases(s, cases, { ...a.measure, order: g.nodes.map((n) => n.key), interleave: during, beforeTiming: ortWarm });
  return { layers: m.layers, before, duringTotalsMs: during?.totalsMs.length ? during.totalsMs : null };
}

/**
 * A model-level measurement from the store when this analysis may reuse one (`a.reuse`) and one of
 * `key` is stored; else `measure`'s, stored for next time (unless undefined: nothing measured).
 */
async function storedOr<T>(a: Analysis, key: ModelRunKey, measure: () => Promise<T | undefined>): Promise<T | undefined> {
  const stored = a.reuse ? storedModelRun<T>(a.s, key) : undefined;
  if (stored) {
    a.reused.push({ kind: key.kind, measuredAt: stored.measuredAt });
    a.progress.phase(`${reusedWhat(key.kind)}: reused from the store (measured ${measuredAtText(stored.measuredAt)}; --force measures again)`);
    return stored.payload;
  }
  const measured = await measure();
  if (measured !== undefined && !a.s.interrupted) storeModelRun(a.s, key, measured);
  return measured;
}

/** The store's keys of this analysis's model-level measurements (store/model-runs.ts): what each depends on. */
function endToEndKey(a: Analysis): ModelRunKey {
  return {
    kind: 'end-to-end', model: a.modelId, code: codeIdentity(a.s, a.g, a.chooseDefault), conditions: a.conditions,
    settings: { runs: a.o.runs, runBudgetMs: a.o.runBudgetMs, reference: onnxruntimeIdentity('cpu') },
  };
}

function f16Key(a: Analysis, choose: (c: LayerCase) => string): ModelRunKey {
  return { kind: 'f16-what-if', model: a.modelId, code: codeIdentity(a.s, a.g, choose), conditions: '', settings: { reference: onnxruntimeIdentity('cpu') } };
}

/** onnxruntime's run depends on neither dlprof's kernels nor how it times its layers. */
function frameworkKey(a: Analysis): ModelRunKey {
  return { kind: 'framework', model: a.modelId, code: onnxruntimeIdentity('webgpu'), conditions: '', settings: { runs: frameworkRuns(a.o), profileBudgetMs: kernelRunsBudgetMs(a.o) } };
}

/** onnxruntime's profiled and timed runs: --runs, at least 5. */
const frameworkRuns = (o: AnalyzeOptions): number => Math.max(5, o.runs);

/**
 * The runs that time each kernel in context (dlprof's layers in a pass each, onnxruntime's
 * profiled runs) go past their first 3 only within a quarter of --run-budget-ms: a run of a large
 * model on a software adapter takes seconds (resnet50: 2.1 s on lavapipe), and its kernels' times
 * settle in fewer runs than the model's.
 */
const kernelRunsBudgetMs = (o: AnalyzeOptions): number => o.runBudgetMs / 4;

/**
 * The model run end to end on the default variants with its output check, and the runs beside the
 * layer benchmarks: stored ones when this analysis may reuse them, else measured (measuredRun).
 */
async function endToEnd(a: Analysis, bench: { before: ModelRun | null; duringTotalsMs: number[] | null }): Promise<EndToEnd> {
  if (!a.can.ok) {
    a.notes.push(`the whole model cannot run on dlprof's kernels: ${a.can.reason}`);
    return { run: null, duringTotalsMs: null, before: null, correctness: null, checkNote: null, referenceNote: null };
  }
  const r = (await storedOr(a, endToEndKey(a), async () => {
    const { run, check } = await measuredRun(a);
    return endToEndRecord(run, bench, check);
  }))!;
  for (const note of [r.referenceNote, r.checkNote]) if (note) a.notes.push(note);
  if (r.checkNote) process.stderr.write(`dlprof: ${r.checkNote}\n`);
  return r;
}

/** The measured end-to-end run, on default variants, and its outputs checked against onnxruntime's (else dlprof's CPU references). */
async function measuredRun(a: Analysis): Promise<{ run: ModelRun; check: Pick<EndToEndRecord, 'correctness' | 'checkNote' | 'referenceNote'> }> {
  const { s, g, progress } = a;
  // The model bound for the runs between the benchmarks runs again: binding it a second time
  // would hold it twice (sparse-dnn-4096, 7.7 GB, ran a 24 GB machine out of memory so).
  const onRun = (w: string): void => progress.step(1, 1, `end-to-end run: ${w}`);
  // Nothing runs beside the measured runs.
  const ortRun = a.ortRun;
  if (ortRun) await s.clock.time('onnxruntime', () => ortRun.ready);
  progress.phase('end-to-end runs of the model');
  const run = await s.clock.time('end-to-end', async () => {
    a.bound ??= await bindModel(s.runner, g, a.inputs, a.chooseDefault, onRun);
    return a.bound.time(a.endToEnd, onRun);
  });
  progress.done();
  a.bound?.release();
  a.bound = undefined;
  const reference = await a.reference();
  if (!reference.outputs) return { run, check: { correctness: null, checkNote: null, referenceNote: reference.note } };
  const { correctness, note } = outputCheck(g.outputs, run.outputs, reference.outputs, reference.name!);
  return { run, check: { correctness, checkNote: note, referenceNote: reference.note } };
}

/** The outputs to check the model's against: onnxruntime's (CPU), else dlprof's CPU references; none when neither can run it. */
async function outputReference(a: Analysis): Promise<Reference> {
  const { o, s, g, progress } = a;
  try {
    return { outputs: await s.clock.time('onnxruntime', () => ortOutputs(o.model, a.inputs)), name: 'onnxruntime-node (CPU execution provider)', note: null };
  } catch (e) {
    // Models with ops onnxruntime does not know (dlprof's own domain, mmcv's) are checked
    // against dlprof's CPU reference implementations instead.
    const why = (e as Error).message.split('\n')[0];
    try {
      const outputs = await referenceRun(g, a.inputs, (i, n) => progress.step(i + 1, n, 'output check on the CPU references'));
      progress.done();
      return { outputs, name: "dlprof's CPU reference implementations, layer by layer (onnxruntime could not run the model)",
        note: `onnxruntime (CPU) could not run the model (${why}); outputs were checked against dlprof's CPU reference implementations` };
    } catch (e2) {
      return { note: `onnxruntime (CPU) could not run the model for the output check (${why}), nor could the CPU references: ${(e2 as Error).message}` };
    }
  }
}

/** f16 where it is faster and the model stays within tolerance (checked by running it, or from the store). */
async function f16WhatIf(a: Analysis, times: Map<string, LayerTime>, faster: Map<string, VariantTime>, run: EndToEnd['run']): Promise<F16Record> {
  const { s, g } = a;
  const reason = s.ctx.f16 ? 'no f16 kernel variant is faster'
    : `the adapter has no shader-f16${s.ctx.unlocked ? '' : " (Dawn may keep it behind a toggle: see 'dlprof devices', --unlock-features)"}`;
  if (!(faster.size && run)) return { used: false, reason };
  const choose = (c: LayerCase): string => faster.get(c.layer.key)?.variant ?? times.get(c.layer.key)?.bestVariant ?? a.chooseDefault(c);
  const result = await storedOr<F16Record>(a, f16Key(a, choose), async () => {
    const reference = (await a.reference()).outputs;
    if (!reference) return undefined;
    const half = canRun(s.runner, g, choose).ok ? await s.clock.time('end-to-end', () => runModel(s.runner, g, a.inputs, choose, { repeats: 1, perLayer: false })) : null;
    const ok = !!half && g.outputs.every((o) => {
      const got = half.outputs.get(o.name);
      const want = reference.get(o.name);
      return !!got && !!want && compareOutputs([got], [want], undefined, F16_MODEL_TOLERANCE).ok;
    });
    return { used: ok, reason: ok ? `${faster.size} layers use f16 kernels; outputs within rtol ${F16_MODEL_TOLERANCE.rtol} of float32` : `outputs in f16 exceed rtol ${F16_MODEL_TOLERANCE.rtol}` };
  });
  return result ?? { used: false, reason };
}

/** onnxruntime's WebGPU execution provider on the same model: profiled, then timed (or from the store). */
async function frameworkRun(a: Analysis): Promise<{ latency: FrameworkResult | null; profile: OrtProfile | { error: string } }> {
  const { o, s, progress, notes } = a;
  if (!o.framework) return { latency: null, profile: { error: 'not profiled' } };
  const r = await storedOr<FrameworkRecord>(a, frameworkKey(a), async () => {
    const ortRun = a.ortRun;
    if (!ortRun) return undefined;
    try {
      progress.phase("onnxruntime's WebGPU execution provider on the same model (profiled, then timed)");
      const { latency, profile } = await s.clock.time('onnxruntime', () => ortRun.measure());
      progress.done();
      return latency ? { latency, profile } : undefined;
    } catch (e) {
      notes.push(`onnxruntime's WebGPU execution provider could not run the model: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
  });
  if (!r) return { latency: null, profile: { error: 'not profiled' } };
  if ('error' in r.profile) notes.push(`onnxruntime's kernel and host time are not told apart: ${r.profile.error}`);
  return r;
}

/** Each fusable chain's fused layer, measured like any layer (the unique ones once), and its time against its nodes'. */
async function fusionWhatIfs(a: Analysis, passOverheadMs: number, nodeTime: (id: number) => number): Promise<{ groups: FusionGroup[]; fusions: FusionTime[] }> {
  const { s, g } = a;
  const groups = findFusions(g);
  const fusedCases = groups.map((f) => fusedCase(g, f));
  const uniqueFused = [...new Map(fusedCases.filter((c): c is NonNullable<typeof c> => !!c).map((c) => [c.layer.key, c])).values()];
  const fm = uniqueFused.length ? await measureCases(s, uniqueFused, a.measure) : undefined;
  return { groups, fusions: fusionTimes(groups, fusedCases.map((c) => c?.layer.key), bestTimes(fm?.layers ?? [], passOverheadMs), nodeTime) };
}
