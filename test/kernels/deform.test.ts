/**
 * Deformable convolution (ONNX DeformConv, mmcv's MMCVModulatedDeformConv2d): every variant agrees
 * with the CPU reference — strides, asymmetric padding, dilation, groups, offset groups finer and
 * coarser than the groups, mask and bias present or absent, non-square kernels, batch 2, more than
 * 32 output channels (the 64-row GEMM tile), offsets that sample far outside the image, float16 —
 * zero offsets reproduce a regular Conv, the mmcv op is the same computation with another input
 * order, and onnxruntime's CPU DeformConv agrees with the reference.
 * Sizes stay tiny (≤ 8 channels in, ≤ 9² positions): lavapipe is slow and every variant compiles.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import type { DeviceCaps, HostTensor, LayerCase } from '../../src/kernels/types.js';
import type { DType } from '../../src/onnx/dtype.js';
import { kernels, deformGeometry } from '../../src/kernels/deform.js';
import { kernels as convKernels } from '../../src/kernels/conv.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs, TOLERANCE } from '../../src/bench/verify.js';
import type { GraphBuilder } from '../../src/onnx/write.js';
import { casesFrom, gpu, releaseGpu } from '../support/kernels.js';
import { tempDir } from '../support/models.js';

afterAll(releaseGpu);

const deform = kernels[0];

interface Spec {
  x: number[];
  m: number;
  k: [number, number];
  strides?: [number, number];
  /** ONNX pads [top, left, bottom, right]; the mmcv op uses [top, left] for both sides. */
  pads?: number[];
  dilations?: [number, number];
  group?: number;
  offsetGroup?: number;
  mask?: boolean;
  bias?: boolean;
  dtype?: DType;
  mmcv?: boolean;
  /** All inputs as graph inputs (no initializers), for feeding onnxruntime the same data. */
  allInputs?: boolean;
}

function outSize(s: Spec): [number, number] {
  const st = s.strides ?? [1, 1];
  const d = s.dilations ?? [1, 1];
  const p = s.pads ?? [0, 0, 0, 0];
  const o = (i: 0 | 1): number => Math.floor((s.x[2 + i] + p[i] + p[i + 2] - (d[i] * (s.k[i] - 1) + 1)) / st[i]) + 1;
  return [o(0), o(1)];
}

function build(s: Spec): (g: GraphBuilder) => void {
  const dtype = s.dtype ?? 'float32';
  const G = s.group ?? 1;
  const OG = s.offsetGroup ?? 1;
  const [oh, ow] = outSize(s);
  const kk = s.k[0] * s.k[1];
  return (g) => {
    const t = (name: string, shape: number[]): string => (s.allInputs || name === 'x' || name === 'offset' || name === 'mask' ? g.input(name, dtype, shape) : g.init(name, dtype, shape));
    const x = t('x', s.x);
    const w = t('w', [s.m, s.x[1] / G, ...s.k]);
    const off = t('offset', [s.x[0], OG * 2 * kk, oh, ow]);
    const mask = s.mask ? t('mask', [s.x[0], OG * kk, oh, ow]) : '';
    const b = s.bias ? t('b', [s.m]) : '';
    if (s.mmcv) {
      const p = s.pads ?? [0, 0, 0, 0];
      g.op('MMCVModulatedDeformConv2d', [x, off, mask, w, ...(b ? [b] : [])], {
        stride: s.strides ?? [1, 1], padding: [p[0], p[1]], dilation: s.dilations ?? [1, 1], groups: G, deform_groups: OG,
      }, { domain: 'mmcv', output: 'y' });
    } else {
      const inputs = [x, w, off, b, mask];
      while (inputs[inputs.length - 1] === '') inputs.pop();
      g.op('DeformConv', inputs, {
        kernel_shape: s.k, strides: s.strides ?? [1, 1], pads: s.pads ?? [0, 0, 0, 0], dilations: s.dilations ?? [1, 1],
        group: G, offset_group: OG,
      }, { output: 'y' });
    }
    g.output('y', dtype);
  };
}

