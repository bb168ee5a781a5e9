/**
 * Layer times from the layer benchmarks (src/analysis/layer-times.ts): each layer's default and
 * best full-precision variant as parts of a model run (less the pass overhead, at least a tenth),
 * its fastest f16 variant kept apart, and the layers left without a time noted.
 */
import { describe, expect, it } from 'vitest';
import { bestTimes, fasterF16, layerTimes, variantTimes } from '../../src/analysis/layer-times.js';
import { measurementNotes } from '../../src/analysis/notes.js';
import type { BenchLayer, VariantEntry } from '../../src/store/results.js';

const v = (variant: string, trimmedMeanMs: number | undefined, status: VariantEntry['status'] = 'completed', reason?: string): VariantEntry =>
  ({ variant, status, trimmedMeanMs, reason, reused: false });
const layer = (key: string, defaultVariant: string | null, variants: VariantEntry[], kernel: string | null = 'k'): BenchLayer =>
  ({ key, op: key.toUpperCase(), defaultVariant, variants, kernel } as BenchLayer);

/** Pass overhead 0.5 ms. */
const OVERHEAD = 0.5;
const layers = [
  // Default 'naive' 3 ms, best 'tiled' 2 ms, an f16 variant faster still, a variant that errored.
  layer('a', 'naive', [v('naive', 3), v('tiled', 2), v('tiled-f16', 1), v('vec4', undefined, 'errored')]),
  // Below the overhead: a tenth of its time is kept.
  layer('b', 'x', [v('x', 0.3)]),
  // Its default variant disagrees with its reference: no time, though another variant completed.
  layer('c', 'naive', [v('naive', undefined, 'mismatch', 'max |Δ| 3'), v('tiled', 2)]),
  // Only an f16 variant completed; no kernel for the full-precision default.
  layer('d', null, [v('only-f16', 1.5)], null),
];

describe('layer times from the benchmarks', () => {
  it('take each variant as a part of a run, fastest first, leaving out the unfinished', () => {
    expect(variantTimes(layers[0], OVERHEAD)).toEqual([
      { variant: 'tiled-f16', ms: 0.5 }, { variant: 'tiled', ms: 1.5 }, { variant: 'naive', ms: 2.5 },
    ]);
    // 0.3 − 0.5 < 0.3 / 10: the tenth is kept.
    expect(variantTimes(layers[1], OVERHEAD)[0].ms).toBeCloseTo(0.03, 12);
  });

  it('choose the default and the best full-precision variant, f16 apart', () => {
    const { times, f16 } = layerTimes(layers, OVERHEAD);
    expect(times.get('a')).toEqual({ defaultVariant: 'naive', defaultMs: 2.5, bestVariant: 'tiled', bestMs: 1.5 });
    const b = times.get('b')!;
    expect(b.defaultVariant).toBe('x');
    expect(b.bestVariant).toBe('x');
    expect(b.defaultMs).toBeCloseTo(0.03, 12);
    expect(times.has('c')).toBe(false);
    expect(times.has('d')).toBe(false);
    expect([...times.keys()]).toEqual(['a', 'b']);
    expect(f16.get('a')).toEqual({ variant: 'tiled-f16', ms: 0.5 });
    expect(f16.get('d')).toEqual({ variant: 'only-f16', ms: 1 });
    expect(f16.size).toBe(2);
  });

  it('without a pass overhead, take the benchmarks as they are', () => {
    expect(layerTimes(layers, 0).times.get('a')).toEqual({ defaultVariant: 'naive', defaultMs: 3, bestVariant: 'tiled', bestMs: 2 });
  });

  it('keep the f16 variants faster than the best one, and those of layers without a time', () => {
    const { times, f16 } = layerTimes(layers, OVERHEAD);
    expect(fasterF16(f16, times)).toEqual(new Map([['a', { variant: 'tiled-f16', ms: 0.5 }], ['d', { variant: 'only-f16', ms: 1 }]]));
    const slower = new Map([['a', { variant: 'tiled-f16', ms: 1.6 }]]);
    expect(fasterF16(slower, times).size).toBe(0);
  });

  it('take the fastest full-precision variant of the fused layers', () => {
    const best = bestTimes(layers, OVERHEAD);
    expect(best.get('a')).toEqual({ variant: 'tiled', ms: 1.5 });
    expect(best.get('c')).toEqual({ variant: 'tiled', ms: 1.5 });
    expect(best.has('d')).toBe(false);
  });

  it('note the layers without a time and the variants that failed their check', () => {
    const { times } = layerTimes(layers, OVERHEAD);
    expect(measurementNotes(layers, times)).toEqual([
      'layer C c has no usable measurement',
      'kernel variant C/naive disagrees with its reference and was not timed: max |Δ| 3',
      'layer D d has no usable measurement (no kernel for this op)',
    ]);
  });
});
