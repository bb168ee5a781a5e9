/** Small models for the op-family tests: build with GraphBuilder, save, load and infer. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { Dim } from '../../../../src/ir/types.js';
import type { DType } from '../../../../src/onnx/dtype.js';
import { loadModel } from '../../../../src/onnx/load.js';
import { inferModel, type InferenceResult, type InferredNode } from '../../../../src/onnx/shapes/engine.js';
import { float, GraphBuilder, type AttrInput } from '../../../../src/onnx/write.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-shapes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Saves the graph and runs inference on it. */
export function inferGraph(b: GraphBuilder, opset = 17): InferenceResult {
  const file = path.join(dir, `m${seq++}.onnx`);
  b.save(file, { '': opset });
  return inferModel(loadModel(file), { dims: new Map(), shapes: new Map() });
}

/** An input of a one-node model: a graph input (data) or, with `data`, an initializer. */
export interface In { dtype?: DType; shape: number[]; data?: number[] | bigint[]; init?: boolean }
export const x = (...shape: number[]): In => ({ shape });
export const ints = (...data: number[]): In => ({ dtype: 'int64', shape: [data.length], data });
export const scalar = (v: number, dtype: DType = 'int64'): In => ({ dtype, shape: [], data: [v] });

/** Builds a one-node model and returns its inferred node (the last one). */
export function infer1(op: string, inputs: Array<In | null>, attrs: Record<string, AttrInput> = {}, opts: { outputs?: number; opset?: number } = {}): InferredNode {
  const b = new GraphBuilder(`t${seq}`);
  const names = inputs.map((i, k) => {
    if (!i) return '';
    const dtype = i.dtype ?? 'float32';
    return i.data || i.init ? b.init(`c${k}`, dtype, i.shape, i.data) : b.input(`x${k}`, dtype, i.shape);
  });
  const outs = b.node(op, names, attrs, { outputs: opts.outputs ?? 1 });
  for (const o of outs) b.output(o);
  const res = inferGraph(b, opts.opset ?? 17);
  return res.nodes[res.nodes.length - 1];
}

export const shapes = (n: InferredNode): Array<Dim[] | undefined> => n.outputInfos.map((o) => o.shape);
export const values = (n: InferredNode, i = 0): unknown[] | undefined => n.outputInfos[i].value?.data;
export { float, GraphBuilder };
