/**
 * MatMul/Gemm kernel: every variant against the CPU reference on square, odd (not multiples of
 * any tile or of 4), 1-D-promoted, batch-broadcast, skinny (GEMV), long-K and Gemm attribute/bias
 * shapes, float16 and integer layers; and ONNX's conformance cases for MatMul and Gemm.
 *
 * Reduced-precision variants (`-f16`) of float32 layers are judged at float16 tolerance, as the
 * benchmark does (src/bench/measure.ts): they are the what-if of computing the layer in f16.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { float } from '../../src/onnx/write.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs, TOLERANCE } from '../../src/bench/verify.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { LayerCase } from '../../src/kernels/types.js';
import type { DType } from '../../src/onnx/dtype.js';
import { geometry } from '../../src/kernels/matmul.js';
import type { GraphBuilder } from '../../src/onnx/write.js';
import { casesFrom, gpu, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, runConformanceCase } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

const ALL = ['naive', 'tiled', 'blocked', 'subgroup', 'gemv', 'split-k', 'tiled-f16'];

/**
 * Variants run on the cases that only check layer semantics (1-D promotion, batch broadcast, C
 * shapes…). Those semantics live in code every variant shares — the strided geometry, the batch
 * offsets, the fused epilogue — so `naive` (its own loops) and `subgroup` (the shared block
 * loaders and epilogue) cover them; every variant runs on the cases that cover each load path
 * (k-contiguous, m/n-contiguous and scalar, for A and for B) and on ONNX's conformance cases.
 * The split keeps this file within its time budget: on lavapipe compiling one variant of one
 * layer takes 0.3–2 s, the layer's run a few milliseconds.
 */
const SEMANTICS = ['naive', 'subgroup'];

/** checkCase (restricted to `only`) with the f16 what-if judged at float16 tolerance. */
async function check(c: LayerCase, only?: string[], seed = 7): Promise<VariantCheck[]> {
  const { runner } = await gpu();
  const kernel = kernelFor(c.layer.op)!;
  const inputs = syntheticInputs(c, seed);
  const want = kernel.reference(c, inputs);
  const out: VariantCheck[] = [];
  for (const v of kernel.variants) {
    if (only && !only.includes(v.name)) continue;
    const s = kernel.supports(c, v.name, runner.caps);
    if (!s.ok) { out.push({ op: c.layer.op, variant: v.name, supported: false, reason: s.reason }); continue; }
    const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, runner.caps), inputs, `matmul/${v.name} ${c.layer.op}`);
    try {
      const got = await runner.run(p, c);
      const override = v.name.endsWith('-f16') && c.layer.outputs[0].dtype === 'float32' ? 'float16' : undefined;
      out.push({ op: c.layer.op, variant: v.name, supported: true, agreement: compareOutputs(got, want, override) });
    } finally {
      runner.release(p);
    }
  }
  return out;
}

const describeCase = (c: LayerCase): string => `${c.layer.op} ${c.layer.inputs.map((t) => t && `${t.dtype}[${t.shape}]`).join(' × ')} ${JSON.stringify(c.layer.attrs)}`;

/** The variants expected to be supported: `subgroup` only where the device has subgroups. */
async function expected(vs: string[]): Promise<string[]> {
  const { runner } = await gpu();
  return vs.filter((v) => v !== 'subgroup' || runner.caps.subgroups);
}
const MATRIX = ['naive', 'tiled', 'blocked', 'subgroup', 'tiled-f16'];
const SKINNY = ['naive', 'blocked', 'subgroup', 'gemv', 'split-k'];

/** The variants that support the case (no GPU work); unsupported ones must say why. */
async function supportedBy(c: LayerCase): Promise<string[]> {
  const { runner } = await gpu();
  const k = kernelFor(c.layer.op)!;
  return k.variants.map((v) => v.name).filter((v) => {
    const s = k.supports(c, v, runner.caps);
    if (!s.ok) expect(s.reason, `${describeCase(c)} ${v}`).toBeTruthy();
    return s.ok;
  });
}

