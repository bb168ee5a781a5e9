/**
 * The result from the measurements (src/analysis/result.ts): the measured latency, its spread and
 * drift; the output check; per-layer rows with their roofline; the split by op; the document.
 */
import { describe, expect, it } from 'vitest';
import type { Latencies, LayerTime } from '../../src/analysis/latency.js';
import { analyzeResult, byOp, layerRows, measuredLatency, outputCheck, peaksOf, reconstructionError, type ResultParts } from '../../src/analysis/result.js';
import { ANALYZE_SCHEMA_VERSION } from '../../src/analysis/types.js';
import type { HostTensor } from '../../src/kernels/types.js';
import type { MachineInfo } from '../../src/store/results.js';

const f32 = (...xs: number[]): HostTensor => ({ dtype: 'float32', shape: [xs.length], data: new Float32Array(xs) });

describe('the split by op', () => {
  it('sums each op\'s run times (else default times) and gives its share, largest first', () => {
    const rows = [
      { op: 'Conv', runMs: 3, defaultMs: 9 },
      { op: 'Relu', runMs: null, defaultMs: 1 },
      { op: 'Conv', runMs: 2, defaultMs: null },
      { op: 'Add', runMs: null, defaultMs: null },
    ];
    const ops = byOp(rows);
    expect(ops.map((o) => [o.op, o.count, o.ms])).toEqual([['Conv', 2, 5], ['Relu', 1, 1], ['Add', 1, 0]]);
    expect(ops[0].pct).toBeCloseTo(500 / 6, 10);
    expect(ops[1].pct).toBeCloseTo(100 / 6, 10);
    expect(ops[2].pct).toBe(0);
  });

  it('gives 0 %, not NaN, when nothing has a time', () => {
    expect(byOp([{ op: 'Conv', runMs: null, defaultMs: null }])).toEqual([{ op: 'Conv', count: 1, ms: 0, pct: 0 }]);
  });
});

describe('the measured latency', () => {
  it('is that of the runs between the benchmarks, when there are some', () => {
    // Trimmed mean of 1…10 (a tenth off each end): 5.5; p10 1.9, p90 9.1.
    const m = measuredLatency({ duringTotalsMs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], before: null, after: { totalMs: 6.05, totalsMs: [6.05] } });
    expect(m.measuredMs).toBe(5.5);
    expect(m.measuredDuringMs).toBe(5.5);
    expect(m.measuredBeforeMs).toBeNull();
    expect(m.measuredAfterMs).toBe(6.05);
    expect(m.measuredSpread).toBeCloseTo(7.2 / 5.5, 10);
    expect(m.drift).toBeCloseTo(0.1, 10);
  });

  it('is the mean of before and after, with the spread of both', () => {
    const m = measuredLatency({ duringTotalsMs: [], before: { totalMs: 4, totalsMs: [4, 4] }, after: { totalMs: 6, totalsMs: [6, 6] } });
    expect(m).toEqual({ measuredMs: 5, measuredSpread: 0.4, measuredBeforeMs: 4, measuredDuringMs: null, measuredAfterMs: 6, drift: 0.5 });
  });

  it('is the runs after alone, without drift, else null', () => {
    const m = measuredLatency({ duringTotalsMs: null, before: null, after: { totalMs: 3, totalsMs: [2, 3, 4] } });
    expect({ ...m, measuredSpread: 0 }).toEqual({ measuredMs: 3, measuredSpread: 0, measuredBeforeMs: null, measuredDuringMs: null, measuredAfterMs: 3, drift: null });
    // p10 2.2, p90 3.8, median 3.
    expect(m.measuredSpread).toBeCloseTo(1.6 / 3, 10);
    expect(measuredLatency({ duringTotalsMs: null, before: null, after: null }))
      .toEqual({ measuredMs: null, measuredSpread: null, measuredBeforeMs: null, measuredDuringMs: null, measuredAfterMs: null, drift: null });
  });

  it('gives the reconstruction error against it', () => {
    expect(reconstructionError(6, 5)).toBeCloseTo(0.2, 12);
    expect(reconstructionError(6, null)).toBeNull();
  });
});

describe('the output check', () => {
  it('passes outputs within the model tolerance', () => {
    const r = outputCheck([{ name: 'y' }], new Map([['y', f32(1, 2, 4.01)]]), new Map([['y', f32(1, 2, 4)]]), 'ref');
    expect(r.note).toBeNull();
    expect(r.correctness.ok).toBe(true);
    expect(r.correctness.reference).toBe('ref');
    expect(r.correctness.tolerance).toEqual({ rtol: 1e-2, atol: 1e-3 });
    expect(r.correctness.outputs[0].maxAbsError).toBeCloseTo(0.01, 5);
  });

  it('fails a differing or missing output, and says which', () => {
    const r = outputCheck([{ name: 'y' }, { name: 'z' }], new Map([['y', f32(1, 2, 4.5)]]), new Map([['y', f32(1, 2, 4)], ['z', f32(0)]]), 'ref');
    expect(r.correctness.ok).toBe(false);
    // A missing output has no finite error: -1 in the document.
    expect(r.correctness.outputs).toEqual([{ name: 'y', ok: false, maxAbsError: 0.5 }, { name: 'z', ok: false, maxAbsError: -1 }]);
    expect(r.note).toBe("MISMATCH: the model's outputs on dlprof's kernels differ from onnxruntime's ('y' max |Δ| 5.00e-1, 'z' max |Δ| Infinity): a kernel is wrong");
  });
});

