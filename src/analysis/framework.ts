/**
 * The framework comparison: onnxruntime's run split into GPU kernel time (its WebGPU profiler's
 * timestamps) and host time, its kernels matched to dlprof's layers, so that a difference from
 * dlprof is attributed to kernel choice or to framework overhead from measurements on both sides
 * taken the same way (GPU timestamps around each kernel's pass, less the probed pass overhead).
 */
import type { FrameworkResult, OrtProfile } from '../bench/ort.js';
import type { ModelGraph } from '../ir/graph.js';

/**
 * A kernel's time from the timestamps around its own compute pass, as a layer of a model run:
 * less the probed overhead of that pass (probe.ts), since a model run records its layers in one
 * pass; at least a tenth of it. dlprof's layer benchmarks and onnxruntime's profiled kernels (each
 * in its own pass) are both corrected so.
 */
export const inRun = (ms: number, passOverheadMs: number): number => Math.max(ms - passOverheadMs, ms / 10);

/** onnxruntime's kernels of one of its nodes beside the dlprof layers they cover. */
export interface FrameworkNode {
  /** onnxruntime's node name (its layout pass may rename a node: '/conv1/Conv_token_1'). */
  name: string;
  op: string;
  programs: string[];
  dispatches: number;
  /** Σ GPU time of its kernels per run, as onnxruntime's profiler timed them (each in its own pass). */
  kernelMs: number;
  /** The same as a part of one run (inRun per dispatch), comparable with dlprofMs. */
  inRunMs: number;
  /** dlprof's layers this node computes: its own and those onnxruntime fused into it (no kernel of their own). Empty: a node onnxruntime added (layout transposes). */
  layers: string[];
  /** Σ of those layers' default-variant times as parts of a run; null when one has no measurement. */
  dlprofMs: number | null;
}

export interface FrameworkSplit {
  provider: string;
  /** Wall time of a run without profiling (trimmed mean): the framework latency. */
  wallMs: number;
  medianMs: number;
  /**
   * Wall time of a profiled run, and its split: Σ GPU kernel time and the rest (host overhead);
   * null, as the fields below, when the profile gave no GPU times (`profileError` says why).
   */
  profiledWallMs: number | null;
  kernelMs: number | null;
  hostMs: number | null;
  /** Σ of the kernels as parts of one run (inRun per dispatch): what compares with dlprof's Σ of layer times. */
  kernelInRunMs: number | null;
  dispatches: number | null;
  profiledRuns: number;
  /** GPU time of kernels of nodes the model does not have (onnxruntime's layout transposes), per run. */
  addedKernelMs: number | null;
  profileError: string | null;
  nodes: FrameworkNode[];
  slowerNodes: Array<{ node: string; op: string; frameworkMs: number; dlprofMs: number }>;
}

/**
 * onnxruntime names a node it rewrote after the original: its layout pass adds '_token_N'
 * ('/conv1/Conv_token_1'), its fusions a path segment ('/fc1/MatMul/MatMulAddFusion').
 */
const ORT_SUFFIX = /_token_\d+$/;

/**
 * Matches onnxruntime's profiled nodes to the model's: by name, less onnxruntime's suffixes. A
 * model node onnxruntime ran no kernel for was fused into (or folded before) the node that
 * produces its first input, the way Conv → BatchNormalization → Relu becomes one kernel: it is
 * counted with the nearest such producer that has kernels.
 */
export function splitFramework(g: ModelGraph, run: FrameworkResult, profile: OrtProfile | { error: string }, layerMs: (id: number) => number | undefined, passOverheadMs: number): FrameworkSplit {
  if ('error' in profile) {
    return { provider: run.provider, wallMs: run.trimmedMeanMs, medianMs: run.medianMs, profiledWallMs: null, kernelMs: null, hostMs: null,
      kernelInRunMs: null, dispatches: null, profiledRuns: 0, addedKernelMs: null, profileError: profile.error, nodes: [], slowerNodes: [] };
  }
  const byName = new Map<string, number>();
  for (const n of g.nodes) if (n.name) byName.set(n.name, n.id);
  const nodeOf = (ortName: string): number | undefined => {
    if (byName.has(ortName)) return byName.get(ortName);
    for (let name = ortName.replace(ORT_SUFFIX, ''); name; name = name.slice(0, Math.max(0, name.lastIndexOf('/')))) {
      const id = byName.get(name);
      if (id !== undefined) return id;
    }
    return undefined;
  };
  const owner = new Map<number, number>();
  for (const x of profile.nodes) {
    const id = nodeOf(x.node);
    if (id !== undefined) owner.set(id, id);
  }
  const covering = (id: number, seen = new Set<number>()): number | undefined => {
    if (owner.has(id)) return owner.get(id);
    const first = g.nodes[id].deps[0];
    if (first === undefined || seen.has(first)) return undefined;
    seen.add(first);
    return covering(first, seen);
  };
  const covered = new Map<number, number[]>();
  for (const n of g.nodes) {
    const o = covering(n.id);
    if (o !== undefined) covered.set(o, [...(covered.get(o) ?? []), n.id]);
  }
  const nodes = profile.nodes.map((x): FrameworkNode => {
    const id = nodeOf(x.node);
    const ids = id === undefined ? [] : covered.get(id) ?? [id];
    const times = ids.map(layerMs);
    const perDispatch = x.dispatches ? x.kernelMs / x.dispatches : 0;
    return {
      name: x.node, op: x.op, programs: x.programs, dispatches: x.dispatches, kernelMs: x.kernelMs,
      inRunMs: x.dispatches * inRun(perDispatch, passOverheadMs),
      layers: ids.map((i) => g.nodes[i].label),
      dlprofMs: ids.length && times.every((t) => t !== undefined) ? times.reduce((a: number, t) => a + t!, 0) : null,
    };
  });
  return {
    provider: profile.provider, wallMs: run.trimmedMeanMs, medianMs: run.medianMs,
    profiledWallMs: profile.wallMs, kernelMs: profile.kernelMs, hostMs: profile.hostMs,
    kernelInRunMs: nodes.reduce((a, n) => a + n.inRunMs, 0),
    dispatches: profile.dispatches, profiledRuns: profile.runs.length,
    addedKernelMs: nodes.filter((n) => !n.layers.length).reduce((a, n) => a + n.kernelMs, 0),
    profileError: null,
    nodes,
    slowerNodes: nodes.filter((n) => n.dlprofMs !== null && n.inRunMs > 2 * n.dlprofMs)
      .map((n) => ({ node: n.layers[0], op: n.op, frameworkMs: n.inRunMs, dlprofMs: n.dlprofMs! })),
  };
}

/** Ops of the shape computations exporters emit (Shape → Gather → Unsqueeze → Concat …), which dlprof folds on the host. */
const SHAPE_OPS = new Set(['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Slice', 'Squeeze', 'Cast', 'Range', 'ConstantOfShape', 'Equal', 'Where']);

/**
 * onnxruntime's host time per run on the shape-computation nodes dlprof folded (nodes of those ops
 * that are none of the model's layers, nor named under one); undefined without a profile.
 */
export function hostShapeMs(g: Pick<ModelGraph, 'nodes'>, profile: OrtProfile | { error: string }): number | undefined {
  if ('error' in profile) return undefined;
  return profile.hostNodes.filter((x) => SHAPE_OPS.has(x.op) && !g.nodes.some((n) => n.name && x.node.startsWith(n.name))).reduce((a, x) => a + x.ms, 0);
}
