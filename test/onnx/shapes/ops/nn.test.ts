import { describe, expect, it } from 'vitest';
import type { Dim } from '../../../../src/ir/types.js';
import type { DType } from '../../../../src/onnx/dtype.js';
import type { InferredNode } from '../../../../src/onnx/shapes/engine.js';
import type { AttrInput } from '../../../../src/onnx/write.js';
import { infer1 as shared, type In } from './build.js';

/** The shared one-node builder, with this file's (outputs, opset) argument order. */
const infer1 = (op: string, inputs: Array<In | null>, attrs: Record<string, AttrInput> = {}, outputs = 1, opset = 17): InferredNode =>
  shared(op, inputs, attrs, { outputs, opset });

const f = (...shape: number[]): In => ({ shape });
const w = (...shape: number[]): In => ({ shape, init: true });
const shapes = (n: InferredNode): Array<Dim[] | undefined> => n.outputInfos.map((o) => o.shape);

describe('Conv', () => {
  it('infers the output shape with strides, pads and dilations', () => {
    const n = infer1('Conv', [f(2, 3, 32, 32), w(16, 3, 3, 3), w(16)], { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [2, 2] });
    expect(n.kind).toBe('layer');
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2, 16, 15, 15] });
  });

  it('records the same attributes with and without explicit defaults', () => {
    const bare = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)]);
    const explicit = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)], {
      kernel_shape: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, auto_pad: 'NOTSET',
    });
    expect(bare.attrs).toEqual(explicit.attrs);
    expect(bare.attrs).toEqual({ kernel_shape: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, auto_pad: 'NOTSET' });
    expect(shapes(bare)).toEqual([[1, 4, 6, 6]]);
  });

  it('resolves SAME_UPPER / SAME_LOWER to the pads of the equivalent explicit conv', () => {
    // in 8, kernel 3, stride 2: out ceil(8/2) = 4, total pad (4-1)·2 + 3 - 8 = 1.
    const upper = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)], { auto_pad: 'SAME_UPPER', strides: [2, 2] });
    const upperExplicit = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)], { pads: [0, 0, 1, 1], strides: [2, 2] });
    expect(upper.attrs).toEqual(upperExplicit.attrs);
    expect(upper.attrs.pads).toEqual([0, 0, 1, 1]);
    expect(upper.attrs.auto_pad).toBe('NOTSET');
    expect(shapes(upper)).toEqual([[1, 4, 4, 4]]);
    expect(shapes(upperExplicit)).toEqual([[1, 4, 4, 4]]);
    const lower = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)], { auto_pad: 'SAME_LOWER', strides: [2, 2] });
    expect(lower.attrs.pads).toEqual([1, 1, 0, 0]);
    const valid = infer1('Conv', [f(1, 3, 8, 8), w(4, 3, 3, 3)], { auto_pad: 'VALID' });
    expect(valid.attrs).toEqual(bare3x3Attrs());
    expect(shapes(valid)).toEqual([[1, 4, 6, 6]]);
  });

  it('fails with a clear message on a channel mismatch', () => {
    const n = infer1('Conv', [f(1, 4, 8, 8), w(8, 3, 3, 3)]);
    expect(n.kind).toBe('failed');
    expect(n.reason).toMatch(/channel mismatch: X has 4 channels but W \[8,3,3,3\] expects group \(1\) × 3 = 3/);
  });

  it('accepts grouped and depthwise convolutions', () => {
    expect(shapes(infer1('Conv', [f(1, 4, 8, 8), w(8, 2, 3, 3)], { group: 2 }))).toEqual([[1, 8, 6, 6]]);
    expect(shapes(infer1('Conv', [f(1, 32, 8, 8), w(32, 1, 3, 3)], { group: 32, pads: [1, 1, 1, 1] }))).toEqual([[1, 32, 8, 8]]);
    expect(infer1('Conv', [f(1, 4, 8, 8), w(6, 1, 3, 3)], { group: 4 }).reason).toMatch(/not divisible by group 4/);
  });

  it('handles 1-D and 3-D convolutions', () => {
    expect(shapes(infer1('Conv', [f(1, 2, 10), w(3, 2, 3)]))).toEqual([[1, 3, 8]]);
    expect(shapes(infer1('Conv', [f(1, 2, 5, 6, 7), w(3, 2, 3, 3, 3)], { pads: [1, 1, 1, 1, 1, 1] }))).toEqual([[1, 3, 5, 6, 7]]);
  });
});

