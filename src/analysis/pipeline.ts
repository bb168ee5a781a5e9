/**
 * `dlprof analyze` as a pipeline of stages, in this order:
 *
 *  1. measure: parse the model, benchmark the layers the store lacks (with end-to-end runs between
 *     or before them), run the model end to end on the default variants and check its outputs
 *     against onnxruntime (measureLayers, measuredRun);
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
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_TIMING, type TimingOptions } from '../bench/harness.js';
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
import type { BenchLayer } from '../store/results.js';
import { autotuneLevel, ensureProbe, machineInfo, measureCases, openSession, pendingCases, probePassOverhead, recordModels, type Session } from '../store/session.js';
import { DlprofError, EXIT } from '../util/errors.js';
import type { Progress } from '../util/progress.js';
import { hostShapeMs, splitFramework } from './framework.js';
import { fusedCase } from './fused-layers.js';
import { findFusions, type FusionGroup } from './fusion.js';
import { fusionTimes, idealLatency, idealNodeTime, type FusionTime } from './ideal.js';
import { latencies, type LayerTime } from './latency.js';
import { bestTimes, fasterF16, layerTimes, type VariantTime } from './layer-times.js';
import { fusionNote, latencyNotes, measurementNotes, modelNotes } from './notes.js';
import { analyzeResult, measuredLatency, outputCheck, reconstructionError, type Correctness } from './result.js';
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
  /** Re-measure layers the store already has results for. */
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
  timing: TimingOptions;
  endToEnd: { repeats: number; budgetMs: number };
  /** The notes, in the order the stages add them. */
  notes: string[];
  /** The model bound for the end-to-end runs: between the layer benchmarks (when it fits beside them) and after them, bound once. */
  bound?: BoundModel;
  /** onnxruntime's framework baseline, started with the layer benchmarks (measureLayers), measured by frameworkRun. */
  ortRun?: OrtFrameworkRun;
}

