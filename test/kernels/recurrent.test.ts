/**
 * RNN, GRU and LSTM: both variants against the reference over directions, layouts, initial
 * states, biases, sequence lengths (chosen: the synthetic ones would be 0/1), peepholes,
 * input_forget, clip, non-default activations with alpha/beta, GRU's linear_before_reset — and
 * ONNX's conformance cases, matched to the layer's outputs by name.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, gpu, inputsFor, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

interface Opts {
  T: number; N: number; I: number; H: number;
  dirs?: 1 | 2;
  layout?: 0 | 1;
  bias?: boolean; lens?: boolean; h0?: boolean; c0?: boolean; peep?: boolean;
  attrs?: Record<string, AttrInput>;
  /** How many of the node's outputs to name (ONNX lets trailing ones be omitted). */
  outputs?: number;
  dtype?: 'float32' | 'float16';
}

const GATES = { RNN: 1, GRU: 3, LSTM: 4 } as const;

function rnnCase(op: 'RNN' | 'GRU' | 'LSTM', o: Opts): LayerCase {
  const G = GATES[op];
  const dirs = o.dirs ?? 1;
  const layout = o.layout ?? 0;
  const state = layout === 0 ? [dirs, o.N, o.H] : [o.N, dirs, o.H];
  const dt = o.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dt, layout === 0 ? [o.T, o.N, o.I] : [o.N, o.T, o.I]);
    g.input('w', dt, [dirs, G * o.H, o.I]);
    g.input('r', dt, [dirs, G * o.H, o.H]);
    const ins = ['x', 'w', 'r'];
    if (o.bias) ins[3] = g.input('b', dt, [dirs, 2 * G * o.H]);
    if (o.lens) ins[4] = g.input('lens', 'int32', [o.N]);
    if (o.h0) ins[5] = g.input('h0', dt, state);
    if (o.c0) ins[6] = g.input('c0', dt, state);
    if (o.peep) ins[7] = g.input('p', dt, [dirs, 3 * o.H]);
    const inputs = Array.from({ length: ins.length }, (_, i) => ins[i] ?? '');
    const direction = dirs === 2 ? 'bidirectional' : (o.attrs?.direction as string | undefined) ?? 'forward';
    const outs = g.node(op, inputs, { hidden_size: o.H, layout, ...o.attrs, direction }, { outputs: o.outputs ?? (op === 'LSTM' ? 3 : 2) });
    for (const n of outs) g.output(n, dt);
  })[0];
}

/** Synthetic inputs with sequence lengths `lens` (when the layer has them). */
function withLens(c: LayerCase, lens?: number[]): Array<HostTensor | null> {
  const ins = inputsFor(c);
  if (lens && c.layer.inputs[4]) ins[4] = { dtype: c.layer.inputs[4].dtype, shape: [lens.length], data: Int32Array.from(lens) };
  return ins;
}

const BOTH = ['sequential', 'precomputed-input'];

