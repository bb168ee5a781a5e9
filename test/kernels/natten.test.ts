/**
 * dlprof.NeighborhoodAttention: every variant agrees with the CPU reference on the device (1-D,
 * 2-D and 3-D, several kernel sizes, dilation, causal, borders, heads, head dims, the bias input,
 * float16), and the reference itself is pinned down independently: with a window covering the
 * whole input it equals plain softmax(scale·QKᵀ)·V (the dlprof.Attention reference), and its
 * windows match NATTEN's window-start rule written out with its border branches.
 * Sizes stay small: lavapipe compiles each pipeline in ~0.5 s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import type { DType } from '../../src/onnx/dtype.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { naGeometry, slabOf, windowOf } from '../../src/kernels/natten.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs } from '../../src/bench/verify.js';
import { float } from '../../src/onnx/write.js';
import { casesFrom, checkCase, releaseGpu, type VariantCheck } from '../support/kernels.js';

afterAll(releaseGpu);

const OP = 'dlprof.NeighborhoodAttention';
const ALL = ['naive', 'gemm', 'fused', 'fused-tiled', 'gemm-f16', 'fused-f16', 'fused-tiled-f16'];

interface Spec {
  b?: number;
  h: number;
  sp: number[];
  d: number;
  k: number[];
  dil?: number[];
  causal?: number[];
  scale?: number;
  rpb?: boolean;
  dtype?: DType;
}

function naCase(s: Spec): LayerCase {
  const shape = [s.b ?? 1, s.h, ...s.sp, s.d];
  const dt = s.dtype ?? 'float32';
  const [c] = casesFrom((g) => {
    const ins = ['q', 'k', 'v'].map((n) => g.input(n, dt, shape));
    if (s.rpb) ins.push(g.input('rpb', dt, [s.h, ...s.k.map((k) => 2 * k - 1)]));
    const attrs: Record<string, number[] | ReturnType<typeof float>> = { kernel_size: s.k };
    if (s.dil) attrs.dilation = s.dil;
    if (s.causal) attrs.is_causal = s.causal;
    if (s.scale !== undefined) attrs.scale = float(s.scale);
    g.output(g.op('NeighborhoodAttention', ins, attrs, { domain: 'dlprof' }), dt, shape);
  }, { '': 17, dlprof: 1 });
  return c;
}

function expectAll(checks: VariantCheck[], want: string[]): void {
  expect(checks.map((r) => r.variant)).toEqual(ALL);
  for (const r of checks) {
    if (want.includes(r.variant)) {
      expect(r.supported, `${r.variant}: ${r.reason}`).toBe(true);
      expect(r.agreement?.ok, `${r.variant}: ${JSON.stringify(r.agreement)}`).toBe(true);
    } else {
      expect(r.supported, r.variant).toBe(false);
      expect(r.reason).toBeTruthy();
    }
  }
}

describe('dlprof.NeighborhoodAttention kernels', () => {
  const cases: Array<[string, Spec, string[]]> = [
    ['1-D L=21 k=5, 2 heads, d=8', { h: 2, sp: [21], d: 8, k: [5] }, ALL],
    ['1-D L=70 k=7 (two query tiles, borders in both), d=6 (scalar path)', { h: 1, sp: [70], d: 6, k: [7] }, ['naive', 'gemm', 'fused', 'fused-tiled']],
    ['1-D L=23 k=3 dilation 4 (groups of 6 and 5), bias', { h: 2, sp: [23], d: 8, k: [3], dil: [4], rpb: true }, ALL],
    ['1-D L=19 k=5 dilation 2, causal, bias', { h: 1, sp: [19], d: 4, k: [5], dil: [2], causal: [1], rpb: true }, ALL],
    ['1-D L=100 k=37 dilation 2, causal, bias: fused-tiled stages slabs of 25 keys (2 per group)', { h: 1, sp: [100], d: 8, k: [37], dil: [2], causal: [1], rpb: true }, ALL],
    ['2-D 9×11 k=3×5, batch 2, 2 heads, d=4', { b: 2, h: 2, sp: [9, 11], d: 4, k: [3, 5] }, ALL],
    ['2-D 10×10 k=3 dilation 3×2, bias, scale 0.5', { h: 3, sp: [10, 10], d: 8, k: [3, 3], dil: [3, 2], rpb: true, scale: 0.5 }, ALL],
    ['2-D 12×9 k=5×3, causal in dim 0 only, d=12', { h: 1, sp: [12, 9], d: 12, k: [5, 3], causal: [1, 0] }, ALL],
    ['2-D 17×17 k=7, 1 head, d=16 (3×3 query tiles)', { h: 1, sp: [17, 17], d: 16, k: [7, 7] }, ALL],
    ['2-D 9×9 k=7, d=32: the haloed tile takes two head-dim chunks', { h: 1, sp: [9, 9], d: 32, k: [7, 7] }, ALL],
    ['3-D 5×6×7 k=3, dilation [1,2,1], d=4', { h: 2, sp: [5, 6, 7], d: 4, k: [3, 3, 3], dil: [1, 2, 1] }, ALL],
    ['3-D 9×6×5 k=5×3×3, causal in dim 0, bias, d=8: fused-tiled slabs of 3 planes', { h: 1, sp: [9, 6, 5], d: 8, k: [5, 3, 3], causal: [1, 0, 0], rpb: true }, ALL],
    ['2-D 13×13 k=13, bias, d=256: fused-tiled stages K and V in turn, one row in two head-dim chunks (204 + 52)', { h: 1, sp: [13, 13], d: 256, k: [13, 13], rpb: true }, ALL],
    ['float16 2-D 8×8 k=3, bias', { h: 2, sp: [8, 8], d: 8, k: [3, 3], rpb: true, dtype: 'float16' }, ALL],
  ];
  for (const [name, spec, want] of cases) {
    it(`${name}: variants agree with the reference`, async () => {
      expectAll(await checkCase(naCase(spec)), want);
    });
  }
});

// ---------------------------------------------------------------------------------------------

/** softmax(scale·QKᵀ)·V per (batch, head) with the dlprof.Attention reference. */
function fullAttention(q: HostTensor, k: HostTensor, v: HostTensor, scale: number): HostTensor {
  const shape = q.shape;
  const D = shape[shape.length - 1];
  const N = q.data.length / (shape[0] * shape[1] * D);
  const flat = (t: HostTensor): HostTensor => ({ ...t, shape: [shape[0], shape[1], N, D] });
  const f32 = (...s: number[]) => ({ dtype: 'float32' as const, shape: s });
  const c: LayerCase = {
    layer: {
      key: 'full', op: 'dlprof.Attention', attrs: { scale, k_transposed: 0 }, weights: [], flops: 0, bytes: 0, params: 0,
      inputs: [f32(shape[0], shape[1], N, D), f32(shape[0], shape[1], N, D), f32(shape[0], shape[1], N, D), null],
      outputs: [f32(shape[0], shape[1], N, D)],
    },
    consts: [null, null, null, null],
  };
  return kernelFor('dlprof.Attention')!.reference(c, [flat(q), flat(k), flat(v), null])[0];
}

