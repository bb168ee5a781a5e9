/**
 * The analysis's result from its measurements (pure functions): the measured end-to-end latency
 * and its drift and spread, the output check's verdict, per-layer rows with their roofline, the
 * split of the time by op, and the JSON document (types.ts) they make up.
 */
import type { ModelRun } from '../bench/model.js';
import type { FrameworkResult } from '../bench/ort.js';
import { relativeSpread, trimmedMean } from '../bench/stats.js';
import { compareOutputs, MODEL_TOLERANCE } from '../bench/verify.js';
import type { AutotuneLevel } from '../kernels/types.js';
import type { ModelGraph } from '../ir/graph.js';
import type { HostTensor } from '../kernels/types.js';
import type { MachineInfo } from '../store/results.js';
import type { Conditions } from '../bench/measure.js';
import type { FrameworkSplit } from './framework.js';
import { fusionSavingMs, type FusionTime } from './ideal.js';
import type { Latencies, LayerTime } from './latency.js';
import { roofline, type Peaks } from './roofline.js';
import type { Suggestion } from './suggest.js';
import { ANALYZE_SCHEMA_VERSION, type AnalyzeLayer, type AnalyzeResult } from './types.js';

/** The end-to-end runs' totals: between the layer benchmarks, before them, after them (null: not taken). */
export interface EndToEndRuns {
  /** Every run's total between the layer benchmarks; null when none ran there. */
  duringTotalsMs: number[] | null;
  before: Pick<ModelRun, 'totalMs' | 'totalsMs'> | null;
  after: Pick<ModelRun, 'totalMs' | 'totalsMs'> | null;
}

export type MeasuredLatency = Pick<AnalyzeResult['latency'], 'measuredMs' | 'measuredSpread' | 'measuredBeforeMs' | 'measuredDuringMs' | 'measuredAfterMs' | 'drift'>;

/**
 * The measured latency: the runs taken between the benchmarks, else the mean of the times before
 * and after them, else the runs after; its spread (of the runs between, else of those before and
 * after together); the drift from between or before to after.
 */
export function measuredLatency(e: EndToEndRuns): MeasuredLatency {
  const during = e.duringTotalsMs?.length ? e.duringTotalsMs : null;
  const duringMs = during && trimmedMean(during);
  const { before, after } = e;
  const measuredMs = duringMs ?? (after ? (before ? (before.totalMs + after.totalMs) / 2 : after.totalMs) : null);
  const earlier = duringMs ?? before?.totalMs ?? null;
  return {
    measuredMs,
    measuredSpread: during ? relativeSpread(during) : after ? relativeSpread([...(before?.totalsMs ?? []), ...after.totalsMs]) : null,
    measuredBeforeMs: before?.totalMs ?? null,
    measuredDuringMs: duringMs,
    measuredAfterMs: after?.totalMs ?? null,
    drift: earlier !== null && after ? (after.totalMs - earlier) / earlier : null,
  };
}

/** (reconstructed − measured) / measured; null without a measured time. */
export function reconstructionError(reconstructedMs: number, measuredMs: number | null): number | null {
  return measuredMs ? (reconstructedMs - measuredMs) / measuredMs : null;
}

export type Correctness = NonNullable<AnalyzeResult['correctness']>;

/**
 * The output check: each graph output of the run against the reference's (MODEL_TOLERANCE), and
 * the note for a mismatch (null when they match). An output missing on either side fails.
 */
export function outputCheck(outputs: ReadonlyArray<{ name: string }>, got: Map<string, HostTensor>, want: Map<string, HostTensor>, reference: string): { correctness: Correctness; note: string | null } {
  const outs = outputs.map((o) => {
    const a = got.get(o.name);
    const b = want.get(o.name);
    const r = a && b ? compareOutputs([a], [b], undefined, MODEL_TOLERANCE) : undefined;
    return { name: o.name, ok: !!r?.ok, maxAbsError: r ? r.maxAbsError : Infinity };
  });
  const correctness: Correctness = { reference, ok: outs.every((o) => o.ok), tolerance: MODEL_TOLERANCE,
    outputs: outs.map((o) => ({ ...o, maxAbsError: Number.isFinite(o.maxAbsError) ? o.maxAbsError : -1 })) };
  const note = correctness.ok ? null
    : `MISMATCH: the model's outputs on dlprof's kernels differ from onnxruntime's (${outs.filter((o) => !o.ok).map((o) => `'${o.name}' max |Δ| ${o.maxAbsError.toExponential(2)}`).join(', ')}): a kernel is wrong`;
  return { correctness, note };
}

/** The machine's probed peaks for the roofline; undefined unless both compute and bandwidth were probed. */
export function peaksOf(machine: Pick<MachineInfo, 'peaks'>): Peaks | undefined {
  return machine.peaks.fmaF32GflopS && machine.peaks.copyGBs ? { gflops: machine.peaks.fmaF32GflopS, gbps: machine.peaks.copyGBs } : undefined;
}

/**
 * One row per node: its time in the measured run (else its default variant's benchmark), its
 * benchmarks, and its place on the roofline at that time (with the machine's peaks).
 */
