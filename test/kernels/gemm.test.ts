/**
 * The GEMM core's double-buffered tiles (kernels/gemm.ts, tile DB = 1): each such configuration
 * of the autotuner's search space computes the same product as the reference, on ragged sizes
 * (no size a multiple of a tile; K over several steps and under one), for a plain operand load
 * (matmul's `tiled`, and its f16 form) and a gathered one (conv's implicit GEMM).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { gemmTuning } from '../../src/kernels/gemm.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { LayerCase, TuneConfig } from '../../src/kernels/types.js';
import { casesFrom, gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

async function agreesIn(c: LayerCase, variant: string, config: TuneConfig): Promise<void> {
  const { runner } = await gpu();
  const kernel = kernelFor(c.layer.op)!;
  const inputs = syntheticInputs(c, 3);
  const p = await runner.prepare(kernel, c, kernel.plan(c, variant, runner.caps, config), inputs, `${variant} ${JSON.stringify(config)}`);
  try {
    const got = await runner.run(p, c);
    const r = compareOutputs(got, kernel.reference(c, inputs), variant.endsWith('-f16') ? 'float16' : undefined);
    expect(r.ok, `${variant} ${JSON.stringify(config)}: ${JSON.stringify(r)}`).toBe(true);
  } finally {
    runner.release(p);
  }
}

describe('double-buffered GEMM tiles', () => {
  it('are in the search space: the own tile at half its depth in quick, every tile that fits in full', async () => {
    const { runner } = await gpu();
    const caps = { ...runner.caps, maxComputeWorkgroupStorageSize: 16384 };
    const quick = gemmTuning({ M: 256, P: 256, batches: 1 }, 'f32', caps, 'quick');
    // Two copies of the own 64×64×16 tile fill 16 KiB, leaving nothing to stage the store in.
    expect(quick.at(-1)).toEqual({ TM: 64, TP: 64, TK: 8, RM: 8, RP: 8, DB: 1 });
    const full = gemmTuning({ M: 256, P: 256, batches: 1 }, 'f32', caps, 'full');
    expect(full.filter((c) => !c.DB)).toHaveLength(10);
    expect(full.filter((c) => c.DB).length).toBeGreaterThanOrEqual(8);
    expect(new Set(full.map((c) => JSON.stringify(c))).size).toBe(full.length);
  });

  it('compute the product in every configuration, K over several steps and under one', async () => {
    const { runner } = await gpu();
    for (const [M, K, N] of [[37, 45, 70], [5, 3, 9]]) {
      const [c] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [M, K]), b.input('b', 'float32', [K, N])])));
      const configs = kernelFor('MatMul')!.tuning!(c, 'tiled', runner.caps, 'full').filter((t) => t.DB);
      expect(configs.length).toBeGreaterThan(0);
      for (const config of M === 37 ? configs : configs.slice(0, 1)) await agreesIn(c, 'tiled', config);
    }
  });

  it('compute a gathered operand (implicit GEMM) and f16 tiles', async () => {
    const { runner } = await gpu();
    const [conv] = casesFrom((b) => b.output(b.op('Conv', [b.input('x', 'float32', [1, 3, 11, 13]), b.input('w', 'float32', [10, 3, 3, 3])], { pads: [1, 1, 1, 1] })));
    const kc = kernelFor('Conv')!.tuning!(conv, 'implicit-gemm', runner.caps, 'quick').filter((t) => t.DB);
    expect(kc).toHaveLength(1);
    await agreesIn(conv, 'implicit-gemm', kc[0]);
    if (!runner.caps.f16) return;
    const [mm] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [33, 70]), b.input('b', 'float32', [70, 20])])));
    const kf = kernelFor('MatMul')!.tuning!(mm, 'tiled-f16', runner.caps, 'quick').filter((t) => t.DB);
    expect(kf).toHaveLength(1);
    await agreesIn(mm, 'tiled-f16', kf[0]);
  });
});
