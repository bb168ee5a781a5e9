/**
 * The ideal latency (src/analysis/ideal.ts): the longest path with each node at its best (or
 * faster f16) time, where a profitable fusion's time sits on its first node and its other nodes
 * cost 0, and an unprofitable one is ignored.
 */
import { describe, expect, it } from 'vitest';
import { fusionSavingMs, fusionTimes, idealLatency, idealNodeTime, type FusionTime } from '../../src/analysis/ideal.js';
import type { FusionGroup } from '../../src/analysis/fusion.js';
import type { LayerTime } from '../../src/analysis/latency.js';

/** conv → bn → relu → add, with a side branch conv → side → add; node keys name their layer. */
const g = {
  nodes: [
    { id: 0, key: 'conv', deps: [] },
    { id: 1, key: 'bn', deps: [0] },
    { id: 2, key: 'relu', deps: [1] },
    { id: 3, key: 'side', deps: [0] },
    { id: 4, key: 'add', deps: [2, 3] },
  ],
} as unknown as Parameters<typeof idealLatency>[0];

const t = (best: number): LayerTime => ({ defaultVariant: 'd', defaultMs: 10 * best, bestVariant: 'b', bestMs: best });
const times = new Map([['conv', t(4)], ['bn', t(2)], ['relu', t(1)], ['side', t(1.5)], ['add', t(1)]]);
const nodeTime = idealNodeTime(g, times);
const chain: FusionGroup = { kind: 'conv-bn-act', nodes: [0, 1, 2] };
const fused = (fusedMs: number): FusionTime => ({ kind: 'conv-bn-act', nodes: [0, 1, 2], fusedMs, unfusedMs: 7, variant: 'fused' });

describe('node times of the ideal schedule', () => {
  it('are the best times, or the f16 ones where faster, and 0 without a time', () => {
    expect([0, 1, 2, 3, 4].map(nodeTime)).toEqual([4, 2, 1, 1.5, 1]);
    const f16 = new Map([['conv', { variant: 'h', ms: 3 }], ['bn', { variant: 'h', ms: 2.5 }]]);
    expect([0, 1, 2].map(idealNodeTime(g, times, f16))).toEqual([3, 2, 1]);
    expect(idealNodeTime(g, new Map())(0)).toBe(0);
  });
});

describe('fusion what-ifs', () => {
  it('keep the groups whose fused layer was measured, with the Σ of their nodes', () => {
    const groups: FusionGroup[] = [chain, { kind: 'gemm-bias-act', nodes: [3, 4] }, { kind: 'attention', nodes: [1, 2] }];
    const best = new Map([['fa', { variant: 'fused', ms: 5 }]]);
    // The second has no fused layer; the third's was not measured.
    expect(fusionTimes(groups, ['fa', undefined, 'fb'], best, nodeTime)).toEqual([
      { kind: 'conv-bn-act', nodes: [0, 1, 2], fusedMs: 5, unfusedMs: 7, variant: 'fused' },
    ]);
  });

  it('save the gains of the profitable ones only', () => {
    expect(fusionSavingMs([fused(5), { ...fused(3), unfusedMs: 2 }])).toBe(2);
    expect(fusionSavingMs([])).toBe(0);
  });
});

describe('the ideal latency', () => {
  it('without fusions is the longest path at best times', () => {
    // conv → bn → relu → add: 4 + 2 + 1 + 1; the side branch is 4 + 1.5 + 1.
    expect(idealLatency(g, [], nodeTime)).toEqual({ length: 8, path: [0, 1, 2, 4] });
  });

  it('puts a profitable fusion\'s time on its first node and 0 on the rest', () => {
    // conv carries the fused 5, bn and relu 0: the chain is 5 + 0 + 0 + 1 = 6, the side branch
    // 5 + 1.5 + 1 = 7.5. (On its last node it would be 0 + 0 + 5 + 1 = 6.)
    expect(idealLatency(g, [fused(5)], nodeTime)).toEqual({ length: 7.5, path: [0, 3, 4] });
  });

  it('ignores a fusion no faster than its nodes', () => {
    expect(idealLatency(g, [fused(7)], nodeTime)).toEqual({ length: 8, path: [0, 1, 2, 4] });
    expect(idealLatency(g, [fused(9)], nodeTime)).toEqual({ length: 8, path: [0, 1, 2, 4] });
  });
});