/** Analyzes a model: measures what the store lacks, runs the stages, and returns the result (progress on stderr). */
export async function analyzeModel(o: AnalyzeOptions, progress: Progress): Promise<AnalyzeResult> {
  const t0 = performance.now();
  const g = loadGraph(o.model, o.bindings);
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
    a = {
      o, progress, s, g, inputs, chooseDefault, can: canRun(s.runner, g, chooseDefault), conditions, notes, autotune: autotuneLevel(s, o.autotune),
      timing: { ...DEFAULT_TIMING, budgetMs: o.budgetMs }, endToEnd: { repeats: o.runs, budgetMs: o.runBudgetMs },
    };

    // 1. measure
    const bench = await measureLayers(a, cases, probed);
    if (s.interrupted) throw new DlprofError('interrupted; finished layer measurements were kept', 'E_INTERRUPTED', EXIT.interrupted);
    const passOverheadMs = s.store.latestProbe(s.machineId, 'pass-overhead')?.value ?? 0;
    // 2. latencies
    const { times, f16 } = layerTimes(bench.layers, passOverheadMs);
    notes.push(...measurementNotes(bench.layers, times));
    const { run, correctness, reference } = await measuredRun(a);
    const faster = fasterF16(f16, times);
    const half = await f16WhatIf(a, times, faster, reference, run);
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
    const measured = measuredLatency({ duringTotalsMs: bench.duringTotalsMs, before: bench.before, after: run });
    const split = framework.latency ? splitFramework(g, framework.latency, framework.profile, (id) => times.get(g.nodes[id].key)?.defaultMs, passOverheadMs) : null;
    // 6. suggestions, notes, result
    const suggestions = suggest({
      graph: g, times, f16: f16Ideal, fusions, sequentialLowerBoundMs: lat.sequentialLowerBoundMs,
      parallelLowerBoundMs: lat.parallelLowerBoundMs, criticalPath: lat.criticalPath, measuredMs: measured.measuredMs ?? lat.reconstructedMs,
      framework: frameworkFigures(split), dlprofKernelMs: lat.reconstructedMs, hostShapeMs: hostShapeMs(g, framework.profile),
    });
    notes.push(...latencyNotes(measured, { reconstructionError: reconstructionError(lat.reconstructedMs, measured.measuredMs), sequentialLowerBoundMs: lat.sequentialLowerBoundMs }));
    const machine = machineInfo(s);
    process.stderr.write(`analysis ${s.clock.text()}\n`);
    return analyzeResult({
      graph: g, analysisTime: s.clock.summary(), machine, conditions, autotune: a.autotune, times, run, measured, latencies: lat, idealMs: ideal.length,
      f16: half, fusionGroups: groups.length, fusions, correctness, framework: framework.latency, split, suggestions, notes,
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
 * different machine state. onnxruntime's framework baseline is started here, to compile beside
 * the layer checks.
 */
async function measureLayers(a: Analysis, cases: LayerCase[], probed: boolean): Promise<{
  layers: BenchLayer[]; before: ModelRun | null; duringTotalsMs: number[] | null;
}> {
  const { o, s, g, progress } = a;
  let before: ModelRun | null = null;
  let during: Interleaver | undefined;
  if (pendingCases(s, cases, { force: o.force, conditions: a.conditions }) > 0) {
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
  }
  // onnxruntime's WebGPU EP (the framework baseline) compiles its programs on its own device and
  // threads: on a host with spare cores it starts now and compiles beside dlprof's checks
  // (startOrtFramework decides), and measureCases waits for it before any timing.
  const ortRun = a.ortRun = o.framework ? startOrtFramework(o.model, a.inputs, { runs: Math.max(5, o.runs) }) : undefined;
  const ortWarm = ortRun && { label: "onnxruntime's WebGPU execution provider to compile its programs", wait: () => ortRun.ready, phase: 'onnxruntime' as const };
  const m = await measureCases(s, cases, { force: o.force, order: g.nodes.map((n) => n.key), progress, timing: a.timing, conditions: a.conditions, autotune: a.autotune, interleave: during, beforeTiming: ortWarm });
  return { layers: m.layers, before, duringTotalsMs: during?.totalsMs.length ? during.totalsMs : null };
}

/** The measured end-to-end run, on default variants, and its outputs checked against onnxruntime's (else dlprof's CPU references). */
async function measuredRun(a: Analysis): Promise<{
  run: ModelRun | null; correctness: Correctness | null; reference: Map<string, HostTensor> | undefined;
}> {
  const { s, g, progress, notes } = a;
  if (!a.can.ok) {
    notes.push(`the whole model cannot run on dlprof's kernels: ${a.can.reason}`);
    return { run: null, correctness: null, reference: undefined };
  }
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
  const reference = await outputReference(a);
  if (!reference) return { run, correctness: null, reference: undefined };
  const { correctness, note } = outputCheck(g.outputs, run.outputs, reference.outputs, reference.name);
  if (note) {
    notes.push(note);
    process.stderr.write(`dlprof: ${note}\n`);
  }
  return { run, correctness, reference: reference.outputs };
}

/** The outputs to check the model's against: onnxruntime's (CPU), else dlprof's CPU references; undefined when neither can run it. */
async function outputReference(a: Analysis): Promise<{ outputs: Map<string, HostTensor>; name: string } | undefined> {
  const { o, s, g, progress, notes } = a;
  try {
    return { outputs: await s.clock.time('onnxruntime', () => ortOutputs(o.model, a.inputs)), name: 'onnxruntime-node (CPU execution provider)' };
  } catch (e) {
    // Models with ops onnxruntime does not know (dlprof's own domain, mmcv's) are checked
    // against dlprof's CPU reference implementations instead.
    const why = (e as Error).message.split('\n')[0];
    try {
      const outputs = await referenceRun(g, a.inputs, (i, n) => progress.step(i + 1, n, 'output check on the CPU references'));
      progress.done();
      notes.push(`onnxruntime (CPU) could not run the model (${why}); outputs were checked against dlprof's CPU reference implementations`);
      return { outputs, name: "dlprof's CPU reference implementations, layer by layer (onnxruntime could not run the model)" };
    } catch (e2) {
      notes.push(`onnxruntime (CPU) could not run the model for the output check (${why}), nor could the CPU references: ${(e2 as Error).message}`);
      return undefined;
    }
  }
}

/** f16 where it is faster and the model stays within tolerance (checked by running it). */
async function f16WhatIf(a: Analysis, times: Map<string, LayerTime>, faster: Map<string, VariantTime>, reference: Map<string, HostTensor> | undefined,
  run: ModelRun | null): Promise<{ used: boolean; reason: string }> {
  const { s, g } = a;
  const reason = s.ctx.f16 ? 'no f16 kernel variant is faster'
    : `the adapter has no shader-f16${s.ctx.unlocked ? '' : " (Dawn may keep it behind a toggle: see 'dlprof devices', --unlock-features)"}`;
  if (!(faster.size && reference && run)) return { used: false, reason };
  const choose = (c: LayerCase): string => faster.get(c.layer.key)?.variant ?? times.get(c.layer.key)?.bestVariant ?? a.chooseDefault(c);
  const half = canRun(s.runner, g, choose).ok ? await runModel(s.runner, g, a.inputs, choose, { repeats: 1 }) : null;
  const ok = !!half && g.outputs.every((o) => {
    const got = half.outputs.get(o.name);
    const want = reference.get(o.name);
    return !!got && !!want && compareOutputs([got], [want], undefined, F16_MODEL_TOLERANCE).ok;
  });
  return { used: ok, reason: ok ? `${faster.size} layers use f16 kernels; outputs within rtol ${F16_MODEL_TOLERANCE.rtol} of float32` : `outputs in f16 exceed rtol ${F16_MODEL_TOLERANCE.rtol}` };
}

/** onnxruntime's WebGPU execution provider on the same model: profiled, then timed. */
async function frameworkRun(a: Analysis): Promise<{ latency: FrameworkResult | null; profile: OrtProfile | { error: string } }> {
  const { s, progress, notes, ortRun } = a;
  let latency: FrameworkResult | null = null;
  let profile: OrtProfile | { error: string } = { error: 'not profiled' };
  if (ortRun) {
    try {
      progress.phase("onnxruntime's WebGPU execution provider on the same model (profiled, then timed)");
      ({ latency, profile } = await s.clock.time('onnxruntime', () => ortRun.measure()));
      if ('error' in profile) notes.push(`onnxruntime's kernel and host time are not told apart: ${profile.error}`);
      progress.done();
    } catch (e) {
      notes.push(`onnxruntime's WebGPU execution provider could not run the model: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { latency, profile };
}

/** Each fusable chain's fused layer, measured like any layer (the unique ones once), and its time against its nodes'. */
async function fusionWhatIfs(a: Analysis, passOverheadMs: number, nodeTime: (id: number) => number): Promise<{ groups: FusionGroup[]; fusions: FusionTime[] }> {
  const { o, s, g, progress } = a;
  const groups = findFusions(g);
  const fusedCases = groups.map((f) => fusedCase(g, f));
  const uniqueFused = [...new Map(fusedCases.filter((c): c is NonNullable<typeof c> => !!c).map((c) => [c.layer.key, c])).values()];
  const fm = uniqueFused.length ? await measureCases(s, uniqueFused, { force: o.force, progress, timing: a.timing, conditions: a.conditions, autotune: a.autotune }) : undefined;
  return { groups, fusions: fusionTimes(groups, fusedCases.map((c) => c?.layer.key), bestTimes(fm?.layers ?? [], passOverheadMs), nodeTime) };
}
