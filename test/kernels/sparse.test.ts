/**
 * dlprof.SparseLinear (src/kernels/sparse.ts): every variant (dense, csr, ell-fused) agrees with
 * the CPU reference at several sparsities and shapes that are not multiples of any tile; the
 * host-side formats are exact; syntheticInputs gives a weight its recorded sparsity; and a plan's
 * hostInputs reach the GPU through KernelRunner.prepare.
 * Sizes stay small: lavapipe compiles each pipeline in ~0.5 s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttrValue, TensorType } from '../../src/ir/types.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor, layerFlops } from '../../src/kernels/registry.js';
import { ellTiling, sparseGeometry, sparseLinearKernel, toCsr, toEll } from '../../src/kernels/sparse.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs } from '../../src/bench/verify.js';
import { checkCase, gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

const f32 = (...shape: number[]): TensorType => ({ dtype: 'float32', shape });

let keys = 0;
interface Spec { x: number[]; n: number; s: number; bias?: boolean; act?: 'none' | 'Relu' | 'Clip'; lo?: number; hi?: number; transB?: boolean }

function sparseCase(p: Spec): LayerCase {
  const K = p.x[p.x.length - 1];
  const attrs: Record<string, AttrValue> = { activation: p.act ?? 'none', sparsity: p.s, trans_b: p.transB ? 1 : 0 };
  if (p.act === 'Clip') { attrs.clip_min = p.lo ?? 0; attrs.clip_max = p.hi ?? 32; }
  const inputs = [f32(...p.x), p.transB ? f32(p.n, K) : f32(K, p.n), p.bias === false ? null : f32(p.n)];
  const key = (++keys).toString(16).padStart(16, '0');
  return { layer: { key, op: 'dlprof.SparseLinear', attrs, inputs, outputs: [f32(...p.x.slice(0, -1), p.n)], weights: [], flops: 0, bytes: 0, params: 0 }, consts: inputs.map(() => null) };
}

async function expectAllAgree(c: LayerCase): Promise<void> {
  const checks = await checkCase(c);
  expect(checks.map((r) => r.variant).sort()).toEqual(['csr', 'dense', 'ell-fused']);
  for (const r of checks) {
    expect(r.supported, `${r.variant}: ${r.reason}`).toBe(true);
    expect(r.agreement?.ok, `${r.variant}: ${JSON.stringify(r.agreement)}`).toBe(true);
  }
}

/** The count of non-zeros of W(k, n) per output neuron n. */
function fanIn(w: HostTensor, K: number, N: number, transB = false): number[] {
  return Array.from({ length: N }, (_, n) => {
    let c = 0;
    for (let k = 0; k < K; k++) if (w.data[transB ? n * K + k : k * N + n] !== 0) c++;
    return c;
  });
}

describe('dlprof.SparseLinear variants agree with the reference', () => {
  it('50% sparse, bias + ReLU, several K blocks and partial tiles (M 9, K 1100, N 150)', async () => {
    await expectAllAgree(sparseCase({ x: [9, 1100], n: 150, s: 0.5, act: 'Relu' }));
  });

  it('90% sparse, bias + Clip(0, 32), batched leading dimensions', async () => {
    await expectAllAgree(sparseCase({ x: [2, 3, 70], n: 37, s: 0.9, act: 'Clip', lo: 0, hi: 32 }));
  });

  it('99% sparse, no bias, no activation (K 700 so each column keeps 7)', async () => {
    await expectAllAgree(sparseCase({ x: [17, 700], n: 65, s: 0.99, bias: false }));
  });

  it('90% sparse with trans_b and a clip that binds at both ends', async () => {
    const c = sparseCase({ x: [5, 200], n: 33, s: 0.9, act: 'Clip', lo: -0.5, hi: 0.5, transB: true });
    const inputs = syntheticInputs(c, 7);
    const y = sparseLinearKernel.reference(c, inputs)[0].data;
    // Both bounds are reached, so a wrong clamp cannot pass.
    expect(Array.from(y).filter((v) => v === 0.5).length).toBeGreaterThan(0);
    expect(Array.from(y).filter((v) => v === -0.5).length).toBeGreaterThan(0);
    await expectAllAgree(c);
  });

  it('K and N multiples of 4 (vector loads of X and W on the GEMM core), and each of the dense tiles the autotuner tries', async () => {
    const c = sparseCase({ x: [6, 64], n: 132, s: 0.9, act: 'Relu' });
    await expectAllAgree(c);
    const { runner } = await gpu();
    const configs = sparseLinearKernel.tuning!(c, 'dense', runner.caps, 'quick');
    // Its own tile first (32×32, 4×4 an invocation), then the core's.
    expect(configs[0]).toEqual({ TM: 32, TP: 32, TK: 16, RM: 4, RP: 4 });
    expect(configs.length).toBeGreaterThanOrEqual(3);
    expect(sparseLinearKernel.tuning!(c, 'csr', runner.caps, 'quick')).toEqual([]);
    const inputs = syntheticInputs(c, 7);
    const want = sparseLinearKernel.reference(c, inputs);
    for (const config of configs.slice(1)) {
      const p = await runner.prepare(sparseLinearKernel, c, sparseLinearKernel.plan(c, 'dense', runner.caps, config), inputs, `dense ${JSON.stringify(config)}`);
      try {
        const r = compareOutputs(await runner.run(p, c), want);
        expect(r.ok, `${JSON.stringify(config)}: ${JSON.stringify(r)}`).toBe(true);
      } finally {
        runner.release(p);
      }
    }
  });

  it('a single feature row (M = 1) with ReLU', async () => {
    await expectAllAgree(sparseCase({ x: [1, 300], n: 130, s: 0.9, act: 'Relu' }));
  });
});