const OPSETS = { '': 19, mmcv: 1 };

function deformCase(s: Spec): LayerCase {
  const cases = casesFrom(build(s), OPSETS);
  expect(cases).toHaveLength(1);
  return cases[0];
}

/** Synthetic inputs with the offsets scaled (×`offsetScale`) or replaced by zeros (0). */
function inputsFor(c: LayerCase, offsetScale = 1, seed = 7): Array<HostTensor | null> {
  const inputs = syntheticInputs(c, seed);
  const slot = deformGeometry(c).slots.offset;
  const off = inputs[slot]!;
  inputs[slot] = { ...off, data: Float32Array.from(off.data, (v) => v * offsetScale) };
  return inputs;
}

/** Runs every supported variant on `inputs`; asserts agreement; returns the variants that ran and the reasons of the others. */
async function agree(c: LayerCase, inputs = inputsFor(c), label = c.layer.op, only = F32): Promise<{ ran: string[]; reasons: Record<string, string> }> {
  const { runner } = await gpu();
  const want = deform.reference(c, inputs);
  const ran: string[] = [];
  const reasons: Record<string, string> = {};
  for (const v of deform.variants) {
    if (!only.includes(v.name)) continue;
    const s = deform.supports(c, v.name, runner.caps);
    if (!s.ok) { reasons[v.name] = s.reason; continue; }
    const p = await runner.prepare(deform, c, deform.plan(c, v.name, runner.caps), inputs, `deform/${v.name} test`);
    try {
      const got = await runner.run(p, c);
      const f16 = v.name.endsWith('-f16') && c.layer.outputs[0].dtype === 'float32' ? 'float16' : undefined;
      const a = compareOutputs(got, want, f16);
      expect(a.ok, `${label} ${v.name}: ${JSON.stringify(a)}`).toBe(true);
      ran.push(v.name);
    } finally {
      runner.release(p);
    }
  }
  return { ran, reasons };
}

const ALL = ['naive', 'im2col-gemm', 'fused', 'fused-f16'];
/**
 * fused-f16 is fused's code with f16 tiles: it runs on a few geometries only. Every geometry is a
 * new set of pipelines (sizes are compile-time constants) costing seconds of LLVM time on
 * lavapipe, so later tests reuse the geometries below with other data (far, zero offsets) or the
 * mmcv op (whose WGSL is identical to DeformConv's for the same geometry).
 */
const F32 = ALL.slice(0, 3);

const BASIC: Spec = { x: [1, 4, 7, 6], m: 6, k: [3, 3], pads: [1, 1, 1, 1], mask: true, bias: true };
const FINE_OG: Spec = { x: [1, 8, 6, 6], m: 4, k: [3, 3], pads: [1, 1, 1, 1], group: 2, offsetGroup: 4, mask: true, bias: true };
const COARSE_OG: Spec = { x: [1, 8, 5, 7], m: 8, k: [3, 3], strides: [1, 2], pads: [1, 1, 1, 1], group: 4, offsetGroup: 2, mask: true };

