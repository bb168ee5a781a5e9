/**
 * The kernels' FLOP counts (Kernel.cost, through the registry's layerFlops) against hand counts:
 * one small layer per formula, its count worked out in a comment. Most layers come from one-node
 * models through the model processor, as `Layer.flops`; custom-domain ops are given as layer
 * signatures. And a whole model's total, unchanged since the counts moved into the kernels.
 */
import { describe, expect, it } from 'vitest';
import type { AttrValue, LayerSignature, TensorType } from '../../src/ir/types.js';
import { loadGraph } from '../../src/kernels/model.js';
import { kernelFor, layerFlops } from '../../src/kernels/registry.js';
import type { GraphBuilder } from '../../src/onnx/write.js';
import { fixture, noBindings, processBuilt } from '../support/models.js';

/** `Layer.flops` of the one layer of a one-node model. */
function flops(build: (g: GraphBuilder) => void, opsets?: Record<string, number>): number {
  const g = processBuilt(build, opsets);
  expect(g.nodes.map((n) => n.op)).toHaveLength(1);
  return g.layers.get(g.nodes[0].key)!.flops;
}

/** A one-node model: data input `x` of `shape`, the node's other inputs from `more`, one float output. */
function unary(op: string, shape: number[], attrs: Record<string, AttrValue> = {}, more: (g: GraphBuilder) => string[] = () => [],
  opsets?: Record<string, number>): number {
  return flops((g) => {
    g.input('x', 'float32', shape);
    g.output(g.op(op, ['x', ...more(g)], attrs as never), 'float32');
  }, opsets);
}

const t = (...shape: number[]): TensorType => ({ dtype: 'float32', shape });
const sig = (op: string, inputs: Array<TensorType | null>, outputs: TensorType[], attrs: Record<string, AttrValue> = {}): LayerSignature =>
  ({ op, attrs, inputs, outputs });

describe('convolutions', () => {
  it('Conv with groups and bias', () => {
    // X [1, 4, 5, 5], W [6, 2, 3, 3], group 2, pads 1 → Y [1, 6, 5, 5]: 150 outputs. Each sums its
    // group's 2 channels × 9 taps = 18 multiply-adds (36 FLOPs), + 1 bias add: 150 · 37 = 5550.
    expect(unary('Conv', [1, 4, 5, 5], { group: 2, pads: [1, 1, 1, 1] },
      (g) => [g.init('w', 'float32', [6, 2, 3, 3]), g.init('b', 'float32', [6])])).toBe(5550);
    // Without the bias: 150 · 36 = 5400.
    expect(unary('Conv', [1, 4, 5, 5], { group: 2, pads: [1, 1, 1, 1] }, (g) => [g.init('w', 'float32', [6, 2, 3, 3])])).toBe(5400);
  });

  it('ConvTranspose', () => {
    // X [1, 2, 3, 3], W [2, 4, 2, 2], stride 2 → Y [1, 4, 6, 6]. Each of the 18 input elements
    // scatters into 4 channels × 4 taps = 16 multiply-adds: 18 · 32 = 576; + 144 bias adds = 720.
    expect(unary('ConvTranspose', [1, 2, 3, 3], { strides: [2, 2] },
      (g) => [g.init('w', 'float32', [2, 4, 2, 2]), g.init('b', 'float32', [4])])).toBe(720);
  });

  it('ConvInteger as Conv', () => {
    // X [1, 2, 4, 4] uint8, W [3, 2, 3, 3] → Y [1, 3, 2, 2]: 12 outputs · 18 multiply-adds · 2 = 432.
    expect(flops((g) => {
      g.input('x', 'uint8', [1, 2, 4, 4]);
      g.output(g.op('ConvInteger', ['x', g.init('w', 'uint8', [3, 2, 3, 3])]), 'int32');
    }, { '': 10 })).toBe(432);
  });

  it('DeformConv and mmcv\'s MMCVModulatedDeformConv2d (weight and bias in its own slots) cost the same', () => {
    const y = [t(1, 16, 10, 10)];
    const onnx = layerFlops(sig('DeformConv', [t(1, 8, 10, 10), t(16, 8, 3, 3), t(1, 18, 10, 10), t(16), t(1, 9, 10, 10)], y));
    const mmcv = layerFlops(sig('mmcv.MMCVModulatedDeformConv2d', [t(1, 8, 10, 10), t(1, 18, 10, 10), t(1, 9, 10, 10), t(16, 8, 3, 3), t(16)], y));
    // 1600 outputs · 72 multiply-adds · 2 + 1600 bias adds + 10 FLOPs per bilinear sample, one per
    // (output position 100, input channel 8, tap 9): 230 400 + 1600 + 72 000 = 304 000.
    expect(onnx).toBe(304_000);
    expect(mmcv).toBe(onnx);
    expect(layerFlops(sig('mmdeploy.MMCVModulatedDeformConv2d', [t(1, 8, 10, 10), t(1, 18, 10, 10), t(1, 9, 10, 10), t(16, 8, 3, 3), t(16)], y))).toBe(onnx);
  });
});

