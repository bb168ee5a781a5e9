/**
 * The fused layer that would replace a fusable chain (fusion.ts), as a layer case the fused
 * kernels (kernels/fused.ts) can run and the harness can time. Only shapes and attributes matter
 * for timing: BatchNormalization folds into the convolution's weights and bias without changing
 * their shapes.
 */
import { layerBytes, type ModelGraph } from '../ir/graph.js';
import { layerKey, sortedAttrs } from '../ir/key.js';
import type { AttrValue, Layer, TensorType } from '../ir/types.js';
import { layerFlops } from '../kernels/registry.js';
import type { LayerCase } from '../kernels/types.js';
import type { FusionGroup } from './fusion.js';

const num = (v: AttrValue | undefined, d: number): number => (typeof v === 'number' ? v : d);

function constScalar(g: ModelGraph, id: number): number | undefined {
  const origin = g.origins.get(g.nodes[id].key);
  const v = origin?.constValues.find((x) => x && x.data.length === 1);
  return v ? Number(v.data[0]) : undefined;
}

/** The activation at the end of a chain, as FusedConv/FusedMatMul attributes. */
function activation(g: ModelGraph, id: number | undefined): Record<string, AttrValue> {
  if (id === undefined) return { activation: 'none', activation_alpha: 0, activation_beta: 0 };
  const n = g.nodes[id];
  const l = g.layers.get(n.key)!;
  const consts = g.origins.get(n.key)!.constValues;
  switch (n.op) {
    case 'Clip': {
      const lo = typeof l.attrs.min === 'number' ? l.attrs.min : consts[1] ? Number(consts[1].data[0]) : -3.4e38;
      const hi = typeof l.attrs.max === 'number' ? l.attrs.max : consts[2] ? Number(consts[2].data[0]) : 3.4e38;
      return { activation: 'Clip', activation_alpha: lo, activation_beta: hi };
    }
    case 'LeakyRelu': return { activation: 'LeakyRelu', activation_alpha: num(l.attrs.alpha, 0.01), activation_beta: 0 };
    case 'HardSigmoid': return { activation: 'HardSigmoid', activation_alpha: num(l.attrs.alpha, 0.2), activation_beta: num(l.attrs.beta, 0.5) };
    default: return { activation: n.op, activation_alpha: 0, activation_beta: 0 };
  }
}

function makeLayer(op: string, attrs: Record<string, AttrValue>, inputs: Array<TensorType | null>, outputs: TensorType[], flops: number): Layer {
  const a = sortedAttrs(attrs);
  return { key: layerKey(op, a, inputs, outputs, []), op, attrs: a, inputs, outputs, weights: [], flops, bytes: layerBytes(inputs, outputs), params: 0 };
}

/**
 * The clamp [lo, hi] that a chain of Relu / Clip / Max(c) / Min(c) applies: each op maps the
 * running interval's ends through itself (a clamp after a clamp is a clamp), e.g.
 * Relu → Min(32) is [0, 32], the Sparse DNN Challenge's min(max(y, 0), 32).
 */
function clampOf(g: ModelGraph, ids: number[]): { lo: number; hi: number } | undefined {
  let lo = -Infinity;
  let hi = Infinity;
  for (const id of ids) {
    const n = g.nodes[id];
    let f: (x: number) => number;
    if (n.op === 'Relu') f = (x) => Math.max(x, 0);
    else if (n.op === 'Clip') {
      const a = activation(g, id);
      const [a0, a1] = [Number(a.activation_alpha), Number(a.activation_beta)];
      f = (x) => Math.min(Math.max(x, a0), a1);
    } else {
      const c = constScalar(g, id);
      if (c === undefined) return undefined;
      f = n.op === 'Max' ? (x) => Math.max(x, c) : (x) => Math.min(x, c);
    }
    [lo, hi] = [f(lo), f(hi)];
  }
  return { lo, hi };
}

/** dlprof.SparseLinear for a sparse-linear chain: MatMul/Gemm (sparse B) → bias? → clamps. */
function sparseCase(g: ModelGraph, f: FusionGroup): LayerCase | undefined {
  const nodes = f.nodes.map((i) => g.nodes[i]);
  const layers = nodes.map((n) => g.layers.get(n.key)!);
  const mm = layers[0];
  const x = mm.inputs[0]!;
  const w = mm.inputs[1]!;
  const wi = mm.weights.find((v) => v.input === 1)!;
  const isGemm = nodes[0].op === 'Gemm';
  let bias: TensorType | null = isGemm ? mm.inputs[2] ?? null : null;
  let rest = nodes.slice(1);
  if (rest[0]?.op === 'Add') {
    const j = rest[0].inputs.findIndex((t) => !nodes[0].outputs.includes(t));
    bias = layers[1].inputs[j] ?? null;
    rest = rest.slice(1);
  }
  const out = layers[layers.length - 1].outputs[0];
  const N = mm.outputs[0].shape[mm.outputs[0].shape.length - 1];
  // The bias must be one value per output neuron; other broadcasts are not this layer.
  if (bias && !(bias.shape[bias.shape.length - 1] === N && bias.shape.slice(0, -1).every((d) => d === 1))) return undefined;
  if (bias && bias.shape.length !== 1) bias = { dtype: bias.dtype, shape: [N] };
  if (out.shape.join(',') !== mm.outputs[0].shape.join(',')) return undefined;
  const clamp = clampOf(g, rest.map((n) => n.id));
  if (!clamp) return undefined;
  const act: Record<string, AttrValue> = clamp.lo === -Infinity && clamp.hi === Infinity ? { activation: 'none' }
    : clamp.lo === 0 && clamp.hi === Infinity ? { activation: 'Relu' }
      : { activation: 'Clip', clip_min: clamp.lo, clip_max: clamp.hi };
  // Three decimals: the recorded sparsity of a sampled weight is an estimate; finer digits would
  // split equal layers (the layer key buckets it to 1%).
  const sparsity = Math.round((wi.sparsity ?? 0) * 1000) / 1000;
  const attrs = sortedAttrs({ ...act, sparsity, trans_b: isGemm ? num(mm.attrs.transB, 0) : 0 });
  const inputs = [x, w, bias];
  const op = 'dlprof.SparseLinear';
  const weights = [{ ...wi, sparsity }];
  const layer: Layer = {
    key: layerKey(op, attrs, inputs, [out], weights), op, attrs, inputs, outputs: [out], weights,
    flops: layerFlops({ op, attrs, inputs, outputs: [out] }), bytes: layerBytes(inputs, [out]), params: 0,
  };
  return { layer, consts: inputs.map(() => null) };
}

