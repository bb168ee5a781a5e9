/**
 * Static shape and dtype inference over a loaded model, with constant folding of shape math.
 *
 * The engine walks the main graph in topological order (it sorts; models need not be sorted),
 * expands model-local functions inline, inlines the taken branch of an `If` whose condition folds
 * to a constant (exporters put whole models inside such branches), infers every node with its op's
 * `OpSpec`, and evaluates nodes whose inputs are all known small constants. The result classifies
 * each node: a GPU `layer`, folded `host` work, a `constant` (weights), `control-flow`,
 * `unsupported` (op unknown), or `failed` (inference error, with the reason).
 */
import type { AttrValue, Dim } from './types.js';
import { DlprofError, EXIT, printable } from '../../util/errors.js';
import { dtypeFromOnnx, dtypeSize } from '../dtype.js';
import { MAX_TENSOR_BYTES, normalizeDomain, type Diagnostic, type LoadedModel } from '../load.js';
import type { AttributeProto, FunctionProto, GraphProto, NodeProto, TypeProto, ValueInfoProto } from '../proto.js';
import { decodeTensor, elementCount, MAX_FOLD_ELEMENTS, tensorDims, tensorDtype, type ConstValue } from '../tensor.js';
import { attrValue, makeAttrReader } from './attrs.js';
import { lookupOp } from './registry.js';
import { ShapeError, type InferCtx, type TensorInfo } from './types.js';

/** Values for symbolic dimensions and whole input shapes, from --dim and --shape. */
export interface Bindings {
  dims: Map<string, number>;
  shapes: Map<string, number[]>;
  /**
   * Values of inputs, from --value (a scalar, or the elements of a small tensor): shape math on
   * them folds, so an `If` that decides on one (a sample rate, a mode flag) inlines the branch it
   * takes, and a `Loop` whose trip count comes from one is unrolled.
   */
  values?: Map<string, number[]>;
  /** --defaults: every symbolic input dimension that nothing else binds is 1 (and a warning says so). */
  defaults?: boolean;
}

/** --value binds small tensors only: they are folded like shape math, element by element. */
export const MAX_VALUE_ELEMENTS = 1024;

export type NodeKind = 'layer' | 'host' | 'constant' | 'control-flow' | 'unsupported' | 'failed';

export interface InferredNode {
  /** Position in the flattened, topologically sorted main graph. */
  index: number;
  op: string;
  domain: string;
  opset: number;
  /** The node's name as in the model (may be empty or repeated; never used as a key). */
  name: string;
  /** Printable label: the escaped name, or `op#index` when the node has none. */
  label: string;
  inputs: string[];
  outputs: string[];
  inputInfos: Array<TensorInfo | undefined>;
  outputInfos: TensorInfo[];
  /** Normalized attributes: explicit ones plus every default inference used. */
  attrs: Record<string, AttrValue>;
  /** The node's attributes as in the model (function refs resolved). */
  attributes: AttributeProto[];
  kind: NodeKind;
  reason?: string;
  /** Where an inlined node came from: `function:domain:name` or `If:label/then`. */
  origin?: string;
}

export interface ControlFlowInfo {
  node: string;
  op: string;
  /** Nodes inside its subgraphs (recursively), which dlprof does not time individually. */
  subgraphNodes: number;
  inlined: boolean;
  /** An unrolled Loop's iterations. */
  iterations?: number;
}

export interface InferenceResult {
  nodes: InferredNode[];
  tensors: Map<string, TensorInfo>;
  inputs: Array<{ name: string; info: TensorInfo }>;
  outputs: Array<{ name: string; info: TensorInfo }>;
  controlFlow: ControlFlowInfo[];
  /** Tensor names that stand for another (outputs of an inlined If → its branch's outputs). */
  aliases: Map<string, string>;
  diagnostics: Diagnostic[];
}

interface WorkNode {
  proto: NodeProto;
  op: string;
  domain: string;
  opset: number;
  attrs: AttributeProto[];
  origin?: string;
}

const MAX_FUNCTION_DEPTH = 32;

function typeToInfo(tp: TypeProto | null | undefined): { dtype?: ReturnType<typeof dtypeFromOnnx>; dims?: Array<{ value?: number; param?: string }> } {
  const tt = tp?.tensorType ?? tp?.sparseTensorType;
  if (!tt) return {};
  const dtype = dtypeFromOnnx(tt.elemType ?? 0);
  if (!tt.shape) return { dtype };
  const dims = (tt.shape.dim ?? []).map((d) => {
    // `value` is protobufjs's oneof discriminator ('dimValue' | 'dimParam' | undefined).
    const which = (d as { value?: string }).value;
    if (d.dimValue != null && (which === 'dimValue' || !d.dimParam)) {
      const v = Number(d.dimValue);
      // A plain (not decoded) object has no oneof discriminator: an own dimValue of 0 is set.
      if (v > 0 || (v === 0 && (which === 'dimValue' || (which === undefined && Object.hasOwn(d, 'dimValue'))))) return { value: v };
    }
    return d.dimParam ? { param: d.dimParam } : {};
  });
  return { dtype, dims };
}

