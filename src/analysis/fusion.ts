/**
 * Fusable chains in the layer DAG: groups of layers a fused kernel could run as one, with every
 * intermediate tensor consumed only inside the group (so it never needs to reach memory).
 *  - conv-bn-act: Conv → BatchNormalization? → Add (residual)? → activation?  (BN folds into the
 *    conv's weights; the residual add and activation go in the epilogue)
 *  - gemm-bias-act: MatMul/Gemm → Add (constant bias)? → activation (incl. the exporters' erf GELU
 *    chain Div → Erf → Add → Mul → Mul)?
 *  - attention: MatMul(Q, Kᵀ) → Mul|Div (scale)? → Add (mask)? → Softmax → MatMul(·, V)
 */
import type { GraphNode, ModelGraph } from '../ir/graph.js';

export type FusionKind = 'conv-bn-act' | 'gemm-bias-act' | 'attention';

export interface FusionGroup {
  kind: FusionKind;
  /** Node ids in execution order; the first is the anchor (Conv, MatMul/Gemm, or QKᵀ MatMul). */
  nodes: number[];
}

const ACTIVATIONS = new Set(['Relu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Gelu', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Mish']);

function soleConsumer(g: ModelGraph, n: GraphNode): GraphNode | undefined {
  if (n.outputs.filter(Boolean).length !== 1) return undefined;
  const out = n.outputs.find(Boolean)!;
  if (g.outputs.some((o) => g.resolve(o.name) === out)) return undefined;
  const cs = g.consumers.get(out) ?? [];
  return cs.length === 1 ? g.nodes[cs[0]] : undefined;
}

/** Whether input `i` of node n is a constant (weight or folded value). */
function isConst(g: ModelGraph, n: GraphNode, i: number): boolean {
  return g.constTensors.has(n.inputs[i] ?? '');
}

function otherInputIsConst(g: ModelGraph, n: GraphNode, from: GraphNode): boolean {
  const j = n.inputs.findIndex((t) => !from.outputs.includes(t));
  return j >= 0 && isConst(g, n, j);
}

/** The exporters' GELU: x → Div(√2) → Erf → Add(1) → Mul(x) → Mul(0.5), from the node after x. */
function geluChain(g: ModelGraph, start: GraphNode, producer: GraphNode): number[] | undefined {
  // x feeds both Div and the Mul; so the producer has two consumers, not one.
  const out = producer.outputs[0];
  const cs = (g.consumers.get(out) ?? []).map((i) => g.nodes[i]);
  const div = cs.find((c) => c.op === 'Div');
  if (!div || cs.length !== 2 || start.id !== div.id) return undefined;
  const erf = soleConsumer(g, div);
  const add = erf?.op === 'Erf' ? soleConsumer(g, erf) : undefined;
  const mul = add?.op === 'Add' ? soleConsumer(g, add) : undefined;
  const mul2 = mul?.op === 'Mul' && cs.some((c) => c.id === mul.id) ? soleConsumer(g, mul) : undefined;
  if (!erf || !add || !mul || mul2?.op !== 'Mul') return undefined;
  return [div.id, erf.id, add.id, mul.id, mul2.id];
}

export function findFusions(g: ModelGraph): FusionGroup[] {
  const used = new Set<number>();
  const groups: FusionGroup[] = [];
  const take = (kind: FusionKind, ids: number[]): void => {
    // Chains may meet (a residual Add joins two conv chains): the later one keeps its free prefix.
    const free = ids.findIndex((i) => used.has(i));
    const chain = free === -1 ? ids : ids.slice(0, free);
    if (chain.length < 2 || (kind === 'attention' && chain.length !== ids.length)) return;
    chain.forEach((i) => used.add(i));
    groups.push({ kind, nodes: chain });
  };
  for (const n of g.nodes) {
    if (used.has(n.id)) continue;
    if (n.op === 'MatMul') {
      // Attention: QKᵀ → scale? → mask? → Softmax → ·V
      const ids = [n.id];
      let cur: GraphNode | undefined = soleConsumer(g, n);
      if (cur && (cur.op === 'Mul' || cur.op === 'Div') && otherInputIsConst(g, cur, g.nodes[ids[ids.length - 1]])) { ids.push(cur.id); cur = soleConsumer(g, cur); }
      if (cur && cur.op === 'Add') { ids.push(cur.id); cur = soleConsumer(g, cur); }
      if (cur && cur.op === 'Softmax') {
        ids.push(cur.id);
        const av = soleConsumer(g, cur);
        if (av?.op === 'MatMul') { ids.push(av.id); take('attention', ids); continue; }
      }
    }
    if (n.op === 'Conv') {
      const ids = [n.id];
      let cur = soleConsumer(g, n);
      if (cur?.op === 'BatchNormalization') { ids.push(cur.id); cur = soleConsumer(g, cur); }
      if (cur?.op === 'Add' && !otherInputIsConst(g, cur, g.nodes[ids[ids.length - 1]])) { ids.push(cur.id); cur = soleConsumer(g, cur); }
      if (cur && ACTIVATIONS.has(cur.op)) ids.push(cur.id);
      take('conv-bn-act', ids);
    } else if (n.op === 'MatMul' || n.op === 'Gemm') {
      const ids = [n.id];
      let last: GraphNode = n;
      const cur = soleConsumer(g, n);
      if (cur?.op === 'Add' && otherInputIsConst(g, cur, n)) { ids.push(cur.id); last = cur; }
      const next = ids.length > 1 ? soleConsumer(g, last) : undefined;
      if (next && ACTIVATIONS.has(next.op)) ids.push(next.id);
      else {
        const cs = (g.consumers.get(last.outputs[0]) ?? []).map((i) => g.nodes[i]);
        const div = cs.find((c) => c.op === 'Div');
        const chain = div ? geluChain(g, div, last) : undefined;
        if (chain) ids.push(...chain);
      }
      take('gemm-bias-act', ids);
    }
  }
  return groups;
}
