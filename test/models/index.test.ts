import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { findModel, MODELS, toBytes, type BuiltModel } from '../../models/index.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { referenceRun } from '../../src/bench/model.js';
import { loadGraph } from '../../src/kernels/model.js';

/** Trainable parameters: float initializers except BatchNormalization running statistics and Clip bounds. */
function paramCount(m: BuiltModel): number {
  let n = 0;
  for (const t of m.graph.initializers) {
    if (t.dataType !== 1 || /running_(mean|var)$|^clip_(min|max)$/.test(t.name ?? '')) continue;
    n += (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
  }
  return n;
}

/** Sum of the channel counts of biases that stand for a folded BatchNormalization (2 params each unfolded). */
function foldedBnChannels(m: BuiltModel, head: string): number {
  return m.graph.initializers
    .filter((t) => t.name?.endsWith('.bias') && !t.name.startsWith(head))
    .reduce((s, t) => s + Number(t.dims?.[0] ?? 0), 0);
}

async function run(bytes: Uint8Array, batch = 1): Promise<ort.Tensor> {
  const s = await ort.InferenceSession.create(bytes);
  const meta = s.inputMetadata[0] as unknown as { shape: Array<number | string> };
  const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : batch));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, shape) });
  return out[s.outputNames[0]];
}

/** The first output, from dlprof's layer-by-layer CPU references, with batch 1. */
async function runReferences(bytes: Uint8Array): Promise<{ dims: number[]; data: Float32Array }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-models-')), 'm.onnx');
  fs.writeFileSync(file, bytes);
  const g = loadGraph(file, { dims: new Map([['batch', 1]]), shapes: new Map() });
  const inputs = new Map(g.inputs.map((inp) => {
    const shape = inp.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    return [inp.name, { dtype: 'float32' as const, shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)) }];
  }));
  const out = (await referenceRun(g, inputs)).get(g.outputs[0].name)!;
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return { dims: out.shape, data: out.data as Float32Array };
}

describe('model registry', () => {
  // Parameter counts of the reference implementations: torchvision's resnet50 (25,557,032),
  // mobilenet_v2 (3,504,872) and inception_v3 without the aux classifier (27,161,264 − 3,326,696),
  // timm's vit_base_patch16_224 (86,567,656). Exact agreement means the layer shapes match.
  it('builds ResNet-50 with torchvision\'s parameter count', () => {
    expect(paramCount(findModel('resnet50')!.build())).toBe(25_557_032);
  });

  it('builds MobileNetV2 with torchvision\'s parameter count once BN is unfolded', () => {
    const m = findModel('mobilenetv2')!.build();
    // A folded BN (scale, shift) leaves one bias per channel: add one more per channel back.
    expect(paramCount(m) + foldedBnChannels(m, 'classifier')).toBe(3_504_872);
  });

  it('builds Inception-v3 with torchvision\'s parameter count (no aux head) once BN is unfolded', () => {
    const m = findModel('inception')!.build();
    expect(paramCount(m) + foldedBnChannels(m, 'fc')).toBe(27_161_264 - 3_326_696);
  });

  it('builds ViT-B/16 with timm\'s parameter count and a symbolic batch', () => {
    const e = findModel('vit-b16')!;
    const m = e.build();
    expect(paramCount(m)).toBe(86_567_656);
    expect(e.dims).toEqual({ batch: 1 });
    expect(m.graph.inputs[0].type?.tensorType?.shape?.dim?.[0]).toEqual({ dimParam: 'batch' });
  });

  it('produces identical bytes on every build', () => {
    for (const name of ['resnet-tiny', 'vit-tiny']) {
      const a = toBytes(findModel(name)!.build());
      const b = toBytes(findModel(name)!.build());
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    }
  });

  for (const e of MODELS.filter((m) => m.tiny)) {
    // Classifiers end in 10 classes; the Sparse DNN challenge network keeps its neuron width.
    const want = e.name.startsWith('sparse-dnn') ? [1, 64] : [1, 10];
    const built = e.build();
    // onnxruntime does not know dlprof's own ops: such models run on dlprof's CPU references.
    const custom = 'dlprof' in built.opsets;
    it(`${e.name}: is small, decodes, and runs in ${custom ? "dlprof's CPU references" : 'onnxruntime'}`, async () => {
      const bytes = toBytes(built);
      expect(bytes.length).toBeLessThan(200 * 1024);
      expect(decodeModel(bytes).graph?.node?.length).toBeGreaterThan(10);
      const out = custom ? await runReferences(bytes) : await run(bytes);
      expect(out.dims).toEqual(want);
      expect(Array.from(out.data as Float32Array).every(Number.isFinite)).toBe(true);
    });
  }

  it('vit-tiny: the shape subgraphs follow the batch dimension', async () => {
    const out = await run(toBytes(findModel('vit-tiny')!.build()), 3);
    expect(out.dims).toEqual([3, 10]);
    const ops = findModel('vit-tiny')!.build().graph.nodes.map((n) => n.opType);
    for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Reshape', 'LayerNormalization', 'Erf', 'Softmax']) expect(ops).toContain(op);
  });

  it('a batch override makes the batch static or symbolic', () => {
    const m = findModel('resnet-tiny')!.build({ batch: 'N' });
    expect(m.dims).toEqual({ N: 1 });
    expect(m.graph.inputs[0].type?.tensorType?.shape?.dim?.[0]).toEqual({ dimParam: 'N' });
  });
});
