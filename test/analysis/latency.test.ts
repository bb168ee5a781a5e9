import { describe, expect, it } from 'vitest';
import { latencies, longestPath } from '../../src/analysis/latency.js';

/** A diamond: 0 → (1, 2) → 3, plus 4 after 3; node keys name their layer. */
const g = {
  nodes: [
    { id: 0, key: 'a', deps: [] },
    { id: 1, key: 'b', deps: [0] },
    { id: 2, key: 'c', deps: [0] },
    { id: 3, key: 'd', deps: [1, 2] },
    { id: 4, key: 'b', deps: [3] },
  ],
} as unknown as Parameters<typeof latencies>[0];

const t = (d: number, b: number) => ({ defaultVariant: 'x', defaultMs: d, bestVariant: 'y', bestMs: b });

describe('latency reconstruction and lower bounds', () => {
  it('sums default and best times with duplicates counted, and takes the longest path', () => {
    const times = new Map([['a', t(2, 1)], ['b', t(4, 3)], ['c', t(10, 5)], ['d', t(1, 1)]]);
    const l = latencies(g, times);
    expect(l.reconstructedMs).toBe(2 + 4 + 10 + 1 + 4);
    expect(l.sequentialLowerBoundMs).toBe(1 + 3 + 5 + 1 + 3);
    // Branch c (5) is longer than b (3): 1 + 5 + 1 + 3.
    expect(l.parallelLowerBoundMs).toBe(10);
    expect(l.criticalPath).toEqual([0, 2, 3, 4]);
    expect(l.missing).toEqual([]);
  });

  it('reports layers without times and leaves them out of the sums', () => {
    const l = latencies(g, new Map([['a', t(1, 1)], ['b', t(1, 1)], ['d', t(1, 1)]]));
    expect(l.missing).toEqual(['c']);
    expect(l.reconstructedMs).toBe(4);
  });

  it('handles independent chains (no edges) as fully parallel', () => {
    const flat = { nodes: [0, 1, 2].map((id) => ({ id, key: 'k', deps: [] })) } as unknown as Parameters<typeof longestPath>[0];
    expect(longestPath(flat, () => 2).length).toBe(2);
    expect(longestPath({ nodes: [] } as unknown as Parameters<typeof longestPath>[0], () => 1)).toEqual({ length: 0, path: [] });
  });
});