describe('DeformConv variants agree with the reference', () => {
  it('3×3 pad 1 with mask and bias; naive is the default', async () => {
    const c = deformCase(BASIC);
    expect(c.layer.op).toBe('DeformConv');
    expect(c.layer.outputs[0].shape).toEqual([1, 6, 7, 6]);
    expect(deform.defaultVariant(c)).toBe('naive');
    expect(kernelFor('DeformConv')).toBe(deform);
    const { runner } = await gpu();
    const r = await agree(c, undefined, 'basic', ALL);
    expect(r.ran).toEqual(runner.caps.f16 ? ALL : ALL.slice(0, 3));
  });

  it('stride 2, dilation 2, asymmetric pads, no mask, no bias', async () => {
    const c = deformCase({ x: [1, 3, 9, 8], m: 4, k: [3, 3], strides: [2, 2], dilations: [2, 2], pads: [2, 2, 1, 1] });
    expect(c.layer.outputs[0].shape).toEqual([1, 4, 4, 4]);
    expect((await agree(c)).ran).toContain('fused');
  });

  it('groups with finer offset groups (G 2, offset_group 4) and coarser ones (G 4, offset_group 2)', async () => {
    await agree(deformCase(FINE_OG));
    await agree(deformCase(COARSE_OG));
  });

  it('batch 2, a 2×3 kernel, 40 output channels (the 64-row tile)', async () => {
    // naive and fused only: im2col-gemm runs the same GEMM generator, and each extra variant costs seconds of compilation.
    await agree(deformCase({ x: [2, 3, 6, 7], m: 40, k: [2, 3], pads: [0, 1, 1, 1], mask: true, bias: true }), undefined, 'M 40', ['naive', 'fused']);
  });

  it('offsets that sample far outside the image give partial and zero samples', async () => {
    const c = deformCase(BASIC);
    const inputs = inputsFor(c, 8);
    // Some samples really are outside: with |offset| up to 8 on a 7×6 image, many are.
    const off = inputs[2]!.data;
    expect(Array.from(off).filter((v) => Math.abs(v) > 6).length).toBeGreaterThan(50);
    const want = deform.reference(c, inputs)[0].data;
    const inside = deform.reference(c, inputsFor(c, 1))[0].data;
    expect(Array.from(want).some((v, i) => Math.abs(v - inside[i]) > 1e-3)).toBe(true);
    await agree(c, inputs, 'far offsets');
  });

  it('float16 layers', async () => {
    const { runner } = await gpu();
    const c = deformCase({ x: [1, 4, 6, 6], m: 4, k: [3, 3], pads: [1, 1, 1, 1], mask: true, bias: true, dtype: 'float16' });
    if (!runner.caps.f16) {
      expect(deform.supports(c, 'naive', runner.caps)).toEqual({ ok: false, reason: 'float16 needs the shader-f16 feature' });
      return;
    }
    expect((await agree(c, undefined, 'float16', ['naive', 'fused-f16'])).ran).toEqual(['naive', 'fused-f16']);
  });
});

describe('zero offsets (and a mask of ones) are a regular convolution', () => {
  const conv = convKernels[0];
  const convCase = (): LayerCase => casesFrom((g) => {
    g.input('x', 'float32', BASIC.x);
    g.op('Conv', ['x', g.init('w', 'float32', [6, 4, 3, 3]), g.init('b', 'float32', [6])], {
      kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1,
    }, { output: 'y' });
    g.output('y', 'float32');
  })[0];
  const convInputs = (c: LayerCase): Array<HostTensor | null> => {
    const inputs = inputsFor(c, 0);
    inputs[4] = { ...inputs[4]!, data: new Float32Array(inputs[4]!.data.length).fill(1) };
    return inputs;
  };

  it('the reference equals the Conv kernel\'s reference', () => {
    const c = deformCase(BASIC);
    const inputs = convInputs(c);
    const got = deform.reference(c, inputs);
    const want = conv.reference(convCase(), [inputs[0], inputs[1], inputs[3]]);
    expect(got[0].shape).toEqual(want[0].shape);
    const a = compareOutputs(got, want, undefined, { rtol: 1e-6, atol: 1e-6 });
    expect(a.ok, JSON.stringify(a)).toBe(true);
    // With offsets it is not a Conv any more.
    expect(compareOutputs(deform.reference(c, inputsFor(c, 1)), want).ok).toBe(false);
  });

  it('and so does every variant', async () => {
    const c = deformCase(BASIC);
    await agree(c, convInputs(c), 'zero offsets');
  });
});

