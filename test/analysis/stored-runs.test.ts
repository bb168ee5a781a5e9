/**
 * What an analysis keeps of its model-level runs (src/analysis/stored-runs.ts): the stored record
 * of the end-to-end runs, and the note that says what was reused and when it was measured.
 */
import { describe, expect, it } from 'vitest';
import { endToEndRecord, measuredAtText, reuseNote } from '../../src/analysis/stored-runs.js';
import { measuredLatency } from '../../src/analysis/result.js';

describe('stored model runs in an analysis', () => {
  it('keep the run\'s timing figures and the runs beside the benchmarks, not its outputs, and give the same measured latency', () => {
    const run = {
      outputs: new Map([['y', { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array([1, 2]) }]]),
      layers: [{ variant: 'implicit-gemm', ms: 0.25, samplesMs: [0.25, 0.26], startMs: 0.01 }],
      totalMs: 1.5, totalsMs: [1.4, 1.5, 1.6],
    };
    const before = { ...run, totalMs: 1.7, totalsMs: [1.7] };
    const check = { correctness: null, checkNote: null, referenceNote: 'onnxruntime (CPU) could not run the model (x)' };
    const r = endToEndRecord(run, { duringTotalsMs: null, before }, check);
    expect(r).toEqual({ run: { layers: run.layers, totalMs: 1.5, totalsMs: [1.4, 1.5, 1.6] }, duringTotalsMs: null, before: { totalMs: 1.7, totalsMs: [1.7] }, ...check });
    const back = JSON.parse(JSON.stringify(r));
    expect(measuredLatency({ duringTotalsMs: back.duringTotalsMs, before: back.before, after: back.run }))
      .toEqual(measuredLatency({ duringTotalsMs: null, before, after: run }));
  });

  it('say what was reused from the store and when it was measured, and that --force measures again', () => {
    expect(reuseNote([])).toBeNull();
    expect(measuredAtText('2026-12-04T21:02:11.123Z')).toBe('2026-12-04 21:02 UTC');
    expect(reuseNote([{ kind: 'end-to-end', measuredAt: '2026-12-04T21:02:11.123Z' }]))
      .toBe('the end-to-end runs with their output check reused from the store, measured 2026-12-04 21:02 UTC; --force measures again');
    expect(reuseNote([{ kind: 'end-to-end', measuredAt: '2026-12-04T21:02:11.123Z' }, { kind: 'f16-what-if', measuredAt: '2026-12-04T21:02:40Z' },
      { kind: 'framework', measuredAt: '2026-12-04T21:02:59Z' }]))
      .toBe("the end-to-end runs with their output check, the f16 re-run and onnxruntime's WebGPU run reused from the store, measured 2026-12-04 21:02 UTC; --force measures again");
    // Measured at different times: the span, within a day or across days.
    expect(reuseNote([{ kind: 'end-to-end', measuredAt: '2026-12-04T21:02:11Z' }, { kind: 'framework', measuredAt: '2026-12-04T21:03:02Z' }]))
      .toBe("the end-to-end runs with their output check and onnxruntime's WebGPU run reused from the store, measured 2026-12-04 21:02–21:03 UTC; --force measures again");
    expect(reuseNote([{ kind: 'framework', measuredAt: '2026-12-05T08:00:00Z' }, { kind: 'end-to-end', measuredAt: '2026-12-04T21:02:11Z' }]))
      .toBe("onnxruntime's WebGPU run and the end-to-end runs with their output check reused from the store, measured 2026-12-04 21:02 UTC to 2026-12-05 08:00 UTC; --force measures again");
  });
});
