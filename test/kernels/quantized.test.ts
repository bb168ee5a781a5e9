/**
 * MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv and DynamicQuantizeLinear against the
 * reference on full-range 8-bit data (the synthetic inputs would be 0/1) with per-tensor and
 * per-row/column/channel zero points and scales, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, gpu, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses } from '../support/conformance-kernels.js';
import type { AttrInput } from '../../src/onnx/write.js';

afterAll(releaseGpu);

let seed = 12345;
const rnd = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

/** Deterministic data for a tensor: full 8-bit range, small int32 biases, floats in [lo, hi). */
function data(dtype: DType, shape: number[], lo = -1, hi = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'uint8') return { dtype, shape, data: Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)) };
  if (dtype === 'int8') return { dtype, shape, data: Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128) };
  if (dtype === 'int32') return { dtype, shape, data: Int32Array.from({ length: n }, () => Math.floor(rnd() * 2000) - 1000) };
  return { dtype, shape, data: Float32Array.from({ length: n }, () => lo + rnd() * (hi - lo)) };
}

type In = [string, DType, number[], [number, number]?];

/** A one-node case whose inputs are model inputs ('' for omitted ones), with data for each. */
function build(op: string, ins: Array<In | null>, attrs: Record<string, AttrInput> = {}, outs = 1): { c: LayerCase; inputs: Array<HostTensor | null> } {
  const c = casesFrom((g) => {
    const names = ins.map((x) => (x ? g.input(x[0], x[1], x[2]) : ''));
    const o = g.node(op, names, attrs, { outputs: outs });
    for (const n of o) g.output(n);
  })[0];
  return { c, inputs: ins.map((x) => (x ? data(x[1], x[2], ...(x[3] ?? [-1, 1])) : null)) };
}

async function ok(b: { c: LayerCase; inputs: Array<HostTensor | null> }, variant: string): Promise<void> {
  expect(await agree(b.c, b.inputs)).toEqual([variant]);
  // Requantized outputs must mostly land inside the 8-bit range, or the check would only compare saturation.
  const y = kernelFor(b.c.layer.op)!.reference(b.c, b.inputs)[0];
  if (b.c.layer.op.startsWith('QLinear')) {
    const [lo, hi] = y.dtype === 'uint8' ? [0, 255] : [-128, 127];
    const inside = [...y.data].filter((v) => v > lo && v < hi).length;
    expect(inside / y.data.length).toBeGreaterThan(0.5);
  }
}

const S: [number, number] = [0.01, 0.05];

