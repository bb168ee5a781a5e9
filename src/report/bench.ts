/** `dlprof bench` output: the JSON document (schemas/bench.schema.json) and its terminal table. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { CONDITIONS_TEXT, configText, type Conditions } from '../bench/measure.js';
import type { AutotuneLevel } from '../kernels/types.js';
import type { MachineFingerprint } from '../gpu/device.js';
import type { BenchLayer, MachineInfo } from '../store/results.js';
import { printable } from '../util/errors.js';
import { shape } from '../util/format.js';

export { benchLayer, variantEntry, type BenchLayer, type MachineInfo, type VariantEntry } from '../store/results.js';

export const BENCH_SCHEMA_VERSION = 6;

/** What the reports show in brackets after the adapter: its backend, and a software driver's settings if any ('vulkan, LP_NUM_THREADS=0'). */
export function backendText(m: MachineFingerprint): string {
  return [m.backend, m.driverSettings].filter(Boolean).join(', ');
}

export interface BenchResult {
  schemaVersion: number;
  db: string;
  runId: string;
  machine: MachineInfo;
  /** The state each timed execution started in (bench/measure.ts CONDITIONS). */
  conditions: Conditions;
  /** How hard each layer's fastest tunable variant had its configurations searched (--autotune). */
  autotune: AutotuneLevel;
  layers: BenchLayer[];
  summary: { layers: number; measured: number; reused: number; noKernel: number; mismatches: number; errors: number; interrupted: boolean };
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

export function renderBench(r: BenchResult, c: ChalkInstance): string {
  const lines: string[] = [];
  const p = r.machine.peaks;
  lines.push(`${c.bold(printable(r.machine.adapterDescription))} (${printable(backendText(r.machine))}) · ${printable(r.machine.cpu)}`);
  lines.push(`  peaks: ${p.fmaF32GflopS ? `${p.fmaF32GflopS.toFixed(1)} GFLOP/s f32` : '—'}${p.fmaF16GflopS ? `, ${p.fmaF16GflopS.toFixed(1)} GFLOP/s f16` : ''}`
    + `${p.copyGBs ? `, ${p.copyGBs.toFixed(1)} GB/s copy` : ''}${p.passOverheadMs !== undefined ? ` · ${(1000 * p.passOverheadMs).toFixed(1)} µs per timed pass` : ''} · database ${r.db}`);
  lines.push(`  timed ${r.conditions}: ${CONDITIONS_TEXT[r.conditions]} · autotune ${r.autotune}`);
  const t = new Table({
    head: ['#', 'op', 'inputs → outputs', '×', 'default', 'ms', 'best', 'ms', 'gain', 'GFLOP/s', 'GB/s', 'notes'].map((h) => c.bold(h)),
    style: { head: [], border: [] }, wordWrap: true, colWidths: [5, 14, 30, 5, 16, 9, 20, 9, 7, 9, 8, 26],
  });
  r.layers.forEach((l, i) => {
    const io = `${l.inputs.filter(Boolean).map((x) => shape(x!.shape)).join(' ')} → ${l.outputs.map((x) => shape(x.shape)).join(' ')}`;
    const skipped = l.variants.find((v) => v.status === 'skipped');
    const notes = l.kernel === null ? 'no kernel for this op'
      : l.bestVariant === null && skipped ? `not run: ${printable(skipped.reason ?? '', 120)}`
        : l.variants.filter((v) => v.status === 'mismatch' || v.status === 'errored').map((v) => `${v.variant}: ${v.status}`).join(', ');
    const gain = l.defaultMs && l.bestMs ? `${(l.defaultMs / l.bestMs).toFixed(2)}×` : '—';
    t.push([i + 1, printable(l.op, 30), io, l.count, l.defaultVariant ?? '—', ms(l.defaultMs), bestText(l), ms(l.bestMs), gain,
      l.gflops === null ? '—' : l.gflops.toFixed(2), l.gbps === null ? '—' : l.gbps.toFixed(2), c.yellow(notes)]);
  });
  lines.push(t.toString());
  const s = r.summary;
  lines.push(`${s.layers} layers: ${s.measured} measured now, ${s.reused} reused from earlier runs (--force re-measures), `
    + `${s.noKernel} without a kernel, ${s.mismatches} variant mismatches, ${s.errors} errors${s.interrupted ? c.yellow(' — interrupted; finished measurements were kept') : ''}.`);
  return lines.join('\n');
}

/** The best variant, with its tuned configuration when that is what won: `tiled TM32 TP64 TK16 RM4 RP8`. */
export function bestText(l: Pick<BenchLayer, 'bestVariant' | 'bestConfig'>): string {
  return l.bestVariant === null ? '—' : l.bestConfig ? `${l.bestVariant} ${configText(l.bestConfig)}` : l.bestVariant;
}
