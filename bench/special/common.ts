/**
 * What each family of special layers (deformable convolution, neighborhood attention, sparse
 * layers, attention) contributes to `npm run bench:special`: the layer cases to time, side by side,
 * and which variant the others are compared against.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadGraph } from '../../src/kernels/model.js';
import type { LayerCase } from '../../src/kernels/types.js';
import { GraphBuilder } from '../../src/onnx/write.js';

export interface SpecialCase {
  /** Section of the report, e.g. 'neighborhood attention 2-D'. */
  group: string;
  /** Row label: the shape and parameters, e.g. 'k=7 d=1 56×56 4 heads f16'. */
  name: string;
  build(): LayerCase;
  /** The variant every other variant's speed-up is computed against (e.g. 'naive'). */
  baseline: string;
  /** Only these variants (default: all that support the case). */
  only?: string[];
  /** A figure to print next to a variant's time, e.g. edges/s for sparse layers. */
  extra?: (c: LayerCase, medianMs: number) => string;
  /** Other layers timed in the same run and compared with this one's best variant (e.g. the regular convolution of the same shape). */
  compare?: Array<{ name: string; build(): LayerCase }>;
}

/**
 * The one unique layer of a model written with GraphBuilder (the first node's layer when several
 * nodes feed it), as a layer case. `opsets` defaults to { '': 19 }.
 */
export function layerCase(build: (g: GraphBuilder) => void, opsets: Record<string, number> = { '': 19 }): LayerCase {
  const g = new GraphBuilder('special');
  build(g);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-special-'));
  const file = path.join(dir, 'layer.onnx');
  try {
    fs.writeFileSync(file, g.toBytes(opsets));
    const graph = loadGraph(file, { dims: new Map(), shapes: new Map() });
    const layer = graph.layers.get(graph.nodes[graph.nodes.length - 1].key)!;
    return { layer, consts: graph.origins.get(layer.key)!.constValues };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
