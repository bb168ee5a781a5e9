/**
 * Writing a runnable micro-benchmark suite: one spec and one single-node ONNX model per unique
 * layer (every input, weights included, is a graph input, so files stay tiny and any ONNX runtime
 * can run them), plus an index. `microbench/` in the repository is such a suite.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { onnx } from 'onnx-proto';
import { onnxFromDtype } from '../onnx/dtype.js';
import { encodeModel } from '../onnx/proto.js';
import { tensorProto } from '../onnx/write.js';
import type { ModelGraph } from '../ir/graph.js';
import type { UniqueLayer } from '../ir/dedupe.js';
import { KEY_VERSION } from '../ir/key.js';
import type { TensorType } from '../ir/types.js';
import type { LayerCase } from '../kernels/types.js';

export const SUITE_SCHEMA_VERSION = 1;

export interface SuiteEntry {
  key: string;
  op: string;
  model: string;
  spec: string;
  counts: Record<string, number>;
}

function vi(name: string, t: TensorType): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnxFromDtype(t.dtype), shape: { dim: t.shape.map((d) => ({ dimValue: d })) } } } };
}

/** The opset the standard domain is imported at where a node of another domain gives none. */
const DEFAULT_OPSET = 17;

/**
 * The single-node ONNX model of a layer case as the node was written (`origin`): inputs `input_i`
 * (every one a graph input, but the small constants that define the computation, which it embeds),
 * outputs `output_i`. Any ONNX runtime can run it. A node of another domain imports the standard
 * one at `standardOpset`.
 */
export function nodeModel(c: Required<Pick<LayerCase, 'origin'>> & LayerCase, standardOpset = DEFAULT_OPSET): Uint8Array {
  const l = c.layer;
  const o = c.origin;
  const domain = o.domain === 'ai.onnx' ? '' : o.domain;
  const inputs = l.inputs.map((t, i) => (t ? `input_${i}` : ''));
  const outputs = l.outputs.map((_, i) => `output_${i}`);
  const opsets = [{ domain: '', version: domain === '' ? o.opset : standardOpset }];
  if (domain !== '') opsets.push({ domain, version: o.opset });
  const initializer = c.consts.flatMap((v, i) => (v && l.inputs[i]
    ? [tensorProto(inputs[i], { dtype: v.dtype, shape: v.shape, data: v.data as number[] | string[] })] : []));
  const embedded = new Set(initializer.map((t) => t.name));
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'dlprof',
    opsetImport: opsets,
    graph: {
      name: `${l.op}_${l.key}`,
      node: [{ opType: o.opType, domain, name: l.op, input: inputs, output: outputs, attribute: o.attributes }],
      input: l.inputs.flatMap((t, i) => (t && !embedded.has(inputs[i]) ? [vi(inputs[i], t)] : [])),
      initializer,
      output: l.outputs.map((t, i) => vi(outputs[i], t)),
    },
  };
  return encodeModel(model);
}

/** The single-node ONNX model of a layer, from the first model that has it. */
export function layerModel(u: UniqueLayer, graphs: ModelGraph[]): Uint8Array {
  const g = graphs[u.counts.findIndex((c) => c > 0)];
  const o = g.origins.get(u.layer.key)!;
  return nodeModel({ layer: u.layer, consts: o.constValues, origin: o }, g.opsets['ai.onnx'] ?? DEFAULT_OPSET);
}

/** Writes the suite into `dir` (created if needed) and returns its index entries. */
export function emitSuite(dir: string, unique: UniqueLayer[], graphs: ModelGraph[]): SuiteEntry[] {
  const layersDir = path.join(dir, 'layers');
  fs.mkdirSync(layersDir, { recursive: true });
  const entries: SuiteEntry[] = [];
  for (const u of unique) {
    const base = `${u.layer.op.replace(/[^A-Za-z0-9_.-]/g, '_')}-${u.layer.key}`;
    const counts = Object.fromEntries(graphs.map((g, i) => [g.name, u.counts[i]]).filter(([, c]) => (c as number) > 0));
    const spec = {
      schemaVersion: SUITE_SCHEMA_VERSION,
      keyVersion: KEY_VERSION,
      ...u.layer,
      sources: graphs.flatMap((g, i) => (u.counts[i] > 0 ? [{ model: g.name, path: g.path, count: u.counts[i], nodes: u.nodes[i] }] : [])),
      constInputs: graphs[u.counts.findIndex((c) => c > 0)].origins.get(u.layer.key)!.constInputs,
      constValues: graphs[u.counts.findIndex((c) => c > 0)].origins.get(u.layer.key)!.constValues,
    };
    fs.writeFileSync(path.join(layersDir, `${base}.json`), `${JSON.stringify(spec, null, 1)}\n`);
    fs.writeFileSync(path.join(layersDir, `${base}.onnx`), layerModel(u, graphs));
    entries.push({ key: u.layer.key, op: u.layer.op, model: `layers/${base}.onnx`, spec: `layers/${base}.json`, counts });
  }
  const index = {
    schemaVersion: SUITE_SCHEMA_VERSION,
    keyVersion: KEY_VERSION,
    models: graphs.map((g) => ({ name: g.name, path: g.path, layerCount: g.nodes.length, uniqueLayerCount: g.layers.size })),
    layers: entries,
  };
  fs.writeFileSync(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
  return entries;
}
