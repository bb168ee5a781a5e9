/**
 * From inference results to the layer IR: each GPU-layer node becomes a `Layer` (normalized,
 * keyed, costed) and a `GraphNode` that keeps the DAG (producers and consumers per tensor) for
 * analysis of parallel branches, fusable chains and the critical path. Host work (folded shape
 * math), constants, unsupported ops and control flow are summarized, not turned into layers.
 */
import type { Diagnostic, LoadedModel } from '../onnx/load.js';
import type { AttributeProto } from '../onnx/proto.js';
import { isConcrete, type ControlFlowInfo, type InferenceResult, type InferredNode } from '../onnx/shapes/engine.js';
import type { TensorInfo } from '../onnx/shapes/types.js';
import { dtypeSize } from '../onnx/dtype.js';
import { elementCount, zeroFraction, type ConstValue, type ExternalReader } from '../onnx/tensor.js';
import { printable } from '../util/errors.js';
import { layerKey, sortedAttrs } from './key.js';
import type { FlopsOf, Layer, TensorType, WeightInfo } from './types.js';

export interface GraphNode {
  /** Index in `ModelGraph.nodes` (topological order). */
  id: number;
  /** Printable node label (escaped name, or `op#index`). */
  label: string;
  /** The node name as in the model, unescaped ('' when it has none). */
  name: string;
  op: string;
  key: string;
  inputs: string[];
  outputs: string[];
  /** Ids of the layer nodes producing this node's inputs (the DAG's edges). */
  deps: number[];
  origin?: string;
}

export interface TensorDecl {
  name: string;
  dtype: string;
  shape: Array<number | string>;
  /** An input's value bound with --value (its elements); the runs feed it. */
  value?: number[];
}

export interface OpCount {
  op: string;
  count: number;
}

export interface UnsupportedOp {
  op: string;
  domain: string;
  opset: number;
  count: number;
  /** Up to 10 node labels. */
  nodes: string[];
}

export interface FailedNode {
  node: string;
  op: string;
  reason: string;
}

/** Representative ONNX-level facts of a layer, needed to emit it as a runnable model. */
export interface LayerOrigin {
  domain: string;
  opType: string;
  opset: number;
  attributes: AttributeProto[];
  /** Which inputs are constants (weights) in the model. */
  constInputs: boolean[];
  /**
   * Values of small constant inputs that determine the computation (Reshape's shape, Slice's
   * starts, Resize's scales…): an emitted layer model embeds them; weights become inputs.
   */
  constValues: Array<ConstValue | null>;
}

export interface ModelGraph {
  path: string;
  /**
   * Constant tensors read by layers (weights, and folded small values), by name: what executing
   * the whole model needs besides its inputs. Weight data stays a view into the file.
   */
  constTensors: Map<string, TensorInfo>;
  /** Reads external-data tensors of this model. */
  external: ExternalReader;
  /** The tensor a name stands for (outputs of an inlined If are its branch's outputs). */
  resolve: (name: string) => string;
  name: string;
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  fileBytes: number;
  inputs: TensorDecl[];
  outputs: TensorDecl[];
  nodes: GraphNode[];
  layers: Map<string, Layer>;
  origins: Map<string, LayerOrigin>;
  /** Tensor name → producing layer node id. */
  producers: Map<string, number>;
  /** Tensor name → consuming layer node ids. */
  consumers: Map<string, number[]>;
  host: { count: number; ops: OpCount[] };
  constants: number;
  unsupported: UnsupportedOp[];
  failed: FailedNode[];
  controlFlow: ControlFlowInfo[];
  flops: number;
  params: number;
  diagnostics: Diagnostic[];
}

function toType(info: TensorInfo | undefined): TensorType | null {
  if (!info || !info.dtype || !isConcrete(info.shape)) return null;
  return { dtype: info.dtype, shape: info.shape };
}

function decl(name: string, info: TensorInfo): TensorDecl {
  return { name, dtype: info.dtype ?? 'unknown', shape: info.shape ?? [] };
}

function inputDecl(name: string, info: TensorInfo): TensorDecl {
  return info.value ? { ...decl(name, info), value: info.value.data as number[] } : decl(name, info);
}

function countOps(nodes: InferredNode[]): OpCount[] {
  const m = new Map<string, number>();
  for (const n of nodes) m.set(n.op, (m.get(n.op) ?? 0) + 1);
  return [...m].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
}

export function qualifiedOp(domain: string, op: string): string {
  return domain ? `${domain}.${op}` : op;
}

/**
 * Compulsory traffic of a layer, whatever its op: every present input read once and every output
 * written once, at the tensor's dtype size. Real kernels move more (re-reads, im2col buffers); the
 * roofline uses this minimum so that "fraction of peak bandwidth" is an upper bound.
 */
export function layerBytes(inputs: Array<TensorType | null>, outputs: TensorType[]): number {
  let b = 0;
  for (const t of [...inputs, ...outputs]) if (t) b += elementCount(t.shape) * dtypeSize(t.dtype);
  return b;
}

/**
 * Builds the layer IR for one model. `flopsOf` gives each layer's FLOPs (`Layer.flops`): the
 * kernels' costs, kernels/registry.ts `layerFlops`. A layer's params are the elements of its
 * constant inputs (weights).
 */
