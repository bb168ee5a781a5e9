/**
 * Fused layers (dlprof.FusedConv, dlprof.FusedMatMul, dlprof.Attention): every variant that supports
 * a case agrees with the kernel's CPU reference on the device, variants that do not support a case
 * say why, and each reference equals the unfused chain it replaces computed with the existing
 * kernels' references (Conv → Add → Relu, MatMul → Add → Gelu, MatMul → Mul → Add → Softmax →
 * MatMul), so the fused semantics provably match the chains the analysis replaces.
 * Sizes stay small: lavapipe compiles each pipeline in ~0.5 s and runs ~1 GFLOP/s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttrValue, TensorType } from '../../src/ir/types.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs } from '../../src/bench/verify.js';
import { casesFrom, checkCase, gpu, releaseGpu, type VariantCheck } from '../support/kernels.js';

afterAll(releaseGpu);

const f32 = (...shape: number[]): TensorType => ({ dtype: 'float32', shape });

let keys = 0;
function layerCase(op: string, attrs: Record<string, AttrValue>, inputs: Array<TensorType | null>, outputs: TensorType[]): LayerCase {
  const key = (++keys).toString(16).padStart(16, '0');
  return { layer: { key, op, attrs, inputs, outputs, weights: [], flops: 0, bytes: 0, params: 0 }, consts: inputs.map(() => null) };
}

/** Runs a reference of op `op` (unfused chain step) on host tensors. */
function ref(op: string, attrs: Record<string, AttrValue>, inputs: Array<HostTensor | null>, out: TensorType): HostTensor {
  const c = layerCase(op, attrs, inputs.map((t) => (t ? { dtype: t.dtype, shape: t.shape } : null)), [out]);
  return kernelFor(op)!.reference(c, inputs)[0];
}

function expectAgreement(checks: VariantCheck[], wantSupported: string[]): void {
  for (const r of checks) {
    if (wantSupported.includes(r.variant)) {
      expect(r.supported, `${r.variant}: ${r.reason}`).toBe(true);
      expect(r.agreement?.ok, `${r.variant}: ${JSON.stringify(r.agreement)}`).toBe(true);
    } else {
      expect(r.supported, r.variant).toBe(false);
      expect(r.reason).toBeTruthy();
    }
  }
}

/** Cross-check: the fused reference equals `chain` (the unfused references) on the same inputs. */
function expectChain(c: LayerCase, chain: (inputs: Array<HostTensor | null>) => HostTensor): void {
  const inputs = syntheticInputs(c, 11);
  const fused = kernelFor(c.layer.op)!.reference(c, inputs);
  const a = compareOutputs(fused, [chain(inputs)]);
  expect(a.ok, JSON.stringify(a)).toBe(true);
  expect(a.maxAbsError).toBeLessThan(1e-5);
}

// ---------------------------------------------------------------------------------------------

interface ConvSpec { x: number[]; m: number; k: number; stride?: number; pad?: number; group?: number; bias?: boolean; residual?: boolean; act?: string; alpha?: number; beta?: number }

function convCase(s: ConvSpec): LayerCase {
  const [N, C, H, W] = s.x;
  const st = s.stride ?? 1;
  const p = s.pad ?? 0;
  const oh = Math.floor((H + 2 * p - s.k) / st) + 1;
  const ow = Math.floor((W + 2 * p - s.k) / st) + 1;
  const y = f32(N, s.m, oh, ow);
  return layerCase('dlprof.FusedConv', {
    kernel_shape: [s.k, s.k], strides: [st, st], pads: [p, p, p, p], dilations: [1, 1], group: s.group ?? 1,
    activation: s.act ?? 'none', activation_alpha: s.alpha ?? 0, activation_beta: s.beta ?? 0,
  }, [f32(...s.x), f32(s.m, C / (s.group ?? 1), s.k, s.k), s.bias === false ? null : f32(s.m), s.residual ? y : null], [y]);
}

/** Conv → (Add residual) → activation with the existing kernels' references. */
function convChain(c: LayerCase): (inputs: Array<HostTensor | null>) => HostTensor {
  return ([x, w, b, r]) => {
    const { activation, activation_alpha, activation_beta, ...convAttrs } = c.layer.attrs;
    const y = c.layer.outputs[0];
    let t = ref('Conv', convAttrs, [x, w, b], y);
    if (r) t = ref('Add', {}, [t, r], y);
    if (activation === 'Relu') t = ref('Relu', {}, [t], y);
    if (activation === 'Clip') t = ref('Clip', { min: activation_alpha, max: activation_beta }, [t], y);
    if (activation === 'LeakyRelu') t = ref('LeakyRelu', { alpha: activation_alpha }, [t], y);
    return t;
  };
}

