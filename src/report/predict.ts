/** `dlprof predict` output: the JSON document (schemas/predict.schema.json) and its terminal summary. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { Prediction } from '../analysis/predict.js';
import { printable } from '../util/errors.js';

export const PREDICT_SCHEMA_VERSION = 1;

export interface PredictResult extends Prediction {
  schemaVersion: number;
  db: string;
  model: { path: string; name: string };
  machine: { fingerprint: string; name: string; adapterDescription: string; backend: string; cpu: string };
  conditions: string;
  passOverheadMs: number;
  notes: string[];
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

export function renderPredict(r: PredictResult, c: ChalkInstance, top = 10): string {
  const lines: string[] = [];
  const cov = r.coverage;
  lines.push(`${c.bold(printable(r.model.name))} on ${c.bold(printable(r.machine.name))} (${r.machine.fingerprint}, ${printable(r.machine.cpu)}) · from ${printable(r.db)}, nothing run`);
  lines.push(`  predicted end-to-end: ${c.bold(`${ms(r.predictedMs)} ms`)} (sum of measured layers, ${r.conditions}) · sequential bound ${ms(r.sequentialLowerBoundMs)} ms · parallel bound ${ms(r.parallelLowerBoundMs)} ms`);
  const share = cov.timeShare === null ? "share of the time unknown (estimating the rest needs the machine's probed peaks and a measured layer)" : `≈${(100 * cov.timeShare).toFixed(1)} % of the estimated time`;
  lines.push(`  coverage: ${cov.measuredLayers}/${cov.layers} layers (${cov.measuredUniqueLayers}/${cov.uniqueLayers} unique) measured there, ${share}`
    + (cov.estimatedMissingMs ? `; the missing layers ≈${ms(cov.estimatedMissingMs)} ms more` : ''));
  if (r.missing.length) {
    const t = new Table({ head: ['missing layer', 'op', '×', 'est. ms', 'why'].map((h) => c.bold(h)), style: { head: [], border: [] }, wordWrap: true, colWidths: [18, 16, 5, 10, 50] });
    for (const m of r.missing.slice(0, top)) t.push([m.key, printable(m.op, 30), m.count, m.estimatedMs === null ? '—' : ms(m.estimatedMs), c.yellow(printable(m.reason, 200))]);
    lines.push(t.toString());
    if (r.missing.length > top) lines.push(`  … and ${r.missing.length - top} more missing layers (--json lists them all)`);
  }
  const t = new Table({ head: ['op', '×', 'ms', '%'].map((h) => c.bold(h)), style: { head: [], border: [] } });
  for (const o of r.byOp.slice(0, top)) t.push([printable(o.op, 30), o.count, ms(o.ms), o.pct.toFixed(1)]);
  lines.push(t.toString());
  for (const n of r.notes) lines.push(c.yellow(`note: ${n}`));
  return lines.join('\n');
}
