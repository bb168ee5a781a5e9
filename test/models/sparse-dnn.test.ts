/**
 * The Sparse DNN Graph Challenge networks (models/sparse-dnn.ts): the tiny one processes, records
 * its weights as sparse_initializers with the right sparsity, has exactly the configured fan-in
 * and fan-out per neuron, and computes the challenge's recurrence (checked with onnxruntime
 * against a direct evaluation of Y_{l+1} = min(max(Y_l·W_l + b, 0), 32)).
 */
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../models/common.js';
import { buildSparseDNN, connections, SPARSE_DNN_1024, SPARSE_DNN_65536, SPARSE_DNN_TINY } from '../../models/sparse-dnn.js';
import { loadGraph } from '../../src/kernels/model.js';
import { prng } from '../../src/onnx/write.js';
import { tempDir } from '../support/models.js';

const cfg = SPARSE_DNN_TINY;

function save(): string {
  const file = path.join(tempDir(), 'sparse-dnn-tiny.onnx');
  fs.writeFileSync(file, toBytes(buildSparseDNN(cfg, 'sparse-dnn-tiny')));
  return file;
}

describe('Sparse DNN challenge models', () => {
  it('uses the challenge\'s biases and sizes', () => {
    expect(SPARSE_DNN_1024).toMatchObject({ neurons: 1024, layers: 120, nnzPerRow: 32, bias: -0.3, ymax: 32 });
    expect(SPARSE_DNN_65536.bias).toBe(-0.45);
  });

  it('connects every neuron to exactly nnz others, both ways, indices ascending', () => {
    const n = 50;
    const idx = connections(n, 7, prng(3));
    expect(idx.length).toBe(n * 7);
    const rows = new Array<number>(n).fill(0);
    const cols = new Array<number>(n).fill(0);
    for (let i = 0; i < idx.length; i++) {
      if (i > 0) expect(idx[i] > idx[i - 1]).toBe(true);
      const v = Number(idx[i]);
      rows[Math.floor(v / n)]++;
      cols[v % n]++;
    }
    expect(rows.every((c) => c === 7)).toBe(true);
    expect(cols.every((c) => c === 7)).toBe(true);
  });

  it('the tiny network processes with sparse_initializer weights of the right sparsity', () => {
    const g = loadGraph(save(), { dims: new Map([['batch', 3]]), shapes: new Map() });
    expect(g.nodes.map((n) => n.op)).toEqual(Array.from({ length: cfg.layers }, () => ['MatMul', 'Add', 'Relu', 'Min']).flat());
    const mm = g.nodes.filter((n) => n.op === 'MatMul').map((n) => g.layers.get(n.key)!);
    for (const l of mm) {
      expect(l.inputs[0]!.shape).toEqual([3, 64]);
      expect(l.weights).toEqual([{ input: 1, sparsity: 1 - 8 / 64, sparsityExact: true, sparseInitializer: true }]);
    }
    expect(g.outputs[0].shape).toEqual([3, 64]);
  });

  it('computes min(max(Y·W + b, 0), 32) layer after layer (onnxruntime)', async () => {
    const m = buildSparseDNN(cfg, 'sparse-dnn-tiny');
    const N = cfg.neurons;
    const batch = 2;
    const x = Float32Array.from({ length: batch * N }, (_, i) => ((i * 7919) % 13) / 6);
    const s = await ort.InferenceSession.create(toBytes(m));
    const out = (await s.run({ input: new ort.Tensor('float32', x, [batch, N]) })).output.data as Float32Array;
    // Direct evaluation from the stored COO weights.
    let y = Float64Array.from(x);
    for (const sp of m.graph.sparseInitializers) {
      const idx = (sp.indices!.rawData as Uint8Array);
      const ids = new BigInt64Array(idx.buffer.slice(idx.byteOffset, idx.byteOffset + idx.byteLength));
      const next = new Float64Array(batch * N).fill(cfg.bias);
      for (const v of ids) {
        const k = Math.floor(Number(v) / N);
        const c = Number(v) % N;
        for (let r = 0; r < batch; r++) next[r * N + c] += y[r * N + k] * cfg.weight;
      }
      y = next.map((t) => Math.min(Math.max(t, 0), cfg.ymax));
    }
    let maxErr = 0;
    for (let i = 0; i < y.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - y[i]));
    expect(maxErr).toBeLessThan(1e-4);
    // Activations neither die nor all saturate through the layers.
    expect(y.some((v) => v > 0 && v < cfg.ymax)).toBe(true);
  });
});