describe('matrix products', () => {
  it('MatMul, batched and broadcast', () => {
    // A [3, 2, 4] · B [3, 4, 5] → Y [3, 2, 5]: 30 outputs · 4 multiply-adds · 2 = 240.
    expect(flops((g) => {
      g.input('a', 'float32', [3, 2, 4]);
      g.input('b', 'float32', [3, 4, 5]);
      g.output(g.op('MatMul', ['a', 'b']), 'float32');
    })).toBe(240);
    // A [2, 4] broadcast against B [3, 4, 5]: the same 30 outputs, 240.
    expect(unary('MatMul', [2, 4], {}, (g) => [g.init('b', 'float32', [3, 4, 5])])).toBe(240);
  });

  it('Gemm with C, transA, and without C', () => {
    // A [4, 3] · B [3, 5] → Y [4, 5]: 20 outputs · 3 multiply-adds · 2 = 120; beta·C adds a
    // multiply and an add per output: + 40 = 160.
    expect(unary('Gemm', [4, 3], {}, (g) => [g.init('b', 'float32', [3, 5]), g.init('c', 'float32', [5])])).toBe(160);
    // transA: A [3, 4] read as [4, 3]: K = 3 still, 160.
    expect(unary('Gemm', [3, 4], { transA: 1 }, (g) => [g.init('b', 'float32', [3, 5]), g.init('c', 'float32', [5])])).toBe(160);
    expect(unary('Gemm', [4, 3], {}, (g) => [g.init('b', 'float32', [3, 5])])).toBe(120);
  });

  it('MatMulInteger as MatMul', () => {
    // A [2, 3] · B [3, 4] → [2, 4]: 8 · 3 · 2 = 48.
    expect(flops((g) => {
      g.input('a', 'uint8', [2, 3]);
      g.output(g.op('MatMulInteger', ['a', g.init('b', 'uint8', [3, 4])]), 'int32');
    }, { '': 10 })).toBe(48);
  });

  it('Einsum: contractions count multiply-adds, the rest one per point', () => {
    const two = (eq: string, a: number[], b: number[]) => flops((g) => {
      g.input('a', 'float32', a);
      g.input('b', 'float32', b);
      g.output(g.op('Einsum', ['a', 'b'], { equation: eq }), 'float32');
    }, { '': 12 });
    // b 2 · i 3 · j 4 · k 5 = 120 points, j contracted: 2 · 120 = 240 (the batched MatMul's count).
    expect(two('bij,bjk->bik', [2, 3, 4], [2, 4, 5])).toBe(240);
    // The batch as '...': i 3 · j 4 · k 5 = 60 points × 2 broadcast = 120, contracted: 240.
    expect(two('...ij,...jk->...ik', [2, 3, 4], [2, 4, 5])).toBe(240);
    // A transpose: 12 points, 12 outputs, nothing contracted: 12.
    expect(unary('Einsum', [3, 4], { equation: 'ij->ji' }, undefined, { '': 12 })).toBe(12);
    // A diagonal: label i alone, 3 points for 3 outputs: 3.
    expect(unary('Einsum', [3, 3], { equation: 'ii->i' }, undefined, { '': 12 })).toBe(3);
  });
});

