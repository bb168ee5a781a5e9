/**
 * From per-layer times to model latencies (pure functions):
 *  - reconstructed end-to-end: Σ over layers, duplicates counted, of the default-variant times
 *    (DLBricks: a model's latency is the sum of its de-duplicated layers' latencies);
 *  - sequential lower bound: Σ of best-variant times (Benanza, "algorithm selection" bound);
 *  - parallel lower bound: the longest path through the layer DAG with best-variant times
 *    (Benanza's parallel-branch bound: independent branches could overlap on enough hardware).
 */
import type { ModelGraph } from '../ir/graph.js';
import type { TuneConfig } from '../kernels/types.js';

export interface LayerTime {
  defaultVariant: string;
  defaultMs: number;
  bestVariant: string;
  /** The best variant's tuned configuration, when that is what is fastest (autotuning). */
  bestConfig?: TuneConfig;
  bestMs: number;
}

export interface Latencies {
  reconstructedMs: number;
  sequentialLowerBoundMs: number;
  parallelLowerBoundMs: number;
  /** Node ids on the longest path (best times), in order. */
  criticalPath: number[];
  /** Layer keys with no time (no kernel, or every variant failed): excluded from the sums. */
  missing: string[];
}

/** Longest weighted path through the DAG (nodes are in topological order; deps point backwards). */
export function longestPath(g: Pick<ModelGraph, 'nodes'>, weight: (id: number) => number): { length: number; path: number[] } {
  const dist = new Array<number>(g.nodes.length).fill(0);
  const prev = new Array<number>(g.nodes.length).fill(-1);
  let end = -1;
  for (const n of g.nodes) {
    for (const d of n.deps) if (prev[n.id] === -1 || dist[d] > dist[prev[n.id]]) prev[n.id] = d;
    dist[n.id] = (prev[n.id] === -1 ? 0 : dist[prev[n.id]]) + weight(n.id);
    if (end === -1 || dist[n.id] > dist[end]) end = n.id;
  }
  const path: number[] = [];
  for (let i = end; i !== -1; i = prev[i]) path.push(i);
  return { length: end === -1 ? 0 : dist[end], path: path.reverse() };
}

export function latencies(g: Pick<ModelGraph, 'nodes'>, times: Map<string, LayerTime>): Latencies {
  let reconstructed = 0;
  let sequential = 0;
  const missing = new Set<string>();
  for (const n of g.nodes) {
    const t = times.get(n.key);
    if (!t) { missing.add(n.key); continue; }
    reconstructed += t.defaultMs;
    sequential += t.bestMs;
  }
  const lp = longestPath(g, (id) => times.get(g.nodes[id].key)?.bestMs ?? 0);
  return { reconstructedMs: reconstructed, sequentialLowerBoundMs: sequential, parallelLowerBoundMs: lp.length, criticalPath: lp.path, missing: [...missing] };
}