describe('recurrent kernels against the reference', () => {
  it('RNN: forward with bias and initial state; reverse with Relu and clip; layout 1', async () => {
    expect(await agree(rnnCase('RNN', { T: 4, N: 2, I: 3, H: 5, bias: true, h0: true }))).toEqual(BOTH);
    const rev = rnnCase('RNN', { T: 3, N: 2, I: 4, H: 3, bias: true, attrs: { direction: 'reverse', activations: ['Relu'], clip: 0.5 } });
    expect(await agree(rev)).toEqual(BOTH);
    expect(await agree(rnnCase('RNN', { T: 3, N: 2, I: 2, H: 4, layout: 1, dirs: 2, h0: true }))).toEqual(BOTH);
    const yOnly = rnnCase('RNN', { T: 2, N: 1, I: 2, H: 3, outputs: 1 });
    expect(yOnly.layer.outputs.length).toBe(1);
    expect(await agree(yOnly)).toEqual(BOTH);
  });

  it('GRU: bidirectional with sequence lengths (linear_before_reset 0), layout 1 with linear_before_reset 1', async () => {
    const c = rnnCase('GRU', { T: 4, N: 3, I: 3, H: 4, dirs: 2, bias: true, lens: true, h0: true });
    expect(await agree(c, withLens(c, [4, 1, 3]))).toEqual(BOTH);
    const l = rnnCase('GRU', { T: 3, N: 2, I: 3, H: 5, layout: 1, bias: true, h0: true, attrs: { linear_before_reset: 1 } });
    expect(l.layer.attrs.linear_before_reset).toBe(1);
    expect(await agree(l)).toEqual(BOTH);
    // Affine (alpha, beta) and HardSigmoid (alpha, beta) consume the alpha/beta lists in order.
    const acts = rnnCase('GRU', { T: 2, N: 1, I: 2, H: 3, attrs: { activations: ['HardSigmoid', 'Affine'], activation_alpha: [0.3, 0.7], activation_beta: [0.4, 0.1] } });
    expect(await agree(acts)).toEqual(BOTH);
  });

  it('LSTM: bidirectional with everything (lengths, states, peepholes); input_forget; layout 1', async () => {
    const c = rnnCase('LSTM', { T: 4, N: 3, I: 3, H: 4, dirs: 2, bias: true, lens: true, h0: true, c0: true, peep: true });
    expect(await agree(c, withLens(c, [2, 4, 0]))).toEqual(BOTH);
    const f = rnnCase('LSTM', { T: 3, N: 2, I: 4, H: 3, bias: true, attrs: { input_forget: 1, direction: 'reverse', activations: ['Sigmoid', 'LeakyRelu', 'Softsign'], activation_alpha: [0.2] } });
    expect(await agree(f)).toEqual(BOTH);
    expect(await agree(rnnCase('LSTM', { T: 3, N: 2, I: 2, H: 5, layout: 1, c0: true, h0: true }))).toEqual(BOTH);
    expect(await agree(rnnCase('LSTM', { T: 2, N: 1, I: 2, H: 3, outputs: 2 }))).toEqual(BOTH);
    // float16 tensors (f32 arithmetic inside).
    expect(await agree(rnnCase('LSTM', { T: 3, N: 2, I: 3, H: 4, dirs: 2, bias: true, h0: true, c0: true, peep: true, dtype: 'float16' }))).toEqual(BOTH);
    expect(await agree(rnnCase('GRU', { T: 3, N: 2, I: 3, H: 4, bias: true, dtype: 'float16' }))).toEqual(BOTH);
  });

  it('the reference follows the equations on a hand-checked step', () => {
    // One step, one unit, RNN tanh: h = tanh(x·w + h0·r + wb + rb) = tanh(0.5·2 + 1·(−0.5) + 0.1 + 0.2).
    const c = rnnCase('RNN', { T: 1, N: 1, I: 1, H: 1, bias: true, h0: true });
    const f = (v: number[]): HostTensor => ({ dtype: 'float32', shape: [v.length], data: Float32Array.from(v) });
    const [y, yh] = kernelFor('RNN')!.reference(c, [f([0.5]), f([2]), f([-0.5]), f([0.1, 0.2]), null, f([1])]);
    expect(y.data[0]).toBeCloseTo(Math.tanh(0.8), 6);
    expect(yh.data[0]).toBeCloseTo(Math.tanh(0.8), 6);
  });

  it('bad layers are unsupported with a reason', async () => {
    const { runner } = await gpu();
    const k = kernelFor('LSTM')!;
    const bad = rnnCase('LSTM', { T: 2, N: 1, I: 2, H: 2, attrs: { activations: ['Sigmoid', 'Gelu', 'Tanh'] } });
    expect(k.supports(bad, 'sequential', runner.caps)).toEqual({ ok: false, reason: 'activation Gelu is not supported' });
    expect(k.supports(bad, 'nope', runner.caps).ok).toBe(false);
  });
});

describe('recurrent ONNX conformance', () => {
  it('every case passes (reference and both variants)', async () => {
    await expectEveryCasePasses('recurrent', ['RNN', 'GRU', 'LSTM'], { cases: 12, passed: 12 * 3 });
  }, 180_000);
});

describe('synthetic inputs of recurrent layers', () => {
  it('time every sequence at full length (sequence_lens = T in either layout)', () => {
    for (const layout of [0, 1] as const) {
      const c = rnnCase('LSTM', { T: 5, N: 3, I: 2, H: 2, lens: true, layout });
      const lens = syntheticInputs(c)[4]!;
      expect(Array.from(lens.data)).toEqual([5, 5, 5]);
    }
  });
});