export function layerRows(g: Pick<ModelGraph, 'nodes' | 'layers'>, times: Map<string, LayerTime>, run: Pick<ModelRun, 'layers'> | null, peaks: Peaks | undefined,
  criticalPath: readonly number[]): AnalyzeLayer[] {
  const onPath = new Set(criticalPath);
  return g.nodes.map((n, i) => {
    const l = g.layers.get(n.key)!;
    const t = times.get(n.key);
    const ms = run ? run.layers[i].ms : t?.defaultMs;
    const rf = peaks && ms ? roofline(l.flops, l.bytes, ms, peaks) : undefined;
    return {
      id: n.id, node: n.label, op: n.op, key: n.key, inputs: l.inputs, outputs: l.outputs,
      variant: run ? run.layers[i].variant : null, runMs: run ? run.layers[i].ms : null, startMs: run ? run.layers[i].startMs : null,
      defaultVariant: t?.defaultVariant ?? null, defaultMs: t?.defaultMs ?? null, bestVariant: t?.bestVariant ?? null, bestConfig: t?.bestConfig ?? null, bestMs: t?.bestMs ?? null,
      flops: l.flops, bytes: l.bytes, intensity: l.bytes ? l.flops / l.bytes : 0,
      achievedGflops: rf?.achievedGflops ?? null, achievedGbps: rf?.achievedGbps ?? null, bound: rf?.bound ?? null, fractionOfPeak: rf?.fractionOfPeak ?? null,
      onCriticalPath: onPath.has(n.id),
    };
  });
}

/** Where the time goes by op: each op's layers, their Σ time (in the run, else the default benchmark) and its share, largest first. */
export function byOp(layers: ReadonlyArray<Pick<AnalyzeLayer, 'op' | 'runMs' | 'defaultMs'>>): AnalyzeResult['byOp'] {
  const opMs = new Map<string, { count: number; ms: number }>();
  for (const l of layers) {
    const e = opMs.get(l.op) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += l.runMs ?? l.defaultMs ?? 0;
    opMs.set(l.op, e);
  }
  const total = [...opMs.values()].reduce((a, b) => a + b.ms, 0) || 1;
  return [...opMs].map(([op, e]) => ({ op, count: e.count, ms: e.ms, pct: (100 * e.ms) / total })).sort((a, b) => b.ms - a.ms);
}

/** Everything the result is made of. */
export interface ResultParts {
  graph: Pick<ModelGraph, 'path' | 'name' | 'nodes' | 'layers' | 'flops' | 'params' | 'inputs' | 'outputs'>;
  analysisTime: AnalyzeResult['analysisTime'];
  /** The model-level measurements taken from the store, and when they were measured. */
  reused: AnalyzeResult['reused'];
  machine: MachineInfo;
  conditions: Conditions;
  autotune: AutotuneLevel;
  times: Map<string, LayerTime>;
  /** The measured run on the default variants; null when the model could not run. */
  run: Pick<ModelRun, 'layers'> | null;
  measured: MeasuredLatency;
  latencies: Latencies;
  idealMs: number;
  f16: AnalyzeResult['ideal']['f16'];
  /** Fusable chains found, and those with a measured fused kernel. */
  fusionGroups: number;
  fusions: readonly FusionTime[];
  correctness: Correctness | null;
  framework: FrameworkResult | null;
  split: FrameworkSplit | null;
  suggestions: Suggestion[];
  notes: string[];
}

/** The JSON document of an analysis. */
export function analyzeResult(p: ResultParts): AnalyzeResult {
  const g = p.graph;
  const lat = p.latencies;
  const layers = layerRows(g, p.times, p.run, peaksOf(p.machine), lat.criticalPath);
  return {
    schemaVersion: ANALYZE_SCHEMA_VERSION,
    analysisTime: p.analysisTime,
    reused: p.reused,
    model: { path: g.path, name: g.name, layerCount: g.nodes.length, uniqueLayerCount: g.layers.size, flops: g.flops, params: g.params, inputs: g.inputs, outputs: g.outputs },
    machine: p.machine,
    conditions: p.conditions,
    autotune: p.autotune,
    latency: {
      measuredMs: p.measured.measuredMs, measuredSpread: p.measured.measuredSpread, measuredBeforeMs: p.measured.measuredBeforeMs,
      measuredDuringMs: p.measured.measuredDuringMs, measuredAfterMs: p.measured.measuredAfterMs, drift: p.measured.drift,
      reconstructedMs: lat.reconstructedMs, reconstructionError: reconstructionError(lat.reconstructedMs, p.measured.measuredMs),
      sequentialLowerBoundMs: lat.sequentialLowerBoundMs, parallelLowerBoundMs: lat.parallelLowerBoundMs, idealMs: p.idealMs,
      frameworkMs: p.framework?.trimmedMeanMs ?? null,
    },
    ideal: { parallelMs: lat.parallelLowerBoundMs, f16: p.f16, fusions: { groups: p.fusionGroups, measured: p.fusions.length, savingMs: fusionSavingMs(p.fusions) } },
    correctness: p.correctness,
    framework: p.split,
    layers,
    byOp: byOp(layers),
    suggestions: p.suggestions,
    notes: p.notes,
  };
}