describe('dlprof.FusedConv', () => {
  const cases: Array<[string, ConvSpec, string[]]> = [
    ['3×3 stride 1, bias + residual + Relu', { x: [1, 4, 9, 9], m: 8, k: 3, pad: 1, residual: true, act: 'Relu' }, ['direct-fused', 'implicit-gemm-fused']],
    ['3×3 stride 2, bias + residual + Relu', { x: [2, 3, 9, 9], m: 6, k: 3, stride: 2, pad: 1, residual: true, act: 'Relu' }, ['direct-fused', 'implicit-gemm-fused']],
    ['1×1, bias + LeakyRelu', { x: [1, 8, 5, 7], m: 12, k: 1, act: 'LeakyRelu', alpha: 0.1 }, ['direct-fused', 'implicit-gemm-fused']],
    ['depthwise 3×3, bias + Clip(0, 6)', { x: [1, 8, 10, 10], m: 8, k: 3, pad: 1, group: 8, act: 'Clip', alpha: 0, beta: 6 }, ['direct-fused', 'implicit-gemm-fused', 'depthwise-fused']],
  ];
  for (const [name, spec, ok] of cases) {
    it(`${name}: variants agree with the reference`, async () => {
      const c = convCase(spec);
      expectAgreement(await checkCase(c), ok);
    });
    it(`${name}: the reference equals Conv → Add → activation`, () => {
      const c = convCase(spec);
      expectChain(c, convChain(c));
    });
  }

  it('default variants: implicit GEMM for group 1, depthwise for depthwise', () => {
    const k = kernelFor('dlprof.FusedConv')!;
    expect(k.defaultVariant(convCase(cases[0][1]))).toBe('implicit-gemm-fused');
    expect(k.defaultVariant(convCase(cases[3][1]))).toBe('depthwise-fused');
    expect(k.defaultVariant(convCase({ x: [1, 8, 6, 6], m: 8, k: 3, group: 2 }))).toBe('direct-fused');
  });
});

// ---------------------------------------------------------------------------------------------

function mmCase(a: number[], b: number[], bias: number[] | null, y: number[], attrs: Record<string, AttrValue>): LayerCase {
  return layerCase('dlprof.FusedMatMul', { transA: 0, transB: 0, alpha: 1, activation: 'none', activation_alpha: 0, activation_beta: 0, ...attrs },
    [f32(...a), f32(...b), bias ? f32(...bias) : null], [f32(...y)]);
}