function bare3x3Attrs(): Record<string, unknown> {
  return { kernel_shape: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, auto_pad: 'NOTSET' };
}

describe('ConvTranspose', () => {
  it('computes stride·(in−1) + output_padding + kernel − pads', () => {
    const n = infer1('ConvTranspose', [f(1, 4, 5, 5), w(4, 2, 3, 3)], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
    expect(shapes(n)).toEqual([[1, 2, 10, 10]]);
  });

  it('gives output_shape and SAME_UPPER the pads of the explicit equivalent', () => {
    const same = infer1('ConvTranspose', [f(1, 4, 5, 5), w(4, 2, 3, 3)], { strides: [2, 2], auto_pad: 'SAME_UPPER' });
    expect(shapes(same)).toEqual([[1, 2, 10, 10]]);
    // full = 2·4 + 3 = 11; total pad 1, at the end for SAME_UPPER.
    expect(same.attrs.pads).toEqual([0, 0, 1, 1]);
    const explicit = infer1('ConvTranspose', [f(1, 4, 5, 5), w(4, 2, 3, 3)], { strides: [2, 2], pads: [0, 0, 1, 1] });
    expect(same.attrs).toEqual(explicit.attrs);
    const os = infer1('ConvTranspose', [f(1, 4, 5, 5), w(4, 2, 3, 3)], { strides: [2, 2], output_shape: [12, 12] });
    expect(shapes(os)).toEqual([[1, 2, 12, 12]]);
    expect(os.attrs.output_padding).toEqual([1, 1]);
  });

  it('multiplies the output channels by group', () => {
    expect(shapes(infer1('ConvTranspose', [f(1, 4, 5, 5), w(4, 3, 3, 3)], { group: 2 }))).toEqual([[1, 6, 7, 7]]);
  });
});

describe('DeformConv (opset 19)', () => {
  const x = f(1, 4, 10, 10);
  const wt = w(6, 2, 3, 3);
  it('infers like a grouped conv and checks offset and mask', () => {
    const n = infer1('DeformConv', [x, wt, f(1, 18, 8, 8), w(6), f(1, 9, 8, 8)], { group: 2 }, 1, 19);
    expect(n.kind).toBe('layer');
    expect(shapes(n)).toEqual([[1, 6, 8, 8]]);
    expect(n.attrs).toMatchObject({ kernel_shape: [3, 3], offset_group: 1, group: 2, pads: [0, 0, 0, 0] });
  });

  it('accounts offset_group in the offset channels', () => {
    const n = infer1('DeformConv', [x, wt, f(1, 36, 5, 5)], { group: 2, offset_group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }, 1, 19);
    expect(shapes(n)).toEqual([[1, 6, 5, 5]]);
  });

  it('fails on an offset of the wrong size', () => {
    const n = infer1('DeformConv', [x, wt, f(1, 17, 8, 8)], { group: 2 }, 1, 19);
    expect(n.kind).toBe('failed');
    expect(n.reason).toMatch(/offset channels/);
  });
});

describe('pooling', () => {
  it('MaxPool with ceil_mode gives values and int64 indices', () => {
    const n = infer1('MaxPool', [f(1, 3, 6, 6)], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, 2);
    expect(n.outputInfos).toEqual([{ dtype: 'float32', shape: [1, 3, 3, 3] }, { dtype: 'int64', shape: [1, 3, 3, 3] }]);
    expect(n.attrs).toMatchObject({ ceil_mode: 1, storage_order: 0, dilations: [1, 1], pads: [0, 0, 0, 0] });
  });

  it('drops a ceil_mode window that would start in the end padding', () => {
    // in 5 + pad 1+1, kernel 2, stride 2: ceil(5/2)+1 = 4, but window 3 starts at 6 ≥ 5 + 1.
    expect(shapes(infer1('MaxPool', [f(1, 1, 5)], { kernel_shape: [2], strides: [2], pads: [1, 1], ceil_mode: 1 }))).toEqual([[1, 1, 3]]);
  });

  it('Global pools keep N and C', () => {
    expect(shapes(infer1('GlobalAveragePool', [f(2, 7, 5, 9)]))).toEqual([[2, 7, 1, 1]]);
  });
});

describe('normalization and softmax', () => {
  it('LayerNormalization stats are reduced from axis on, in stash_type', () => {
    const n = infer1('LayerNormalization', [{ dtype: 'float16', shape: [2, 5, 8] }, { dtype: 'float16', shape: [8], init: true }], { axis: -1 }, 3);
    expect(n.outputInfos).toEqual([
      { dtype: 'float16', shape: [2, 5, 8] }, { dtype: 'float32', shape: [2, 5, 1] }, { dtype: 'float32', shape: [2, 5, 1] },
    ]);
    expect(n.attrs).toEqual({ axis: -1, epsilon: Math.fround(1e-5), stash_type: 1 });
  });

  it('BatchNormalization in training mode outputs running stats', () => {
    const c = w(3);
    const n = infer1('BatchNormalization', [f(2, 3, 4, 4), c, c, c, c], { training_mode: 1 }, 3, 15);
    expect(shapes(n)).toEqual([[2, 3, 4, 4], [3], [3]]);
  });

  it('Softmax rejects an out-of-range axis', () => {
    expect(infer1('Softmax', [f(2, 3)], { axis: 2 }).reason).toMatch(/axis 2 is out of range/);
    expect(infer1('Softmax', [f(2, 3)], {}, 1, 11).attrs).toEqual({ axis: 1 });
    expect(infer1('Softmax', [f(2, 3)]).attrs).toEqual({ axis: -1 });
  });
});

describe('MatMul', () => {
  const mm = (a: number[], b: number[]): Array<Dim[] | undefined> => shapes(infer1('MatMul', [f(...a), f(...b)]));
  it('promotes 1-D operands and removes the added dim', () => {
    expect(mm([3], [3])).toEqual([[]]);
    expect(mm([3], [2, 3, 4])).toEqual([[2, 4]]);
    expect(mm([2, 5, 3], [3])).toEqual([[2, 5]]);
    expect(mm([4, 3], [3])).toEqual([[4]]);
  });

  it('broadcasts batch dims', () => {
    expect(mm([2, 1, 3, 4], [5, 4, 6])).toEqual([[2, 5, 3, 6]]);
  });

  it('fails on mismatched inner dims', () => {
    expect(infer1('MatMul', [f(2, 3), f(4, 5)]).reason).toMatch(/inner dimensions differ/);
    expect(infer1('MatMul', [f(3), f(4)]).kind).toBe('failed');
  });

  it('Gemm records its defaults and honours transposes', () => {
    const n = infer1('Gemm', [f(4, 3), w(5, 4), w(5)], { transA: 1, transB: 1 });
    expect(shapes(n)).toEqual([[3, 5]]);
    expect(n.attrs).toEqual({ alpha: 1, beta: 1, transA: 1, transB: 1 });
  });
});

describe('Einsum', () => {
  const es = (eq: string, ...ins: number[][]): Array<Dim[] | undefined> => shapes(infer1('Einsum', ins.map((s) => f(...s)), { equation: eq }, 1, 12));
  it('handles ellipses with broadcasting', () => {
    expect(es('...ij,...jk->...ik', [2, 3, 4, 5], [3, 5, 6])).toEqual([[2, 3, 4, 6]]);
    expect(es('...ii->...i', [7, 3, 3])).toEqual([[7, 3]]);
    expect(es('i...,i...->...', [4, 2, 1], [4, 5])).toEqual([[2, 5]]);
  });

  it('derives the implicit output (ellipsis, then single letters in order)', () => {
    expect(es('bij,bjk', [2, 3, 4], [2, 4, 5])).toEqual([[3, 5]]);
    expect(es('ba', [3, 4])).toEqual([[4, 3]]);
    expect(es('...j,j', [2, 3, 4], [4])).toEqual([[2, 3]]);
    expect(es('ii', [3, 3])).toEqual([[]]);
  });

  it('accepts spaces and rejects inconsistent sizes', () => {
    expect(es('ij , jk -> ik', [2, 3], [3, 4])).toEqual([[2, 4]]);
    expect(infer1('Einsum', [f(2, 3), f(4, 5)], { equation: 'ij,jk->ik' }, 1, 12).reason).toMatch(/label 'j' has sizes 3 and 4/);
  });
});

describe('recurrent layers', () => {
  it('LSTM bidirectional with layout 1', () => {
    const n = infer1('LSTM', [f(2, 7, 10), w(2, 4 * 16, 10), w(2, 4 * 16, 16)], { direction: 'bidirectional', hidden_size: 16, layout: 1 }, 3, 14);
    expect(shapes(n)).toEqual([[2, 7, 2, 16], [2, 2, 16], [2, 2, 16]]);
    expect(n.attrs.activations).toEqual(['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh']);
  });

  it('GRU derives hidden_size from R when absent', () => {
    const n = infer1('GRU', [f(7, 2, 10), w(1, 3 * 8, 10), w(1, 3 * 8, 8)], {}, 2);
    expect(shapes(n)).toEqual([[7, 1, 2, 8], [1, 2, 8]]);
    expect(n.attrs.hidden_size).toBe(8);
  });
});

describe('quantization', () => {
  it('QuantizeLinear takes the zero point type, uint8 by default', () => {
    expect(infer1('QuantizeLinear', [f(2, 3), w()]).outputInfos[0]).toEqual({ dtype: 'uint8', shape: [2, 3] });
    expect(infer1('QuantizeLinear', [f(2, 3), w(), { dtype: 'int8', shape: [], init: true }]).outputInfos[0].dtype).toBe('int8');
  });

  it('DynamicQuantizeLinear gives scalar scale and zero point', () => {
    expect(infer1('DynamicQuantizeLinear', [f(4, 5)], {}, 3).outputInfos).toEqual([
      { dtype: 'uint8', shape: [4, 5] }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] },
    ]);
  });

  it('QLinearConv outputs the y_zero_point type', () => {
    const u8 = (...s: number[]): In => ({ dtype: 'uint8', shape: s, init: true });
    const n = infer1('QLinearConv', [{ dtype: 'uint8', shape: [1, 3, 8, 8] }, w(), u8(), u8(4, 3, 3, 3), w(), u8(), w(), { dtype: 'int8', shape: [], init: true }]);
    expect(n.outputInfos[0]).toEqual({ dtype: 'int8', shape: [1, 4, 6, 6] });
  });
});

