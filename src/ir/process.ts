/** The model processor as one call: file → loaded model → inferred shapes → layer IR. */
import { loadModel } from '../onnx/load.js';
import { inferModel, type Bindings } from '../onnx/shapes/engine.js';
import { buildGraph, type ModelGraph } from './graph.js';
import type { FlopsOf } from './types.js';

/** `flopsOf` counts each layer's FLOPs: kernels/registry.ts `layerFlops` (kernels/model.ts `loadGraph` passes it). */
export function processModel(file: string, bindings: Bindings, flopsOf: FlopsOf): ModelGraph {
  const model = loadModel(file);
  return buildGraph(model, inferModel(model, bindings), flopsOf);
}