/** Info from a value_info entry, with symbolic dims kept as names ('?' when unnamed). */
function valueInfoToTensorInfo(vi: ValueInfoProto): TensorInfo | undefined {
  const { dtype, dims } = typeToInfo(vi.type);
  if (!dtype) return undefined;
  return { dtype, shape: dims?.map((d) => d.value ?? d.param ?? '?') };
}

export function isConcrete(shape: readonly Dim[] | undefined): shape is number[] {
  return !!shape && shape.every((d) => typeof d === 'number');
}

function nodeLabel(n: NodeProto, index: number, op: string): string {
  return n.name ? printable(n.name) : `${op}#${index}`;
}

/**
 * Runs inference on the model's main graph.
 * @throws DlprofError for unbound symbolic input dimensions, a cycle, an input never produced,
 *   or an absurd tensor size.
 */
export function inferModel(model: LoadedModel, bindings: Bindings): InferenceResult {
  const diagnostics: Diagnostic[] = [];
  const g = model.graph;
  const file = model.path;
  const tensors = new Map<string, TensorInfo>();
  const valueInfos = new Map<string, ValueInfoProto>();
  for (const vi of [...(g.valueInfo ?? []), ...(g.output ?? [])]) if (vi.name) valueInfos.set(vi.name, vi);

  // Weights: initializers, then sparse initializers.
  for (const t of g.initializer ?? []) {
    const dtype = tensorDtype(t);
    const shape = tensorDims(t);
    checkSize(file, `initializer '${printable(t.name ?? '')}'`, dtype ? dtypeSize(dtype) : 1, shape);
    tensors.set(t.name ?? '', { dtype, shape, value: decodeTensor(t, model.external), weight: { proto: t } });
  }
  for (const s of g.sparseInitializer ?? []) {
    if (!s.values) continue;
    const name = s.values.name ?? '';
    const shape = (s.dims ?? []).map(Number);
    const dtype = tensorDtype(s.values);
    checkSize(file, `sparse initializer '${printable(name)}'`, dtype ? dtypeSize(dtype) : 1, shape);
    tensors.set(name, { dtype, shape, weight: { proto: s.values, sparse: s } });
  }

  // Graph inputs that are not initializers: bind their symbolic dims.
  const graphInputs = (g.input ?? []).filter((vi) => !tensors.has(vi.name ?? ''));
  for (const s of bindings.shapes.keys()) {
    if (!graphInputs.some((vi) => vi.name === s)) {
      throw new DlprofError(`${file}: --shape names input '${printable(s)}', but the model's inputs are ${graphInputs.map((i) => `'${printable(i.name ?? '')}'`).join(', ') || 'none'}`,
        'E_UNKNOWN_INPUT', EXIT.usage);
    }
  }
  for (const s of bindings.values?.keys() ?? []) {
    if (!graphInputs.some((vi) => vi.name === s)) {
      throw new DlprofError(`${file}: --value names input '${printable(s)}', but the model's inputs are ${graphInputs.map((i) => `'${printable(i.name ?? '')}'`).join(', ') || 'none'}`,
        'E_UNKNOWN_INPUT', EXIT.usage);
    }
  }
  const inputs: Array<{ name: string; info: TensorInfo }> = [];
  const usedDims = new Set<string>();
  const defaulted = new Set<string>();
  for (const vi of graphInputs) {
    const name = vi.name ?? '';
    const info = bindInput(file, vi, bindings, usedDims, defaulted);
    tensors.set(name, info);
    inputs.push({ name, info });
  }
  if (defaulted.size) {
    diagnostics.push({ level: 'warning', code: 'W_DEFAULT_DIM',
      message: `--defaults bound ${[...defaulted].map((d) => `'${printable(d)}'`).join(', ')} to 1 (set them with --dim NAME=N)` });
  }

  const state: EngineState = {
    model, bindings, tensors, valueInfos, diagnostics, nodes: [], controlFlow: [], aliases: new Map(), symbols: 0, file,
    graphInputs: new Set(inputs.map((i) => i.name)),
  };
  const work = flattenNodes(state, g.node ?? [], model.opsets, 0, undefined);
  runNodes(state, sortTopologically(state, work, new Set(tensors.keys()), g));

  for (const d of bindings.dims.keys()) {
    if (!usedDims.has(d)) diagnostics.push({ level: 'warning', code: 'W_UNUSED_DIM', message: `--dim ${printable(d)} matches no symbolic dimension of the model's inputs` });
  }
  const outputs = (g.output ?? []).map((vi) => ({ name: vi.name ?? '', info: tensors.get(vi.name ?? '') ?? {} }));
  return { nodes: state.nodes, tensors, inputs, outputs, controlFlow: state.controlFlow, aliases: state.aliases, diagnostics };
}

