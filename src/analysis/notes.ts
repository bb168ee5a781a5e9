/**
 * The notes of an analysis that follow from its numbers (pure functions): what the model's
 * bindings left open, layers without a usable measurement, fusable chains without a fused
 * kernel, and how far to trust the comparison of measured and reconstructed latency (the machine's
 * drift and noise, a measured time below the sequential lower bound).
 */
import type { ModelGraph } from '../ir/graph.js';
import type { BenchLayer } from '../store/results.js';
import type { LayerTime } from './latency.js';
import type { MeasuredLatency } from './result.js';

/** A change of the end-to-end time across the layer benchmarks beyond this is reported: the reconstruction target is 5 %. */
export const DRIFT_NOTE = 0.05;

/** A reconstruction error beyond this is compared with the machine's run-to-run noise. */
const NOISE_NOTE = 0.05;

/** What the user must know about the model as bound: dimensions --defaults set, a graph gated on an unbound input, what is not timed. */
export function modelNotes(g: Pick<ModelGraph, 'diagnostics' | 'unsupported' | 'failed'>): string[] {
  const notes = g.diagnostics.filter((d) => d.code === 'W_DEFAULT_DIM' || d.code === 'W_GATED_ON_INPUT').map((d) => d.message);
  if (g.unsupported.length) notes.push(`unsupported ops (not timed): ${g.unsupported.map((u) => `${u.op} ×${u.count}`).join(', ')}`);
  if (g.failed.length) notes.push(`${g.failed.length} nodes without static shapes were not timed`);
  return notes;
}

/** Layers left without a time (layerTimes), and kernel variants that failed their check. */
export function measurementNotes(layers: ReadonlyArray<Pick<BenchLayer, 'key' | 'op' | 'kernel' | 'variants'>>, times: Map<string, LayerTime>): string[] {
  const notes: string[] = [];
  for (const l of layers) {
    if (!times.has(l.key)) notes.push(`layer ${l.op} ${l.key} has no usable measurement${l.kernel ? '' : ' (no kernel for this op)'}`);
    for (const v of l.variants) if (v.status === 'mismatch') notes.push(`kernel variant ${l.op}/${v.variant} disagrees with its reference and was not timed: ${v.reason}`);
  }
  return notes;
}

/** Fusable chains the ideal latency leaves unfused for want of a measured fused kernel; null when every one has one. */
export function fusionNote(groups: number, measured: number): string | null {
  const unmeasured = groups - measured;
  return unmeasured ? `${unmeasured} of ${groups} fusable chains have no measured fused kernel (no kernel for that shape, or it failed its check); the ideal latency leaves them unfused` : null;
}

/**
 * How far the measured latency can be compared with the reconstruction: the machine's speed moved
 * across the layer benchmarks (drift), the error is within the run-to-run noise, or the measured
 * time is below the sequential lower bound.
 */
export function latencyNotes(m: MeasuredLatency, x: { reconstructionError: number | null; sequentialLowerBoundMs: number }): string[] {
  const notes: string[] = [];
  const earlier = m.measuredDuringMs ?? m.measuredBeforeMs;
  if (m.drift !== null && Math.abs(m.drift) > DRIFT_NOTE && earlier !== null && m.measuredAfterMs !== null) {
    const [span, when] = m.measuredDuringMs !== null ? ['from while the layers were benchmarked to after', 'during'] : ['while the layers were benchmarked', 'before'];
    notes.push(`the end-to-end time moved ${(100 * m.drift).toFixed(1)}% ${span} (${earlier.toFixed(3)} ms ${when}, ${m.measuredAfterMs.toFixed(3)} ms after): this machine's speed is not steady, so the reconstruction error is uncertain by about as much; measure on an idle machine`);
  }
  const e = x.reconstructionError;
  if (m.measuredSpread !== null && e !== null && Math.abs(e) > NOISE_NOTE && Math.abs(e) <= m.measuredSpread / 2) {
    notes.push(`the reconstruction error (${(100 * e).toFixed(1)}%) is within this machine's run-to-run noise (measured runs spread ±${(50 * m.measuredSpread).toFixed(0)}% around the median): on this machine the comparison is limited by the noise, not by the reconstruction`);
  }
  if (m.measuredMs !== null && m.measuredMs < x.sequentialLowerBoundMs) {
    notes.push(`measured (${m.measuredMs.toFixed(3)} ms) is below the sequential lower bound (${x.sequentialLowerBoundMs.toFixed(3)} ms): inside one submission the GPU overlaps consecutive layers and caches stay warm, which isolated micro-benchmarks do not see`);
  }
  return notes;
}
