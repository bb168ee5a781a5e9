/**
 * Fusable chains in the layer DAG: groups of layers a fused kernel could run as one, with every
 * intermediate tensor consumed only inside the group (so it never needs to reach memory).
 *  - conv-bn-act: Conv → BatchNormalization? → Add (residual)? → activation?  (BN folds into the
 *    conv's weights; the residual add and activation go in the epilogue)
 *  - gemm-bias-act: MatMul/Gemm → Add (constant bias)? → activation (incl. the exporters' erf GELU
 *    chain Div → Erf → Add → Mul → Mul)?
 *  - attention: MatMul(Q, Kᵀ) → Mul|Div (scale)? → Add (mask)? → Softmax → MatMul(·, V)
 *  - sparse-linear: MatMul/Gemm whose weight is mostly zeros → Add (constant bias)? → up to two
 *    clamps (Relu, Clip, Max/Min with a scalar constant): the Sparse DNN Challenge's layer
 *    min(max(X·W + b, 0), 32). A single sparse MatMul is a group too: a sparse kernel may pay off
 *    without anything to fuse. It runs as dlprof.SparseLinear, whose `dense` variant is the fused
 *    dense GEMM, so its best measured variant is the faster of a dense fusion and a sparse kernel.
 */
import type { GraphNode, ModelGraph } from '../ir/graph.js';
import { SPARSE_KEY_THRESHOLD } from '../ir/key.js';
import { kernelFor } from '../kernels/registry.js';

export type FusionKind = 'conv-bn-act' | 'gemm-bias-act' | 'attention' | 'sparse-linear';

/**
 * A MatMul/Gemm weight at least this sparse is measured as a sparse layer. 0.5 is the layer key's
 * threshold (src/ir/key.ts: from there on the sparsity is part of what the layer is), and below
 * it no sparse format can win: CSR/ELL store an index beside every non-zero, so at 50% zeros the
 * sparse weight is already as many bytes as the dense one, and each stored entry costs a gather
 * where the dense GEMM streams. Above it, the measurement decides (dense is one of the variants).
 */
export const SPARSE_WEIGHT_THRESHOLD = SPARSE_KEY_THRESHOLD;

/** Clamping ops a sparse layer's epilogue absorbs (each maps to a clamp to [lo, hi]). */
const CLAMPS = new Set(['Relu', 'Clip', 'Max', 'Min']);

export interface FusionGroup {
  kind: FusionKind;
  /** Node ids in execution order; the first is the anchor (Conv, MatMul/Gemm, or QKᵀ MatMul). */
  nodes: number[];
}

/** Whether an activation fuses into a conv's or GEMM's epilogue: its kernel declares the epilogue (Kernel.epilogue). */
const fusesAsEpilogue = (op: string): boolean => !!kernelFor(op)?.epilogue?.(op);

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

/** Whether input i of node n is a constant with one element (a Min/Max bound). */
function isConstScalar(g: ModelGraph, n: GraphNode, i: number): boolean {
  const t = g.layers.get(n.key)?.inputs[i];
  return isConst(g, n, i) && !!t && t.shape.reduce((a, b) => a * b, 1) === 1;
}

/**
 * A MatMul/Gemm the sparse layer can replace: constant 2-D weight B with recorded sparsity ≥
 * SPARSE_WEIGHT_THRESHOLD, non-constant A; for Gemm no transposed A, alpha = beta = 1 and C a
 * bias of N values (SparseLinear has neither scale nor a 2-D C).
 */
function isSparseAnchor(g: ModelGraph, n: GraphNode): boolean {
  if (n.op !== 'MatMul' && n.op !== 'Gemm') return false;
  const l = g.layers.get(n.key);
  const w = l?.weights.find((x) => x.input === 1);
  if (!l || !w || (w.sparsity ?? 0) < SPARSE_WEIGHT_THRESHOLD || isConst(g, n, 0)) return false;
  if (l.inputs[1]?.shape.length !== 2) return false;
  if (n.op === 'Gemm') {
    const a = l.attrs;
    if ((a.transA ?? 0) !== 0 || (a.alpha ?? 1) !== 1 || (a.beta ?? 1) !== 1) return false;
    const c = l.inputs[2];
    const N = l.outputs[0].shape[1];
    if (c && !(c.shape.length === 1 ? c.shape[0] === N : c.shape.length === 2 && c.shape[0] === 1 && c.shape[1] === N)) return false;
  }
  return true;
}

/** Whether Add node `add`'s constant operand is one value per output neuron of `mm` ([N], [1, …, 1, N]). */
function isBiasOf(g: ModelGraph, add: GraphNode, mm: GraphNode): boolean {
  const j = add.inputs.findIndex((t) => !mm.outputs.includes(t));
  const b = g.layers.get(add.key)?.inputs[j];
  const y = g.layers.get(mm.key)?.outputs[0];
  if (!b || !y) return false;
  return b.shape.length > 0 && b.shape[b.shape.length - 1] === y.shape[y.shape.length - 1] && b.shape.slice(0, -1).every((d) => d === 1);
}

/** The sparse-linear chain from a sparse anchor: bias Add (when the anchor has none), then ≤ 2 clamps. */
function sparseChain(g: ModelGraph, n: GraphNode): number[] {
  const ids = [n.id];
  let last: GraphNode = n;
  let cur = soleConsumer(g, n);
  const hasC = n.op === 'Gemm' && !!g.layers.get(n.key)?.inputs[2];
  if (!hasC && cur?.op === 'Add' && otherInputIsConst(g, cur, n) && isBiasOf(g, cur, n)) { ids.push(cur.id); last = cur; cur = soleConsumer(g, cur); }
  for (let k = 0; k < 2 && cur && CLAMPS.has(cur.op); k++) {
    const ok = cur.op === 'Relu'
      || (cur.op === 'Clip' && cur.inputs.slice(1).every((t, i) => !t || isConst(g, cur!, i + 1)))
      || ((cur.op === 'Max' || cur.op === 'Min') && cur.inputs.length === 2 && cur.inputs.some((t, i) => !last.outputs.includes(t) && isConstScalar(g, cur!, i)));
    if (!ok) break;
    ids.push(cur.id);
    last = cur;
    cur = soleConsumer(g, cur);
  }
  return ids;
}

export function findFusions(g: ModelGraph): FusionGroup[] {
  const used = new Set<number>();
  const groups: FusionGroup[] = [];
  const take = (kind: FusionKind, ids: number[]): void => {
    // Chains may meet (a residual Add joins two conv chains): the later one keeps its free prefix.
    const free = ids.findIndex((i) => used.has(i));
    const chain = free === -1 ? ids : ids.slice(0, free);
    if (chain.length < (kind === 'sparse-linear' ? 1 : 2) || (kind === 'attention' && chain.length !== ids.length)) return;
    chain.forEach((i) => used.add(i));
    groups.push({ kind, nodes: chain });
  };
  for (const n of g.nodes) {
    if (used.has(n.id)) continue;
    if (isSparseAnchor(g, n)) { take('sparse-linear', sparseChain(g, n)); continue; }
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
      if (cur && fusesAsEpilogue(cur.op)) ids.push(cur.id);
      take('conv-bn-act', ids);
    } else if (n.op === 'MatMul' || n.op === 'Gemm') {
      const ids = [n.id];
      let last: GraphNode = n;
      const cur = soleConsumer(g, n);
      if (cur?.op === 'Add' && otherInputIsConst(g, cur, n)) { ids.push(cur.id); last = cur; }
      const next = ids.length > 1 ? soleConsumer(g, last) : undefined;
      if (next && fusesAsEpilogue(next.op)) ids.push(next.id);
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
