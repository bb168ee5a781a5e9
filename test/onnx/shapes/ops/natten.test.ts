/**
 * Shape inference of dlprof:NeighborhoodAttention: output shape and dtype, normalized attributes
 * (per-dim lists, default scale) so equal layers share a key, FLOPs, and clear errors for bad
 * attributes and shapes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dim } from '../../../../src/ir/types.js';
import type { DType } from '../../../../src/onnx/dtype.js';
import { loadModel } from '../../../../src/onnx/load.js';
import { inferModel, type InferredNode } from '../../../../src/onnx/shapes/engine.js';
import { float, GraphBuilder, type AttrInput } from '../../../../src/onnx/write.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-natten-shapes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;

interface Io { shape: Dim[]; dtype?: DType }

function infer(inputs: Array<Io | null>, attrs: Record<string, AttrInput>): InferredNode {
  const b = new GraphBuilder(`na${seq}`);
  const names = inputs.map((t, i) => (t ? b.input(`x${i}`, t.dtype ?? 'float32', t.shape) : ''));
  b.output(b.op('NeighborhoodAttention', names, attrs, { domain: 'dlprof' }));
  const file = path.join(dir, `m${seq++}.onnx`);
  b.save(file, { '': 17, dlprof: 1 });
  const res = inferModel(loadModel(file), { dims: new Map(), shapes: new Map() });
  return res.nodes[res.nodes.length - 1];
}

const t = (...shape: Dim[]): Io => ({ shape });
const qkv = (...shape: Dim[]): Io[] => [t(...shape), t(...shape), t(...shape)];

describe('dlprof:NeighborhoodAttention', () => {
  it('1-D: output is Q-shaped; attributes are normalized with defaults', () => {
    const n = infer(qkv(2, 4, 64, 16), { kernel_size: [7] });
    expect(n.kind).not.toBe('failed');
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'float32', shape: [2, 4, 64, 16] });
    expect(n.attrs).toEqual({ kernel_size: [7], dilation: [1], is_causal: [0], scale: Math.fround(0.25) });
  });

  it('2-D: a single kernel_size/dilation applies to every dim, and equals the per-dim form', () => {
    const a = infer(qkv(1, 2, 14, 14, 32), { kernel_size: [7], dilation: [2] });
    const b = infer(qkv(1, 2, 14, 14, 32), { kernel_size: [7, 7], dilation: [2, 2], is_causal: [0, 0] });
    expect(a.outputInfos[0].shape).toEqual([1, 2, 14, 14, 32]);
    expect(a.attrs).toEqual(b.attrs);
    expect(a.attrs.kernel_size).toEqual([7, 7]);
  });

  it('3-D with causal in the first dim, explicit scale, float16', () => {
    const h: Io = { shape: [1, 1, 4, 6, 6, 8], dtype: 'float16' };
    const n = infer([h, h, h], { kernel_size: [3, 5, 3], is_causal: [1, 0, 0], scale: float(0.5) });
    expect(n.outputInfos[0]).toMatchObject({ dtype: 'float16', shape: [1, 1, 4, 6, 6, 8] });
    expect(n.attrs).toMatchObject({ is_causal: [1, 0, 0], scale: 0.5 });
  });

  it('accepts a relative-position bias [heads, 2k−1, 2k−1]', () => {
    const n = infer([...qkv(1, 3, 9, 9, 8), t(3, 5, 5)], { kernel_size: [3] });
    expect(n.kind).not.toBe('failed');
    expect(n.outputInfos[0].shape).toEqual([1, 3, 9, 9, 8]);
  });

  it('fails with a clear message for bad attributes and shapes', () => {
    const bad = (inputs: Array<Io | null>, attrs: Record<string, AttrInput>): string => {
      const n = infer(inputs, attrs);
      expect(n.kind).toBe('failed');
      return n.reason ?? '';
    };
    expect(bad(qkv(1, 2, 16, 8), { kernel_size: [4] })).toMatch(/kernel_size must be odd and ≥ 1 in every dim, got \[4\]/);
    expect(bad(qkv(1, 2, 16, 8), {})).toMatch(/required attribute 'kernel_size' is missing/);
    expect(bad(qkv(1, 2, 16, 8), { kernel_size: [5], dilation: [4] })).toMatch(/spatial dim 0 has extent 16, smaller than kernel_size × dilation = 5 × 4 = 20/);
    expect(bad(qkv(1, 2, 8, 8, 8), { kernel_size: [3, 3, 3] })).toMatch(/kernel_size has 3 values \[3,3,3\]; Q has 2 spatial dims/);
    expect(bad(qkv(1, 2, 16, 8), { kernel_size: [3], dilation: [0] })).toMatch(/dilation must be ≥ 1/);
    expect(bad(qkv(1, 2, 16, 8), { kernel_size: [3], is_causal: [2] })).toMatch(/is_causal must be 0 or 1/);
    expect(bad([t(1, 2, 16, 8), t(1, 2, 15, 8), t(1, 2, 16, 8)], { kernel_size: [3] })).toMatch(/K \[1,2,15,8\] must have Q's shape/);
    expect(bad(qkv(2, 16, 8), { kernel_size: [3] })).toMatch(/1 to 3 spatial dims, got rank 3/);
    expect(bad([...qkv(1, 2, 16, 8), t(2, 3)], { kernel_size: [3] })).toMatch(/rpb \[2,3\] must be \[2,5\]/);
  });
});
