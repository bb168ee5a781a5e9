/**
 * `dlprof compare` output: the JSON document (schemas/compare.schema.json), a terminal table and a
 * Markdown summary for a CI job; and reading the `bench --json` / `analyze --json` documents it
 * compares.
 */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { Comparison, LayerChange, TimedLayer } from '../analysis/compare.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';

export const COMPARE_SCHEMA_VERSION = 1;

export interface CompareSide {
  label: string;
  kind: 'bench' | 'analyze' | 'machine';
  file: string | null;
  machine: { fingerprint: string; name: string };
  conditions: string;
}

export interface ModelChange {
  name: string;
  baseMs: number | null;
  headMs: number | null;
  ratio: number | null;
  /** Share of the model's layers each side has measured (machines), null for a report's own end-to-end time. */
  baseCoverage: number | null;
  headCoverage: number | null;
}

export interface CompareResult extends Comparison {
  schemaVersion: number;
  mode: 'reports' | 'machines';
  threshold: number;
  confidence: number;
  base: CompareSide;
  head: CompareSide;
  models: ModelChange[];
  /** Whether any shared layer is a regression (head slower past the threshold, its interval above zero). */
  regression: boolean;
  notes: string[];
}

/** A bench or analyze --json document's layers, as compare takes them. */
export function reportLayers(doc: unknown, file: string): { kind: 'bench' | 'analyze'; side: Omit<CompareSide, 'label' | 'file'>; layers: TimedLayer[]; endToEndMs: number | null; name: string | null } {
  const d = doc as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const where = printable(file);
  if (!d || typeof d !== 'object' || !Array.isArray(d.layers) || !d.machine || typeof d.schemaVersion !== 'number') {
    throw new DlprofError(`${where}: not a dlprof bench --json or analyze --json document`, 'E_COMPARE_INPUT', EXIT.input,
      ['Compare the output of dlprof bench --json (or analyze --json) on each side.']);
  }
  const machine = { fingerprint: String(d.machine.fingerprint ?? ''), name: String(d.machine.adapterDevice || d.machine.adapterDescription || 'unknown adapter') };
  if (d.latency) {
    // analyze: one entry per node; a layer's time (its default variant as part of a model run) once per key.
    const byKey = new Map<string, TimedLayer>();
    for (const l of d.layers) {
      if (typeof l.defaultMs !== 'number') continue;
      const e = byKey.get(l.key);
      if (e) e.count++;
      else byKey.set(l.key, { key: String(l.key), op: String(l.op), count: 1, variant: l.defaultVariant ?? null, ms: l.defaultMs, samplesMs: null });
    }
    return { kind: 'analyze', side: { kind: 'analyze', machine, conditions: String(d.conditions) }, layers: [...byKey.values()],
      endToEndMs: typeof d.latency.measuredMs === 'number' ? d.latency.measuredMs : null, name: d.model?.name ?? null };
  }
  if (!d.summary) throw new DlprofError(`${where}: not a dlprof bench --json or analyze --json document`, 'E_COMPARE_INPUT', EXIT.input);
  const layers: TimedLayer[] = [];
  for (const l of d.layers) {
    const v = (l.variants ?? []).find((x: { variant: string; status: string }) => x.variant === l.defaultVariant && x.status === 'completed');
    const ms = v?.trimmedMeanMs ?? v?.medianMs;
    if (typeof ms !== 'number') continue;
    layers.push({ key: String(l.key), op: String(l.op), count: Number(l.count ?? 1), variant: v.variant, ms, samplesMs: Array.isArray(v.samplesMs) ? v.samplesMs : null });
  }
  return { kind: 'bench', side: { kind: 'bench', machine, conditions: String(d.conditions) }, layers, endToEndMs: null, name: null };
}

