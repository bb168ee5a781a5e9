/**
 * What real exporters emit, each as a fixture (fixtures/README.md): every one must process with
 * no unsupported op and no node left without shapes, and show the property it exists for.
 */
import { describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../src/ir/graph.js';
import { loadGraph } from '../../src/kernels/model.js';
import { loadModel } from '../../src/onnx/load.js';
import { fixture, noBindings } from '../support/models.js';

function load(name: string, dims: Record<string, number> = {}, shapes: Record<string, number[]> = {}): ModelGraph {
  return loadGraph(fixture(name), { dims: new Map(Object.entries(dims)), shapes: new Map(Object.entries(shapes)) });
}

function expectComplete(g: ModelGraph): void {
  expect(g.unsupported, 'unsupported ops').toEqual([]);
  expect(g.failed, 'nodes without shapes').toEqual([]);
  expect(g.nodes.length).toBeGreaterThan(0);
  for (const o of g.outputs) expect(o.shape.every((d) => typeof d === 'number'), `output ${o.name}`).toBe(true);
}

const ops = (g: ModelGraph) => new Set(g.nodes.map((n) => n.op));

describe('exporter idioms', () => {
  it('bundled tiny models process completely', () => {
    for (const name of ['resnet-tiny.onnx', 'mobilenet-tiny.onnx', 'inception-tiny.onnx']) expectComplete(load(name));
    const vit = load('vit-tiny.onnx', { batch: 1 });
    expectComplete(vit);
    expect(vit.host.count).toBeGreaterThan(0);
    expect(vit.host.ops.map((o) => o.op)).toEqual(expect.arrayContaining(['Shape', 'Gather', 'Concat']));
    // The folded Reshape targets made every Reshape a concrete layer.
    expect(vit.nodes.filter((n) => n.op === 'Reshape').length).toBeGreaterThan(0);
  });

  it('weights stored as Constant nodes count as parameters, not layers', () => {
    const g = load('constant-weights.onnx');
    expectComplete(g);
    expect(g.constants).toBeGreaterThan(0);
    expect(g.params).toBeGreaterThan(0);
    expect(ops(g).has('Constant')).toBe(false);
  });

  it('a graph inside If branches with a foldable condition is inlined', () => {
    const g = load('if-branches.onnx');
    expectComplete(g);
    expect(g.controlFlow.some((c) => c.op === 'If' && c.inlined)).toBe(true);
    expect(g.nodes.some((n) => n.origin?.startsWith('If:'))).toBe(true);
  });

  it('unnamed dimensions are bound by --shape', () => {
    const input = loadModel(fixture('unnamed-dims.onnx')).graph.input![0].name!;
    const g = loadGraph(fixture('unnamed-dims.onnx'), { ...noBindings(), shapes: new Map([[input, [1, 3, 32, 32]]]) });
    expect(g.inputs[0].shape).toEqual([1, 3, 32, 32]);
    expectComplete(g);
  });

  it('opset imports no node uses are listed and harmless', () => {
    const g = load('unused-opset.onnx');
    expectComplete(g);
    expect(Object.keys(g.opsets).length).toBeGreaterThan(1);
  });

  it('old opsets: Clip with min/max attributes', () => {
    const g = load('old-opset-clip.onnx');
    expectComplete(g);
    expect(g.opsets['ai.onnx']).toBeLessThanOrEqual(10);
    const clip = [...g.layers.values()].find((l) => l.op === 'Clip');
    expect(clip?.attrs).toHaveProperty('min');
  });

  it('fp16 weights and compute', () => {
    const g = load('fp16-weights.onnx');
    expectComplete(g);
    expect([...g.layers.values()].some((l) => l.outputs[0].dtype === 'float16')).toBe(true);
  });

  it('NHWC graphs from TensorFlow converters', () => {
    const g = load('nhwc-tf.onnx');
    expectComplete(g);
    expect(ops(g).has('Transpose')).toBe(true);
  });

  it('quantized ops', () => {
    const g = load('quantized.onnx');
    expectComplete(g);
    for (const op of ['ConvInteger', 'DynamicQuantizeLinear', 'QLinearConv']) expect(ops(g).has(op), op).toBe(true);
  });

  it('LSTM and GRU', () => {
    const g = load('rnn.onnx');
    expectComplete(g);
    expect(ops(g).has('LSTM') && ops(g).has('GRU')).toBe(true);
    expect([...g.layers.values()].find((l) => l.op === 'LSTM')!.flops).toBeGreaterThan(0);
  });

  it('a dozen outputs with names that are not identifiers', () => {
    const g = load('many-outputs.onnx');
    expectComplete(g);
    expect(g.outputs.length).toBeGreaterThanOrEqual(12);
    expect(g.outputs.some((o) => /[^A-Za-z0-9_]/.test(o.name))).toBe(true);
  });

  it('model-local functions are expanded inline', () => {
    const g = load('local-function.onnx');
    expectComplete(g);
    expect(g.nodes.filter((n) => n.origin?.startsWith('function:')).length).toBeGreaterThanOrEqual(2);
  });

  it('Loop and Scan are recognized, counted and reported', () => {
    const g = load('loop-scan.onnx');
    expect(g.unsupported).toEqual([]);
    const cf = g.controlFlow.map((c) => c.op).sort();
    expect(cf).toEqual(expect.arrayContaining(['Loop', 'Scan']));
    expect(g.controlFlow.every((c) => c.subgraphNodes > 0)).toBe(true);
  });

  it('sparse weights: sparse_initializer and mostly-zero dense weights', () => {
    const g = load('sparse-init.onnx');
    expectComplete(g);
    const ws = [...g.layers.values()].flatMap((l) => l.weights);
    expect(ws.some((w) => w.sparseInitializer)).toBe(true);
    expect(ws.some((w) => !w.sparseInitializer && (w.sparsity ?? 0) > 0.9)).toBe(true);
  });

  it('external data: read from the side file', () => {
    const g = load('external-data.onnx');
    expectComplete(g);
    expect(g.diagnostics).toEqual([]);
    expect(g.params).toBeGreaterThan(0);
  });
});

