/**
 * De-duplication across one or many models (DLBricks): each distinct layer key is one
 * micro-benchmark, with how often it occurs in each model, so a shared layer is measured once.
 */
import type { ModelGraph } from './graph.js';
import type { Layer } from './types.js';

export interface UniqueLayer {
  layer: Layer;
  /** Occurrences per model, aligned with the models array. */
  counts: number[];
  /** Up to 5 node labels per model where it occurs. */
  nodes: string[][];
}

export function dedupe(models: ModelGraph[]): UniqueLayer[] {
  const byKey = new Map<string, UniqueLayer>();
  models.forEach((m, mi) => {
    for (const n of m.nodes) {
      let u = byKey.get(n.key);
      if (!u) {
        u = { layer: m.layers.get(n.key)!, counts: models.map(() => 0), nodes: models.map(() => []) };
        byKey.set(n.key, u);
      }
      u.counts[mi]++;
      if (u.nodes[mi].length < 5) u.nodes[mi].push(n.label);
    }
  });
  return [...byKey.values()];
}

/** Layers that occur in more than one of the models. */
export function sharedLayers(unique: UniqueLayer[]): UniqueLayer[] {
  return unique.filter((u) => u.counts.filter((c) => c > 0).length > 1);
}