describe('dlprof.NeighborhoodAttention reference', () => {
  it('equals full self-attention when the window covers the whole input (1-D and 2-D)', () => {
    for (const spec of [{ h: 2, sp: [9], d: 8, k: [9] }, { h: 2, sp: [5, 7], d: 4, k: [5, 7] }] as Spec[]) {
      const c = naCase(spec);
      const inputs = syntheticInputs(c, 3);
      const na = kernelFor(OP)!.reference(c, inputs)[0];
      const full = fullAttention(inputs[0]!, inputs[1]!, inputs[2]!, 1 / Math.sqrt(spec.d));
      expect(na.data.length).toBe(full.data.length);
      const a = compareOutputs([na], [{ ...full, shape: na.shape }]);
      expect(a.maxAbsError).toBeLessThan(1e-6);
    }
  });

  it('a causal 1-D window covering the input equals causally masked full attention', () => {
    const c = naCase({ h: 1, sp: [7], d: 4, k: [7], causal: [1] });
    const [q, k, v] = syntheticInputs(c, 5) as HostTensor[];
    const got = kernelFor(OP)!.reference(c, [q, k, v, null])[0];
    // Query t attends to keys 0…t: compute it directly.
    for (let t = 0; t < 7; t++) {
      const sc = Array.from({ length: t + 1 }, (_, s) => {
        let dot = 0;
        for (let d = 0; d < 4; d++) dot += q.data[t * 4 + d] * k.data[s * 4 + d];
        return Math.exp(dot / 2);
      });
      const sum = sc.reduce((a, b) => a + b, 0);
      for (let d = 0; d < 4; d++) {
        const want = sc.reduce((a, e, s) => a + e * v.data[s * 4 + d], 0) / sum;
        expect(got.data[t * 4 + d]).toBeCloseTo(want, 6);
      }
    }
  });

  it("windows follow NATTEN's get_window_start, border branches written out", () => {
    // NATTEN's rule as published (src/natten/.../natten_commons): for dilation 1,
    // max(i − ns, 0) + (i + ns ≥ L)·(L − i − ns − 1); for dilation > 1 the three border branches.
    const natten = (i: number, L: number, k: number, d: number): number => {
      const ns = (k - 1) / 2;
      if (d <= 1) return Math.max(i - ns, 0) + (i + ns >= L ? L - i - ns - 1 : 0);
      if (i - ns * d < 0) return i % d;
      if (i + ns * d >= L) {
        const imodd = i % d;
        const a = Math.floor(L / d) * d;
        const b = L - a;
        return imodd < b ? L - b + imodd - 2 * ns * d : a + imodd - k * d;
      }
      return i - ns * d;
    };
    for (const [L, k, d] of [[13, 5, 1], [7, 7, 1], [23, 3, 4], [20, 5, 2], [30, 7, 3]]) {
      for (let x = 0; x < L; x++) {
        const w = windowOf(x, L, k, d, false);
        expect(w.r + w.s * d, `L=${L} k=${k} d=${d} x=${x}`).toBe(natten(x, L, k, d));
        expect(w.cnt).toBe(k);
      }
    }
    // Causal: the k keys ending at the query, fewer near the start.
    expect(windowOf(1, 10, 5, 1, true)).toEqual({ r: 1 % 1, i: 1, s: 0, cnt: 2 });
    expect(windowOf(9, 10, 5, 1, true)).toEqual({ r: 0, i: 9, s: 5, cnt: 5 });
    expect(windowOf(7, 20, 3, 2, true)).toEqual({ r: 1, i: 3, s: 1, cnt: 3 });
  });

  it('the bias enters at relative offset (key − query) + k − 1', () => {
    // One query row of a 1-D k=3 window at the left border: keys 0,1,2, offsets 0,1,2 → bias 2,3,4.
    const c = naCase({ h: 1, sp: [5], d: 4, k: [3], rpb: true });
    const [q, k, v] = syntheticInputs(c, 9) as HostTensor[];
    const zero = { ...q, data: new Float32Array(q.data.length) };
    const rpb: HostTensor = { dtype: 'float32', shape: [1, 5], data: Float32Array.from([0, 0, Math.log(1), Math.log(2), Math.log(3)]) };
    // With Q = 0 the weights are the softmax of the bias alone: 1/6, 2/6, 3/6 for query 0.
    const got = kernelFor(OP)!.reference(c, [zero, k, v, rpb])[0];
    for (let d = 0; d < 4; d++) {
      expect(got.data[d]).toBeCloseTo((v.data[d] + 2 * v.data[4 + d] + 3 * v.data[8 + d]) / 6, 6);
    }
  });
});