interface EngineState {
  model: LoadedModel;
  bindings: Bindings;
  tensors: Map<string, TensorInfo>;
  valueInfos: Map<string, ValueInfoProto>;
  diagnostics: Diagnostic[];
  nodes: InferredNode[];
  controlFlow: ControlFlowInfo[];
  aliases: Map<string, string>;
  symbols: number;
  file: string;
  /** Names of the main graph's inputs (not initializers): what --value can bind. */
  graphInputs: Set<string>;
}

function checkSize(file: string, what: string, elemBytes: number, shape: readonly Dim[]): void {
  if (!isConcrete(shape)) return;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new DlprofError(`${file}: ${what} has an invalid dimension ${d}`, 'E_BAD_DIM', EXIT.model);
  }
  const bytes = elementCount(shape) * elemBytes;
  if (!(bytes <= MAX_TENSOR_BYTES)) {
    throw new DlprofError(`${file}: ${what} declares shape [${shape.join(',')}] (${bytes.toExponential(2)} bytes), more than any device holds`,
      'E_TENSOR_TOO_LARGE', EXIT.model, ['Check the model and the --dim/--shape values.']);
  }
}

function bindInput(file: string, vi: ValueInfoProto, b: Bindings, usedDims: Set<string>, defaulted: Set<string>): TensorInfo {
  const name = vi.name ?? '';
  const { dtype, dims } = typeToInfo(vi.type);
  const forced = b.shapes.get(name);
  const bound = b.values?.get(name);
  if (bound) return valueInput(file, name, dtype, dims, forced, bound, usedDims);
  if (forced) {
    if (dims && dims.length !== forced.length) {
      throw new DlprofError(`${file}: --shape ${printable(name)}=${forced.join('x')} has rank ${forced.length}, but input '${printable(name)}' has rank ${dims.length}`,
        'E_SHAPE_RANK', EXIT.usage);
    }
    for (const [i, d] of (dims ?? []).entries()) {
      if (d.param) usedDims.add(d.param);
      if (d.value !== undefined && d.value !== forced[i]) {
        throw new DlprofError(`${file}: --shape ${printable(name)}=${forced.join('x')} contradicts the model's fixed dimension ${d.value} at axis ${i}`,
          'E_SHAPE_MISMATCH', EXIT.usage);
      }
    }
    checkSize(file, `input '${printable(name)}'`, dtype ? dtypeSize(dtype) : 4, forced);
    return { dtype, shape: [...forced] };
  }
  if (!dims) {
    throw new DlprofError(`${file}: input '${printable(name)}' has no shape in the model`, 'E_UNBOUND_DIM', EXIT.model,
      [`Give its shape with --shape ${printable(name)}=1x3x224x224 (dims separated by x).`]);
  }
  const shape = dims.map((d, axis) => {
    if (d.value !== undefined) return d.value;
    if (d.param) {
      usedDims.add(d.param);
      const v = b.dims.get(d.param);
      if (v !== undefined) return v;
      if (b.defaults) {
        defaulted.add(d.param);
        return 1;
      }
      throw new DlprofError(`${file}: symbolic dimension '${printable(d.param)}' of input '${printable(name)}' (axis ${axis}) is not bound`,
        'E_UNBOUND_DIM', EXIT.model, [`Bind it with --dim ${printable(d.param)}=N, or the whole input with --shape ${printable(name)}=…`,
          'Or pass --defaults to set every unbound symbolic dimension to 1.']);
    }
    throw new DlprofError(`${file}: input '${printable(name)}' has an unnamed dimension at axis ${axis}`, 'E_UNBOUND_DIM', EXIT.model,
      [`Give the whole shape with --shape ${printable(name)}=${dims.map((x) => x.value ?? 'N').join('x')}`]);
  });
  checkSize(file, `input '${printable(name)}'`, dtype ? dtypeSize(dtype) : 4, shape);
  return { dtype, shape };
}

/**
 * An input bound with --value: its shape is the declared one (a symbolic or size-1 axis takes the
 * value's length on the last axis, 1 elsewhere) or --shape's, and it carries the value, so every
 * computation on it folds.
 */