describe('dlprof.SparseLinear reference and support', () => {
  it('the reference equals the dense product computed naively', () => {
    const c = sparseCase({ x: [3, 20], n: 6, s: 0.5, act: 'Relu' });
    const [X, W, B] = syntheticInputs(c, 3);
    const got = sparseLinearKernel.reference(c, [X, W, B])[0];
    const want = new Float32Array(18);
    for (let m = 0; m < 3; m++) {
      for (let n = 0; n < 6; n++) {
        let s = B!.data[n];
        for (let k = 0; k < 20; k++) s += X!.data[m * 20 + k] * W!.data[k * 6 + n];
        want[m * 6 + n] = Math.max(0, s);
      }
    }
    const a = compareOutputs([got], [{ dtype: 'float32', shape: [3, 6], data: want }]);
    expect(a.ok, JSON.stringify(a)).toBe(true);
    expect(a.maxAbsError).toBeLessThan(1e-5);
  });

  it('says why it cannot run bad layers instead of crashing', async () => {
    const { runner } = await gpu();
    const bad = (mut: (c: LayerCase) => void): string => {
      const c = sparseCase({ x: [4, 8], n: 8, s: 0.9, act: 'Relu' });
      mut(c);
      const s = sparseLinearKernel.supports(c, 'ell-fused', runner.caps);
      expect(s.ok).toBe(false);
      return s.ok ? '' : s.reason;
    };
    expect(bad((c) => { c.layer.attrs.activation = 'Gelu'; })).toMatch(/activation/);
    expect(bad((c) => { c.layer.inputs[1] = f32(2, 8, 8); })).toMatch(/2-D/);
    expect(bad((c) => { c.layer.inputs[1] = f32(9, 8); })).toMatch(/does not match/);
    expect(bad((c) => { c.layer.inputs[2] = f32(7); })).toMatch(/bias/);
    expect(bad((c) => { c.layer.inputs[0] = { dtype: 'float16', shape: [4, 8] }; })).toMatch(/float16/);
    expect(bad((c) => { c.layer.attrs.activation = 'Clip'; c.layer.attrs.clip_min = 2; c.layer.attrs.clip_max = 1; })).toMatch(/clip_min/);
    expect(bad((c) => { c.layer.attrs.sparsity = 1.5; })).toMatch(/sparsity/);
    expect(sparseLinearKernel.supports(sparseCase({ x: [4, 8], n: 8, s: 0.9 }), 'winograd', runner.caps).ok).toBe(false);
  });

  it('counts useful FLOPs: 2·M·nnz + M·N for the bias', () => {
    const c = sparseCase({ x: [2, 3, 100], n: 40, s: 0.9, act: 'Relu' });
    const nnz = 0.1 * 100 * 40;
    expect(layerFlops(c.layer)).toBe(2 * 6 * nnz + 6 * 40);
  });
});

