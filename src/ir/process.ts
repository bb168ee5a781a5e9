/** The model processor as one call: file → loaded model → inferred shapes → layer IR. */
import { loadModel } from '../onnx/load.js';
import { inferModel, type Bindings } from '../onnx/shapes/engine.js';
import { buildGraph, type ModelGraph } from './graph.js';

export function processModel(file: string, bindings: Bindings): ModelGraph {
  const model = loadModel(file);
  return buildGraph(model, inferModel(model, bindings));
}
