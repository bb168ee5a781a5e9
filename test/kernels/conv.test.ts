/**
 * Conv/ConvTranspose: every variant that supports a layer agrees with the CPU reference — 3×3
 * stride 1 (Winograd's case), odd spatial sizes, strides, dilations, asymmetric pads, groups,
 * depthwise, pointwise, the ResNet stem, bias or none, batch 2, 1-D and 3-D, float16 — the
 * variants that do not support a layer say why, and ONNX's conformance cases pass.
 * Sizes stay small (≤ 16 channels, ≤ 16² positions): lavapipe runs about 1 GFLOP/s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerCase } from '../../src/kernels/types.js';
import type { DType } from '../../src/onnx/dtype.js';
import { kernels } from '../../src/kernels/conv.js';
import { casesFrom, checkCase, gpu, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

const conv = kernels[0];

interface ConvSpec {
  x: number[];
  /** Output channels. */
  m: number;
  k: number[];
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
  bias?: boolean;
  dtype?: DType;
  op?: 'Conv' | 'ConvTranspose';
  outputPadding?: number[];
}

function convCase(s: ConvSpec): LayerCase {
  const nd = s.x.length - 2;
  const group = s.group ?? 1;
  const op = s.op ?? 'Conv';
  const dtype = s.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dtype, s.x);
    const wShape = op === 'Conv' ? [s.m, s.x[1] / group, ...s.k] : [s.x[1], s.m / group, ...s.k];
    const w = g.init('w', dtype, wShape);
    const inputs = [ 'x', w ];
    if (s.bias !== false) inputs.push(g.init('b', dtype, [s.m]));
    g.op(op, inputs, {
      kernel_shape: s.k,
      strides: s.strides ?? new Array<number>(nd).fill(1),
      pads: s.pads ?? new Array<number>(2 * nd).fill(0),
      dilations: s.dilations ?? new Array<number>(nd).fill(1),
      group,
      ...(s.outputPadding ? { output_padding: s.outputPadding } : {}),
    }, { output: 'y' });
    g.output('y', dtype);
  })[0];
}

const describeSpec = (s: ConvSpec): string => `${s.op ?? 'Conv'} x[${s.x}] m${s.m} k${s.k} s${s.strides ?? 1} p${s.pads ?? 0} d${s.dilations ?? 1} g${s.group ?? 1}${s.bias === false ? ' nobias' : ''} ${s.dtype ?? ''}`;