/**
 * Every supported variant (of `only`, default all) agrees with the reference. Returns all the
 * variants that support the case.
 */
async function agree(c: LayerCase, only?: string[]): Promise<string[]> {
  const r = await check(c, only);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${describeCase(c)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return supportedBy(c);
}

function matmul(a: number[], b: number[], dtype: DType = 'float32'): LayerCase {
  const cases = casesFrom((g) => {
    g.input('a', dtype, a);
    g.input('b', dtype, b);
    g.output(g.op('MatMul', ['a', 'b']), dtype);
  });
  expect(cases.length).toBe(1);
  return cases[0];
}

function gemm(a: number[], b: number[], c: number[] | null, attrs: Parameters<GraphBuilder['op']>[2] = {}, dtype: DType = 'float32'): LayerCase {
  const cases = casesFrom((g) => {
    g.input('a', dtype, a);
    g.input('b', dtype, b);
    if (c) g.input('c', dtype, c);
    g.output(g.op('Gemm', c ? ['a', 'b', 'c'] : ['a', 'b'], attrs), dtype);
  });
  expect(cases.length).toBe(1);
  return cases[0];
}

describe('MatMul', () => {
  it('square (vec4 paths) and odd sizes (scalar paths, every tail) on every variant', async () => {
    // A contiguous along k, B along n: vec4 loads of both.
    expect(await agree(matmul([64, 64], [64, 64]))).toEqual(await expected(MATRIX));
    // 33×17×45: M, N not multiples of 32 or 4, K odd: guarded scalar loads, every tail at once.
    expect(await agree(matmul([33, 17], [17, 45]))).toEqual(await expected(MATRIX));
    expect(await agree(matmul([5, 3], [3, 7]), SEMANTICS)).toEqual(await expected(MATRIX));
  });

  it('1-D operands are promoted and the added dimension removed', async () => {
    const vm = matmul([24], [24, 36]);
    expect(vm.layer.outputs[0].shape).toEqual([36]);
    expect(await agree(vm, [...SEMANTICS, 'gemv'])).toContain('gemv');
    const mv = matmul([36, 24], [24]);
    expect(mv.layer.outputs[0].shape).toEqual([36]);
    expect(await agree(mv, [...SEMANTICS, 'gemv'])).toContain('gemv');
    const vv = matmul([20], [20]);
    expect(vv.layer.outputs[0].shape).toEqual([]);
    await agree(vv, SEMANTICS);
    // A 1-D vector times a batch of matrices.
    await agree(matmul([12], [2, 12, 8]), SEMANTICS);
  });

  it('batches broadcast like numpy', async () => {
    // Both operands broadcast along a different dimension: every variant.
    const b = matmul([2, 1, 8, 16], [3, 16, 12]);
    expect(b.layer.outputs[0].shape).toEqual([2, 3, 8, 12]);
    expect(geometry(b).aBatch).toEqual([8 * 16, 0]);
    expect(geometry(b).bBatch).toEqual([0, 16 * 12]);
    expect(await agree(b)).toEqual(await expected(MATRIX));
    const a = matmul([2, 3, 9, 12], [12, 10]);
    expect(a.layer.outputs[0].shape).toEqual([2, 3, 9, 10]);
    expect(geometry(a).bBatch).toEqual([0, 0]);
    await agree(a, SEMANTICS);
    await agree(matmul([3, 5, 7], [3, 7, 6]), SEMANTICS);
  });

  it('skinny GEMV [1,768]×[768,1000] runs on gemv and split-k too', async () => {
    const c = matmul([1, 768], [768, 1000]);
    expect(await agree(c, [...SEMANTICS, 'gemv', 'split-k'])).toEqual(await expected(SKINNY));
    expect(kernelFor('MatMul')!.defaultVariant(c)).toBe('naive');
  });

  it('long K with few outputs is split', async () => {
    const c = matmul([6, 2052], [2052, 10]);
    const v = await agree(c, [...SEMANTICS, 'split-k']);
    expect(v).toContain('split-k');
    expect(v).not.toContain('gemv');
    const small = matmul([8, 64], [64, 8]);
    const { runner } = await gpu();
    const k = kernelFor('MatMul')!;
    const reason = (v: string): string => { const s = k.supports(small, v, runner.caps); return s.ok ? '' : s.reason; };
    expect(reason('split-k')).toMatch(/too short/);
    expect(reason('gemv')).toMatch(/skinny/);
    // …and a skinny one is gemv's, not the tiled GEMM's (whose smallest tile has 16 rows).
    expect(k.supports(matmul([1, 768], [768, 1000]), 'tiled', runner.caps)).toMatchObject({ ok: false, reason: expect.stringMatching(/skinny/) });
  });

  it('float16 layers keep f16 in memory', async () => {
    expect(await agree(matmul([32, 64], [64, 48], 'float16'))).toEqual(await expected(MATRIX));
    await agree(matmul([33, 17], [17, 45], 'float16'), [...SEMANTICS, 'tiled-f16']);
    await agree(matmul([1, 256], [256, 40], 'float16'), ['naive', 'gemv']);
  });

  it('K = 0 gives zeros (plus the bias)', async () => {
    expect(await agree(matmul([3, 0], [0, 5]), [...SEMANTICS, 'gemv'])).toEqual(await expected(['naive', 'blocked', 'subgroup', 'gemv']));
    await agree(gemm([3, 0], [0, 5], [5], {}), SEMANTICS);
  });

  it('integer layers run on naive only', async () => {
    const c = matmul([5, 7], [7, 3], 'int32');
    expect(await agree(c)).toEqual(['naive']);
    const { runner } = await gpu();
    const s = kernelFor('MatMul')!.supports(c, 'tiled', runner.caps);
    expect(s.ok ? '' : s.reason).toMatch(/integer/);
  });

  it('the default is tiled for real matrices, naive for tiny or vector-like ones', () => {
    const k = kernelFor('MatMul')!;
    expect(k.defaultVariant(matmul([197, 768], [768, 2304]))).toBe('tiled');
    expect(k.defaultVariant(matmul([8, 64], [64, 8]))).toBe('naive');
  });
});

describe('Gemm', () => {
  it('transA/transB with alpha and beta', async () => {
    // Both transposed: A contiguous along m, B along k, the other two vec4 paths; every variant.
    expect(await agree(gemm([20, 36], [28, 20], [36, 28], { transA: 1, transB: 1, alpha: float(0.5), beta: float(2) }))).toEqual(await expected(MATRIX));
    for (const [ta, tb] of [[0, 0], [1, 0], [0, 1]]) {
      await agree(gemm(ta ? [20, 36] : [36, 20], tb ? [28, 20] : [20, 28], [36, 28], { transA: ta, transB: tb, alpha: float(0.5), beta: float(2) }), SEMANTICS);
    }
    // Odd sizes through the scalar load paths with both operands transposed.
    await agree(gemm([13, 11], [9, 13], null, { transA: 1, transB: 1, alpha: float(1.5) }), SEMANTICS);
  });

  it('C broadcasts from [N], [1,N], [M,1], [M,N], [1] and a scalar', async () => {
    for (const cs of [[24], [1, 24], [16, 1], [16, 24], [1], []]) {
      const c = gemm([16, 32], [32, 24], cs, { beta: float(0.5) });
      expect(geometry(c).bias).not.toBeNull();
      await agree(c, SEMANTICS);
    }
  });

  it('beta = 0 ignores C', async () => {
    const c = gemm([8, 12], [12, 16], [8, 16], { beta: float(0) });
    expect(geometry(c).bias).toBeNull();
    await agree(c, SEMANTICS);
  });

  it('classifier head: [1,2048]·[1000,2048]ᵀ + bias on every variant', async () => {
    const c = gemm([1, 2048], [1000, 2048], [1000], { transB: 1 });
    expect(await agree(c)).toEqual(await expected(SKINNY));
  });

  it('N ≤ 4 runs gemv with the roles of A and B swapped', async () => {
    const c = gemm([96, 40], [3, 40], [3], { transB: 1, alpha: float(2) });
    expect(await agree(c, ['naive', 'gemv'])).toContain('gemv');
  });

  it('float16 Gemm with bias', async () => {
    await agree(gemm([16, 24], [24, 20], [20], { alpha: float(0.5) }, 'float16'), SEMANTICS);
  });
});

describe('variants', () => {
  it('every plan labels its passes and writes the output', async () => {
    const { runner } = await gpu();
    const k = kernelFor('MatMul')!;
    expect(k.variants.map((v) => v.name)).toEqual(ALL);
    // A skinny product (gemv's and split-k's), and a real matrix for the tiled GEMMs.
    const skinny = matmul([1, 1024], [1024, 64]);
    const square = matmul([64, 1024], [1024, 64]);
    for (const v of ALL) {
      const p = k.plan(v.startsWith('tiled') ? square : skinny, v, runner.caps);
      expect(p.passes.length).toBeGreaterThan(0);
      for (const pass of p.passes) expect(pass.label.startsWith(`matmul/${v}`)).toBe(true);
    }
  });

  it('layers beyond the binding limit are unsupported, not crashed on', async () => {
    const { runner } = await gpu();
    const k = kernelFor('MatMul')!;
    const c = matmul([1, 8192], [8192, 8192]);
    for (const v of ALL) {
      const s = k.supports(c, v, { ...runner.caps, maxStorageBufferBindingSize: 128 * 2 ** 20 });
      expect(s.ok).toBe(false);
      if (!s.ok) expect(s.reason).toMatch(/binding limit/);
    }
  });
});

/**
 * The shared conformance runner judges every variant at the outputs' (float32) tolerance; the
 * f16 what-if is judged at float16 tolerance instead (as the benchmark does): its worst element
 * must be within it. The expected outputs of these cases are O(1), so the magnitude scale is 1.
 */
function f16WithinTolerance(r: { name: string; status: string; reason?: string }): boolean {
  if (!r.name.endsWith('[tiled-f16]') || !r.reason?.startsWith('{')) return false;
  const w = JSON.parse(r.reason) as { got: number; want: number };
  const t = TOLERANCE.float16;
  return Math.abs(w.got - w.want) <= t.atol * Math.max(1, Math.abs(w.want)) + t.rtol * Math.abs(w.want);
}

describe('ONNX conformance', () => {
  it('MatMul and Gemm cases pass on every variant that supports them', async () => {
    const names = conformanceCasesFor(['MatMul', 'Gemm']);
    const tally = new Map<string, { pass: number; run: number; cases: number }>();
    const failed: string[] = [];
    for (const name of names) {
      const results = await runConformanceCase(name);
      const op = results[0]?.op ?? '?';
      const e = tally.get(op) ?? { pass: 0, run: 0, cases: 0 };
      e.cases++;
      for (const r of results) {
        if (r.status === 'skip') continue;
        e.run++;
        if (r.status === 'pass' || f16WithinTolerance(r)) e.pass++;
        else failed.push(`${r.name}: ${r.reason}`);
      }
      tally.set(op, e);
    }
    console.log(`MatMul/Gemm conformance (variant runs passed/run): ${[...tally].map(([op, e]) => `${op} ${e.pass}/${e.run} over ${e.cases} cases`).join(', ')}`);
    if (names.length === 0) return;
    expect(failed).toEqual([]);
    expect(tally.get('MatMul')?.cases).toBe(3);
    expect(tally.get('Gemm')?.cases).toBe(11);
  });
});