describe('dlprof.FusedMatMul', () => {
  const gelu = mmCase([1, 5, 24], [24, 40], [40], [1, 5, 40], { activation: 'Gelu' });
  const gemm = mmCase([7, 13], [11, 13], [11], [7, 11], { transB: 1, alpha: 0.5, activation: 'Relu' });
  const odd = mmCase([2, 3, 17, 19], [3, 19, 23], [3, 1, 23], [2, 3, 17, 23], { activation: 'Tanh' });

  it('[1,5,24]×[24,40] + bias + Gelu: variants agree', async () => {
    const checks = await checkCase(gelu);
    expectAgreement(checks, ['tiled-fused', 'naive-fused']);
    // Pre-activations span about ±3, where GELU bends: the erf approximation (≤ 1.5e-7) and a
    // 24-term f32 sum stay far below 1e-5.
    for (const r of checks) expect(r.agreement!.maxAbsError).toBeLessThan(1e-5);
  });
  it('Gemm-style transB, alpha 0.5, + bias + Relu: variants agree', async () => {
    expectAgreement(await checkCase(gemm), ['tiled-fused', 'naive-fused']);
  });
  it('odd sizes, broadcast batch and a [3,1,23] bias + Tanh: variants agree', async () => {
    expectAgreement(await checkCase(odd), ['tiled-fused', 'naive-fused']);
  });

  it('references equal MatMul/Gemm → Add → activation', () => {
    expectChain(gelu, ([a, b, bias]) => {
      const y = gelu.layer.outputs[0];
      return ref('Gelu', {}, [ref('Add', {}, [ref('MatMul', {}, [a, b], y), bias], y)], y);
    });
    expectChain(gemm, ([a, b, bias]) => {
      const y = gemm.layer.outputs[0];
      return ref('Relu', {}, [ref('Gemm', { transA: 0, transB: 1, alpha: 0.5, beta: 1 }, [a, b, bias], y)], y);
    });
    expectChain(odd, ([a, b, bias]) => {
      const y = odd.layer.outputs[0];
      return ref('Tanh', {}, [ref('Add', {}, [ref('MatMul', {}, [a, b], y), bias], y)], y);
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface AttnSpec { b: number[]; L: number; S: number; d: number; dv?: number; kT: 0 | 1; mask?: number[]; scale?: number; f16?: boolean }

function attnCase(s: AttnSpec): LayerCase {
  const dv = s.dv ?? s.d;
  const f32 = (...shape: number[]): TensorType => ({ dtype: s.f16 ? 'float16' : 'float32', shape });
  return layerCase('dlprof.Attention', { scale: s.scale ?? 1 / Math.sqrt(s.d), k_transposed: s.kT }, [
    f32(...s.b, s.L, s.d), s.kT ? f32(...s.b, s.d, s.S) : f32(...s.b, s.S, s.d), f32(...s.b, s.S, dv), s.mask ? f32(...s.mask) : null,
  ], [f32(...s.b, s.L, dv)]);
}

/** MatMul(Q, Kᵀ) → Mul(scale) → Add(mask) → Softmax → MatMul(·V), K transposed on the host when needed. */
function attnChain(c: LayerCase): (inputs: Array<HostTensor | null>) => HostTensor {
  return ([q, k, v, mask]) => {
    const b = q!.shape.slice(0, -2);
    const [L, d] = q!.shape.slice(-2);
    const S = v!.shape[v!.shape.length - 2];
    let kt = k!;
    if (c.layer.attrs.k_transposed !== 1) {
      const data = new Float32Array(k!.data.length);
      const batches = data.length / (S * d);
      for (let z = 0; z < batches; z++) for (let s = 0; s < S; s++) for (let j = 0; j < d; j++) data[z * S * d + j * S + s] = k!.data[z * S * d + s * d + j];
      kt = { dtype: 'float32', shape: [...b, d, S], data };
    }
    const scores = f32(...b, L, S);
    const scale: HostTensor = { dtype: 'float32', shape: [], data: Float32Array.of(c.layer.attrs.scale as number) };
    let t = ref('MatMul', {}, [q, kt], scores);
    t = ref('Mul', {}, [t, scale], scores);
    if (mask) t = ref('Add', {}, [t, mask], scores);
    t = ref('Softmax', { axis: -1 }, [t], scores);
    return ref('MatMul', {}, [t, v], c.layer.outputs[0]);
  };
}

/** Every attention variant; each must support every case below. */
const ATTN_VARIANTS = ['unfused', 'fused', 'fused-split', 'fused-tiled'];

describe('dlprof.Attention', () => {
  const cases: Array<[string, AttnSpec]> = [
    ['B=1, H=2, L=S=17, d=8, no mask, K [S, d]', { b: [1, 2], L: 17, S: 17, d: 8, kT: 0 }],
    ['B=1, H=2, L=S=17, d=8, mask [1,1,17,17], K [d, S]', { b: [1, 2], L: 17, S: 17, d: 8, kT: 1, mask: [1, 1, 17, 17] }],
    ['L=5 ≠ S=45 (two key tiles), dv=12, per-head mask, K [S, d]', { b: [1, 2], L: 5, S: 45, d: 8, dv: 12, kT: 0, mask: [1, 2, 5, 45] }],
    ['rank 3 (no head dim), L=33, S=40, key-padding mask [2,1,40], K [d, S]', { b: [2], L: 33, S: 40, d: 4, kT: 1, mask: [2, 1, 40] }],
    ['L=9, S=150 (three key tiles of fused-split, the last partial), d=16, mask [1,1,9,150]', { b: [1, 2], L: 9, S: 150, d: 16, kT: 0, mask: [1, 1, 9, 150] }],
    // fused-tiled's ragged edges: three 32-row blocks and four 32-key blocks, both partial; d = 6 and dv = 10 not multiples of 4.
    ['L=70, S=100 (ragged row and key blocks), d=6, dv=10, per-head mask, K [d, S]', { b: [1, 2], L: 70, S: 100, d: 6, dv: 10, kT: 1, mask: [1, 2, 70, 100] }],
    // d = 72 in three 24-wide chunks of Q·Kᵀ; dv = 200 is 13 features an invocation and V staged 8 keys at a time.
    ['L=40, S=70, d=72 (three head-dim chunks), dv=200 (V in pieces), mask [40,70]', { b: [1, 1], L: 40, S: 70, d: 72, dv: 200, kT: 0, mask: [40, 70], scale: 0.05 }],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: every variant agrees with the reference`, async () => {
      expectAgreement(await checkCase(attnCase(spec)), ATTN_VARIANTS);
    });
    it(`${name}: the reference equals MatMul → Mul → Add → Softmax → MatMul`, () => {
      const c = attnCase(spec);
      expectChain(c, attnChain(c));
    });
  }

  it('the default is unfused; unsupported shapes say why', () => {
    const k = kernelFor('dlprof.Attention')!;
    const c = attnCase(cases[0][1]);
    expect(k.defaultVariant(c)).toBe('unfused');
    const caps = { f16: false, subgroups: false, maxStorageBufferBindingSize: 1000, maxBufferSize: 1 << 28, maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 };
    // 1·2·17·17·4 = 2312 bytes of scores exceed a 1000-byte binding; the fused kernel needs none.
    const big = attnCase({ b: [1, 2], L: 17, S: 17, d: 2, kT: 0 });
    expect(k.supports(big, 'unfused', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('scores') });
    expect(k.supports(big, 'fused', caps).ok).toBe(true);
    expect(k.supports(attnCase({ b: [1], L: 4, S: 4, d: 512, kT: 0 }), 'fused', { ...caps, maxStorageBufferBindingSize: 1 << 27 }).ok).toBe(false);
    // fused-tiled keeps only DV in registers (D is chunked), and its P block needs workgroup memory.
    const wide = { ...caps, maxStorageBufferBindingSize: 1 << 27 };
    expect(k.supports(attnCase({ b: [1], L: 4, S: 4, d: 512, dv: 64, kT: 0 }), 'fused-tiled', wide).ok).toBe(true);
    expect(k.supports(attnCase({ b: [1], L: 4, S: 4, d: 64, dv: 512, kT: 0 }), 'fused-tiled', wide)).toMatchObject({ ok: false, reason: expect.stringContaining('registers') });
    expect(k.supports(big, 'fused-tiled', { ...wide, maxComputeWorkgroupStorageSize: 4096 })).toMatchObject({ ok: false, reason: expect.stringContaining('workgroup memory') });
    expect(k.supports(big, 'fused-tiled', { ...wide, maxComputeInvocationsPerWorkgroup: 128 })).toMatchObject({ ok: false, reason: expect.stringContaining('256 invocations') });
  });

  it('float16 Q, K, V, mask and output (f32 arithmetic): every variant agrees, or all need shader-f16', async () => {
    const { runner } = await gpu();
    const checks = await checkCase(attnCase({ b: [1, 2], L: 37, S: 50, d: 20, dv: 12, kT: 0, mask: [1, 1, 37, 50], f16: true }));
    if (runner.caps.f16) expectAgreement(checks, ATTN_VARIANTS);
    else for (const r of checks) expect(r.reason).toMatch(/shader-f16/);
  });
});

// ---------------------------------------------------------------------------------------------
// onnxruntime's contrib attention ops, through shape inference (normalized attributes) from real models.

/** [B, L, h·D] → [B, h, L, D]. */
function toHeads(t: HostTensor, h: number): HostTensor {
  const [B, L, HD] = t.shape;
  const D = HD / h;
  const data = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let n = 0; n < h; n++) for (let d = 0; d < D; d++) data[((b * h + n) * L + l) * D + d] = t.data[(b * L + l) * HD + n * D + d];
  return { dtype: t.dtype, shape: [B, h, L, D], data };
}

/** [B, h, L, D] → [B, L, h·D]. */
function fromHeads(t: HostTensor): HostTensor {
  const [B, h, L, D] = t.shape;
  const data = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let n = 0; n < h; n++) for (let d = 0; d < D; d++) data[(b * L + l) * h * D + n * D + d] = t.data[((b * h + n) * L + l) * D + d];
  return { dtype: t.dtype, shape: [B, L, h * D], data };
}

/** Per-head dlprof.Attention on [B, h, L, D] tensors, causal through an additive −1e9 mask. */
function headsAttention(q: HostTensor, k: HostTensor, v: HostTensor, bias: HostTensor | null, scale: number, causal: boolean): HostTensor {
  const [B, h, L, D] = q.shape;
  const S = k.shape[2];
  const DV = v.shape[3];
  let mask = bias;
  if (causal) {
    const full = new Float32Array(B * h * L * S);
    for (let z = 0; z < B * h; z++) {
      for (let l = 0; l < L; l++) {
        for (let s = 0; s < S; s++) {
          const [b, n] = [Math.floor(z / h), z % h];
          const bi = bias ? (bias.shape[0] === 1 ? 0 : b) * bias.shape[1] * L * S + (bias.shape[1] === 1 ? 0 : n) * L * S + l * S + s : -1;
          full[(z * L + l) * S + s] = (bias ? bias.data[bi] : 0) + (s > l + S - L ? -1e9 : 0);
        }
      }
    }
    mask = { dtype: 'float32', shape: [B, h, L, S], data: full };
  }
  const c = layerCase('dlprof.Attention', { scale, k_transposed: 0 }, [f32(B, h, L, D), f32(B, h, S, D), f32(B, h, S, DV), mask ? f32(...mask.shape) : null], [f32(B, h, L, DV)]);
  return kernelFor('dlprof.Attention')!.reference(c, [q, k, v, mask])[0];
}

const CONTRIB = { '': 17, 'com.microsoft': 1 };

describe('com.microsoft.MultiHeadAttention and com.microsoft.Attention', () => {
  const mha = (B: number, L: number, S: number, h: number, D: number, DV: number, bias: number[] | null, causal: 0 | 1): LayerCase => casesFrom((g) => {
    g.input('q', 'float32', [B, L, h * D]);
    g.input('k', 'float32', [B, S, h * D]);
    g.input('v', 'float32', [B, S, h * DV]);
    if (bias) g.input('ab', 'float32', bias);
    g.output(g.op('MultiHeadAttention', ['q', 'k', 'v', '', '', bias ? 'ab' : ''], { num_heads: h, unidirectional: causal }, { domain: 'com.microsoft' }), 'float32');
  }, CONTRIB)[0];

  const mhaCases: Array<[string, LayerCase]> = [
    ['B=2, L=5, S=7, 2 heads, D=4, DV=3, attention_bias [1,2,5,7]', mha(2, 5, 7, 2, 4, 3, [1, 2, 5, 7], 0)],
    ['B=1, L=S=37 (two key tiles), 3 heads, D=8, unidirectional, bias [1,1,37,37]', mha(1, 37, 37, 3, 8, 8, [1, 1, 37, 37], 1)],
    ['B=1, L=S=140 (three key tiles of fused-split), 2 heads, D=8, unidirectional, no bias', mha(1, 140, 140, 2, 8, 8, null, 1)],
    ['B=2, L=45, S=77 (ragged fused-tiled blocks), 2 heads, D=12, DV=20, unidirectional, bias [2,1,45,77]', mha(2, 45, 77, 2, 12, 20, [2, 1, 45, 77], 1)],
  ];
  for (const [name, c] of mhaCases) {
    it(`MultiHeadAttention ${name}: the reference is per-head attention; every variant agrees with it`, async () => {
      expect(c.layer.op).toBe('com.microsoft.MultiHeadAttention');
      const h = c.layer.attrs.num_heads as number;
      const D = c.layer.inputs[0]!.shape[2] / h;
      expect(c.layer.attrs.scale).toBeCloseTo(1 / Math.sqrt(D), 6);
      const inputs = syntheticInputs(c, 5);
      const [q, k, v] = inputs.slice(0, 3).map((t) => toHeads(t!, h));
      const want = fromHeads(headsAttention(q, k, v, inputs[5] ?? null, c.layer.attrs.scale as number, c.layer.attrs.unidirectional === 1));
      const got = kernelFor(c.layer.op)!.reference(c, inputs);
      const a = compareOutputs(got, [want]);
      expect(a.ok, JSON.stringify(a)).toBe(true);
      expectAgreement(await checkCase(c), ATTN_VARIANTS);
    });
  }

  it("fused-tiled's search space: each block, and quad reductions, compute ragged, chunked and causal attention", async () => {
    const { runner } = await gpu();
    const cases = [
      attnCase({ b: [1, 2], L: 70, S: 100, d: 6, dv: 10, kT: 1, mask: [1, 2, 70, 100] }),
      attnCase({ b: [1, 1], L: 40, S: 70, d: 72, dv: 200, kT: 0, mask: [40, 70], scale: 0.05 }),
      mhaCases[3][1],
    ];
    for (const [n, c] of cases.entries()) {
      const kernel = kernelFor(c.layer.op)!;
      const configs = kernel.tuning!(c, 'fused-tiled', runner.caps, 'quick');
      // The own 32×32 block first; 16-, 64-row and 64-key blocks and 4×4 scores an invocation after it where they fit.
      expect(configs[0]).toEqual({ BR: 32, BC: 32, TY: 16, TX: 16 });
      expect(configs.length).toBeGreaterThanOrEqual(4);
      expect(configs.some((t) => t.TX === 8)).toBe(true);
      // With subgroups, the own block's quad reductions too (every block's in full).
      if (runner.caps.subgroups) {
        expect(configs.filter((t) => t.SG)).toEqual([{ BR: 32, BC: 32, TY: 16, TX: 16, SG: 1 }]);
        expect(kernel.tuning!(c, 'fused-tiled', runner.caps, 'full').filter((t) => t.SG).length).toBe(configs.length - 1);
      }
      expect(kernel.tuning!(c, 'fused', runner.caps, 'full')).toEqual([]);
      const inputs = syntheticInputs(c, 9);
      const want = kernel.reference(c, inputs);
      // Every block on the ragged case; on the chunked and causal ones (each block is a program of
      // its own, seconds to compile with a cold shader cache) a 16-row, a 4×4 and a quad-reducing one.
      const run = n === 0 ? configs : [configs.find((t) => t.BR === 16), configs.find((t) => t.TX === 8), configs.find((t) => t.SG)].filter((t) => t !== undefined);
      expect(run.length).toBeGreaterThanOrEqual(2);
      for (const config of run) {
        const p = await runner.prepare(kernel, c, kernel.plan(c, 'fused-tiled', runner.caps, config), inputs, `fused-tiled ${JSON.stringify(config)}`);
        try {
          const a = compareOutputs(await runner.run(p, c), want);
          expect(a.ok, `${c.layer.op} ${JSON.stringify(config)}: ${JSON.stringify(a)}`).toBe(true);
        } finally {
          runner.release(p);
        }
      }
    }
  });

  it('Attention (packed Q/K/V projection + bias, 2 heads, qkv_hidden_sizes 8/8/6): the reference is projection then MultiHeadAttention; every variant agrees', async () => {
    const c = casesFrom((g) => {
      g.input('x', 'float32', [2, 9, 10]);
      const w = g.init('w', 'float32', [10, 22]);
      const b = g.init('b', 'float32', [22]);
      g.output(g.op('Attention', ['x', w, b], { num_heads: 2, qkv_hidden_sizes: [8, 8, 6] }, { domain: 'com.microsoft' }), 'float32');
    }, CONTRIB)[0];
    expect(c.layer.op).toBe('com.microsoft.Attention');
    expect(c.layer.outputs[0].shape).toEqual([2, 9, 6]);
    const inputs = syntheticInputs(c, 3);
    const [x, w, b] = inputs;
    const proj = new Float32Array(2 * 9 * 22);
    for (let r = 0; r < 18; r++) for (let n = 0; n < 22; n++) {
      let acc = b!.data[n];
      for (let k = 0; k < 10; k++) acc += x!.data[r * 10 + k] * w!.data[k * 22 + n];
      proj[r * 22 + n] = acc;
    }
    const cols = (from: number, width: number): HostTensor => {
      const data = new Float32Array(18 * width);
      for (let r = 0; r < 18; r++) for (let j = 0; j < width; j++) data[r * width + j] = proj[r * 22 + from + j];
      return { dtype: 'float32', shape: [2, 9, width], data };
    };
    const want = fromHeads(headsAttention(toHeads(cols(0, 8), 2), toHeads(cols(8, 8), 2), toHeads(cols(16, 6), 2), null, 0.5, false));
    const a = compareOutputs(kernelFor(c.layer.op)!.reference(c, inputs), [want]);
    expect(a.ok, JSON.stringify(a)).toBe(true);
    expectAgreement(await checkCase(c), ATTN_VARIANTS);
  });

  it('unsupported inputs and layouts say why', () => {
    const caps = { f16: false, subgroups: false, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28, maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 };
    const c = casesFrom((g) => {
      g.input('q', 'float32', [1, 4, 8]);
      g.input('k', 'float32', [1, 4, 8]);
      g.input('v', 'float32', [1, 4, 8]);
      g.input('bias', 'float32', [24]);
      g.output(g.op('MultiHeadAttention', ['q', 'k', 'v', 'bias'], { num_heads: 2 }, { domain: 'com.microsoft' }), 'float32');
    }, CONTRIB)[0];
    expect(kernelFor(c.layer.op)!.supports(c, 'fused', caps)).toMatchObject({ ok: false, reason: expect.stringContaining('bias') });
  });
});
