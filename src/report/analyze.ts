/** `dlprof analyze` output: the terminal summary of its JSON document (analysis/types.ts, schemas/analyze.schema.json). */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { FrameworkSplit } from '../analysis/framework.js';
import type { AnalyzeResult } from '../analysis/types.js';
import { printable } from '../util/errors.js';
import { shape, si } from '../util/format.js';
import { CONDITIONS_TEXT } from '../bench/measure.js';
import { backendText, bestText } from './bench.js';

/** The result's types live with the analysis that produces it; re-exported for the reports and their users. */
export { ANALYZE_SCHEMA_VERSION, type AnalyzeLayer, type AnalyzeResult } from '../analysis/types.js';

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '—' : v.toFixed(d));

/** Short name of the output check's reference for the latency table. */
function refName(reference: string): string {
  return reference.startsWith('onnxruntime') ? 'onnxruntime' : "dlprof's CPU references";
}

/** The framework row's note: where onnxruntime's profiled run goes. */
function frameworkText(fw: FrameworkSplit | null): string {
  if (!fw || fw.kernelMs === null) return fw?.profileError ? 'kernel and host time not told apart (see notes)' : '';
  return `profiled run ${f(fw.profiledWallMs)}: GPU kernels ${f(fw.kernelMs, 3)} (${fw.dispatches} dispatches), host ${f(fw.hostMs)}`;
}

export function renderAnalyze(r: AnalyzeResult, c: ChalkInstance): string {
  const out: string[] = [];
  const L = r.latency;
  out.push(`${c.bold(printable(r.model.path))} · ${r.model.layerCount} layers (${r.model.uniqueLayerCount} unique) · ${si(r.model.flops, 'FLOP')} · ${si(r.model.params)} params`);
  out.push(`${printable(r.machine.adapterDescription)} (${printable(backendText(r.machine))}) · layers timed ${r.conditions}: ${CONDITIONS_TEXT[r.conditions]} · autotune ${r.autotune}`);
  const ladder = new Table({ head: ['latency', 'ms', ''].map((h) => c.bold(h)), style: { head: [], border: [] } });
  ladder.push(
    ['measured end-to-end (default kernels)', L.measuredSpread === null ? f(L.measuredMs) : `${f(L.measuredMs)} ±${(50 * L.measuredSpread).toFixed(0)}%`,
      [L.drift === null ? '' : `${L.measuredDuringMs !== null ? `${f(L.measuredDuringMs)} between` : `${f(L.measuredBeforeMs)} before`}, ${f(L.measuredAfterMs)} after the layer benchmarks`, r.correctness ? (r.correctness.ok ? c.green(`outputs match ${refName(r.correctness.reference)}`) : c.red(`OUTPUTS DIFFER FROM ${refName(r.correctness.reference).toUpperCase()}`)) : ''].filter(Boolean).join('; ')],
    ['reconstructed (Σ layer benchmarks)', f(L.reconstructedMs), L.reconstructionError === null ? '' : `error ${(100 * L.reconstructionError).toFixed(1)}%`],
    ['sequential lower bound (best kernels)', f(L.sequentialLowerBoundMs), ''],
    ['parallel lower bound (critical path)', f(L.parallelLowerBoundMs), ''],
    ['ideal (+ f16, fusions, parallel)', f(L.idealMs), `${r.ideal.f16.used ? 'f16 used' : `f16 not used: ${r.ideal.f16.reason}`}; ${r.ideal.fusions.measured} fusions measured`],
    ['framework (onnxruntime webgpu)', f(L.frameworkMs), frameworkText(r.framework)],
  );
  out.push(ladder.toString());
  if (r.suggestions.length) {
    const t = new Table({ head: ['#', 'kind', 'saves ms', '%', 'what to do'].map((h) => c.bold(h)), style: { head: [], border: [] }, wordWrap: true, colWidths: [4, 20, 10, 7, 80] });
    r.suggestions.slice(0, 10).forEach((s, i) => t.push([i + 1, s.kind, s.savingMs.toFixed(3), s.savingPct.toFixed(1), printable(s.message, 400)]));
    out.push(c.bold('Suggestions'), t.toString());
  }
  const ops = new Table({ head: ['op', 'layers', 'ms', '%'].map((h) => c.bold(h)), style: { head: [], border: [] } });
  for (const o of r.byOp.slice(0, 10)) ops.push([printable(o.op), o.count, o.ms.toFixed(3), o.pct.toFixed(1)]);
  out.push(c.bold('Where the time goes'), ops.toString());
  const top = [...r.layers].filter((l) => l.runMs !== null).sort((a, b) => b.runMs! - a.runMs!).slice(0, 10);
  const tl = new Table({ head: ['node', 'op', 'shapes', 'variant', 'ms', 'best', 'GFLOP/s', '% of roof'].map((h) => c.bold(h)), style: { head: [], border: [] }, wordWrap: true, colWidths: [30, 12, 30, 16, 9, 24, 9, 10] });
  for (const l of top) {
    tl.push([printable(l.node, 60), printable(l.op), `${l.inputs.filter(Boolean).map((x) => shape(x!.shape)).join(' ')} → ${l.outputs.map((x) => shape(x.shape)).join(' ')}`,
      l.variant ?? '—', f(l.runMs, 3), l.bestVariant ? `${bestText(l)} ${f(l.bestMs, 3)}` : '—', f(l.achievedGflops), l.fractionOfPeak === null ? '—' : `${(100 * l.fractionOfPeak).toFixed(0)}% (${l.bound})`]);
  }
  out.push(c.bold('Top layers'), tl.toString());
  for (const n of r.notes) out.push(c.yellow(`note: ${printable(n, 400)}`));
  return out.join('\n');
}