/** conv (2 MFLOP, 1 MB) → relu (0 FLOP, 4 MB); only conv has benchmarks. */
const g = {
  path: 'm.onnx', name: 'm', flops: 2e6, params: 7, inputs: [], outputs: [],
  nodes: [
    { id: 0, label: 'conv', op: 'Conv', key: 'a', deps: [] },
    { id: 1, label: 'relu', op: 'Relu', key: 'b', deps: [0] },
  ],
  layers: new Map([
    ['a', { flops: 2e6, bytes: 1e6, inputs: [], outputs: [] }],
    ['b', { flops: 0, bytes: 4e6, inputs: [], outputs: [] }],
  ]),
} as unknown as ResultParts['graph'];
const times = new Map<string, LayerTime>([['a', { defaultVariant: 'x', defaultMs: 2, bestVariant: 'y', bestMs: 1 }]]);
const peaks = { gflops: 10, gbps: 10 };

describe('layer rows', () => {
  it('place each layer on the roofline at its default time when the model did not run', () => {
    const [conv, relu] = layerRows(g, times, null, peaks, [0]);
    // 2 MFLOP in 2 ms: 1 GFLOP/s, 0.5 GB/s; intensity 2 above the ridge 1: compute-bound, 1/10 of the peak.
    expect(conv).toMatchObject({
      node: 'conv', variant: null, runMs: null, defaultVariant: 'x', defaultMs: 2, bestVariant: 'y', bestMs: 1,
      intensity: 2, achievedGflops: 1, achievedGbps: 0.5, bound: 'compute', fractionOfPeak: 0.1, onCriticalPath: true,
    });
    expect(relu).toMatchObject({ defaultMs: null, bestMs: null, achievedGflops: null, bound: null, fractionOfPeak: null, onCriticalPath: false });
  });

  it('use the times in the measured run, and judge a data-movement layer by bandwidth', () => {
    const run = { layers: [{ variant: 'x', ms: 4, startMs: 0, samplesMs: [] }, { variant: 'r', ms: 1, startMs: 4, samplesMs: [] }] };
    const [conv, relu] = layerRows(g, times, run, peaks, []);
    expect(conv).toMatchObject({ variant: 'x', runMs: 4, startMs: 0, achievedGflops: 0.5, fractionOfPeak: 0.05 });
    expect(relu).toMatchObject({ variant: 'r', runMs: 1, startMs: 4, intensity: 0, achievedGbps: 4, bound: 'memory', fractionOfPeak: 0.4 });
  });

  it('have no roofline without both probed peaks', () => {
    expect(peaksOf({ peaks: { fmaF32GflopS: 10 } })).toBeUndefined();
    expect(peaksOf({ peaks: { fmaF32GflopS: 10, copyGBs: 20 } })).toEqual({ gflops: 10, gbps: 20 });
  });
});

describe('the result document', () => {
  it('assembles the latency ladder, the fusions\' saving and the split by op', () => {
    const lat: Latencies = { reconstructedMs: 6, sequentialLowerBoundMs: 3, parallelLowerBoundMs: 2, criticalPath: [0], missing: ['b'] };
    const reused = [{ kind: 'framework' as const, measuredAt: '2026-12-04T21:02:11.123Z' }];
    const r = analyzeResult({
      graph: g, analysisTime: { totalSeconds: 1, programs: 0, phases: [] }, reused, machine: { peaks: { fmaF32GflopS: 10, copyGBs: 10 } } as MachineInfo,
      conditions: 'inference', autotune: 'off', times, run: null,
      measured: { measuredMs: 5, measuredSpread: 0.1, measuredBeforeMs: null, measuredDuringMs: 5, measuredAfterMs: 5.2, drift: 0.04 },
      latencies: lat, idealMs: 1.5, f16: { used: false, reason: 'no' }, fusionGroups: 3,
      fusions: [{ kind: 'conv-bn-act', nodes: [0, 1], fusedMs: 1, unfusedMs: 2.5, variant: 'v' }, { kind: 'gemm-bias-act', nodes: [1], fusedMs: 2, unfusedMs: 1, variant: 'w' }],
      correctness: null, framework: null, split: null, suggestions: [], notes: ['n'],
    });
    expect(r.schemaVersion).toBe(ANALYZE_SCHEMA_VERSION);
    expect(r.reused).toEqual(reused);
    expect(r.model).toMatchObject({ layerCount: 2, uniqueLayerCount: 2, flops: 2e6, params: 7 });
    expect(r.latency).toEqual({
      measuredMs: 5, measuredSpread: 0.1, measuredBeforeMs: null, measuredDuringMs: 5, measuredAfterMs: 5.2, drift: 0.04,
      reconstructedMs: 6, reconstructionError: 0.2, sequentialLowerBoundMs: 3, parallelLowerBoundMs: 2, idealMs: 1.5, frameworkMs: null,
    });
    expect(r.ideal).toEqual({ parallelMs: 2, f16: { used: false, reason: 'no' }, fusions: { groups: 3, measured: 2, savingMs: 1.5 } });
    expect(r.layers.map((l) => l.fractionOfPeak)).toEqual([0.1, null]);
    expect(r.byOp).toEqual([{ op: 'Conv', count: 1, ms: 2, pct: 100 }, { op: 'Relu', count: 1, ms: 0, pct: 0 }]);
    expect(r.notes).toEqual(['n']);
  });
});