const ms = (v: number | null): string => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4));
const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`;
const ci = (l: { ci: [number, number] | null; relativeChange?: number }, reports: boolean): string => {
  const iv = l.ci ? `[${pct(l.ci[0])}, ${pct(l.ci[1])}]` : 'no samples';
  return reports && l.relativeChange !== undefined ? `${pct(l.relativeChange)} ${iv}` : iv;
};

function verdictText(r: CompareResult, l: LayerChange): string {
  if (r.mode === 'reports') return l.verdict;
  return l.verdict === 'regression' ? `${r.base.label} faster` : l.verdict === 'improvement' ? `${r.head.label} faster` : l.verdict === 'unchanged' ? 'same' : 'unclear';
}

/** The layers worth showing: every regression and improvement, then the largest other changes, `top` in all at least. */
function shown(r: CompareResult, top: number): LayerChange[] {
  const decided = r.layers.filter((l) => l.verdict === 'regression' || l.verdict === 'improvement');
  const rest = r.layers.filter((l) => !decided.includes(l)).sort((a, b) => Math.abs(b.change) - Math.abs(a.change));
  return [...decided, ...rest].slice(0, Math.max(top, decided.length));
}

function headline(r: CompareResult): string {
  const s = r.summary;
  if (r.mode === 'machines') {
    return `${s.shared} shared layers: ${r.head.label} takes ${s.ratio.toFixed(2)}× ${r.base.label}'s time in all; `
      + `${r.base.label} faster on ${s.baseFaster}, ${r.head.label} faster on ${s.headFaster}, neither clearly on ${s.neither}; `
      + `${r.onlyBase.length} layers only on ${r.base.label}, ${r.onlyHead.length} only on ${r.head.label}`;
  }
  return `${s.shared} shared layers: ${s.regressions} regressions, ${s.improvements} improvements, ${s.unchanged} unchanged, ${s.uncertain} uncertain; `
    + `ops: ${s.opRegressions} regressions, ${s.opImprovements} improvements (threshold ${(100 * r.threshold).toFixed(1)} %, `
    + `intervals ${(100 * r.confidence).toFixed(0)} % over all layers and ops together); total ${pct(s.ratio - 1)}, run shift ${pct(r.runNoise.shift)}`;
}

export function renderCompare(r: CompareResult, c: ChalkInstance, top = 15): string {
  const lines = [`${c.bold(printable(r.base.label))} → ${c.bold(printable(r.head.label))} (${r.mode === 'machines' ? 'machines' : `${r.base.kind} reports`}, ${r.base.conditions})`];
  lines.push(r.regression ? c.red(headline(r)) : headline(r));
  const t = new Table({
    head: ['layer', 'op', '×', `${r.base.label} ms`, `${r.head.label} ms`, 'change', r.mode === 'reports' ? 'vs shift, interval' : '95 % interval', 'verdict'].map((h) => c.bold(printable(h, 24))),
    style: { head: [], border: [] }, wordWrap: true, colWidths: [18, 16, 5, 12, 12, 10, 22, 16],
  });
  for (const l of shown(r, top)) {
    const v = verdictText(r, l);
    t.push([l.key, printable(l.op, 30), l.count, ms(l.baseMs), ms(l.headMs), pct(l.change), ci(l, r.mode === 'reports'), l.verdict === 'regression' ? c.red(v) : l.verdict === 'improvement' ? c.green(v) : v]);
  }
  lines.push(t.toString());
  if (r.byOp.length) {
    const o = new Table({ head: ['op', 'layers', `${r.base.label} ms`, `${r.head.label} ms`, 'ratio', r.mode === 'machines' ? 'faster: base/head/neither' : 'layers regressed/improved/other',
      ...(r.mode === 'reports' ? ['vs shift, interval', 'verdict'] : [])].map((h) => c.bold(printable(h, 30))), style: { head: [], border: [] } });
    for (const x of r.byOp.slice(0, top)) {
      o.push([printable(x.op, 30), x.layers, ms(x.baseMs), ms(x.headMs), `${x.ratio.toFixed(3)}×`, `${x.faster.base}/${x.faster.head}/${x.faster.neither}`,
        ...(r.mode === 'reports' ? [ci(x, true), x.verdict === 'regression' ? c.red(x.verdict) : x.verdict] : [])]);
    }
    lines.push(o.toString());
  }
  for (const m of r.models) {
    lines.push(`model ${printable(m.name)}: ${ms(m.baseMs)} → ${ms(m.headMs)} ms${m.ratio !== null ? ` (${m.ratio.toFixed(3)}×)` : ''}`
      + (m.baseCoverage !== null ? ` · layers measured ${(100 * m.baseCoverage).toFixed(0)} % / ${(100 * (m.headCoverage ?? 0)).toFixed(0)} %` : ''));
  }
  if (r.onlyBase.length || r.onlyHead.length) {
    lines.push(`only in ${printable(r.base.label)}: ${r.onlyBase.length} layers${r.onlyBase.length ? ` (${r.onlyBase.slice(0, 8).map((l) => `${printable(l.op)} ${l.key}`).join(', ')}${r.onlyBase.length > 8 ? ', …' : ''})` : ''}`);
    lines.push(`only in ${printable(r.head.label)}: ${r.onlyHead.length} layers${r.onlyHead.length ? ` (${r.onlyHead.slice(0, 8).map((l) => `${printable(l.op)} ${l.key}`).join(', ')}${r.onlyHead.length > 8 ? ', …' : ''})` : ''}`);
  }
  for (const n of r.notes) lines.push(c.yellow(`note: ${n}`));
  return lines.join('\n');
}

