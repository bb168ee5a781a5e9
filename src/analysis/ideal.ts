/**
 * The ideal latency (pure functions): the parallel lower bound (latency.ts) with the what-ifs that
 * pay off — each node at its best variant's time, or its f16 variant's where the model passed in
 * f16 and that is faster, and each fusable chain whose measured fused kernel beats its nodes
 * replaced by it.
 */
import type { ModelGraph } from '../ir/graph.js';
import type { FusionGroup } from './fusion.js';
import { longestPath, type LayerTime } from './latency.js';
import type { VariantTime } from './layer-times.js';

/** A fusable chain with a measured fused kernel: its time, and the Σ of its nodes' ideal times unfused. */
export interface FusionTime {
  kind: string;
  nodes: number[];
  fusedMs: number;
  unfusedMs: number;
  variant: string;
}

/**
 * A node's time in the ideal schedule, unfused: its layer's best time, or the f16 variant's when
 * `f16` (the faster f16 variants, given only when the model passed in f16) has a faster one; 0
 * for a layer without a time.
 */
export function idealNodeTime(g: Pick<ModelGraph, 'nodes'>, times: Map<string, LayerTime>, f16?: Map<string, VariantTime>): (id: number) => number {
  return (id) => {
    const key = g.nodes[id].key;
    const t = times.get(key)?.bestMs ?? 0;
    const h = f16?.get(key)?.ms;
    return h !== undefined ? Math.min(t, h) : t;
  };
}

/**
 * The fusion what-ifs: each group whose fused layer (its key in `fusedKeys`, same order; undefined
 * where the chain has no fused layer) has a measured best variant, with that time and the Σ of
 * its nodes' times. Groups without one are left out.
 */
export function fusionTimes(groups: readonly FusionGroup[], fusedKeys: ReadonlyArray<string | undefined>, fusedBest: Map<string, VariantTime>,
  nodeTime: (id: number) => number): FusionTime[] {
  const out: FusionTime[] = [];
  groups.forEach((f, i) => {
    const key = fusedKeys[i];
    const best = key !== undefined ? fusedBest.get(key) : undefined;
    if (best) out.push({ kind: f.kind, nodes: f.nodes, fusedMs: best.ms, unfusedMs: f.nodes.reduce((a, id) => a + nodeTime(id), 0), variant: best.variant });
  });
  return out;
}

/**
 * The ideal latency: the longest path through the DAG where a profitable fusion's time sits on its
 * first node and its other nodes cost 0, and every other node costs its ideal time. A fusion no
 * faster than its nodes is ignored.
 */
export function idealLatency(g: Pick<ModelGraph, 'nodes'>, fusions: readonly FusionTime[], nodeTime: (id: number) => number): { length: number; path: number[] } {
  const fusedWeight = new Map<number, number>();
  for (const f of fusions) {
    if (f.fusedMs >= f.unfusedMs) continue;
    f.nodes.forEach((id, k) => fusedWeight.set(id, k === 0 ? f.fusedMs : 0));
  }
  return longestPath(g, (id) => fusedWeight.get(id) ?? nodeTime(id));
}

/** What the fusions save together: Σ of each one's gain over its nodes, none counted below 0. */
export function fusionSavingMs(fusions: readonly FusionTime[]): number {
  return fusions.reduce((a, f) => a + Math.max(0, f.unfusedMs - f.fusedMs), 0);
}
