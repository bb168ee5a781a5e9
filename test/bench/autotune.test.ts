/**
 * Autotuning (bench/measure.ts tuneTarget/tunedResult, store/session.ts): the GEMM core's search
 * space (kernels/gemm.ts gemmTuning), the search on lavapipe, and its stored configurations.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../src/bench/harness.js';
import { autotuneCovers, configText, tunedResult, type VariantResult } from '../../src/bench/measure.js';
import { summarize } from '../../src/bench/stats.js';
import { GEMM_TILE, gemmTile, gemmTuning, tileConfig } from '../../src/kernels/gemm.js';
import type { DeviceCaps } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { measureCases, openSession, pendingCases, variantCode } from '../../src/store/session.js';
import { casesFrom } from '../support/kernels.js';
import { tempDir } from '../support/tmp.js';

const caps: DeviceCaps = {
  f16: true, subgroups: true, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30, maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8,
};

describe("the GEMM core's search space", () => {
  it('starts with the own tile; quick keeps the three that waste least, full every tile that fits', () => {
    const skinny = gemmTuning({ M: 16, P: 1024, K: 64, batches: 1 }, 'f32', caps, 'quick');
    expect(skinny[0]).toEqual(tileConfig(GEMM_TILE));
    // 16 rows: the 16-row tiles waste nothing, a 32-row one half, the own 64-row tile three quarters.
    // Then the own tile double-buffered (at half its depth: two copies at 16 fill 16 KiB).
    // Then (the adapter has subgroups) the own tile with subgroup operations.
    const text = (c: Record<string, number>): string => `${c.TM}x${c.TP}x${c.TK}${c.DB ? ' DB' : ''}${c.SG ? ' SG' : ''}`;
    expect(skinny.slice(1).map(text)).toEqual(['16x64x16', '16x32x16', '32x64x16', '64x64x8 DB', '64x64x16 SG']);
    const square = gemmTuning({ M: 256, P: 256, K: 64, batches: 1 }, 'f32', caps, 'quick');
    // Nothing wasted at any tile; tiles that leave fewer workgroups than the own one are passed over.
    expect(square.slice(1).map(text)).toEqual(['128x32x16', '32x64x16', '64x32x16', '64x64x8 DB', '64x64x16 SG']);
    const full = gemmTuning({ M: 256, P: 256, K: 64, batches: 1 }, 'f32', caps, 'full');
    expect(full.filter((c) => !c.DB && !c.SK && !c.SG)).toHaveLength(10);
    // The 256 invocations of a 128×128 tile's 8×8 blocks exceed a 128-invocation device.
    const small = gemmTuning({ M: 256, P: 256, K: 64, batches: 1 }, 'f32', { ...caps, maxComputeInvocationsPerWorkgroup: 128 }, 'full');
    expect(small.some((c) => c.TM === 128 && c.TP === 128)).toBe(false);
    expect(small.filter((c) => !c.DB && !c.SK && !c.SG).length).toBe(9);
  });

  it('refuses a configuration whose loads do not divide among its invocations', () => {
    expect(gemmTile({ TM: 64, TP: 64, TK: 16, RM: 8, RP: 8 })).toEqual(GEMM_TILE);
    expect(() => gemmTile({ TM: 48, TP: 64, TK: 16, RM: 8, RP: 8 })).toThrow(/do not divide|multiple/);
    expect(() => gemmTile({ TM: 64, TP: 64, TK: 16, RM: 8, RP: 6 })).toThrow(/RP and TK of 4/);
    // 64×64×32: its A and B tiles take all of 16 KiB, leaving nothing to stage the store in; so
    // do two copies of 64×64×16.
    expect(() => gemmTile({ TM: 64, TP: 64, TK: 32, RM: 4, RP: 4 })).toThrow(/stage/);
    expect(() => gemmTile({ ...GEMM_TILE, DB: 1 })).toThrow(/stage/);
    expect(gemmTile({ ...GEMM_TILE, TK: 8, DB: 1 })).toEqual({ ...GEMM_TILE, TK: 8, DB: 1 });
    expect(() => gemmTile({ ...GEMM_TILE, DB: 2 })).toThrow(/DB/);
  });

  it('keeps the fastest of the own configuration and those tried, and levels order by effort', () => {
    const r = (ms: number[], config?: Record<string, number>, status: VariantResult['status'] = 'completed'): VariantResult & { stats: ReturnType<typeof summarize> } =>
      ({ variant: 'tiled', status, stats: summarize(ms), samplesMs: ms, config });
    const base = r([2, 2, 2]);
    const t = { base, own: { TM: 64 }, configs: [{ TM: 16 }, { TM: 32 }], level: 'quick' as const };
    expect(tunedResult(t, [r([1, 1, 1], { TM: 16 }), r([1.5, 1.5, 1.5], { TM: 32 })])).toMatchObject({ config: { TM: 16 }, autotune: 'quick' });
    // A mismatching configuration is never the result, however fast; without a faster one the own configuration is.
    expect(tunedResult(t, [r([0.5, 0.5, 0.5], { TM: 16 }, 'mismatch'), r([3, 3, 3], { TM: 32 })])).toMatchObject({ config: { TM: 64 }, autotune: 'quick' });
    expect(autotuneCovers('full', 'quick')).toBe(true);
    expect(autotuneCovers('quick', 'full')).toBe(false);
    expect(autotuneCovers(undefined, 'quick')).toBe(false);
    expect(configText({ TM: 16, TP: 64 })).toBe('TM16 TP64');
  });
});

describe('autotuning on lavapipe', () => {
  it('picks different tiles for a skinny and a square MatMul, stores them, and reuses them', async () => {
    const s = await openSession({}, join(tempDir(), 'autotune.sqlite'), 'test');
    try {
      const w = (k: number, n: number): Float32Array => Float32Array.from({ length: k * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
      const cases = casesFrom((b) => {
        const x = b.input('x', 'float32', [16, 256]);
        const y = b.op('MatMul', [x, b.init('w1', 'float32', [256, 1024], w(256, 1024))]);
        const z = b.input('z', 'float32', [256, 256]);
        b.output(y);
        b.output(b.op('MatMul', [z, b.init('w2', 'float32', [256, 256], w(256, 256))]));
      });
      expect(cases).toHaveLength(2);
      const timing = { ...DEFAULT_TIMING, budgetMs: 300, minTimeMs: 20 };
      const opts = { conditions: 'inference' as const, timing, variants: ['tiled'], autotune: 'quick' as const };
      const first = await measureCases(s, cases, opts);
      const [skinny, square] = first.layers;
      const tuned = (l: typeof skinny) => l.variants.find((v) => v.config)!;
      const own = (l: typeof skinny) => l.variants.find((v) => !v.config)!;
      for (const l of first.layers) {
        expect(tuned(l)).toMatchObject({ variant: 'tiled', status: 'completed', autotune: 'quick', reused: false });
        expect(own(l).status).toBe('completed');
      }
      // The skinny product's 16 rows fill a 16-row tile; the own 64-row tile computes four times as
      // many rows, so a 16-row tile is measurably faster.
      expect(tuned(skinny).config!.TM).toBe(16);
      expect(tuned(skinny).trimmedMeanMs!).toBeLessThan(0.8 * own(skinny).trimmedMeanMs!);
      expect(skinny.bestConfig).toEqual(tuned(skinny).config);
      // The square one is searched among 32- and 64-row tiles: its choice is another tile.
      expect(tuned(square).config!.TM).toBeGreaterThanOrEqual(32);
      expect(tuned(square).config).not.toEqual(tuned(skinny).config);
      // Stored beside the own result, with its configuration and effort.
      const rows = s.store.latestForLayer(s.machineId, skinny.key, 'inference');
      expect(rows.map((r) => (r.config ? `tuned ${r.autotune}` : 'own')).sort()).toEqual(['own', 'tuned quick']);
      expect(rows.find((r) => r.config)!.config).toEqual(tuned(skinny).config);

      // Asked again (quick, or off): nothing is measured, the tuned results come from the store.
      for (const autotune of ['quick', 'off'] as const) {
        const again = await measureCases(s, cases, { ...opts, autotune });
        expect(again.measured).toBe(0);
        expect(again.layers[0].variants.find((v) => v.config)).toMatchObject({ config: tuned(skinny).config, reused: true });
      }
    } finally {
      s.close();
    }
  });
});

describe('whether a layer still wants tuning', () => {
  it('only where a tunable variant completed or is to be measured: one whose tunable variants all failed is not measured again for it', async () => {
    const s = await openSession({}, join(tempDir(), 'pending.sqlite'), 'test');
    try {
      const [c] = casesFrom((b) => {
        const x = b.input('x', 'float32', [32, 64]);
        b.output(b.op('MatMul', [x, b.init('w', 'float32', [64, 48])]));
      });
      const k = kernelFor('MatMul')!;
      const store = (tiled: 'completed' | 'mismatch'): void => {
        const runId = s.store.newRunId();
        for (const v of k.variants.map((x) => x.name)) {
          // As measureCases stores them: a variant that does not support the layer as skipped, without code.
          const code = variantCode(k, c, v, s);
          const status = !code ? 'skipped' : v === 'tiled' ? tiled : 'completed';
          s.store.insertMeasurement({ runId, machineId: s.machineId, layerKey: c.layer.key, variant: v, conditions: 'inference', status,
            ...(status === 'completed' ? { medianMs: 1, samples: 3, samplesMs: [1, 1, 1] } : { reason: status }), kernelHash: code });
        }
      };
      s.store.upsertLayers([c.layer]);
      const opts = { conditions: 'inference' as const, autotune: 'quick' as const };
      store('mismatch');
      // Every variant is stored, and the one tuning would search (tiled; an -f16 variant is a what-if, never tuned) failed.
      expect(pendingCases(s, [c], opts)).toBe(0);
      expect(pendingCases(s, [c], { ...opts, autotune: 'off' })).toBe(0);
      store('completed');
      // A completed tiled: its configurations are still to search.
      expect(pendingCases(s, [c], opts)).toBe(1);
    } finally {
      s.close();
    }
  });
});