function valueInput(file: string, name: string, dtype: TensorInfo['dtype'], dims: Array<{ value?: number; param?: string }> | undefined,
  forced: number[] | undefined, data: number[], usedDims: Set<string>): TensorInfo {
  const flag = `--value ${printable(name)}=${data.join(',')}`;
  if (!dtype) throw new DlprofError(`${file}: ${flag}: input '${printable(name)}' has no element type in the model`, 'E_BAD_VALUE', EXIT.usage);
  if (!(dtype.startsWith('int') || dtype.startsWith('uint') || dtype === 'bool' || dtype.startsWith('float') || dtype === 'bfloat16')) {
    throw new DlprofError(`${file}: ${flag}: input '${printable(name)}' is ${dtype}; --value binds numeric and bool inputs`, 'E_BAD_VALUE', EXIT.usage);
  }
  const integral = dtype !== 'bool' && !dtype.startsWith('float') && dtype !== 'bfloat16';
  for (const v of data) {
    if (dtype === 'bool' && v !== 0 && v !== 1) throw new DlprofError(`${file}: ${flag}: input '${printable(name)}' is bool; give 0/1 or false/true`, 'E_BAD_VALUE', EXIT.usage);
    // Integer inputs reach the model runs as 32-bit integers (int64 ones too).
    if (integral && !(Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1)) {
      throw new DlprofError(`${file}: ${flag}: input '${printable(name)}' is ${dtype}; ${v} is not an integer within ±2³¹`, 'E_BAD_VALUE', EXIT.usage);
    }
  }
  let shape: number[];
  if (forced) shape = [...forced];
  else if (!dims) shape = data.length === 1 ? [] : [data.length];
  else {
    for (const d of dims) if (d.param) usedDims.add(d.param);
    shape = dims.map((d, i) => (i === dims.length - 1 ? d.value ?? data.length : d.value ?? 1));
  }
  if (elementCount(shape) !== data.length) {
    throw new DlprofError(`${file}: ${flag} has ${data.length} element${data.length === 1 ? '' : 's'}, but input '${printable(name)}' has shape [${shape.join(',')}]`,
      'E_BAD_VALUE', EXIT.usage, [dims && dims.length > 1 ? `Give its shape too, with --shape ${printable(name)}=…` : `Give ${elementCount(shape)} comma-separated values.`]);
  }
  return { dtype, shape, value: { dtype, shape, data: [...data] } };
}

/** Expands calls to model-local functions into their bodies (recursively, renaming internals). */
function flattenNodes(st: EngineState, nodes: readonly NodeProto[], opsets: Map<string, number>, depth: number, origin: string | undefined): WorkNode[] {
  const out: WorkNode[] = [];
  for (const n of nodes) {
    const domain = normalizeDomain(n.domain);
    const op = n.opType ?? '';
    const fn = st.model.functions.get(`${domain}:${op}`);
    if (fn) {
      if (depth >= MAX_FUNCTION_DEPTH) {
        throw new DlprofError(`${st.file}: function '${printable(op)}' expands more than ${MAX_FUNCTION_DEPTH} levels deep (recursive?)`, 'E_FUNCTION_RECURSION', EXIT.model);
      }
      out.push(...flattenNodes(st, expandFunction(fn, n, st.symbols++), functionOpsets(fn, opsets), depth + 1, `function:${domain ? `${domain}:` : ''}${op}`));
      continue;
    }
    const opset = opsets.get(domain) ?? (domain === '' ? opsets.get('') ?? 1 : 1);
    if (!opsets.has(domain) && domain !== '') {
      st.diagnostics.push({ level: 'warning', code: 'W_DOMAIN_NOT_IMPORTED', node: printable(n.name ?? op), message: `node uses domain '${printable(domain)}', which the model does not import` });
    }
    out.push({ proto: n, op, domain, opset, attrs: n.attribute ?? [], origin });
  }
  return out;
}

function functionOpsets(fn: FunctionProto, outer: Map<string, number>): Map<string, number> {
  const m = new Map(outer);
  for (const o of fn.opsetImport ?? []) m.set(normalizeDomain(o.domain), Number(o.version ?? 0));
  return m;
}

/** A function call's body with formal names replaced by actual ones and internals made unique. */
function expandFunction(fn: FunctionProto, call: NodeProto, uid: number): NodeProto[] {
  const rename = new Map<string, string>();
  (fn.input ?? []).forEach((f, i) => rename.set(f, call.input?.[i] ?? ''));
  (fn.output ?? []).forEach((f, i) => rename.set(f, call.output?.[i] ?? ''));
  const callAttrs = new Map((call.attribute ?? []).map((a) => [a.name ?? '', a]));
  const map = (name: string): string => {
    if (name === '') return '';
    const r = rename.get(name);
    if (r !== undefined) return r;
    const fresh = `${fn.name}__${uid}/${name}`;
    rename.set(name, fresh);
    return fresh;
  };
  return (fn.node ?? []).map((n) => ({
    ...n,
    name: n.name ? `${call.name || fn.name}/${n.name}` : '',
    input: (n.input ?? []).map(map),
    output: (n.output ?? []).map(map),
    attribute: (n.attribute ?? []).flatMap((a) => {
      if (!a.refAttrName) return [a];
      const actual = callAttrs.get(a.refAttrName);
      return actual ? [{ ...actual, name: a.name }] : [];
    }),
  }));
}