describe('sparse weight formats', () => {
  // W (K 5 × N 3), column n's non-zeros: n0: k 0, 4; n1: none; n2: k 1, 2, 3.
  const W = Float32Array.from([
    1, 0, 0,
    0, 0, 2,
    0, 0, 3,
    0, 0, 4,
    5, 0, 0,
  ]);
  const g = sparseGeometry(sparseCase({ x: [1, 5], n: 3, s: 0.6 }));

  it('CSR of Wᵀ lists each output neuron\'s inputs in order', () => {
    const csr = toCsr(W, g);
    expect(Array.from(csr.rowPtr)).toEqual([0, 2, 2, 5]);
    expect(Array.from(csr.col)).toEqual([0, 4, 1, 2, 3]);
    expect(Array.from(csr.val)).toEqual([1, 5, 2, 3, 4]);
  });

  it('sliced ELL pads each (slice, block) to its widest column, indices into the block\'s footprint', () => {
    // One slice of TN = 128; footprint k 0–4 in blocks of 2: b0 = k 0–1, b1 = k 2–3, b2 = k 4.
    const e = toEll(W, g, { TM: 8, TK: 2, C: 2 });
    const TN = 128;
    const head = 2 + 3 * 4;
    expect(Array.from(e.meta)).toEqual([
      0, 3, // slice 0: blocks 0 … 2
      head, 2, 0, 1, // b0: footprint at head (k 0, 1), entries from 0, width 1
      head + 2, 2, TN, 2, // b1: k 2, 3; width 2 (n2 has both)
      head + 4, 1, 3 * TN, 1, // b2: k 4
      0, 1, 2, 3, 4, // the footprints
    ]);
    const entry = (p: number) => [e.idx[p], e.val[p]];
    expect(entry(0)).toEqual([0, 1]); // b0, n0: k 0
    expect(entry(2)).toEqual([1, 2]); // b0, n2: k 1 → position 1
    expect(entry(TN + 2)).toEqual([0, 3]); // b1, n2, j 0: k 2 → position 0
    expect(entry(2 * TN + 2)).toEqual([1, 4]); // b1, n2, j 1: k 3 → position 1
    expect(entry(TN)).toEqual([0, 0]); // b1, n0: padding
    expect(entry(3 * TN)).toEqual([0, 5]); // b2, n0: k 4 → position 0
    expect(entry(1)).toEqual([0, 0]); // n1 is all padding
    expect(e.padding).toBe((4 * TN) / 5);
  });

  it('stages only the input neurons a slice uses', () => {
    // Only k 1 and 3 feed any output: one block whose footprint is [1, 3].
    const w2 = Float32Array.from([0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0]);
    const e = toEll(w2, g, { TM: 8, TK: 1024, C: 2 });
    expect(Array.from(e.meta)).toEqual([0, 1, 6, 2, 0, 1, 1, 3]);
    expect([e.idx[0], e.val[0], e.idx[2], e.val[2]]).toEqual([0, 7, 1, 8]);
    expect(e.staged).toBeCloseTo(2 / 5, 10);
  });

  it('the ELL tile fits workgroup memory and shrinks for short K', () => {
    expect(ellTiling({ K: 4096 }, { maxComputeWorkgroupStorageSize: 16384 }).TK).toBe(512);
    expect(ellTiling({ K: 4096 }, { maxComputeWorkgroupStorageSize: 32768 }).TK).toBe(1024);
    expect(ellTiling({ K: 4096 }, { maxComputeWorkgroupStorageSize: 65536 }).TK).toBe(1024);
    expect(ellTiling({ K: 37 }, { maxComputeWorkgroupStorageSize: 16384 }).TK).toBe(37);
  });
});

describe('synthetic sparse weights and hostInputs', () => {
  it('syntheticInputs gives a sparse weight exactly round((1 − s)·K) non-zeros per column', () => {
    for (const s of [0.5, 0.9, 0.99]) {
      const c = sparseCase({ x: [2, 300], n: 20, s });
      const [, w] = syntheticInputs(c, 5);
      expect(fanIn(w!, 300, 20).every((x) => x === Math.round((1 - s) * 300))).toBe(true);
    }
    // Per row of a transposed weight, and from Layer.weights for an ordinary MatMul.
    const t = sparseCase({ x: [2, 100], n: 10, s: 0.9, transB: true });
    expect(fanIn(syntheticInputs(t, 5)[1]!, 100, 10, true).every((x) => x === 10)).toBe(true);
    const mm: LayerCase = {
      layer: { key: 'mm', op: 'MatMul', attrs: {}, inputs: [f32(4, 64), f32(64, 16)], outputs: [f32(4, 16)], flops: 0, bytes: 0, params: 0,
        weights: [{ input: 1, sparsity: 0.75, sparsityExact: true, sparseInitializer: true }] },
      consts: [null, null],
    };
    const [x, w] = syntheticInputs(mm, 5);
    expect(fanIn(w!, 64, 16).every((v) => v === 16)).toBe(true);
    expect(Array.from(x!.data).every((v) => v !== 0)).toBe(true); // activations stay dense
    // Below the threshold a weight stays dense (a few zeros do not change the kernel's work).
    mm.layer.weights[0].sparsity = 0.2;
    expect(Array.from(syntheticInputs(mm, 5)[1]!.data).filter((v) => v === 0).length).toBe(0);
  });

  it('KernelRunner.prepare binds the plan\'s hostInputs (CSR arrays), not the dense weight', async () => {
    const { runner } = await gpu();
    const c = sparseCase({ x: [3, 40], n: 12, s: 0.9, act: 'Relu' });
    const kernel = kernelFor('dlprof.SparseLinear')!;
    const inputs = syntheticInputs(c, 9);
    const plan = kernel.plan(c, 'csr', runner.caps);
    const p = await runner.prepare(kernel, c, plan, inputs, 'sparse test csr');
    try {
      const nnz = 12 * 4;
      expect(p.inputs.map((b) => b?.size ?? 0)).toEqual([3 * 40 * 4, 13 * 4, nnz * 4, nnz * 4, 12 * 4]);
      const got = await runner.run(p, c);
      const a = compareOutputs(got, kernel.reference(c, inputs));
      expect(a.ok, JSON.stringify(a)).toBe(true);
      // Over a whole model's shared tensor buffers the CSR arrays do not exist: refused, not misbound.
      await expect(runner.bind(kernel, c, plan, p.inputs.slice(0, 3), p.outputs, 'sparse test bind')).rejects.toThrow(/host/);
    } finally {
      runner.release(p);
    }
  });
});