describe('ops without ONNX 1.12 conformance data', () => {
  it('LpPool (opset 18) has ceil_mode and dilations; GlobalLpPool keeps p', () => {
    const n = infer1('LpPool', [f(1, 2, 7, 7)], { kernel_shape: [3, 3], dilations: [2, 2], ceil_mode: 1, strides: [2, 2] }, 1, 18);
    expect(shapes(n)).toEqual([[1, 2, 2, 2]]);
    expect(n.attrs).toMatchObject({ p: 2, ceil_mode: 1 });
    expect(infer1('GlobalLpPool', [f(1, 2, 7, 7)], { p: 3 }).attrs).toEqual({ p: 3 });
  });

  it('GroupNormalization (opset 18) checks num_groups divides C', () => {
    expect(shapes(infer1('GroupNormalization', [f(2, 8, 4, 4), w(4), w(4)], { num_groups: 4 }, 1, 18))).toEqual([[2, 8, 4, 4]]);
    expect(infer1('GroupNormalization', [f(2, 8, 4, 4), w(3), w(3)], { num_groups: 3 }, 1, 18).reason).toMatch(/not divisible by num_groups 3/);
  });

  it('MaxRoiPool gives [num_rois, C, pooled…]', () => {
    expect(shapes(infer1('MaxRoiPool', [f(1, 16, 20, 20), f(5, 5)], { pooled_shape: [7, 7] }))).toEqual([[5, 16, 7, 7]]);
  });

  it('MaxUnpool inverts the pooling size, or takes output_shape', () => {
    expect(shapes(infer1('MaxUnpool', [f(1, 3, 4, 4), { dtype: 'int64', shape: [1, 3, 4, 4] }], { kernel_shape: [2, 2], strides: [2, 2] }))).toEqual([[1, 3, 8, 8]]);
    const withShape = infer1('MaxUnpool', [f(1, 3, 4, 4), { dtype: 'int64', shape: [1, 3, 4, 4] }, { dtype: 'int64', shape: [4], data: [1, 3, 9, 9] }], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(shapes(withShape)).toEqual([[1, 3, 9, 9]]);
  });

  it('DequantizeLinear (opset 19) outputs the scale type', () => {
    const n = infer1('DequantizeLinear', [{ dtype: 'int8', shape: [4, 4] }, { dtype: 'float16', shape: [], init: true }], {}, 1, 19);
    expect(n.outputInfos[0]).toEqual({ dtype: 'float16', shape: [4, 4] });
  });

  it('QuantizeLinear (opset 21) honours output_dtype', () => {
    expect(infer1('QuantizeLinear', [f(4), w()], { output_dtype: 3 }, 1, 21).outputInfos[0].dtype).toBe('int8');
  });
});