/** Names a subgraph reads from its enclosing scope (inputs of its nodes not produced inside). */
function outerNames(g: GraphProto): string[] {
  const local = new Set<string>([...(g.input ?? []).map((i) => i.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const out = new Set<string>();
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i && !local.has(i)) out.add(i);
    for (const a of n.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) for (const x of outerNames(sg)) if (!local.has(x)) out.add(x);
    for (const o of n.output ?? []) local.add(o);
  }
  return [...out];
}

/**
 * Kahn's algorithm over the nodes' data dependencies (inputs, and outer names used by their
 * subgraphs), keeping the model's order among ready nodes.
 * @throws DlprofError naming the node for an input never produced, or for a cycle.
 */
function sortTopologically(st: EngineState, nodes: WorkNode[], available: Set<string>, g: GraphProto): WorkNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => { for (const o of n.proto.output ?? []) if (o) producer.set(o, i); });
  const deps: number[][] = nodes.map(() => []);
  const indeg = nodes.map(() => 0);
  nodes.forEach((n, i) => {
    const needed = new Set<string>((n.proto.input ?? []).filter((x) => x !== ''));
    for (const a of n.attrs) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) for (const x of outerNames(sg)) needed.add(x);
    for (const name of needed) {
      const p = producer.get(name);
      if (p === undefined) {
        if (!available.has(name)) {
          const label = nodeLabel(n.proto, i, n.op);
          throw new DlprofError(`${st.file}: node '${label}' (${printable(n.op)}) reads tensor '${printable(name)}', which no node, input or initializer${g.name ? ` of graph '${printable(g.name)}'` : ''} produces`,
            'E_UNDEFINED_INPUT', EXIT.input);
        }
        continue;
      }
      if (p === i) {
        throw new DlprofError(`${st.file}: node '${nodeLabel(n.proto, i, n.op)}' (${printable(n.op)}) reads its own output '${printable(name)}' (a cycle)`, 'E_GRAPH_CYCLE', EXIT.input);
      }
      deps[p].push(i);
      indeg[i]++;
    }
  });
  // A min-heap on original index would keep order exactly; a sorted ready list is enough here.
  const ready: number[] = [];
  indeg.forEach((d, i) => { if (d === 0) ready.push(i); });
  const order: WorkNode[] = [];
  let head = 0;
  while (head < ready.length) {
    const i = ready[head++];
    order.push(nodes[i]);
    for (const j of deps[i]) if (--indeg[j] === 0) ready.push(j);
  }
  if (order.length !== nodes.length) {
    const stuck = indeg.findIndex((d) => d > 0);
    const n = nodes[stuck];
    throw new DlprofError(`${st.file}: the graph has a cycle through node '${nodeLabel(n.proto, stuck, n.op)}' (${printable(n.op)}); ONNX graphs must be acyclic`,
      'E_GRAPH_CYCLE', EXIT.input);
  }
  return order;
}

function runNodes(st: EngineState, order: WorkNode[]): void {
  for (const w of order) {
    if (w.op === 'If' && w.domain === '' && tryInlineIf(st, w)) continue;
    if (w.op === 'Loop' && w.domain === '' && tryUnrollLoop(st, w)) continue;
    if ((w.op === 'If' || w.op === 'Loop') && w.domain === '') warnIfGated(st, w);
    st.nodes.push(inferNode(st, w, st.nodes.length));
  }
}

/**
 * The main graph's inputs without a value that a tensor is computed from (through the nodes
 * inferred so far): what --value would have to bind for it to fold.
 */
function unboundInputsBehind(st: EngineState, tensor: string): string[] {
  const producer = new Map<string, InferredNode>();
  for (const n of st.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length) {
    let t = stack.pop()!;
    for (let i = 0; i < 64 && st.aliases.has(t); i++) t = st.aliases.get(t)!;
    if (!t || seen.has(t)) continue;
    seen.add(t);
    if (st.tensors.get(t)?.value !== undefined) continue;
    if (st.graphInputs.has(t)) found.add(t);
    else for (const i of producer.get(t)?.inputs ?? []) stack.push(i);
  }
  return [...found];
}

/**
 * An If whose condition, or a Loop whose trip count or condition, depends on inputs with no value
 * is not timed; the warning names the inputs to bind (exported audio models put their whole graph
 * under an If on the sample rate).
 */
function warnIfGated(st: EngineState, w: WorkNode): void {
  const decides = w.op === 'If' ? [w.proto.input?.[0] ?? ''] : (w.proto.input ?? []).slice(0, 2);
  const names = [...new Set(decides.filter((t) => t && st.tensors.get(t)?.value === undefined).flatMap((t) => unboundInputsBehind(st, t)))];
  if (!names.length) return;
  const label = nodeLabel(w.proto, st.nodes.length, w.op);
  const nodes = w.attrs.reduce((n, a) => n + (a.g ? countNodes(a.g) : 0), 0);
  const what = (n: string): string => {
    const i = st.tensors.get(n);
    return `'${printable(n)}' (${i?.dtype ?? 'unknown type'}${i?.shape?.length === 0 ? ' scalar' : i?.shape ? `[${i.shape.join(',')}]` : ''})`;
  };
  const decided = w.op === 'If' ? 'which branch runs' : 'how many times it runs';
  const message = `${w.op} '${label}' (${nodes} nodes inside, not timed) depends on input${names.length > 1 ? 's' : ''} ${names.map(what).join(', ')} for ${decided}: `
    + `bind ${names.length > 1 ? 'them' : 'it'} with ${names.map((n) => `--value ${printable(n)}=V`).join(' ')} to analyze ${w.op === 'If' ? 'the branch it takes' : 'its iterations'}`;
  if (!st.diagnostics.some((d) => d.message === message)) st.diagnostics.push({ level: 'warning', code: 'W_GATED_ON_INPUT', message });
}

