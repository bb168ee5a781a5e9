/** Test helpers: build a model with GraphBuilder, save it to a temp dir, process it. */
import path from 'node:path';
import { GraphBuilder } from '../../src/onnx/write.js';
import { loadGraph } from '../../src/kernels/model.js';
import type { ModelGraph } from '../../src/ir/graph.js';
import { loadModel } from '../../src/onnx/load.js';
import { inferModel, type InferenceResult } from '../../src/onnx/shapes/engine.js';
import { tempDir } from './tmp.js';

export { tempDir };

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const FIXTURES = path.join(ROOT, 'fixtures');
export const fixture = (name: string): string => path.join(FIXTURES, name);

let n = 0;
export function saveModel(build: (g: GraphBuilder) => void, opsets: Record<string, number> = { '': 17 }): string {
  const g = new GraphBuilder('test');
  build(g);
  const file = path.join(tempDir(), `m${n++}.onnx`);
  g.save(file, opsets);
  return file;
}

export const noBindings = () => ({ dims: new Map<string, number>(), shapes: new Map<string, number[]>() });

export function processBuilt(build: (g: GraphBuilder) => void, opsets?: Record<string, number>, bindings = noBindings()): ModelGraph {
  return loadGraph(saveModel(build, opsets), bindings);
}

export function inferBuilt(build: (g: GraphBuilder) => void, opsets?: Record<string, number>, bindings = noBindings()): InferenceResult {
  return inferModel(loadModel(saveModel(build, opsets)), bindings);
}