/** Checks every variant; returns the variants that ran and the reasons of those that did not. */
async function agree(s: ConvSpec): Promise<{ ran: string[]; reasons: Record<string, string> }> {
  const r: VariantCheck[] = await checkCase(convCase(s));
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${describeSpec(s)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return {
    ran: r.filter((v) => v.supported).map((v) => v.variant),
    reasons: Object.fromEntries(r.filter((v) => !v.supported).map((v) => [v.variant, v.reason ?? ''])),
  };
}

const GEMMS = ['direct', 'implicit-gemm', 'im2col-gemm', 'implicit-gemm-f16'];

describe('conv variants agree with the reference', () => {
  it('3×3 stride 1 pad 1: Winograd applies', async () => {
    const r = await agree({ x: [1, 8, 12, 12], m: 16, k: [3, 3], pads: [1, 1, 1, 1] });
    expect(r.ran).toEqual([...GEMMS.slice(0, 3), 'winograd', 'implicit-gemm-f16']);
    expect(r.reasons.depthwise).toMatch(/not a depthwise/);
    expect(r.reasons['1x1-gemm']).toMatch(/1×1 kernel/);
    expect(conv.defaultVariant(convCase({ x: [1, 8, 12, 12], m: 16, k: [3, 3], pads: [1, 1, 1, 1] }))).toBe('implicit-gemm');
  });
  it('odd spatial sizes (7×9), no padding and padding, no bias', async () => {
    const r = await agree({ x: [1, 5, 7, 9], m: 6, k: [3, 3], pads: [1, 1, 1, 1], bias: false });
    expect(r.ran).toContain('winograd');
    await agree({ x: [1, 3, 7, 9], m: 5, k: [3, 3] });
  });
  it('stride 2: Winograd declines', async () => {
    const r = await agree({ x: [1, 8, 13, 13], m: 8, k: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    expect(r.ran).toEqual(GEMMS);
    expect(r.reasons.winograd).toMatch(/stride 1/);
  });
  it('dilation 2', async () => {
    const r = await agree({ x: [1, 4, 11, 10], m: 6, k: [3, 3], dilations: [2, 2], pads: [2, 2, 2, 2] });
    expect(r.ran).toEqual(GEMMS);
    expect(r.reasons.winograd).toMatch(/dilation 1/);
  });
  it('asymmetric pads', async () => {
    const r = await agree({ x: [1, 4, 9, 8], m: 4, k: [3, 3], pads: [0, 1, 2, 1] });
    expect(r.ran).toContain('winograd');
    await agree({ x: [1, 3, 10, 10], m: 4, k: [2, 4], strides: [2, 1], pads: [1, 0, 0, 2] });
  });
  it('groups 2 and 4', async () => {
    const r2 = await agree({ x: [1, 8, 9, 9], m: 12, k: [3, 3], pads: [1, 1, 1, 1], group: 2 });
    expect(r2.ran).toEqual(GEMMS);
    expect(r2.reasons.winograd).toMatch(/group 1/);
    await agree({ x: [1, 16, 8, 8], m: 8, k: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 4 });
    // A grouped pointwise conv (ShuffleNet-style).
    const r4 = await agree({ x: [1, 16, 6, 6], m: 16, k: [1, 1], group: 4 });
    expect(r4.ran).toContain('1x1-gemm');
  });
  it('depthwise (stride 1 and 2, multiplier 2 is not depthwise)', async () => {
    const c = { x: [1, 16, 16, 16], m: 16, k: [3, 3], pads: [1, 1, 1, 1], group: 16 };
    const r = await agree(c);
    expect(r.ran).toEqual(['direct', 'implicit-gemm', 'im2col-gemm', 'depthwise', 'implicit-gemm-f16']);
    expect(conv.defaultVariant(convCase(c))).toBe('depthwise');
    await agree({ x: [2, 8, 15, 13], m: 8, k: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 8 });
    await agree({ x: [1, 6, 9, 9], m: 6, k: [5, 5], dilations: [2, 2], pads: [4, 4, 4, 4], group: 6, bias: false });
    const r2 = await agree({ x: [1, 4, 8, 8], m: 8, k: [3, 3], pads: [1, 1, 1, 1], group: 4 });
    expect(r2.reasons.depthwise).toMatch(/not a depthwise/);
  });
  it('1×1: stride 1 and stride 2, padding declines 1x1-gemm', async () => {
    const c = { x: [1, 16, 10, 10], m: 8, k: [1, 1] };
    const r = await agree(c);
    expect(r.ran).toEqual(['direct', 'implicit-gemm', 'im2col-gemm', '1x1-gemm', 'implicit-gemm-f16']);
    expect(conv.defaultVariant(convCase(c))).toBe('1x1-gemm');
    expect((await agree({ x: [1, 8, 11, 11], m: 16, k: [1, 1], strides: [2, 2] })).ran).toContain('1x1-gemm');
    expect((await agree({ x: [1, 8, 5, 5], m: 4, k: [1, 1], pads: [1, 1, 1, 1] })).reasons['1x1-gemm']).toMatch(/without padding/);
  });
  it('7×7 stride 2 stem (3 channels)', async () => {
    const r = await agree({ x: [1, 3, 16, 16], m: 8, k: [7, 7], strides: [2, 2], pads: [3, 3, 3, 3] });
    expect(r.ran).toEqual(GEMMS);
    expect(r.reasons.winograd).toMatch(/3×3 kernel/);
  });
  it('batch 2, with and without bias', async () => {
    await agree({ x: [2, 6, 8, 7], m: 8, k: [3, 3], pads: [1, 1, 1, 1] });
    await agree({ x: [2, 6, 8, 7], m: 8, k: [3, 3], pads: [1, 1, 1, 1], bias: false });
    await agree({ x: [2, 16, 6, 6], m: 4, k: [1, 1], bias: false });
  });
  it('1-D and 3-D', async () => {
    const r1 = await agree({ x: [2, 4, 15], m: 6, k: [3], strides: [2], pads: [1, 2], dilations: [1] });
    expect(r1.ran).toEqual(GEMMS);
    expect(r1.reasons.winograd).toMatch(/2-D/);
    const r3 = await agree({ x: [1, 4, 5, 6, 5], m: 4, k: [3, 3, 2], strides: [1, 2, 1], pads: [1, 1, 0, 1, 0, 1], group: 2 });
    expect(r3.ran).toEqual(['direct']);
    expect(r3.reasons['implicit-gemm']).toMatch(/3-D/);
  });
  it('float16 layers', async () => {
    const r = await agree({ x: [1, 8, 9, 9], m: 8, k: [3, 3], pads: [1, 1, 1, 1], dtype: 'float16' });
    expect(r.ran).toContain('direct');
    expect(r.ran).toContain('winograd');
  });
  it('ConvTranspose runs in direct only', async () => {
    const r = await agree({ op: 'ConvTranspose', x: [1, 4, 5, 6], m: 6, k: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0], group: 2 });
    expect(r.ran).toEqual(['direct']);
    expect(r.reasons['implicit-gemm']).toMatch(/ConvTranspose/);
    await agree({ op: 'ConvTranspose', x: [2, 3, 7], m: 2, k: [4], strides: [3], dilations: [2], pads: [0, 1] });
  });
  it('the f16 variant is close at f16 tolerance', async () => {
    const { runner } = await gpu();
    if (!runner.caps.f16) return;
    // checkCase judges implicit-gemm-f16 at float32 tolerance above (these are small sums); on a
    // long reduction it is judged at float16 tolerance (compareOutputs' dtype override).
    const { compareOutputs } = await import('../../src/bench/verify.js');
    const { syntheticInputs } = await import('../../src/kernels/inputs.js');
    const c = convCase({ x: [1, 16, 8, 8], m: 8, k: [5, 5], pads: [2, 2, 2, 2] });
    const inputs = syntheticInputs(c, 3);
    const p = await runner.prepare(conv, c, conv.plan(c, 'implicit-gemm-f16', runner.caps), inputs, 'conv f16');
    try {
      const a = compareOutputs(await runner.run(p, c), conv.reference(c, inputs), 'float16');
      expect(a.ok, JSON.stringify(a)).toBe(true);
    } finally {
      runner.release(p);
    }
  });
});

describe('conv limits', () => {
  it('an im2col matrix beyond the binding limit is unsupported, not a crash', () => {
    const c = convCase({ x: [1, 4, 8, 8], m: 4, k: [3, 3], pads: [1, 1, 1, 1] });
    const caps = { f16: true, subgroups: true, maxStorageBufferBindingSize: 4000, maxBufferSize: 1 << 30, maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 };
    expect(conv.supports(c, 'im2col-gemm', caps)).toEqual({ ok: false, reason: expect.stringMatching(/im2col matrix \(9216 bytes\) exceeds/) });
    expect(conv.supports(c, 'winograd', caps)).toEqual({ ok: false, reason: expect.stringMatching(/transformed input/) });
    expect(conv.supports(c, 'implicit-gemm', caps).ok).toBe(true);
  });
});

describe('conv ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Conv', 'ConvTranspose']), runConformanceCase, { dataFallback: true });
    printTally('conv', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Conv')!.pass).toBeGreaterThanOrEqual(20);
  });
});