/** Inlines the taken branch of an If whose condition is a known constant. */
function tryInlineIf(st: EngineState, w: WorkNode): boolean {
  const cond = st.tensors.get(w.proto.input?.[0] ?? '')?.value;
  if (!cond || cond.data.length !== 1) return false;
  const which = cond.data[0] ? 'then_branch' : 'else_branch';
  const branch = w.attrs.find((a) => a.name === which)?.g;
  if (!branch) return false;
  const label = nodeLabel(w.proto, st.nodes.length, 'If');
  st.controlFlow.push({ node: label, op: 'If', subgraphNodes: countNodes(branch), inlined: true });
  for (const t of branch.initializer ?? []) {
    st.tensors.set(t.name ?? '', { dtype: tensorDtype(t), shape: tensorDims(t), value: decodeTensor(t, st.model.external), weight: { proto: t } });
  }
  const origin = `If:${label}/${which === 'then_branch' ? 'then' : 'else'}`;
  const flat = flattenNodes(st, branch.node ?? [], st.model.opsets, 0, origin);
  runNodes(st, sortTopologically(st, flat, new Set(st.tensors.keys()), branch));
  // The If's outputs are the branch's outputs.
  (w.proto.output ?? []).forEach((o, i) => {
    const src = branch.output?.[i]?.name;
    const info = src ? st.tensors.get(src) : undefined;
    if (o && info) st.tensors.set(o, info);
  });
  // Consumers of the If's outputs read the branch's outputs: the graph builder follows aliases.
  (w.proto.output ?? []).forEach((o, i) => {
    const src = branch.output?.[i]?.name;
    if (o && src) st.aliases.set(o, src);
  });
  return true;
}

/** A Loop is unrolled when its iterations hold at most this many nodes in all; larger ones stay one control-flow node. */
export const MAX_UNROLLED_NODES = 4096;

/**
 * Unrolls a Loop whose trip count is a known constant (folded, or from --value) and whose
 * condition is absent or a known true: each iteration's body runs as nodes of the graph, with the
 * iteration number a constant and the carried values threaded through; a scan output is each
 * iteration's value unsqueezed and concatenated, as the Loop would stack it. An iteration whose
 * condition output folds to false ends it early; one computed from data counts as continuing (the
 * trip count is then the most it can run). Bodies with subgraphs of their own are not unrolled.
 */
