/**
 * The DCN backbone (models/dcn.ts): the tiny model builds, is small, goes through the model
 * processor with every node understood, its DeformConv layers have the shapes of a ResNet's 3×3
 * convs with offsets and masks from their offset convs, and onnxruntime runs it; ResNet-50-DCNv2
 * has ResNet-50's parameters plus the 13 offset convs.
 */
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildDCN, DCN_R50, DCN_TINY } from '../../models/dcn.js';
import { toBytes } from '../../models/common.js';
import { loadGraph } from '../../src/kernels/model.js';
import { noBindings, tempDir } from '../support/models.js';

describe('DCN', () => {
  const tiny = buildDCN(DCN_TINY, 'dcn-tiny');
  const bytes = toBytes(tiny);

  it('the tiny model is small and imports opset 19', () => {
    expect(bytes.length).toBeLessThan(150_000);
    expect(tiny.opsets).toEqual({ '': 19 });
  });

  it('processes, with the DeformConv layers of stages 2 and 3 and their offset convs', () => {
    const file = path.join(tempDir(), 'dcn-tiny.onnx');
    fs.writeFileSync(file, bytes);
    const g = loadGraph(file, noBindings());
    const deform = g.nodes.filter((n) => n.op === 'DeformConv');
    expect(deform.map((n) => n.name)).toEqual([
      '/layer2/layer2.0/conv2/DeformConv', '/layer2/layer2.1/conv2/DeformConv',
      '/layer3/layer3.0/conv2/DeformConv', '/layer3/layer3.1/conv2/DeformConv',
    ]);
    const shapes = deform.map((n) => {
      const l = g.layers.get(n.key)!;
      return [...l.inputs.map((t) => t?.shape ?? null), l.outputs[0].shape];
    });
    // [X, W, offset, B (none), mask, Y]: 8×8 → 4×4 at the stride-2 block of layer2, 4×4 → 2×2 in layer3.
    expect(shapes).toEqual([
      [[1, 8, 8, 8], [8, 8, 3, 3], [1, 18, 4, 4], null, [1, 9, 4, 4], [1, 8, 4, 4]],
      [[1, 8, 4, 4], [8, 8, 3, 3], [1, 18, 4, 4], null, [1, 9, 4, 4], [1, 8, 4, 4]],
      [[1, 16, 4, 4], [16, 16, 3, 3], [1, 18, 2, 2], null, [1, 9, 2, 2], [1, 16, 2, 2]],
      [[1, 16, 2, 2], [16, 16, 3, 3], [1, 18, 2, 2], null, [1, 9, 2, 2], [1, 16, 2, 2]],
    ]);
    const l = g.layers.get(deform[0].key)!;
    expect(l.attrs).toMatchObject({ strides: [2, 2], pads: [1, 1, 1, 1], offset_group: 1, group: 1 });
    // Stage 1 keeps regular 3×3 convs.
    expect(g.nodes.some((n) => n.name === '/layer1/layer1.0/conv2/Conv')).toBe(true);
    // Offset convs: 27 channels (18 offsets + 9 mask logits), the mask through a Sigmoid.
    const off = g.nodes.find((n) => n.name === '/layer2/layer2.0/conv2/conv_offset/Conv')!;
    expect(g.layers.get(off.key)!.outputs[0].shape).toEqual([1, 27, 4, 4]);
    expect(g.nodes.filter((n) => n.op === 'Sigmoid')).toHaveLength(4);
  });

  it('runs on onnxruntime (whose CPU provider implements DeformConv)', async () => {
    const s = await ort.InferenceSession.create(bytes);
    try {
      const data = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
      const out = (await s.run({ input: new ort.Tensor('float32', data, [1, 3, 32, 32]) })).output;
      expect(out.dims).toEqual([1, 10]);
      expect(Array.from(out.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await s.release();
    }
  });

  it('ResNet-50-DCNv2 has ResNet-50\'s 25,557,032 parameters plus 13 offset convs', () => {
    const m = buildDCN(DCN_R50);
    let params = 0;
    let deform = 0;
    for (const t of m.graph.initializers) {
      if (t.dataType !== 1 || /running_(mean|var)$/.test(t.name ?? '')) continue;
      params += (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    }
    for (const n of m.graph.nodes) if (n.opType === 'DeformConv') deform++;
    expect(deform).toBe(13);
    // Offset conv of width w: 27·w·9 weights + 27 biases; widths 128 ×4, 256 ×6, 512 ×3.
    expect(params).toBe(25_557_032 + 27 * 9 * (128 * 4 + 256 * 6 + 512 * 3) + 27 * 13);
  });
});
