/**
 * What an analysis keeps of its model-level measurements in the store, to reuse next time
 * (store/model-runs.ts; pure functions): the payload of each kind, and how reuse is told.
 */
import type { ModelRun } from '../bench/model.js';
import type { FrameworkResult, OrtProfile } from '../bench/ort.js';
import type { ModelRunKind } from '../store/model-runs.js';
import type { Correctness, EndToEndRuns } from './result.js';
import type { AnalyzeResult } from './types.js';

/** The model run end to end on dlprof's kernels, as stored (kind `end-to-end`). */
export interface EndToEndRecord {
  /** The measured run after the layer benchmarks (or on its own): its timing figures, without the outputs. */
  run: Omit<ModelRun, 'outputs'>;
  /** The runs' totals between the layer benchmarks, and the run before them, when this analysis benchmarked layers. */
  duringTotalsMs: number[] | null;
  before: Pick<ModelRun, 'totalMs' | 'totalsMs'> | null;
  /** The output check (null when no reference could run the model), its note (a mismatch), and the note of the reference it fell back to. */
  correctness: Correctness | null;
  checkNote: string | null;
  referenceNote: string | null;
}

/** The f16 what-if (kind `f16-what-if`). */
export type F16Record = AnalyzeResult['ideal']['f16'];

/** onnxruntime's WebGPU run, profiled then timed (kind `framework`). */
export interface FrameworkRecord {
  latency: FrameworkResult;
  profile: OrtProfile | { error: string };
}

/** A stored measurement this analysis used instead of measuring, and when it was taken. */
export type Reused = AnalyzeResult['reused'][number];

/** The record of a measured run: its figures without output tensors, and those of the runs beside the benchmarks. */
export function endToEndRecord(run: ModelRun, beside: Pick<EndToEndRuns, 'duringTotalsMs'> & { before: Pick<ModelRun, 'totalMs' | 'totalsMs'> | null },
  check: Pick<EndToEndRecord, 'correctness' | 'checkNote' | 'referenceNote'>): EndToEndRecord {
  const { outputs: _outputs, ...figures } = run;
  return {
    run: figures,
    duringTotalsMs: beside.duringTotalsMs,
    before: beside.before && { totalMs: beside.before.totalMs, totalsMs: beside.before.totalsMs },
    ...check,
  };
}

const WHAT: Record<ModelRunKind, string> = {
  'end-to-end': 'the end-to-end runs with their output check',
  'f16-what-if': 'the f16 re-run',
  framework: "onnxruntime's WebGPU run",
};

/** What a kind of stored measurement is, in words ("the f16 re-run"). */
export function reusedWhat(kind: ModelRunKind): string {
  return WHAT[kind];
}

/** An ISO time as the reports show it: to the minute, in UTC. */
export function measuredAtText(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The report's note on what was reused from the store ("… reused from the store, measured <time>;
 * --force measures again"): the time of each, or the span from the earliest to the latest; null
 * when nothing was reused.
 */
export function reuseNote(reused: readonly Reused[]): string | null {
  if (!reused.length) return null;
  const what = reused.map((r) => WHAT[r.kind]);
  const list = what.length < 2 ? what[0] : `${what.slice(0, -1).join(', ')} and ${what[what.length - 1]}`;
  const times = reused.map((r) => measuredAtText(r.measuredAt)).sort();
  const [first, last] = [times[0], times[times.length - 1]];
  const when = first === last ? first
    : first.slice(0, 10) === last.slice(0, 10) ? `${first.slice(0, 16)}–${last.slice(11)}` : `${first} to ${last}`;
  return `${list} reused from the store, measured ${when}; --force measures again`;
}
