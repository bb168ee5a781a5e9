/**
 * The roofline model (Williams, Waterman & Patterson, CACM 2009): a layer of arithmetic intensity
 * I = FLOPs / bytes can reach at most min(P, I·B) on a machine of peak compute P and bandwidth B.
 * Below the ridge point I = P/B it is memory-bound, above it compute-bound. P and B are the
 * machine's probed peaks (dlprof bench --probe), not spec-sheet numbers.
 */
export interface Peaks {
  gflops: number;
  gbps: number;
}

export interface RooflinePoint {
  flops: number;
  bytes: number;
  /** FLOPs per byte. */
  intensity: number;
  achievedGflops: number;
  achievedGbps: number;
  bound: 'compute' | 'memory';
  /** min(P, I·B) in GFLOP/s. */
  attainableGflops: number;
  /** achieved / attainable (0…1, can exceed 1 slightly when caches beat the probed bandwidth). */
  fractionOfPeak: number;
}

export function roofline(flops: number, bytes: number, ms: number, peaks: Peaks): RooflinePoint {
  const intensity = bytes > 0 ? flops / bytes : Infinity;
  const achievedGflops = flops / (ms * 1e6);
  const achievedGbps = bytes / (ms * 1e6);
  const ridge = peaks.gflops / peaks.gbps;
  const bound = intensity >= ridge ? 'compute' : 'memory';
  const attainableGflops = Math.min(peaks.gflops, intensity * peaks.gbps);
  // A data-movement layer (0 FLOPs) is judged by bandwidth alone.
  const fractionOfPeak = flops > 0 ? achievedGflops / attainableGflops : achievedGbps / peaks.gbps;
  return { flops, bytes, intensity, achievedGflops, achievedGbps, bound, attainableGflops, fractionOfPeak };
}
