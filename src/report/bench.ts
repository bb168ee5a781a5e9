/** `dlprof bench` output: the JSON document (schemas/bench.schema.json) and its terminal table. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { CONDITIONS_TEXT, type Conditions, type LayerMeasurement, type VariantResult } from '../bench/measure.js';
import type { Stats } from '../bench/stats.js';
import type { MachineFingerprint } from '../gpu/device.js';
import type { TensorType } from '../ir/types.js';
import { printable } from '../util/errors.js';
import { shape } from '../util/format.js';

export const BENCH_SCHEMA_VERSION = 5;

export interface MachineInfo extends MachineFingerprint {
  fingerprint: string;
  /** Probed peaks, and the timing harness's pass overhead (ms; analyze subtracts it from each layer benchmark). */
  peaks: { fmaF32GflopS?: number; fmaF16GflopS?: number; copyGBs?: number; passOverheadMs?: number };
}

/** What the reports show in brackets after the adapter: its backend, and a software driver's settings if any ('vulkan, LP_NUM_THREADS=0'). */
export function backendText(m: MachineFingerprint): string {
  return [m.backend, m.driverSettings].filter(Boolean).join(', ');
}

export interface VariantEntry {
  variant: string;
  status: VariantResult['status'];
  reason?: string;
  medianMs?: number;
  /** The samples' trimmed mean (stats.ts trimmedMean): what analyze sums into latencies. */
  trimmedMeanMs?: number;
  /** The raw samples: what `dlprof compare` takes its confidence intervals from. */
  samplesMs?: number[];
  minMs?: number;
  p10Ms?: number;
  p90Ms?: number;
  cv?: number;
  samples?: number;
  batch?: number;
  wallMedianMs?: number;
  maxAbsError?: number;
  /** Reused from an earlier run on this machine (not measured now). */
  reused: boolean;
}

export interface BenchLayer {
  key: string;
  op: string;
  inputs: Array<TensorType | null>;
  outputs: TensorType[];
  /** Occurrences across the benchmarked models. */
  count: number;
  flops: number;
  bytes: number;
  kernel: string | null;
  defaultVariant: string | null;
  bestVariant: string | null;
  defaultMs: number | null;
  bestMs: number | null;
  /** Achieved by the best variant. */
  gflops: number | null;
  gbps: number | null;
  variants: VariantEntry[];
}

export interface BenchResult {
  schemaVersion: number;
  db: string;
  runId: string;
  machine: MachineInfo;
  /** The state each timed execution started in (bench/measure.ts CONDITIONS). */
  conditions: Conditions;
  layers: BenchLayer[];
  summary: { layers: number; measured: number; reused: number; noKernel: number; mismatches: number; errors: number; interrupted: boolean };
}

export function variantEntry(v: VariantResult, reused: boolean): VariantEntry {
  const s: Stats | undefined = v.stats;
  return {
    variant: v.variant, status: v.status, reason: v.reason, reused,
    ...(s ? { medianMs: s.median, trimmedMeanMs: s.trimmedMean, minMs: s.min, p10Ms: s.p10, p90Ms: s.p90, cv: s.cv, samples: s.n } : {}),
    ...(v.samplesMs?.length ? { samplesMs: v.samplesMs } : {}),
    batch: v.batch, wallMedianMs: v.wallMedianMs, maxAbsError: v.maxAbsError,
  };
}

export function benchLayer(m: LayerMeasurement, c: { inputs: Array<TensorType | null>; outputs: TensorType[]; flops: number; bytes: number },
  count: number, entries: VariantEntry[]): BenchLayer {
  const done = entries.filter((e) => e.status === 'completed' && e.medianMs !== undefined);
  // The best variant at the layer's own precision; reduced-precision (-f16) variants are listed but
  // are a separate what-if (analyze's ideal), not an algorithm choice.
  const best = done.filter((e) => !e.variant.endsWith('-f16')).sort((a, b) => a.medianMs! - b.medianMs!)[0];
  const def = done.find((e) => e.variant === m.defaultVariant);
  return {
    key: m.key, op: m.op, inputs: c.inputs, outputs: c.outputs, count, flops: c.flops, bytes: c.bytes,
    kernel: m.kernel ?? null, defaultVariant: m.defaultVariant ?? null, bestVariant: best?.variant ?? null,
    defaultMs: def?.medianMs ?? null, bestMs: best?.medianMs ?? null,
    gflops: best ? c.flops / (best.medianMs! * 1e6) : null,
    gbps: best ? c.bytes / (best.medianMs! * 1e6) : null,
    variants: entries,
  };
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

export function renderBench(r: BenchResult, c: ChalkInstance): string {
  const lines: string[] = [];
  const p = r.machine.peaks;
  lines.push(`${c.bold(printable(r.machine.adapterDescription))} (${printable(backendText(r.machine))}) · ${printable(r.machine.cpu)}`);
  lines.push(`  peaks: ${p.fmaF32GflopS ? `${p.fmaF32GflopS.toFixed(1)} GFLOP/s f32` : '—'}${p.fmaF16GflopS ? `, ${p.fmaF16GflopS.toFixed(1)} GFLOP/s f16` : ''}`
    + `${p.copyGBs ? `, ${p.copyGBs.toFixed(1)} GB/s copy` : ''}${p.passOverheadMs !== undefined ? ` · ${(1000 * p.passOverheadMs).toFixed(1)} µs per timed pass` : ''} · database ${r.db}`);
  lines.push(`  timed ${r.conditions}: ${CONDITIONS_TEXT[r.conditions]}`);
  const t = new Table({
    head: ['#', 'op', 'inputs → outputs', '×', 'default', 'ms', 'best', 'ms', 'gain', 'GFLOP/s', 'GB/s', 'notes'].map((h) => c.bold(h)),
    style: { head: [], border: [] }, wordWrap: true, colWidths: [5, 14, 30, 5, 16, 9, 16, 9, 7, 9, 8, 26],
  });
  r.layers.forEach((l, i) => {
    const io = `${l.inputs.filter(Boolean).map((x) => shape(x!.shape)).join(' ')} → ${l.outputs.map((x) => shape(x.shape)).join(' ')}`;
    const skipped = l.variants.find((v) => v.status === 'skipped');
    const notes = l.kernel === null ? 'no kernel for this op'
      : l.bestVariant === null && skipped ? `not run: ${printable(skipped.reason ?? '', 120)}`
        : l.variants.filter((v) => v.status === 'mismatch' || v.status === 'errored').map((v) => `${v.variant}: ${v.status}`).join(', ');
    const gain = l.defaultMs && l.bestMs ? `${(l.defaultMs / l.bestMs).toFixed(2)}×` : '—';
    t.push([i + 1, printable(l.op, 30), io, l.count, l.defaultVariant ?? '—', ms(l.defaultMs), l.bestVariant ?? '—', ms(l.bestMs), gain,
      l.gflops === null ? '—' : l.gflops.toFixed(2), l.gbps === null ? '—' : l.gbps.toFixed(2), c.yellow(notes)]);
  });
  lines.push(t.toString());
  const s = r.summary;
  lines.push(`${s.layers} layers: ${s.measured} measured now, ${s.reused} reused from earlier runs (--force re-measures), `
    + `${s.noKernel} without a kernel, ${s.mismatches} variant mismatches, ${s.errors} errors${s.interrupted ? c.yellow(' — interrupted; finished measurements were kept') : ''}.`);
  return lines.join('\n');
}
