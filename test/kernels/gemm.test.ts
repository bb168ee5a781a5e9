/**
 * The GEMM core's double-buffered tiles (kernels/gemm.ts, tile DB = 1) and split-K (SK > 1): each
 * such configuration of the autotuner's search space computes the same product as the reference,
 * on ragged sizes (no size a multiple of a tile; K over several steps and under one), for a plain
 * operand load (matmul's `tiled`, and its f16 form) and a gathered one (conv's implicit GEMM);
 * split-K's second pass runs each caller's epilogue once, on the sum of the slices; subgroup
 * operations (SG) share each quad's rows of A whatever the hardware's lane order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { GEMM_TILE, gemmTuning, tileConfig } from '../../src/kernels/gemm.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DeviceCaps, LayerCase, TuneConfig } from '../../src/kernels/types.js';
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
    const quick = gemmTuning({ M: 256, P: 256, K: 64, batches: 1 }, 'f32', caps, 'quick');
    // Two copies of the own 64×64×16 tile fill 16 KiB, leaving nothing to stage the store in.
    expect(quick.filter((c) => c.DB)).toEqual([{ TM: 64, TP: 64, TK: 8, RM: 8, RP: 8, DB: 1 }]);
    const full = gemmTuning({ M: 256, P: 256, K: 64, batches: 1 }, 'f32', caps, 'full');
    expect(full.filter((c) => !c.DB && !c.SK && !c.SG)).toHaveLength(10);
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

describe('split-K', () => {
  const caps: DeviceCaps = {
    f16: true, subgroups: true, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30, maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8,
  };
  const own = tileConfig(GEMM_TILE);

  it('is searched where the grid is short of a GPU and K is long, in as few slices as fill it', () => {
    // 16 rows × 1024 columns: 16 workgroups of the own 64×64 tile; 16 slices make 256.
    expect(gemmTuning({ M: 16, P: 1024, K: 4096, batches: 1 }, 'f32', caps, 'quick').find((t) => t.SK)).toEqual({ ...own, SK: 16 });
    // K = 300 keeps 4 steps of 16 a slice in at most 4 slices.
    expect(gemmTuning({ M: 16, P: 1024, K: 300, batches: 1 }, 'f32', caps, 'quick').find((t) => t.SK)).toEqual({ ...own, SK: 4 });
    // ViT-B/16's MLP down-projection, 197×3072·3072×768: 48 workgroups, so 8 slices.
    expect(gemmTuning({ M: 197, P: 768, K: 3072, batches: 1 }, 'f32', caps, 'quick').find((t) => t.SK)).toEqual({ ...own, SK: 8 });
    // A full grid, a short K, or partial sums past the device's buffers: none.
    const none = (shape: { M: number; P: number; K: number; batches: number }, c = caps): void =>
      expect(gemmTuning(shape, 'f32', c, 'full').filter((t) => t.SK)).toEqual([]);
    none({ M: 2048, P: 2048, K: 4096, batches: 1 });
    none({ M: 16, P: 1024, K: 63, batches: 1 });
    none({ M: 16, P: 1024, K: 4096, batches: 1 }, { ...caps, maxStorageBufferBindingSize: 2 * 16 * 1024 * 4 - 1 });
    // full: each tile in every power of two that keeps 4 steps a slice.
    const full = gemmTuning({ M: 16, P: 1024, K: 4096, batches: 1 }, 'f32', caps, 'full');
    expect(full.filter((t) => t.SK && t.TM === 64 && t.TP === 64 && t.TK === 16).map((t) => t.SK)).toEqual([2, 4, 8, 16]);
    expect(new Set(full.map((c) => JSON.stringify(c))).size).toBe(full.length);
  });

  it('is two passes, the partial sums in a scratch buffer of their own', async () => {
    const { runner } = await gpu();
    const [c] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [37, 700]), b.input('b', 'float32', [700, 70])])));
    const p = kernelFor('MatMul')!.plan(c, 'tiled', runner.caps, { ...own, SK: 3 });
    expect(p.passes.map((x) => x.workgroups)).toEqual([[2, 1, 3], [2, 37, 1]]);
    expect(p.scratch).toEqual([3 * 37 * 70 * 4]);
    const [conv] = casesFrom((b) => b.output(b.op('Conv', [b.input('x', 'float32', [1, 3, 11, 13]), b.input('w', 'float32', [10, 3, 3, 3])], { pads: [1, 1, 1, 1] })));
    const q = kernelFor('Conv')!.plan(conv, 'im2col-gemm', runner.caps, { ...own, SK: 2 });
    expect(q.passes).toHaveLength(3);
    expect(q.passes[1].buffers.at(-1)).toEqual({ kind: 'scratch', index: 1 });
    expect(q.scratch[1]).toBe(2 * 10 * 143 * 4);
  });

  it('sums every slice once: uneven and empty slices, K under one step, double-buffered', async () => {
    const [c] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [37, 700]), b.input('b', 'float32', [700, 70])])));
    // 44 steps of 16: 16 slices of 3 leave the last one empty; 3 slices of 15, 15, 14.
    const configs: TuneConfig[] = [{ ...own, SK: 16 }, { TM: 32, TP: 32, TK: 16, RM: 4, RP: 4, SK: 3 }, { ...own, TK: 8, DB: 1, SK: 4 }];
    for (const config of configs) await agreesIn(c, 'tiled', config);
    const [tiny] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [5, 3]), b.input('b', 'float32', [3, 9])])));
    await agreesIn(tiny, 'tiled', { ...own, SK: 2 });
  });

  it('runs the epilogue once on the sum: bias, residual and activation, gathered operands, batches', async () => {
    const f32 = (...shape: number[]) => ({ dtype: 'float32' as const, shape });
    const y = f32(1, 8, 9, 9);
    const fusedConv: LayerCase = {
      layer: {
        key: 'split-k-fused-conv', op: 'dlprof.FusedConv', weights: [], flops: 0, bytes: 0, params: 0,
        attrs: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1, activation: 'Relu', activation_alpha: 0, activation_beta: 0 },
        inputs: [f32(1, 16, 9, 9), f32(8, 16, 3, 3), f32(8), y], outputs: [y],
      },
      consts: [null, null, null, null],
    };
    await agreesIn(fusedConv, 'implicit-gemm-fused', { ...own, SK: 3 });
    const [grouped] = casesFrom((b) => b.output(b.op('Conv', [b.input('x', 'float32', [2, 8, 7, 7]), b.input('w', 'float32', [6, 4, 3, 3]), b.input('b', 'float32', [6])], { group: 2 })));
    await agreesIn(grouped, 'implicit-gemm', { ...own, SK: 2 });
    await agreesIn(grouped, 'im2col-gemm', { ...own, SK: 5 });
    const [batched] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [3, 17, 300]), b.input('b', 'float32', [3, 300, 20])])));
    await agreesIn(batched, 'tiled', { ...own, SK: 4 });
    const [gemm] = casesFrom((b) => b.output(b.op('Gemm', [b.input('a', 'float32', [9, 130]), b.input('b', 'float32', [130, 11]), b.input('c', 'float32', [11])], { alpha: 0.5, beta: 2 })));
    await agreesIn(gemm, 'tiled', { ...own, SK: 3 });
    const { runner } = await gpu();
    if (runner.caps.f16) await agreesIn(batched, 'tiled-f16', { ...own, SK: 2 });
  });
});

describe('subgroup operations in the GEMM core', () => {
  it('are searched on an adapter with subgroups, for f32 tiles whose quads share rows', () => {
    const caps: DeviceCaps = {
      f16: true, subgroups: true, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30, maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8,
    };
    const shape = { M: 256, P: 256, K: 64, batches: 1 };
    expect(gemmTuning(shape, 'f32', caps, 'quick').at(-1)).toEqual({ ...tileConfig(GEMM_TILE), SG: 1 });
    expect(gemmTuning(shape, 'f32', { ...caps, subgroups: false }, 'full').filter((t) => t.SG)).toEqual([]);
    expect(gemmTuning(shape, 'f16', caps, 'full').filter((t) => t.SG)).toEqual([]);
    // full: every tile whose RM and column groups are multiples of 4 (the 2-row-block tiles are not).
    const sg = gemmTuning(shape, 'f32', caps, 'full').filter((t) => t.SG);
    expect(sg.length).toBe(8);
    expect(sg.every((t) => t.RM % 4 === 0)).toBe(true);
  });

  it('compute the product: ragged sizes, double-buffered, split along K, a gathered operand', async () => {
    const { runner } = await gpu();
    if (!runner.caps.subgroups) return;
    const [c] = casesFrom((b) => b.output(b.op('MatMul', [b.input('a', 'float32', [37, 45]), b.input('b', 'float32', [45, 70])])));
    const configs = kernelFor('MatMul')!.tuning!(c, 'tiled', runner.caps, 'full').filter((t) => t.SG);
    expect(configs.length).toBe(8);
    for (const config of configs) await agreesIn(c, 'tiled', config);
    const own = tileConfig(GEMM_TILE);
    await agreesIn(c, 'tiled', { ...own, TK: 8, DB: 1, SG: 1 });
    await agreesIn(c, 'tiled', { ...own, SK: 3, SG: 1 });
    const [conv] = casesFrom((b) => b.output(b.op('Conv', [b.input('x', 'float32', [1, 3, 11, 13]), b.input('w', 'float32', [10, 3, 3, 3])], { pads: [1, 1, 1, 1] })));
    await agreesIn(conv, 'implicit-gemm', { ...own, SG: 1 });
  });
});