describe('pooling', () => {
  it('MaxPool, AveragePool (padding taps counted), LpPool', () => {
    // X [1, 2, 6, 6], 3×3 window, stride 1 → Y [1, 2, 4, 4]: 32 outputs · 9 window elements = 288.
    expect(unary('MaxPool', [1, 2, 6, 6], { kernel_shape: [3, 3] })).toBe(288);
    // pads 1, stride 2 → Y [1, 2, 3, 3]: 18 outputs · 9 = 162.
    expect(unary('AveragePool', [1, 2, 6, 6], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] })).toBe(162);
    // X [1, 1, 6], window 2 → Y [1, 1, 5]: 5 · 2 = 10.
    expect(unary('LpPool', [1, 1, 6], { kernel_shape: [2] })).toBe(10);
  });

  it('global pools: one per input element', () => {
    // X [1, 2, 6, 6]: 72 elements.
    expect(unary('GlobalAveragePool', [1, 2, 6, 6])).toBe(72);
    expect(unary('GlobalMaxPool', [1, 2, 6, 6])).toBe(72);
    expect(unary('GlobalLpPool', [1, 2, 6, 6])).toBe(72);
  });
});

describe('normalizations and softmax', () => {
  it('BatchNormalization: a multiply-add per element', () => {
    // X [2, 3, 4, 4]: 96 elements · 2 = 192.
    expect(unary('BatchNormalization', [2, 3, 4, 4], {}, (g) => ['s', 'b', 'm', 'v'].map((n) => g.init(n, 'float32', [3])))).toBe(192);
  });

  it('LayerNormalization, InstanceNormalization: 8 per element; LpNormalization 3; LRN 2·size + 4', () => {
    // X [2, 8]: 16 elements · (mean 1 + variance 3 + normalize 2 + affine 2) = 128.
    expect(unary('LayerNormalization', [2, 8], {}, (g) => [g.init('s', 'float32', [8]), g.init('b', 'float32', [8])])).toBe(128);
    // X [1, 2, 3, 3]: 18 · 8 = 144.
    expect(unary('InstanceNormalization', [1, 2, 3, 3], {}, (g) => [g.init('s', 'float32', [2]), g.init('b', 'float32', [2])])).toBe(144);
    // X [2, 5]: 10 · 3 = 30.
    expect(unary('LpNormalization', [2, 5])).toBe(30);
    // X [1, 4, 2, 2], size 3: 16 · (2·3 + 4) = 160.
    expect(unary('LRN', [1, 4, 2, 2], { size: 3 })).toBe(160);
  });

  it('Softmax, LogSoftmax: 6 per element; Hardmax 2', () => {
    // X [2, 5]: 10 · (max, sub, exp 2, sum, div) = 60.
    expect(unary('Softmax', [2, 5])).toBe(60);
    expect(unary('LogSoftmax', [2, 5])).toBe(60);
    expect(unary('Hardmax', [2, 5])).toBe(20);
  });
});

describe('elementwise', () => {
  it('per-op factors per output element', () => {
    // X [2, 3]: 6 elements. Sigmoid 4 (exp 2, add, div) → 24; Gelu 8 → 48; Exp 2 → 12; Relu 1 → 6.
    expect(unary('Sigmoid', [2, 3])).toBe(24);
    expect(unary('Gelu', [2, 3], {}, undefined, { '': 20 })).toBe(48);
    expect(unary('Exp', [2, 3])).toBe(12);
    expect(unary('Relu', [2, 3])).toBe(6);
    // Binary, broadcast: [2, 3] + [3] → 6 outputs · 1 = 6; Pow 4 per output → 24.
    expect(unary('Add', [2, 3], {}, (g) => [g.init('b', 'float32', [3])])).toBe(6);
    expect(unary('Pow', [2, 3], {}, (g) => [g.init('b', 'float32', [3])])).toBe(24);
  });

  it('variadic ops: one per output per input after the first', () => {
    // Sum of 3 inputs [4]: 4 outputs · 2 adds = 8; Max of 2: 4 · 1 = 4.
    expect(unary('Sum', [4], {}, (g) => [g.init('b', 'float32', [4]), g.init('c', 'float32', [4])])).toBe(8);
    expect(unary('Max', [4], {}, (g) => [g.init('b', 'float32', [4])])).toBe(4);
  });

  it('copies, casts and selects move data: 0', () => {
    expect(unary('Identity', [2, 3])).toBe(0);
    expect(unary('Cast', [2, 3], { to: 10 })).toBe(0);
    expect(flops((g) => {
      g.input('c', 'bool', [2, 3]);
      g.input('x', 'float32', [2, 3]);
      g.output(g.op('Where', ['c', 'x', g.init('y', 'float32', [2, 3])]), 'float32');
    })).toBe(0);
  });
});