/** The fused layer case of a group, or undefined when the chain has a shape the fused ops do not cover. */
export function fusedCase(g: ModelGraph, f: FusionGroup): LayerCase | undefined {
  if (f.kind === 'sparse-linear') return sparseCase(g, f);
  const nodes = f.nodes.map((i) => g.nodes[i]);
  const layers = nodes.map((n) => g.layers.get(n.key)!);
  const flops = layers.reduce((s, l) => s + l.flops, 0);
  const last = layers[layers.length - 1];
  if (f.kind === 'conv-bn-act') {
    const conv = layers[0];
    const hasBn = nodes.some((n) => n.op === 'BatchNormalization');
    const addIdx = nodes.findIndex((n) => n.op === 'Add');
    const actIdx = nodes.findIndex((n, i) => i > 0 && n.op !== 'BatchNormalization' && n.op !== 'Add');
    const m = conv.inputs[1]!.shape[0];
    const bias = conv.inputs[2] ?? (hasBn ? { dtype: conv.inputs[1]!.dtype, shape: [m] } : null);
    const residual = addIdx >= 0 ? layers[addIdx].outputs[0] : null;
    const { kernel_shape, strides, pads, dilations, group } = conv.attrs;
    const layer = makeLayer('dlprof.FusedConv', { kernel_shape, strides, pads, dilations, group, ...activation(g, actIdx >= 0 ? f.nodes[actIdx] : undefined) },
      [conv.inputs[0], conv.inputs[1], bias, residual], [last.outputs[0]], flops);
    return { layer, consts: layer.inputs.map(() => null) };
  }
  if (f.kind === 'gemm-bias-act') {
    const mm = layers[0];
    const isGemm = nodes[0].op === 'Gemm';
    const addIdx = nodes.findIndex((n, i) => i === 1 && n.op === 'Add');
    let bias: TensorType | null = isGemm ? mm.inputs[2] ?? null : null;
    if (addIdx === 1) {
      const addNode = nodes[1];
      const j = addNode.inputs.findIndex((t) => !nodes[0].outputs.includes(t));
      bias = layers[1].inputs[j] ?? null;
    }
    const rest = nodes.slice(addIdx === 1 ? 2 : 1);
    const act = rest.length === 0 ? activation(g, undefined)
      : rest[0].op === 'Div' ? { activation: 'Gelu', activation_alpha: 0, activation_beta: 0 } : activation(g, rest[0].id);
    if (isGemm && num(mm.attrs.beta, 1) !== 1 && bias) return undefined;
    const layer = makeLayer('dlprof.FusedMatMul', {
      transA: isGemm ? num(mm.attrs.transA, 0) : 0, transB: isGemm ? num(mm.attrs.transB, 0) : 0, alpha: isGemm ? num(mm.attrs.alpha, 1) : 1, ...act,
    }, [mm.inputs[0], mm.inputs[1], bias], [last.outputs[0]], flops);
    return { layer, consts: layer.inputs.map(() => null) };
  }
  // attention: QKᵀ → scale? → mask? → Softmax → ·V
  const qk = layers[0];
  const av = last;
  const q = qk.inputs[0]!;
  const kt = qk.inputs[1]!;
  if (q.shape.length < 3 || q.shape.length !== kt.shape.length) return undefined;
  let scale = 1;
  let mask: TensorType | null = null;
  nodes.slice(1, -2).forEach((n, k) => {
    const c = constScalar(g, n.id);
    if (n.op === 'Mul' && c !== undefined) scale *= c;
    else if (n.op === 'Div' && c !== undefined) scale /= c;
    else if (n.op === 'Add') {
      const j = n.inputs.findIndex((t) => !nodes[k].outputs.includes(t));
      mask = layers[k + 1].inputs[j] ?? null;
    }
  });
  const layer = makeLayer('dlprof.Attention', { scale, k_transposed: 1 }, [q, kt, av.inputs[1], mask], [av.outputs[0]], flops);
  return { layer, consts: layer.inputs.map(() => null) };
}