/** Markdown-safe text: table cells must not break out of their row or render markup. */
const md = (s: string, max = 120): string => printable(s, max).replace(/[|<>`*_[\]\\]/g, (ch) => `\\${ch}`);

export function renderCompareMarkdown(r: CompareResult, top = 20): string {
  const out: string[] = [];
  out.push(`### dlprof compare: ${r.regression ? '❌ regression' : '✅ no regression'}`);
  out.push('');
  out.push(`**${md(r.base.label)}** → **${md(r.head.label)}** (${r.mode}, ${md(r.base.conditions)}). ${md(headline(r), 1000)}.`);
  out.push('');
  out.push(`| layer | op | × | ${md(r.base.label)} ms | ${md(r.head.label)} ms | change | ${r.mode === 'reports' ? 'vs shift, interval' : '95 % interval'} | verdict |`);
  out.push('|---|---|--:|--:|--:|--:|---|---|');
  for (const l of shown(r, top)) {
    const v = verdictText(r, l);
    out.push(`| \`${l.key}\` | ${md(l.op)} | ${l.count} | ${ms(l.baseMs)} | ${ms(l.headMs)} | ${pct(l.change)} | ${ci(l, r.mode === 'reports')} | ${l.verdict === 'regression' ? `**${v}**` : v} |`);
  }
  if (r.layers.length > top) out.push(`\n${r.layers.length - Math.min(top, r.layers.length)} more layers in the JSON report.`);
  if (r.mode === 'reports' && r.byOp.length) {
    out.push('', '| op | layers | base ms | head ms | change | vs shift, interval | verdict |', '|---|--:|--:|--:|--:|---|---|');
    for (const x of r.byOp) out.push(`| ${md(x.op)} | ${x.layers} | ${ms(x.baseMs)} | ${ms(x.headMs)} | ${pct(x.ratio - 1)} | ${ci(x, true)} | ${x.verdict === 'regression' ? `**${x.verdict}**` : x.verdict} |`);
  }
  for (const m of r.models) out.push(`\nModel **${md(m.name)}**: ${ms(m.baseMs)} → ${ms(m.headMs)} ms${m.ratio !== null ? ` (${m.ratio.toFixed(3)}×)` : ''}.`);
  for (const n of r.notes) out.push(`\n> ${md(n)}`);
  return out.join('\n');
}
