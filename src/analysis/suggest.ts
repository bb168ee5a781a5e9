/**
 * Ranked optimization suggestions, each from measured times only: the layers (node names) it
 * concerns, the time it saves in ms and as a share of the measured end-to-end latency (the
 * framework ones: of onnxruntime's, the latency they save from), and one sentence a user can act on.
 * onnxruntime's time beyond dlprof's is split by where it goes: its kernels' GPU time against
 * dlprof's (framework-kernels), and the rest, spent on the host (framework-overhead).
 */
import { configText } from '../bench/measure.js';
import type { ModelGraph } from '../ir/graph.js';
import { printable } from '../util/errors.js';
import type { FrameworkSplit } from './framework.js';
import type { LayerTime } from './latency.js';

export type SuggestionKind = 'variant-selection' | 'fusion' | 'precision' | 'sparsity' | 'parallel-branches' | 'framework-kernels' | 'framework-overhead' | 'host-shape-work';

export interface Suggestion {
  kind: SuggestionKind;
  savingMs: number;
  savingPct: number;
  nodes: string[];
  message: string;
}

export interface SuggestInputs {
  graph: ModelGraph;
  times: Map<string, LayerTime>;
  /** Fastest f16 variant per layer key, when the model's outputs stay within tolerance in f16. */
  f16?: Map<string, { variant: string; ms: number }>;
  /** Measured fused groups: the nodes and the fused kernel's time. */
  fusions?: Array<{ kind: string; nodes: number[]; fusedMs: number; unfusedMs: number; variant: string }>;
  sequentialLowerBoundMs: number;
  parallelLowerBoundMs: number;
  criticalPath: number[];
  measuredMs: number;
  /**
   * onnxruntime's run: its wall time (unprofiled) and, where its profiler gave GPU times, the Σ of
   * its kernels as parts of a run (less the pass overhead, as dlprof's layers), and the host time
   * of a profiled run (its wall time, profiledWallMs, less its kernels' GPU time).
   */
  framework?: { wallMs: number; kernelInRunMs?: number; hostMs?: number; profiledWallMs?: number; dispatches?: number };
  /** Σ of dlprof's default-kernel layer times as parts of a run (the reconstructed latency): what onnxruntime's kernel time compares with. */
  dlprofKernelMs?: number;
  /** onnxruntime's per-node times of the folded shape-computation nodes, if its profile has them. */
  hostShapeMs?: number;
}

const MAX_NODES = 12;

/** The framework comparison's figures suggestions are made from (SuggestInputs.framework); undefined without onnxruntime's run. */
export function frameworkFigures(split: FrameworkSplit | null): SuggestInputs['framework'] {
  return split ? { wallMs: split.wallMs, kernelInRunMs: split.kernelInRunMs ?? undefined, hostMs: split.hostMs ?? undefined, profiledWallMs: split.profiledWallMs ?? undefined, dispatches: split.dispatches ?? undefined } : undefined;
}

function names(g: ModelGraph, ids: number[]): string[] {
  return ids.slice(0, MAX_NODES).map((i) => g.nodes[i].label);
}

