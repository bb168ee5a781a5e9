import { describe, expect, it } from 'vitest';
import { roofline } from '../../src/analysis/roofline.js';

const peaks = { gflops: 100, gbps: 10 }; // ridge at 10 FLOP/byte

describe('roofline', () => {
  it('places a high-intensity layer under the compute roof', () => {
    const r = roofline(2e9, 1e8, 40, peaks); // I = 20, 50 GFLOP/s achieved
    expect(r.intensity).toBe(20);
    expect(r.bound).toBe('compute');
    expect(r.attainableGflops).toBe(100);
    expect(r.achievedGflops).toBeCloseTo(50, 10);
    expect(r.fractionOfPeak).toBeCloseTo(0.5, 10);
  });

  it('places a low-intensity layer under the bandwidth slope', () => {
    const r = roofline(1e8, 1e8, 20, peaks); // I = 1 → attainable 10 GFLOP/s; achieved 5
    expect(r.bound).toBe('memory');
    expect(r.attainableGflops).toBe(10);
    expect(r.achievedGbps).toBeCloseTo(5, 10);
    expect(r.fractionOfPeak).toBeCloseTo(0.5, 10);
  });

  it('judges data movement by bandwidth alone', () => {
    const r = roofline(0, 4e8, 100, peaks); // 4 GB/s of 10
    expect(r.bound).toBe('memory');
    expect(r.fractionOfPeak).toBeCloseTo(0.4, 10);
  });
});