describe('dlprof.NeighborhoodAttention support', () => {
  const caps = { f16: false, subgroups: false, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28, maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 };
  const k = kernelFor(OP)!;

  it('naive is the default; f16 variants need shader-f16 and head dims that are multiples of 4', () => {
    const c = naCase({ h: 1, sp: [16], d: 6, k: [5] });
    expect(k.defaultVariant(c)).toBe('naive');
    expect(k.supports(c, 'fused-f16', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('shader-f16') });
    expect(k.supports(c, 'gemm-f16', { ...caps, f16: true })).toMatchObject({ ok: false, reason: expect.stringContaining('multiple of 4') });
    expect(k.supports(c, 'gemm', caps).ok).toBe(true);
  });

  it('bad attributes and oversized problems are refused with a reason, never a crash', () => {
    const c = naCase({ h: 1, sp: [16], d: 8, k: [5] });
    const withAttrs = (attrs: Record<string, unknown>): LayerCase => ({ ...c, layer: { ...c.layer, attrs: { ...c.layer.attrs, ...attrs } as LayerCase['layer']['attrs'] } });
    expect(k.supports(withAttrs({ kernel_size: [4] }), 'naive', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('odd') });
    expect(k.supports(withAttrs({ dilation: [4] }), 'fused', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('kernel_size × dilation = 20') });
    expect(k.supports(withAttrs({ kernel_size: [3, 3] }), 'naive', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('one odd size per spatial dim') });
    expect(() => k.plan(withAttrs({ kernel_size: [4] }), 'naive', caps)).toThrow(/odd/);
    // 16 queries × 7 keys × 4 bytes = 448 bytes of attention weights exceed a 300-byte binding
    // (Q, K, V are 256 bytes each); fused keeps none.
    const small = naCase({ h: 1, sp: [16], d: 4, k: [7] });
    const tight = { ...caps, maxStorageBufferBindingSize: 300 };
    expect(k.supports(small, 'naive', tight)).toMatchObject({ ok: false, reason: expect.stringContaining('attention weights (448 bytes)') });
    expect(k.supports(small, 'gemm', tight)).toMatchObject({ ok: false, reason: expect.stringContaining('attention weights (448 bytes)') });
    expect(k.supports(small, 'fused', tight).ok).toBe(true);
    expect(k.supports(naCase({ h: 1, sp: [8], d: 512, k: [3] }), 'fused', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('head dim 512') });
  });

  it('fused-tiled slabs: the rows and head-dim chunks the device cases above rely on; a row that does not fit is refused', () => {
    const slab = (s: Spec) => slabOf(naGeometry(naCase(s)), 4, 4, caps);
    // 1-D: a 37-key window is over 32 scores, so 32 rows of the 100-key haloed tile, balanced to 25.
    expect(slab({ h: 1, sp: [100], d: 8, k: [37], dil: [2], causal: [1] })).toEqual({ paired: true, rows: 25, DC: 8, inner: 1, scores: 25 });
    // 3-D 4×4×4 tiles, k 5×3×3: a plane of the haloed tile is 6×6 keys with 9 window positions; 3 planes (27 scores) of 8.
    expect(slab({ h: 1, sp: [9, 6, 5], d: 8, k: [5, 3, 3] })).toEqual({ paired: true, rows: 3, DC: 8, inner: 36, scores: 27 });
    // 2-D k=13, d=256: one 20-key row at full head dim is 20 KiB, so K and V take turns, one row in chunks of 204
    // (16 KiB / 80 bytes, rounded to vec4s).
    expect(slab({ h: 1, sp: [13, 13], d: 256, k: [13, 13] })).toEqual({ paired: false, rows: 1, DC: 204, inner: 20, scores: 13 });
    // The benchmark's 2-D k=13, d=32: 2 rows (26 scores) of K and of V staged together, 10 KiB of workgroup memory.
    expect(slab({ h: 1, sp: [56, 56], d: 32, k: [13, 13] })).toEqual({ paired: true, rows: 2, DC: 32, inner: 20, scores: 26 });
    // 3-D k=3×31×31: a plane of the haloed tile is 34×34 = 1156 keys, over 16 KiB even at 4 head-dim elements.
    const big = naCase({ h: 1, sp: [3, 31, 31], d: 4, k: [3, 31, 31] });
    expect(k.supports(big, 'fused-tiled', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('haloed key tile (1156 keys) does not fit') });
    expect(k.supports(big, 'fused', caps).ok).toBe(true);
    expect(k.supports(naCase({ h: 1, sp: [1, 33, 33], d: 4, k: [1, 33, 33] }), 'fused-tiled', caps))
      .toMatchObject({ ok: false, reason: expect.stringContaining('1089-key window row exceeds 1024') });
  });

  it('geometry reads the normalized attributes', () => {
    const g = naGeometry(naCase({ b: 2, h: 3, sp: [10, 12], d: 8, k: [3, 5], dil: [2, 1], causal: [0, 1], rpb: true }));
    expect(g).toMatchObject({ nd: 2, BH: 6, heads: 3, N: 120, D: 8, k: [3, 5], dil: [2, 1], causal: [false, true], win: 15, rpb: true, rSize: 45 });
    expect(g.scale).toBeCloseTo(1 / Math.sqrt(8), 7);
  });
});
