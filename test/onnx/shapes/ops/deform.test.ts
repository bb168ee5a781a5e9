/**
 * Shape inference of mmcv's modulated deformable convolution (`mmcv:MMCVModulatedDeformConv2d`,
 * also under mmdeploy's domain): inputs x, offset, mask, weight, bias; Conv geometry from stride,
 * padding, dilation (pairs or one int), groups, deform_groups; offset and mask sizes checked.
 */
import { describe, expect, it } from 'vitest';
import type { InferredNode } from '../../../../src/onnx/shapes/engine.js';
import type { AttrInput } from '../../../../src/onnx/write.js';
import path from 'node:path';
import { GraphBuilder, shapes, type In } from './build.js';
import { loadModel } from '../../../../src/onnx/load.js';
import { inferModel } from '../../../../src/onnx/shapes/engine.js';
import { noBindings, tempDir } from '../../../support/models.js';

const f = (...shape: number[]): In => ({ shape });
const w = (...shape: number[]): In => ({ shape, init: true });

let seq = 0;
/** One mmcv node, saved with the default opset 17 and the custom domain imported, then inferred. */
function inferMmcv(inputs: In[], attrs: Record<string, AttrInput>, domain = 'mmcv'): InferredNode {
  const b = new GraphBuilder(`mmcv${seq}`);
  const names = inputs.map((i, k) => (i.init ? b.init(`c${k}`, 'float32', i.shape) : b.input(`x${k}`, 'float32', i.shape)));
  const [y] = b.node('MMCVModulatedDeformConv2d', names, attrs, { domain });
  b.output(y);
  const file = path.join(tempDir(), `mmcv${seq++}.onnx`);
  b.save(file, { '': 17, [domain]: 1 });
  const res = inferModel(loadModel(file), noBindings());
  return res.nodes[res.nodes.length - 1];
}

const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, deform_groups: 1 };

describe('mmcv:MMCVModulatedDeformConv2d', () => {
  it('infers [N, M, oH, oW] like a Conv and records canonical pairs', () => {
    const n = inferMmcv([f(1, 8, 10, 12), f(1, 18, 10, 12), f(1, 9, 10, 12), w(16, 8, 3, 3), w(16)], attrs);
    expect(n.kind).toBe('layer');
    expect(shapes(n)).toEqual([[1, 16, 10, 12]]);
    expect(n.attrs).toEqual({ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, deform_groups: 1 });
  });

  it('strides, dilation, groups and deform groups; one-int attributes equal their pairs', () => {
    const n = inferMmcv([f(2, 8, 9, 9), f(2, 36, 5, 5), f(2, 18, 5, 5), w(4, 4, 3, 3)],
      { stride: 2, padding: 2, dilation: 2, groups: 2, deform_groups: 2 });
    expect(shapes(n)).toEqual([[2, 4, 5, 5]]);
    const pairs = inferMmcv([f(2, 8, 9, 9), f(2, 36, 5, 5), f(2, 18, 5, 5), w(4, 4, 3, 3)],
      { stride: [2, 2], padding: [2, 2], dilation: [2, 2], groups: 2, deform_groups: 2 });
    expect(n.attrs).toEqual(pairs.attrs);
    expect(n.attrs.stride).toEqual([2, 2]);
  });

  it('absent attributes take mmcv\'s defaults (stride 1, padding 0, dilation 1, one group)', () => {
    const n = inferMmcv([f(1, 4, 6, 6), f(1, 18, 4, 4), f(1, 9, 4, 4), w(4, 4, 3, 3)], {});
    expect(shapes(n)).toEqual([[1, 4, 4, 4]]);
    expect(n.attrs).toEqual({ stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, deform_groups: 1 });
  });

  it('is also accepted under mmdeploy\'s domain', () => {
    const n = inferMmcv([f(1, 4, 6, 6), f(1, 18, 6, 6), f(1, 9, 6, 6), w(4, 4, 3, 3)], attrs, 'mmdeploy');
    expect(n.kind).toBe('layer');
    expect(shapes(n)).toEqual([[1, 4, 6, 6]]);
  });

  it('fails clearly on a wrong offset, mask, channel count or bias', () => {
    expect(inferMmcv([f(1, 8, 10, 10), f(1, 17, 10, 10), f(1, 9, 10, 10), w(8, 8, 3, 3)], attrs).reason).toMatch(/offset channels/);
    expect(inferMmcv([f(1, 8, 10, 10), f(1, 18, 10, 10), f(1, 9, 9, 10), w(8, 8, 3, 3)], attrs).reason).toMatch(/mask spatial dim 0/);
    expect(inferMmcv([f(1, 8, 10, 10), f(1, 18, 10, 10), f(1, 9, 10, 10), w(8, 4, 3, 3)], attrs).reason).toMatch(/channel mismatch/);
    expect(inferMmcv([f(1, 8, 10, 10), f(1, 18, 10, 10), f(1, 9, 10, 10), w(8, 8, 3, 3), w(4)], attrs).reason).toMatch(/bias length/);
    expect(inferMmcv([f(1, 6, 10, 10), f(1, 72, 10, 10), f(1, 36, 10, 10), w(6, 6, 3, 3)], { ...attrs, deform_groups: 4 }).reason).toMatch(/not divisible by deform_groups 4/);
  });
});
