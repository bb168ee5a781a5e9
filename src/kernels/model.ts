/**
 * A model file as the layer IR, its FLOPs counted by the kernels' costs: what every stage after
 * the kernels loads a model with. (The IR itself takes the FLOPs function from its caller: it
 * comes before the kernels in the data flow.)
 */
import type { Bindings } from '../onnx/shapes/engine.js';
import type { ModelGraph } from '../ir/graph.js';
import { processModel } from '../ir/process.js';
import { layerFlops } from './registry.js';

export function loadGraph(file: string, bindings: Bindings): ModelGraph {
  return processModel(file, bindings, layerFlops);
}
