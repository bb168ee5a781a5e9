/**
 * The notes that follow from an analysis's numbers (src/analysis/notes.ts): the model as bound,
 * fusable chains left unmeasured, and how far measured and reconstructed latency compare.
 */
import { describe, expect, it } from 'vitest';
import { fusionNote, latencyNotes, modelNotes } from '../../src/analysis/notes.js';
import type { MeasuredLatency } from '../../src/analysis/result.js';

const measured = (m: Partial<MeasuredLatency>): MeasuredLatency =>
  ({ measuredMs: 5.5, measuredSpread: 0.02, measuredBeforeMs: null, measuredDuringMs: 5.5, measuredAfterMs: 5.6, drift: 0.1 / 5.5, ...m });

describe('notes on the measured latency', () => {
  it('say the machine drifted, from between the benchmarks to after', () => {
    const n = latencyNotes(measured({ measuredAfterMs: 6.05, drift: 0.55 / 5.5 }), { reconstructionError: 0.01, sequentialLowerBoundMs: 1 });
    expect(n).toEqual([
      "the end-to-end time moved 10.0% from while the layers were benchmarked to after (5.500 ms during, 6.050 ms after): this machine's speed is not steady, so the reconstruction error is uncertain by about as much; measure on an idle machine",
    ]);
  });

  it('say the machine drifted, from before the benchmarks to after', () => {
    const n = latencyNotes(measured({ measuredMs: 5, measuredDuringMs: null, measuredBeforeMs: 4, measuredAfterMs: 6, drift: -0.06 }), { reconstructionError: null, sequentialLowerBoundMs: 1 });
    expect(n).toHaveLength(1);
    expect(n[0]).toMatch(/^the end-to-end time moved -6\.0% while the layers were benchmarked \(4\.000 ms before, 6\.000 ms after\)/);
  });

  it('say nothing of a drift within 5 %, or an error within 5 %', () => {
    expect(latencyNotes(measured({ drift: 0.05 }), { reconstructionError: 0.05, sequentialLowerBoundMs: 1 })).toEqual([]);
  });

  it('say when the reconstruction error is within the run-to-run noise', () => {
    const n = latencyNotes(measured({ drift: 0, measuredSpread: 0.3 }), { reconstructionError: -0.12, sequentialLowerBoundMs: 1 });
    expect(n).toEqual([
      "the reconstruction error (-12.0%) is within this machine's run-to-run noise (measured runs spread ±15% around the median): on this machine the comparison is limited by the noise, not by the reconstruction",
    ]);
    // Beyond half the spread, the error is the reconstruction's.
    expect(latencyNotes(measured({ drift: 0, measuredSpread: 0.2 }), { reconstructionError: -0.12, sequentialLowerBoundMs: 1 })).toEqual([]);
  });

  it('say when the measured time is below the sequential lower bound', () => {
    expect(latencyNotes(measured({ drift: 0 }), { reconstructionError: null, sequentialLowerBoundMs: 6 })).toEqual([
      'measured (5.500 ms) is below the sequential lower bound (6.000 ms): inside one submission the GPU overlaps consecutive layers and caches stay warm, which isolated micro-benchmarks do not see',
    ]);
    expect(latencyNotes(measured({ measuredMs: null, drift: null }), { reconstructionError: null, sequentialLowerBoundMs: 6 })).toEqual([]);
  });
});

describe('notes on the model and the fusions', () => {
  it('name what the bindings left open and what is not timed', () => {
    const g = {
      diagnostics: [{ code: 'W_DEFAULT_DIM', message: 'batch set to 1' }, { code: 'W_OTHER', message: 'not shown' }, { code: 'W_GATED_ON_INPUT', message: 'gated' }],
      unsupported: [{ op: 'Foo', count: 2 }, { op: 'Bar', count: 1 }],
      failed: [{}, {}, {}],
    } as unknown as Parameters<typeof modelNotes>[0];
    expect(modelNotes(g)).toEqual(['batch set to 1', 'gated', 'unsupported ops (not timed): Foo ×2, Bar ×1', '3 nodes without static shapes were not timed']);
  });

  it('count the fusable chains without a measured fused kernel', () => {
    expect(fusionNote(5, 3)).toBe('2 of 5 fusable chains have no measured fused kernel (no kernel for that shape, or it failed its check); the ideal latency leaves them unfused');
    expect(fusionNote(4, 4)).toBeNull();
  });
});