describe('attention and recurrences', () => {
  it('NeighborhoodAttention: QKᵀ and A·V over the window plus its softmax', () => {
    // Q [1, 2, 10, 12, 8]: 2 heads · 120 queries, 3×3 window, head dim 8. Per query and key:
    // QKᵀ 8 multiply-adds (16) + A·V 8 (16) + softmax 6 = 38; 240 · 9 · 38 = 82 080.
    const q = t(1, 2, 10, 12, 8);
    expect(layerFlops(sig('dlprof.NeighborhoodAttention', [q, q, q], [q], { kernel_size: [3, 3] }))).toBe(82_080);
    // 1-D, Q [1, 1, 5, 4], window 3: 5 queries · 3 · (8 + 8 + 6) = 330.
    const q1 = t(1, 1, 5, 4);
    expect(layerFlops(sig('dlprof.NeighborhoodAttention', [q1, q1, q1], [q1], { kernel_size: [3] }))).toBe(330);
  });

  const CONTRIB = { '': 17, 'com.microsoft': 1 };

  it('com.microsoft MultiHeadAttention: QKᵀ, softmax and P·V', () => {
    // Q [1, 4, 8], K and V [1, 6, 8], 2 heads of 4: QKᵀ 4·6 scores · 8 multiply-adds (over both
    // heads) = 384 FLOPs, P·V the same 384, softmax 6 per score (2 heads · 24) = 288: 1056.
    expect(flops((g) => {
      g.input('q', 'float32', [1, 4, 8]);
      for (const n of ['k', 'v']) g.input(n, 'float32', [1, 6, 8]);
      g.output(g.op('MultiHeadAttention', ['q', 'k', 'v'], { num_heads: 2 }, { domain: 'com.microsoft' }), 'float32');
    }, CONTRIB)).toBe(1056);
  });

  it('com.microsoft Attention: the Q/K/V projection, then attention', () => {
    const attention = (w: number, attrs: Record<string, AttrValue>) => flops((g) => {
      g.input('x', 'float32', [1, 9, 8]);
      g.output(g.op('Attention', ['x', g.init('w', 'float32', [8, w]), g.init('b', 'float32', [w])], attrs as never,
        { domain: 'com.microsoft' }), 'float32');
    }, CONTRIB);
    // X [1, 9, 8] · W [8, 24]: 9 · 24 outputs · 8 multiply-adds = 3456. Then Dq = Dv = 8 over
    // L = S = 9, 2 heads: 81 · (2·8 + 2·8 + 6·2) = 3564. Total 7020.
    expect(attention(24, { num_heads: 2 })).toBe(7020);
    // qkv_hidden_sizes [8, 8, 6]: projection 2 · 9 · 8 · 22 = 3168; attention 81 · (16 + 12 + 12) = 3240: 6408.
    expect(attention(22, { num_heads: 2, qkv_hidden_sizes: [8, 8, 6] })).toBe(6408);
  });

  const rnn = (op: string, x: number[], gates: number, dirs: number, attrs: Record<string, AttrValue> = {}) => flops((g) => {
    g.input('x', 'float32', x);
    const [i, h] = [4, 5];
    const w = g.init('w', 'float32', [dirs, gates * h, i]);
    const r = g.init('r', 'float32', [dirs, gates * h, h]);
    const [y] = g.node(op, ['x', w, r], { hidden_size: h, ...(dirs === 2 ? { direction: 'bidirectional' } : {}), ...attrs } as never, { outputs: 1 });
    g.output(y, 'float32');
  }, { '': 14 });

  it('LSTM, GRU, RNN: the gate GEMMs per step plus 10 per gate element', () => {
    // LSTM, X [seq 3, batch 2, input 4], hidden 5, 4 gates (G·H = 20): per step and row
    // 2·(4 + 5)·20 = 360 + 10·20 = 200 → 560; · 3 steps · 2 rows = 3360.
    expect(rnn('LSTM', [3, 2, 4], 4, 1)).toBe(3360);
    // layout 1 (X [batch 2, seq 3, input 4]): the same 3360.
    expect(rnn('LSTM', [2, 3, 4], 4, 1, { layout: 1 })).toBe(3360);
    // GRU, bidirectional, 3 gates (G·H = 15): 2·9·15 = 270 + 150 = 420; · 3 · 2 · 2 directions = 5040.
    expect(rnn('GRU', [3, 2, 4], 3, 2)).toBe(5040);
    // RNN, 1 gate (5): 2·9·5 = 90 + 50 = 140; · 6 = 840.
    expect(rnn('RNN', [3, 2, 4], 1, 1)).toBe(840);
  });
});