export function suggest(x: SuggestInputs): Suggestion[] {
  const g = x.graph;
  /** `of`: the latency the saving is a share of, when not the measured one. */
  const out: Array<Omit<Suggestion, 'savingPct'> & { of?: number }> = [];
  const idsByKey = new Map<string, number[]>();
  for (const n of g.nodes) idsByKey.set(n.key, [...(idsByKey.get(n.key) ?? []), n.id]);

  // Algorithm selection: the default variant is not the fastest.
  for (const [key, ids] of idsByKey) {
    const t = x.times.get(key);
    if (!t || (t.bestVariant === t.defaultVariant && !t.bestConfig) || !(t.defaultMs > t.bestMs)) continue;
    const layer = g.layers.get(key)!;
    const saving = ids.length * (t.defaultMs - t.bestMs);
    out.push({
      kind: 'variant-selection', savingMs: saving, nodes: names(g, ids),
      message: `Run ${ids.length === 1 ? 'this' : `these ${ids.length}`} ${printable(layer.op)} layer${ids.length === 1 ? '' : 's'} `
        + `(${layer.inputs[0]?.shape.join('×') ?? ''}) with the '${t.bestVariant}' kernel${t.bestConfig ? ` tuned to ${configText(t.bestConfig)}` : ''} instead of '${t.defaultVariant}': `
        + `${t.bestMs.toFixed(3)} ms instead of ${t.defaultMs.toFixed(3)} ms each.`,
    });
  }

  // Reduced precision, where the whole model stays within tolerance.
  if (x.f16) {
    let saving = 0;
    const ids: number[] = [];
    for (const n of g.nodes) {
      const t = x.times.get(n.key);
      const h = x.f16.get(n.key);
      if (t && h && h.ms < t.bestMs) { saving += t.bestMs - h.ms; ids.push(n.id); }
    }
    if (saving > 0) {
      out.push({ kind: 'precision', savingMs: saving, nodes: names(g, ids),
        message: `Compute ${ids.length} layers in float16 (shader-f16): the model's outputs stay within tolerance and these layers run faster.` });
    }
  }

  // Sparse layers (fusion kind 'sparse-linear') whose best kernel is a sparse one: one suggestion
  // per kernel over all such layers. Their `dense` variant is the fused dense GEMM, so a sparse
  // layer that is best dense is an ordinary fusion opportunity below.
  const sparse = new Map<string, { saving: number; ids: number[]; layers: number }>();
  for (const f of x.fusions ?? []) {
    if (f.kind !== 'sparse-linear' || f.variant === 'dense' || f.unfusedMs <= f.fusedMs) continue;
    const e = sparse.get(f.variant) ?? { saving: 0, ids: [], layers: 0 };
    e.saving += f.unfusedMs - f.fusedMs;
    e.ids.push(...f.nodes);
    e.layers++;
    sparse.set(f.variant, e);
  }
  for (const [variant, e] of sparse) {
    out.push({ kind: 'sparsity', savingMs: e.saving, nodes: names(g, e.ids),
      message: `Use a sparse kernel ('${variant}') for ${e.layers} layer${e.layers === 1 ? '' : 's'} whose weights are mostly zeros (with the bias and activation fused): saves ${e.saving.toFixed(3)} ms.` });
  }

  for (const f of x.fusions ?? []) {
    // A lone sparse MatMul best run dense has nothing to fuse.
    if (f.unfusedMs <= f.fusedMs || (f.kind === 'sparse-linear' && (f.variant !== 'dense' || f.nodes.length < 2))) continue;
    out.push({ kind: 'fusion', savingMs: f.unfusedMs - f.fusedMs, nodes: names(g, f.nodes),
      message: `Fuse ${f.nodes.map((i) => g.nodes[i].op).join(' → ')} into one kernel ('${f.variant}'): ${f.fusedMs.toFixed(3)} ms instead of ${f.unfusedMs.toFixed(3)} ms.` });
  }

  const parallel = x.sequentialLowerBoundMs - x.parallelLowerBoundMs;
  if (parallel > 0) {
    const onPath = new Set(x.criticalPath);
    const off = g.nodes.filter((n) => !onPath.has(n.id)).map((n) => n.id);
    out.push({ kind: 'parallel-branches', savingMs: parallel, nodes: names(g, off),
      message: `${off.length} layers are off the critical path: running independent branches concurrently (separate queues or a merged dispatch) could hide up to ${parallel.toFixed(3)} ms.` });
  }

  const fw = x.framework;
  if (fw && fw.wallMs > x.measuredMs) {
    // Savings for who runs the model on onnxruntime: shares of onnxruntime's time.
    const gap = fw.wallMs - x.measuredMs;
    const share = (ms: number): string => `${(100 * ms / fw.wallMs).toFixed(0)} % of onnxruntime's time`;
    if (fw.kernelInRunMs !== undefined && fw.hostMs !== undefined && x.dlprofKernelMs !== undefined) {
      const kernels = fw.kernelInRunMs - x.dlprofKernelMs;
      if (kernels > 0) {
        out.push({ kind: 'framework-kernels', savingMs: kernels, nodes: [], of: fw.wallMs,
          message: `Kernel choice: onnxruntime's ${fw.dispatches ?? ''} GPU kernels take ${fw.kernelInRunMs.toFixed(3)} ms per run (its profiler's GPU timestamps, less the pass overhead dlprof takes off its own layers) where dlprof's default kernels take ${x.dlprofKernelMs.toFixed(3)} ms: ${kernels.toFixed(3)} ms (${share(kernels)}) is GPU time that dlprof's kernels save; framework.nodes shows which nodes.` });
      }
      const host = gap - Math.max(0, kernels);
      if (host > 0) {
        out.push({ kind: 'framework-overhead', savingMs: host, nodes: [], of: fw.wallMs,
          message: `Host overhead: onnxruntime takes ${fw.wallMs.toFixed(2)} ms per run where dlprof takes ${x.measuredMs.toFixed(2)} ms, and ${host.toFixed(3)} ms of the difference (${share(host)}) is not kernel time but host work — its profiled runs spend ${fw.hostMs.toFixed(2)} of ${fw.profiledWallMs?.toFixed(2) ?? '?'} ms outside GPU kernels (dispatching ${fw.dispatches ?? 'its'} kernels one by one, synchronisation, copies); fewer dispatches (fusion) or onnxruntime's graph capture cut it.` });
      }
    } else {
      out.push({ kind: 'framework-overhead', savingMs: gap, nodes: [], of: fw.wallMs,
        message: `onnxruntime's WebGPU execution provider takes ${fw.wallMs.toFixed(2)} ms for this model where dlprof's default kernels take ${x.measuredMs.toFixed(2)} ms: the difference (${share(gap)}) is framework overhead and kernel choice, not told apart (onnxruntime's profile gave no GPU kernel times).` });
    }
  }

  if (g.host.count > 0 && x.hostShapeMs !== undefined && x.hostShapeMs > 0) {
    out.push({ kind: 'host-shape-work', savingMs: x.hostShapeMs, nodes: [],
      message: `${g.host.count} shape-computation nodes (${g.host.ops.slice(0, 4).map((o) => o.op).join(', ')}…) run on every inference in onnxruntime; constant-fold them (e.g. onnxsim, or export with static shapes).` });
  }

  return out
    .filter((s) => s.savingMs > 0)
    .sort((a, b) => b.savingMs - a.savingMs)
    .map(({ of = x.measuredMs, ...s }) => ({ ...s, savingPct: of > 0 ? (100 * s.savingMs) / of : 0 }));
}
