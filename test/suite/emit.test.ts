/**
 * The emitted micro-benchmark suite is runnable by any ONNX runtime: every single-node model runs
 * in onnxruntime-node (CPU) with inputs of the spec's shapes, its outputs have the shapes dlprof
 * inferred, and re-processing it gives back the same layer key.
 */
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { dedupe } from '../../src/ir/dedupe.js';
import { loadGraph } from '../../src/kernels/model.js';
import { emitSuite } from '../../src/suite/emit.js';
import type { TensorType } from '../../src/ir/types.js';
import { fixture, noBindings, tempDir } from '../support/models.js';

const ORT_TYPES: Record<string, [string, (n: number) => ort.Tensor['data']]> = {
  float32: ['float32', (n) => new Float32Array(n).fill(0.5)],
  int64: ['int64', (n) => new BigInt64Array(n).fill(1n)],
  int32: ['int32', (n) => new Int32Array(n).fill(1)],
  uint8: ['uint8', (n) => new Uint8Array(n).fill(1)],
  int8: ['int8', (n) => new Int8Array(n).fill(1)],
  bool: ['bool', (n) => new Uint8Array(n).fill(1)],
};

describe('emitted micro-benchmark suite', () => {
  for (const [name, bindings] of [['resnet-tiny.onnx', noBindings()], ['vit-tiny.onnx', { dims: new Map([['batch', 1]]), shapes: new Map() }]] as const) {
    it(`${name}: every layer model runs in onnxruntime with the inferred output shapes`, async () => {
      const g = loadGraph(fixture(name), bindings);
      const dir = path.join(tempDir(), `emit-${name}`);
      const entries = emitSuite(dir, dedupe([g]), [g]);
      expect(entries.length).toBe(g.layers.size);
      for (const e of entries) {
        const spec = JSON.parse(fs.readFileSync(path.join(dir, e.spec), 'utf8'));
        const file = path.join(dir, e.model);
        const session = await ort.InferenceSession.create(file);
        const feeds: Record<string, ort.Tensor> = {};
        spec.inputs.forEach((t: TensorType | null, i: number) => {
          if (!t) return;
          const [type, make] = ORT_TYPES[t.dtype];
          const n = t.shape.reduce((a, b) => a * b, 1);
          feeds[`input_${i}`] = new ort.Tensor(type as 'float32', make(n) as Float32Array, t.shape);
        });
        const out = await session.run(feeds);
        spec.outputs.forEach((t: TensorType, i: number) => {
          expect([...out[`output_${i}`].dims], `${e.op} ${e.key} output ${i}`).toEqual(t.shape);
        });
        const again = loadGraph(file, noBindings());
        expect(again.nodes.map((n) => n.key), `${e.op} re-processed`).toEqual([e.key]);
      }
    });
  }
});