export function buildGraph(model: LoadedModel, inf: InferenceResult, flopsOf: FlopsOf): ModelGraph {
  const layers = new Map<string, Layer>();
  const origins = new Map<string, LayerOrigin>();
  const nodes: GraphNode[] = [];
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const weightElems = new Map<string, number>();
  const sparsityCache = new Map<string, { sparsity: number | null; exact: boolean }>();
  const resolve = (name: string): string => {
    let n = name;
    for (let i = 0; i < 64 && inf.aliases.has(n); i++) n = inf.aliases.get(n)!;
    return n;
  };
  let flops = 0;
  const incomplete: FailedNode[] = [];
  const constants = new Map<string, TensorInfo>();

  for (const n of inf.nodes) {
    if (n.kind !== 'layer') continue;
    const inputs = n.inputInfos.map((i) => toType(i));
    const outputs = n.outputInfos.map((o) => toType(o));
    if (outputs.some((o) => o === null) || inputs.some((t, i) => t === null && n.inputInfos[i] !== undefined)) {
      incomplete.push({ node: n.label, op: qualifiedOp(n.domain, n.op), reason: 'input or output shapes not fully known' });
      continue;
    }
    const weights: WeightInfo[] = [];
    n.inputInfos.forEach((info, i) => {
      // int32/int64 constants are indices and shapes (Gather indices, Reshape targets), not weights.
      if (!info?.weight || info.dtype === 'int64' || info.dtype === 'int32') return;
      const tname = n.inputs[i];
      let z = sparsityCache.get(tname);
      if (!z) {
        if (info.weight.sparse) {
          const nnz = elementCount((info.weight.sparse.values?.dims ?? []).map(Number));
          const total = elementCount((info.weight.sparse.dims ?? []).map(Number));
          z = { sparsity: total ? 1 - nnz / total : 0, exact: true };
        } else {
          z = zeroFraction(info.weight.proto, model.external);
        }
        sparsityCache.set(tname, z);
      }
      weights.push({ input: i, sparsity: z.sparsity, sparsityExact: z.exact, sparseInitializer: !!info.weight.sparse });
      weightElems.set(tname, elementCount(inputs[i]!.shape));
    });
    const op = qualifiedOp(n.domain, n.op);
    const attrs = sortedAttrs(n.attrs);
    const outs = outputs as TensorType[];
    const key = layerKey(op, attrs, inputs, outs, weights);
    let layer = layers.get(key);
    if (!layer) {
      layer = {
        key, op, attrs, inputs, outputs: outs, weights,
        flops: flopsOf({ op, attrs, inputs, outputs: outs }),
        bytes: layerBytes(inputs, outs),
        params: weights.reduce((s, w) => s + elementCount(inputs[w.input]!.shape), 0),
      };
      layers.set(key, layer);
      origins.set(key, {
        domain: n.domain, opType: n.op, opset: n.opset, attributes: n.attributes,
        constInputs: n.inputInfos.map((i) => !!i?.weight || i?.value !== undefined),
        constValues: n.inputInfos.map((i) => i?.value ?? null),
      });
    }
    flops += layer.flops;
    n.inputInfos.forEach((info, i) => {
      if (info && (info.weight || info.value)) constants.set(resolve(n.inputs[i]), info);
    });
    const id = nodes.length;
    const ins = n.inputs.map(resolve);
    const deps = [...new Set(ins.map((t) => producer.get(t)).filter((p): p is number => p !== undefined))];
    nodes.push({ id, label: n.label, name: n.name, op, key, inputs: ins, outputs: n.outputs, deps, origin: n.origin });
    for (const t of ins) if (t) consumers.set(t, [...(consumers.get(t) ?? []), id]);
    for (const t of n.outputs) if (t) producer.set(t, id);
  }

  const unsupported = new Map<string, UnsupportedOp>();
  for (const n of inf.nodes.filter((x) => x.kind === 'unsupported')) {
    const k = qualifiedOp(n.domain, n.op);
    const u = unsupported.get(k) ?? { op: n.op, domain: n.domain, opset: n.opset, count: 0, nodes: [] };
    u.count++;
    if (u.nodes.length < 10) u.nodes.push(n.label);
    unsupported.set(k, u);
  }
  const failed: FailedNode[] = [...inf.nodes
    .filter((n) => n.kind === 'failed')
    .map((n) => ({ node: n.label, op: qualifiedOp(n.domain, n.op), reason: n.reason ?? 'shapes not fully known' })), ...incomplete];

  return {
    path: model.path,
    constTensors: constants,
    external: model.external,
    resolve,
    name: model.name,
    irVersion: model.irVersion,
    producer: model.producer,
    opsets: Object.fromEntries([...model.opsets].map(([d, v]) => [d || 'ai.onnx', v])),
    fileBytes: model.fileBytes,
    inputs: inf.inputs.map((i) => inputDecl(i.name, i.info)),
    outputs: inf.outputs.map((o) => decl(o.name, o.info)),
    nodes,
    layers,
    origins,
    producers: producer,
    consumers,
    host: { count: inf.nodes.filter((n) => n.kind === 'host').length, ops: countOps(inf.nodes.filter((n) => n.kind === 'host')) },
    constants: inf.nodes.filter((n) => n.kind === 'constant').length,
    unsupported: [...unsupported.values()],
    failed,
    controlFlow: inf.controlFlow,
    flops,
    params: [...weightElems.values()].reduce((a, b) => a + b, 0),
    diagnostics: [...model.diagnostics, ...inf.diagnostics],
  };
}

/** A short printable form of a node list for messages. */
export function nodeList(labels: string[], max = 5): string {
  const shown = labels.slice(0, max).map((l) => `'${printable(l, 60)}'`).join(', ');
  return labels.length > max ? `${shown} and ${labels.length - max} more` : shown;
}
