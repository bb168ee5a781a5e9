/**
 * `dlprof analyze`'s result: the JSON document (schemas/analyze.schema.json) the analysis pipeline
 * (pipeline.ts) produces and the reports (src/report/analyze.ts, html.ts, trace.ts) render.
 */
import type { Conditions } from '../bench/measure.js';
import type { TensorDecl } from '../ir/graph.js';
import type { TensorType } from '../ir/types.js';
import type { AutotuneLevel, TuneConfig } from '../kernels/types.js';
import type { ModelRunKind } from '../store/model-runs.js';
import type { MachineInfo } from '../store/results.js';
import type { FrameworkSplit } from './framework.js';
import type { Suggestion } from './suggest.js';

export const ANALYZE_SCHEMA_VERSION = 9;

export interface AnalyzeLayer {
  id: number;
  node: string;
  op: string;
  key: string;
  inputs: Array<TensorType | null>;
  outputs: TensorType[];
  /** Variant run in the measured end-to-end run (the default), and its time inside that run. */
  variant: string | null;
  runMs: number | null;
  startMs: number | null;
  defaultVariant: string | null;
  defaultMs: number | null;
  bestVariant: string | null;
  /** The best variant's tuned configuration, when that is what is fastest (autotuning). */
  bestConfig: TuneConfig | null;
  bestMs: number | null;
  flops: number;
  bytes: number;
  intensity: number;
  achievedGflops: number | null;
  achievedGbps: number | null;
  bound: 'compute' | 'memory' | null;
  fractionOfPeak: number | null;
  onCriticalPath: boolean;
}

export interface AnalyzeResult {
  schemaVersion: number;
  /** Where this analysis's wall time went (util/phases.ts), and how many programs it compiled. */
  analysisTime: { totalSeconds: number; programs: number; phases: Array<{ phase: string; seconds: number }> };
  /**
   * The model-level measurements taken from the store instead of measured now (store/model-runs.ts),
   * each with when it was measured: only when every layer came from the store, without --force, and
   * stored for the same model, code, conditions and settings. Empty when everything was measured now.
   */
  reused: Array<{ kind: ModelRunKind; measuredAt: string }>;
  model: { path: string; name: string; layerCount: number; uniqueLayerCount: number; flops: number; params: number; inputs: TensorDecl[]; outputs: TensorDecl[] };
  machine: MachineInfo;
  /** The state each layer's timed executions started in (bench/measure.ts CONDITIONS). */
  conditions: Conditions;
  /** How hard each layer's fastest tunable variant had its configurations searched (--autotune). */
  autotune: AutotuneLevel;
  latency: {
    /**
     * End-to-end time: the trimmed mean of the runs (stats.ts TRIM), the statistic of every latency
     * here, layer times included. When layers were benchmarked in this run, of the same period as
     * the benchmarks: the runs taken between them (`inference`), else the mean of the times before and after them.
     */
    measuredMs: number | null;
    /** Trimmed mean of the runs before the layer benchmarks (other conditions than `inference`; else null), between them (`inference`; else null) and after them. */
    measuredBeforeMs: number | null;
    measuredDuringMs: number | null;
    measuredAfterMs: number | null;
    /** (after − during or before) / (during or before): how far this machine's speed moved between the two. */
    drift: number | null;
    /** (p90 − p10) / median of the measured end-to-end runs: the run-to-run noise of this machine. */
    measuredSpread: number | null;
    reconstructedMs: number;
    /** (reconstructed − measured) / measured. */
    reconstructionError: number | null;
    sequentialLowerBoundMs: number;
    parallelLowerBoundMs: number;
    idealMs: number;
    frameworkMs: number | null;
  };
  ideal: { parallelMs: number; f16: { used: boolean; reason: string }; fusions: { groups: number; measured: number; savingMs: number } };
  correctness: { reference: string; ok: boolean; tolerance: { rtol: number; atol: number }; outputs: Array<{ name: string; ok: boolean; maxAbsError: number }> } | null;
  /** onnxruntime's run: wall time, and from its profiler GPU kernel time and host time, per node matched to the layers. */
  framework: FrameworkSplit | null;
  layers: AnalyzeLayer[];
  byOp: Array<{ op: string; count: number; ms: number; pct: number }>;
  suggestions: Suggestion[];
  notes: string[];
}