describe('mmcv MMCVModulatedDeformConv2d', () => {
  const mm: Spec = { ...FINE_OG, mmcv: true };

  it('is served by the deform kernel and infers the DeformConv shape', () => {
    const c = deformCase(mm);
    expect(c.layer.op).toBe('mmcv.MMCVModulatedDeformConv2d');
    expect(kernelFor('mmcv.MMCVModulatedDeformConv2d')).toBe(deform);
    expect(c.layer.outputs[0].shape).toEqual([1, 4, 6, 6]);
    expect(c.layer.attrs).toEqual({ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 2, deform_groups: 4 });
  });

  it('computes what DeformConv computes with the same data in ONNX input order', () => {
    const c = deformCase(mm);
    const d = deformCase({ ...mm, mmcv: false });
    const inputs = inputsFor(c, 2);
    // mmcv: x, offset, mask, weight, bias → ONNX: X, W, offset, B, mask.
    const onnxOrder = [inputs[0], inputs[3], inputs[1], inputs[4], inputs[2]];
    const a = compareOutputs(deform.reference(c, inputs), deform.reference(d, onnxOrder), undefined, { rtol: 0, atol: 0 });
    expect(a.ok).toBe(true);
  });

  it('every variant agrees (with bias; stride 1×2 without bias)', async () => {
    await agree(deformCase(mm), inputsFor(deformCase(mm), 2), 'mmcv');
    await agree(deformCase({ ...COARSE_OG, mmcv: true }), undefined, 'mmcv s1×2');
  });
});

describe('unsupported layers say why', () => {
  it('1-D DeformConv, and fused-f16 without shader-f16', async () => {
    const c1 = casesFrom((g) => {
      g.input('x', 'float32', [1, 2, 8]);
      g.input('off', 'float32', [1, 6, 6]);
      g.op('DeformConv', ['x', g.init('w', 'float32', [2, 2, 3]), 'off'], { kernel_shape: [3] }, { output: 'y' });
      g.output('y', 'float32');
    }, OPSETS)[0];
    const { runner } = await gpu();
    expect(deform.supports(c1, 'naive', runner.caps)).toEqual({ ok: false, reason: 'only 2-D deformable convolution is implemented (X has rank 3)' });
    const c = deformCase({ x: [1, 2, 5, 5], m: 2, k: [3, 3] });
    const noF16: DeviceCaps = { ...runner.caps, f16: false };
    expect(deform.supports(c, 'fused-f16', noF16)).toEqual({ ok: false, reason: 'needs the shader-f16 feature' });
    expect(deform.supports(c, 'fused', noF16).ok).toBe(true);
    expect(deform.supports(c, 'winograd', noF16)).toEqual({ ok: false, reason: 'unknown variant winograd' });
  });
});

/**
 * onnxruntime-node's CPU execution provider implements DeformConv (checked with 1.30: a
 * one-node opset-19 model runs); it is a second, independent reference for our reading of the
 * spec (offset layout, bilinear boundary rule, offset groups).
 */
describe('onnxruntime CPU DeformConv agrees with the reference', () => {
  const cases: Spec[] = [
    { x: [1, 4, 7, 6], m: 6, k: [3, 3], pads: [1, 1, 1, 1], mask: true, bias: true, allInputs: true },
    { x: [2, 8, 7, 7], m: 4, k: [3, 3], strides: [2, 2], dilations: [2, 1], pads: [2, 1, 2, 1], group: 2, offsetGroup: 4, mask: true, allInputs: true },
  ];
  it.each(cases.map((s, i) => [i, s] as const))('case %i', async (i, s) => {
    const file = path.join(tempDir(), `deform-ort-${i}.onnx`);
    const g = new (await import('../../src/onnx/write.js')).GraphBuilder('ort');
    build(s)(g);
    fs.writeFileSync(file, g.toBytes({ '': 19 }));
    const c = deformCase(s);
    const inputs = inputsFor(c, 3);
    const names = ['x', 'w', 'offset', 'b', 'mask'];
    const feeds: Record<string, ort.Tensor> = {};
    inputs.forEach((t, j) => { if (t) feeds[names[j]] = new ort.Tensor('float32', t.data as Float32Array, t.shape); });
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
    try {
      const out = (await session.run(feeds)).y;
      const got: HostTensor = { dtype: 'float32', shape: [...out.dims], data: out.data as Float32Array };
      const a = compareOutputs([got], deform.reference(c, inputs), undefined, TOLERANCE.float32);
      expect(a.ok, JSON.stringify(a)).toBe(true);
    } finally {
      await session.release();
    }
  });
});
