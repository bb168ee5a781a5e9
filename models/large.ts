/**
 * A deliberately large model for the parse benchmark: a stack of wide fully-connected layers
 * (MatMul + Add + Relu, Gemm-sized weights of 4096 × 4096 float32 = 64 MiB each) until the weights
 * reach the target size.
 *
 * Generated quickly and in modest memory: one pool of seeded random floats is made once and every
 * layer's weight is a view into it at a different offset (the values are not what is measured, the
 * bytes are), and the file is written with `saveStreamed`, one initializer at a time, so the
 * encoded model never exists as one buffer.
 */
import { prng } from '../src/onnx/write.js';
import { Exporter, type BuiltModel } from './common.js';

export interface LargeModelOptions {
  /** Width of every layer (weights are width × width). */
  width?: number;
  batch?: number;
  seed?: number;
}

/** Builds a model whose weights total at least `targetBytes`. */
export function buildLargeModel(targetBytes: number, opts: LargeModelOptions = {}): BuiltModel {
  const width = opts.width ?? 4096;
  const batch = opts.batch ?? 1;
  const weight = width * width;
  const perLayer = (weight + width) * 4;
  const layers = Math.max(1, Math.ceil(targetBytes / perLayer));
  // One layer's worth plus a stride per layer, so no two layers share the same bytes.
  const stride = 1021; // prime, so views do not line up with the matrix rows
  const pool = new Float32Array(weight + width + layers * stride);
  const r = prng(opts.seed ?? 7);
  const bound = Math.sqrt(3 / width);
  for (let i = 0; i < pool.length; i++) pool[i] = (r() * 2 - 1) * bound;

  const e = new Exporter('large', opts.seed ?? 7);
  let x = e.input('input', 'float32', [batch, width]);
  for (let i = 0; i < layers; i++) {
    const s = `layers.${i}`;
    const off = i * stride;
    const w = e.g.initNamed(`${s}.weight`, 'float32', [width, width], pool.subarray(off, off + weight));
    const b = e.g.initNamed(`${s}.bias`, 'float32', [width], pool.subarray(off + weight, off + weight + width));
    x = e.op(s, 'Add', [e.op(s, 'MatMul', [x, w]), b]);
    if (i < layers - 1) x = e.op(s, 'Relu', [x]);
  }
  e.output(x, 'output', 'float32', [batch, width]);
  return { graph: e.g, opsets: { '': 17 }, dims: {} };
}

/** Builds and writes the large model to `file`; returns the bytes written. */
export function writeLargeModel(file: string, targetBytes: number, opts: LargeModelOptions = {}): number {
  const m = buildLargeModel(targetBytes, opts);
  return m.graph.saveStreamed(file, m.opsets);
}