function tryUnrollLoop(st: EngineState, w: WorkNode): boolean {
  const [mName = '', condName = '', ...initial] = w.proto.input ?? [];
  const m = mName ? st.tensors.get(mName)?.value : undefined;
  const cond = condName ? st.tensors.get(condName)?.value : undefined;
  if (!m || m.data.length !== 1 || (condName && (!cond || cond.data.length !== 1 || !cond.data[0]))) return false;
  const trips = Number(m.data[0]);
  const body = w.attrs.find((a) => a.name === 'body')?.g;
  if (!body || !Number.isSafeInteger(trips) || trips < 1) return false;
  const bodyNodes = body.node ?? [];
  if (bodyNodes.some((n) => (n.attribute ?? []).some((a) => a.g || a.graphs?.length))) return false;
  if (trips * bodyNodes.length > MAX_UNROLLED_NODES) return false;
  const ins = (body.input ?? []).map((i) => i.name ?? '');
  const outs = (body.output ?? []).map((o) => o.name ?? '');
  const n = initial.length;
  if (ins.length !== 2 + n || outs.length < 1 + n) return false;

  const label = nodeLabel(w.proto, st.nodes.length, 'Loop');
  const uid = st.symbols++;
  const local = new Set<string>([...ins, ...bodyNodes.flatMap((x) => x.output ?? []), ...(body.initializer ?? []).map((t) => t.name ?? '')]);
  // Body initializers once, under names of their own.
  const initName = (name: string): string => `${label}#${uid}/${name}`;
  for (const t of body.initializer ?? []) {
    st.tensors.set(initName(t.name ?? ''), { dtype: tensorDtype(t), shape: tensorDims(t), value: decodeTensor(t, st.model.external), weight: { proto: t } });
  }
  const constant = (name: string, dtype: 'int64' | 'bool', shape: number[], data: number[]): string => {
    st.tensors.set(name, { dtype, shape, value: { dtype, shape, data } });
    return name;
  };
  const trueName = constant(`${label}#${uid}/cond_in`, 'bool', [], [1]);
  let carried = [...initial];
  const scans: string[][] = outs.slice(1 + n).map(() => []);
  let ran = 0;
  for (let i = 0; i < trips; i++) {
    const prefix = `${label}#${uid}/iter${i}/`;
    const rename = new Map<string, string>([[ins[0], constant(`${prefix}iteration`, 'int64', [], [i])], [ins[1], trueName]]);
    carried.forEach((c, j) => rename.set(ins[2 + j], c));
    for (const t of body.initializer ?? []) rename.set(t.name ?? '', initName(t.name ?? ''));
    const map = (x: string): string => (x === '' ? '' : rename.get(x) ?? (local.has(x) ? `${prefix}${x}` : x));
    const nodes: NodeProto[] = bodyNodes.map((b) => ({ ...b, name: `${label}/iter${i}/${b.name || b.opType}`, input: (b.input ?? []).map(map), output: (b.output ?? []).map(map) }));
    const flat = flattenNodes(st, nodes, st.model.opsets, 0, `Loop:${label}/iter${i}`);
    runNodes(st, sortTopologically(st, flat, new Set(st.tensors.keys()), body));
    ran++;
    carried = outs.slice(1, 1 + n).map(map);
    outs.slice(1 + n).forEach((o, k) => scans[k].push(map(o)));
    const more = st.tensors.get(map(outs[0]))?.value;
    if (more && more.data.length === 1 && !more.data[0]) break;
  }
  st.controlFlow.push({ node: label, op: 'Loop', subgraphNodes: countNodes(body) * ran, inlined: true, iterations: ran });
  const loopOuts = w.proto.output ?? [];
  // Final carried values: the last iteration's.
  carried.forEach((c, j) => {
    const o = loopOuts[j];
    if (!o) return;
    const info = st.tensors.get(c);
    if (info) st.tensors.set(o, info);
    st.aliases.set(o, c);
  });
  // Scan outputs: the iterations' values stacked on a new leading axis.
  const opset = st.model.opsets.get('') ?? 1;
  const axes = constant(`${label}#${uid}/axes`, 'int64', [1], [0]);
  scans.forEach((vals, k) => {
    const o = loopOuts[n + k];
    if (!o) return;
    const parts = vals.map((v, i) => {
      const name = `${label}#${uid}/stack${k}/${i}`;
      return { proto: { name, opType: 'Unsqueeze', input: opset >= 13 ? [v, axes] : [v], output: [name] }, op: 'Unsqueeze', domain: '', opset,
        attrs: opset >= 13 ? [] : [{ name: 'axes', type: 7, ints: [0] }], origin: `Loop:${label}/stack` } satisfies WorkNode;
    });
    const concat: WorkNode = { proto: { name: `${label}/stack${k}`, opType: 'Concat', input: parts.map((p) => p.proto.output[0]), output: [o] },
      op: 'Concat', domain: '', opset, attrs: [{ name: 'axis', type: 2, i: 0 }], origin: `Loop:${label}/stack` };
    runNodes(st, [...parts, concat]);
  });
  return true;
}

function countNodes(g: GraphProto): number {
  let n = 0;
  for (const node of g.node ?? []) {
    n++;
    for (const a of node.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) n += countNodes(sg);
  }
  return n;
}

function fallbackInfo(st: EngineState, name: string): TensorInfo {
  const vi = st.valueInfos.get(name);
  const info = vi ? valueInfoToTensorInfo(vi) : undefined;
  return info ?? {};
}