describe('reductions, resampling, quantization', () => {
  it('reductions: one per input element', () => {
    // X [2, 3, 4]: 24.
    expect(unary('ReduceSum', [2, 3, 4], {}, (g) => [g.ints('axes', [1])], { '': 13 })).toBe(24);
    expect(unary('ArgMax', [2, 3, 4], { axis: 1 })).toBe(24);
  });

  it('Resize: a multiply-add per tap, 2^d (linear) or 4^d (cubic) taps; nearest copies', () => {
    const resize = (mode: string) => unary('Resize', [1, 1, 2, 2], { mode },
      (g) => ['', g.init('scales', 'float32', [4], [1, 1, 2, 2])], { '': 13 });
    // Y [1, 1, 4, 4]: 16 outputs · 4 taps · 2 = 128; cubic 16 · 16 · 2 = 512.
    expect(resize('linear')).toBe(128);
    expect(resize('cubic')).toBe(512);
    expect(resize('nearest')).toBe(0);
  });

  it('QuantizeLinear: 3 per element', () => {
    // X [10]: scale, round, zero point: 30.
    expect(flops((g) => {
      g.input('x', 'float32', [10]);
      g.output(g.op('QuantizeLinear', ['x', g.init('s', 'float32', [], [0.1]), g.init('z', 'uint8', [], [3])]), 'uint8');
    })).toBe(30);
  });
});

describe('the defaults', () => {
  it('ops that only move data cost 0', () => {
    expect(unary('Reshape', [2, 6], {}, (g) => [g.ints('shape', [3, 4])])).toBe(0);
    expect(unary('Transpose', [2, 6], { perm: [1, 0] })).toBe(0);
    expect(unary('Gather', [5, 4], { axis: 0 }, (g) => [g.ints('idx', [0, 3])])).toBe(0);
    expect(unary('Pad', [2, 3], {}, (g) => [g.ints('pads', [1, 1, 1, 1])])).toBe(0);
    expect(unary('Concat', [2, 3], { axis: 0 }, (g) => [g.init('b', 'float32', [1, 3])])).toBe(0);
    // Known to the model processor, no kernel: 0 as well.
    expect(kernelFor('NonZero')).toBeUndefined();
    expect(layerFlops(sig('NonZero', [t(4, 4)], [{ dtype: 'int64', shape: [2, 7] }]))).toBe(0);
  });

  it('an op whose kernel declares no cost, or with no kernel: one per output element', () => {
    // TopK of X [2, 5] with k 3: values [2, 3] → 6.
    expect(kernelFor('TopK')!.cost).toBeUndefined();
    expect(unary('TopK', [2, 5], {}, (g) => [g.ints('k', [3])])).toBe(6);
    expect(layerFlops(sig('NoSuchOp', [t(3)], [t(2, 4)]))).toBe(8);
  });
});

describe('a whole model', () => {
  it('resnet-tiny counts what it counted before the costs moved into the kernels', () => {
    // 593 108 FLOPs: the total of the IR's own cost table (src/ir/cost.ts, before this change).
    const g = loadGraph(fixture('resnet-tiny.onnx'), noBindings());
    expect(g.flops).toBe(593_108);
    expect(g.nodes.reduce((s, n) => s + g.layers.get(n.key)!.flops, 0)).toBe(593_108);
  });
});
