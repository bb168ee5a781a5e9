import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../../src/onnx/load.js';
import { inferModel, type InferredNode } from '../../../../src/onnx/shapes/engine.js';
import { GraphBuilder } from '../../../../src/onnx/write.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-contrib-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One com.microsoft node over graph inputs of the given shapes ('' = omitted); returns it inferred. */
function contrib(op: string, shapes: Array<number[] | null>, attrs: Record<string, number | number[]>, outputs = 1): InferredNode {
  const b = new GraphBuilder(op);
  const names = shapes.map((s, i) => (s ? b.input(`i${i}`, 'float32', s) : ''));
  for (const o of b.node(op, names, attrs, { outputs, domain: 'com.microsoft' })) b.output(o);
  const file = path.join(dir, `${op}-${Math.random().toString(36).slice(2)}.onnx`);
  b.save(file, { '': 17, 'com.microsoft': 1 });
  const r = inferModel(loadModel(file), { dims: new Map(), shapes: new Map() });
  return r.nodes[r.nodes.length - 1];
}

describe('com.microsoft contrib attention ops', () => {
  it('MultiHeadAttention: output [B, S, value hidden]; scale 0 becomes 1/√head_size', () => {
    const n = contrib('MultiHeadAttention', [[2, 5, 16], [2, 7, 16], [2, 7, 12]], { num_heads: 4 });
    expect(n.outputInfos[0].shape).toEqual([2, 5, 12]);
    expect(n.attrs.scale).toBeCloseTo(0.5, 6);
    expect(n.attrs.unidirectional).toBe(0);
  });

  it('Attention: output width is Dv of qkv_hidden_sizes (equal thirds by default)', () => {
    expect(contrib('Attention', [[1, 9, 8], [8, 24]], { num_heads: 2 }).outputInfos[0].shape).toEqual([1, 9, 8]);
    const n = contrib('Attention', [[1, 9, 8], [8, 22], [22]], { num_heads: 2, qkv_hidden_sizes: [8, 8, 6] });
    expect(n.outputInfos[0].shape).toEqual([1, 9, 6]);
    expect(n.attrs.scale).toBeCloseTo(0.5, 6);
  });

  it('says what is wrong: heads not dividing the width, KV cache, packed layouts, mismatched weights', () => {
    const cases: Array<[InferredNode, RegExp]> = [
      [contrib('MultiHeadAttention', [[1, 4, 10], [1, 4, 10], [1, 4, 10]], { num_heads: 4 }), /not divisible by num_heads 4/],
      [contrib('MultiHeadAttention', [[1, 4, 8], [1, 4, 8], [1, 4, 8], null, null, null, [1, 2, 3, 4], [1, 2, 3, 4]], { num_heads: 2 }), /past_key/],
      [contrib('MultiHeadAttention', [[1, 4, 2, 3, 4]], { num_heads: 2 }), /packed QKV is not/],
      [contrib('Attention', [[1, 9, 8], [8, 22]], { num_heads: 2, qkv_hidden_sizes: [8, 8, 8] }), /not Dq\+Dk\+Dv/],
      [contrib('Attention', [[1, 9, 8], [6, 24]], { num_heads: 2 }), /hidden size of input and weights: 8 != 6/],
    ];
    for (const [n, re] of cases) {
      expect(n.kind).toBe('failed');
      expect(n.reason).toMatch(re);
    }
  });
});