function inferNode(st: EngineState, w: WorkNode, index: number): InferredNode {
  const n = w.proto;
  const label = nodeLabel(n, index, w.op);
  const inputs = (n.input ?? []).map((x) => (x === '' ? undefined : st.tensors.get(x) ?? {}));
  const outputsNames = n.output ?? [];
  const used = new Map<string, AttrValue>();
  const dropped = new Set<string>();
  const normalized = (): Record<string, AttrValue> => {
    const all: Record<string, AttrValue> = { ...explicit, ...Object.fromEntries(used) };
    for (const d of dropped) delete all[d];
    return all;
  };
  const base: InferredNode = {
    index, op: w.op, domain: w.domain, opset: w.opset, name: n.name ?? '', label,
    inputs: [...(n.input ?? [])], outputs: [...outputsNames], inputInfos: inputs, outputInfos: [], attrs: {}, attributes: w.attrs, kind: 'layer', origin: w.origin,
  };
  const explicit: Record<string, AttrValue> = {};
  for (const a of w.attrs) if (a.name) explicit[a.name] = attrValue(a);

  const setOutputs = (infos: TensorInfo[]): void => {
    base.outputInfos = outputsNames.map((_, i) => infos[i] ?? fallbackInfo(st, outputsNames[i]));
    outputsNames.forEach((o, i) => { if (o) st.tensors.set(o, base.outputInfos[i]); });
  };

  const spec = lookupOp(w.domain, w.op);
  if (!spec) {
    setOutputs([]);
    base.kind = 'unsupported';
    base.reason = `op ${w.domain ? `${w.domain}.` : ''}${w.op} (opset ${w.opset}) is not supported`;
    base.attrs = explicit;
    return base;
  }
  const fail = (msg: string): never => { throw new ShapeError(msg, label); };
  const ctx: InferCtx = {
    op: w.op, domain: w.domain, opset: w.opset, node: label, inputs, numOutputs: outputsNames.length,
    attr: makeAttrReader(w.attrs, used, fail),
    input: (i) => inputs[i] ?? fail(`input ${i} is required`),
    has: (i) => inputs[i] !== undefined,
    dtype: (i) => ctx.input(i).dtype ?? fail(`dtype of input ${i} ('${printable(n.input?.[i] ?? '')}') is unknown`),
    shape: (i) => ctx.input(i).shape ?? fail(`shape of input ${i} ('${printable(n.input?.[i] ?? '')}') is unknown`),
    value: (i) => inputs[i]?.value,
    setAttr: (name, v) => { used.set(name, v); dropped.delete(name); },
    dropAttr: (name) => { used.delete(name); dropped.add(name); },
    symbol: (hint) => `${hint}_${st.symbols++}`,
    inferGraph: (sg, sgInputs) => inferSubgraph(st, sg, sgInputs),
    fail,
  };
  try {
    let infos = spec.infer(ctx);
    const isConstant = w.op === 'Constant' && w.domain === '';
    if (!isConstant && spec.evaluate && inputs.every((x) => x === undefined || x.value !== undefined) && inputs.some((x) => x?.value)
      && infos.every((o) => isConcrete(o.shape) && elementCount(o.shape) <= MAX_FOLD_ELEMENTS)) {
      const values = spec.evaluate(ctx, inputs.map((x) => x?.value));
      if (values) infos = infos.map((o, i) => ({ ...o, value: values[i] ?? o.value }));
    }
    infos.forEach((o, i) => {
      if (o.shape && isConcrete(o.shape)) checkSize(st.file, `output '${printable(outputsNames[i] ?? '')}' of node '${label}'`, o.dtype ? dtypeSize(o.dtype) : 4, o.shape);
    });
    setOutputs(infos);
    base.attrs = normalized();
    if (isConstant) base.kind = 'constant';
    else if (['If', 'Loop', 'Scan'].includes(w.op) && w.domain === '') {
      base.kind = 'control-flow';
      const sub = w.attrs.reduce((s, a) => s + (a.g ? countNodes(a.g) : 0), 0);
      st.controlFlow.push({ node: label, op: w.op, subgraphNodes: sub, inlined: false });
    } else if (base.outputInfos.length > 0 && base.outputInfos.every((o) => o.value !== undefined)) base.kind = 'host';
    else if (!base.outputInfos.every((o) => isConcrete(o.shape) && o.dtype)) {
      base.kind = 'failed';
      base.reason = 'output shape depends on data (not known statically)';
    }
  } catch (e) {
    if (e instanceof DlprofError) throw e;
    setOutputs([]);
    base.kind = 'failed';
    base.reason = e instanceof ShapeError ? e.message : `inference error: ${(e as Error).message}`;
    base.attrs = normalized();
  }
  return base;
}

/** Infers a subgraph in a child scope: outer tensors visible, its own names local. */
function inferSubgraph(st: EngineState, g: GraphProto, sgInputs: TensorInfo[]): TensorInfo[] {
  const child: EngineState = { ...st, tensors: new Map(st.tensors), nodes: [], controlFlow: [], valueInfos: new Map(st.valueInfos) };
  for (const vi of [...(g.valueInfo ?? []), ...(g.output ?? [])]) if (vi.name) child.valueInfos.set(vi.name, vi);
  (g.input ?? []).forEach((vi, i) => {
    const declared = valueInfoToTensorInfo(vi);
    child.tensors.set(vi.name ?? '', sgInputs[i] ?? declared ?? {});
  });
  for (const t of g.initializer ?? []) {
    child.tensors.set(t.name ?? '', { dtype: tensorDtype(t), shape: tensorDims(t), value: decodeTensor(t, st.model.external), weight: { proto: t } });
  }
  const flat = flattenNodes(child, g.node ?? [], st.model.opsets, 0, undefined);
  runNodes(child, sortTopologically(child, flat, new Set(child.tensors.keys()), g));
  st.symbols = child.symbols;
  return (g.output ?? []).map((o) => {
    const inferred = child.tensors.get(o.name ?? '');
    if (inferred?.dtype && inferred.shape) return inferred;
    return valueInfoToTensorInfo(o) ?? inferred ?? {};
  });
}