describe('quantized kernels against the reference', () => {
  it('MatMulInteger: per-tensor, per-row/column zero points, mixed signedness, batches', async () => {
    await ok(build('MatMulInteger', [['a', 'uint8', [3, 5]], ['b', 'uint8', [5, 4]], ['za', 'uint8', []], ['zb', 'uint8', []]]), 'naive');
    await ok(build('MatMulInteger', [['a', 'int8', [2, 3, 5]], ['b', 'int8', [5, 4]], ['za', 'int8', [3]], ['zb', 'int8', [4]]]), 'naive');
    await ok(build('MatMulInteger', [['a', 'uint8', [2, 1, 3, 6]], ['b', 'int8', [3, 6, 2]]]), 'naive');
    await ok(build('MatMulInteger', [['a', 'uint8', [7]], ['b', 'uint8', [7, 3]], null, ['zb', 'uint8', [1]]]), 'naive');
  });

  it('QLinearMatMul: uint8 per tensor; int8 batched with per-column b scale and zero point', async () => {
    await ok(build('QLinearMatMul', [['a', 'uint8', [4, 6]], ['as', 'float32', [], S], ['az', 'uint8', []], ['b', 'uint8', [6, 5]],
      ['bs', 'float32', [], S], ['bz', 'uint8', []], ['ys', 'float32', [], [0.5, 1]], ['yz', 'uint8', []]]), 'naive');
    await ok(build('QLinearMatMul', [['a', 'int8', [2, 3, 8]], ['as', 'float32', [1], S], ['az', 'int8', [1]], ['b', 'int8', [2, 8, 4]],
      ['bs', 'float32', [4], S], ['bz', 'int8', [4]], ['ys', 'float32', [1], [0.5, 1]], ['yz', 'int8', [1]]]), 'naive');
  });

  it('ConvInteger and QLinearConv: pads, strides, dilations, groups, per-channel weights, bias, 1-D', async () => {
    await ok(build('ConvInteger', [['x', 'uint8', [2, 4, 6, 5]], ['w', 'uint8', [6, 2, 3, 3]], ['xz', 'uint8', []], ['wz', 'uint8', [6]]],
      { group: 2, pads: [1, 0, 1, 2], strides: [2, 1], dilations: [1, 2] }), 'direct');
    await ok(build('ConvInteger', [['x', 'int8', [1, 3, 9]], ['w', 'int8', [2, 3, 3]]], { pads: [1, 1] }), 'direct');
    await ok(build('QLinearConv', [['x', 'uint8', [1, 3, 5, 5]], ['xs', 'float32', [], S], ['xz', 'uint8', []], ['w', 'uint8', [4, 3, 3, 3]],
      ['ws', 'float32', [4], S], ['wz', 'uint8', [4]], ['ys', 'float32', [], [1, 2]], ['yz', 'uint8', []], ['bias', 'int32', [4]]], { pads: [1, 1, 1, 1] }), 'direct');
    await ok(build('QLinearConv', [['x', 'int8', [1, 4, 4, 6]], ['xs', 'float32', [], S], ['xz', 'int8', []], ['w', 'int8', [4, 1, 2, 2]],
      ['ws', 'float32', [], S], ['wz', 'int8', []], ['ys', 'float32', [], [0.5, 1]], ['yz', 'int8', []]], { group: 4, strides: [2, 2] }), 'direct');
  });

  it('DynamicQuantizeLinear: mixed signs, all positive, all zero', async () => {
    await ok(build('DynamicQuantizeLinear', [['x', 'float32', [5, 40], [-3, 5]]], {}, 3), 'two-pass');
    await ok(build('DynamicQuantizeLinear', [['x', 'float32', [1000], [0.5, 2]]], {}, 3), 'two-pass');
    const z = build('DynamicQuantizeLinear', [['x', 'float32', [7]]], {}, 3);
    z.inputs[0] = { dtype: 'float32', shape: [7], data: new Float32Array(7) };
    await ok(z, 'two-pass');
    const r = kernelFor('DynamicQuantizeLinear')!.reference(z.c, [{ dtype: 'float32', shape: [4], data: Float32Array.of(-1, 0, 1, 2) }]);
    // scale = 3/255; zero point = round(1/scale) = 85; 2 → round(170) + 85 = 255.
    expect(r[1].data[0]).toBeCloseTo(3 / 255, 7);
    expect([...r[2].data]).toEqual([85]);
    expect([...r[0].data]).toEqual([0, 85, 170, 255]);
  });

  it('unsupported layers say why', async () => {
    const { runner } = await gpu();
    const f = build('MatMulInteger', [['a', 'uint8', [3, 5]], ['b', 'uint8', [5, 4]], ['za', 'uint8', [2, 3]]]);
    expect(kernelFor('MatMulInteger')!.supports(f.c, 'naive', runner.caps)).toEqual({ ok: false, reason: 'A/X zero point is neither per tensor nor per row' });
  });
});

describe('quantized ONNX conformance', () => {
  it('every case passes (reference and kernel)', async () => {
    await expectEveryCasePasses('quantized', ['MatMulInteger', 'QLinearMatMul', 'ConvInteger', 'QLinearConv', 'DynamicQuantizeLinear'], { cases: 10, passed: 20 });
  }, 120_000);
});
