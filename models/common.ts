/**
 * Shared pieces of the model builders: what a built model is, exporter-style naming, and
 * deterministic weight generation.
 *
 * Names follow torch.onnx (PyTorch 2.x): a node of module `layer1.0.conv1` is called
 * `/layer1/layer1.0/conv1/Conv` (numeric module names show their full dotted path), its first
 * output `/layer1/layer1.0/conv1/Conv_output_0`, repeated op types in one scope get `_1`, `_2`, …,
 * and weights are named after their parameters (`layer1.0.conv1.weight`). Reports on these models
 * then read like reports on real exports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dim } from '../src/ir/types.js';
import type { DType } from '../src/onnx/dtype.js';
import { float, GraphBuilder, prng, type AttrInput } from '../src/onnx/write.js';

/** A model ready to be encoded: its graph and the opsets it imports. */
export interface BuiltModel {
  graph: GraphBuilder;
  opsets: Record<string, number>;
  /** Symbolic input dimensions and the value to bind each to for analysis (e.g. { batch: 1 }). */
  dims: Record<string, number>;
}

export function toBytes(m: BuiltModel): Uint8Array {
  return m.graph.toBytes(m.opsets);
}

/** The batch dimension of an input: a number is static, a string is a symbolic dim_param. */
export type BatchDim = number | string;

export function dimsOf(batch: BatchDim): Record<string, number> {
  return typeof batch === 'string' ? { [batch]: 1 } : {};
}

/** torch.onnx-style node naming and parameter creation on top of a GraphBuilder. */
export class Exporter {
  readonly g: GraphBuilder;
  private readonly rand: () => number;
  private readonly used = new Map<string, number>();
  private readonly shared = new Set<string>();

  constructor(name: string, seed: number) {
    this.g = new GraphBuilder(name, seed);
    this.rand = prng(seed);
  }

  /** `/a/a.0/b/Op` for scope `a.0.b`; repeated (scope, op) pairs get `_1`, `_2`, … */
  nodeName(scope: string, op: string): string {
    const parts = scope ? scope.split('.') : [];
    const segs: string[] = [];
    parts.forEach((p, i) => segs.push(/^\d+$/.test(p) ? parts.slice(0, i + 1).join('.') : p));
    const base = `/${segs.map((s) => `${s}/`).join('')}${op}`;
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  /** Adds a node named as the exporter would; returns its outputs (`<node>_output_<i>`). */
  node(scope: string, op: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, outputs = 1): string[] {
    const name = this.nodeName(scope, op);
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    return this.g.node(op, inputs, attrs, { name, outputs: outs });
  }

  op(scope: string, op: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}): string {
    return this.node(scope, op, inputs, attrs)[0];
  }

  /**
   * A `Constant` node holding a small int64 or float tensor, as torch.onnx emits for the operands
   * of shape arithmetic; constant folding is expected to remove these.
   */
  constant(scope: string, values: number[], dtype: DType = 'int64', shape: number[] = [values.length]): string {
    return this.op(scope, 'Constant', [], { value: { dtype, shape, data: values } });
  }

  /**
   * A float32 parameter, uniform in ±bound. `fanIn` gives the He/LeCun-style bound sqrt(k/fanIn)
   * (k = 6 for layers followed by ReLU, 3 otherwise) so activations keep a sane magnitude through
   * deep stacks, which matters when the model is executed (onnxruntime checks, end-to-end runs).
   */
  param(name: string, shape: number[], init: { fanIn: number; gain?: number } | { uniform: [number, number] } | { fill: number }): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if ('fill' in init) {
      data.fill(init.fill);
    } else {
      const [lo, hi] = 'uniform' in init ? init.uniform : [-1, 1].map((s) => s * Math.sqrt((init.gain ?? 6) / init.fanIn));
      const r = this.rand;
      const w = hi - lo;
      for (let i = 0; i < n; i++) data[i] = lo + r() * w;
    }
    return this.g.initNamed(name, 'float32', shape, data);
  }

  /** A small initializer shared by every node that needs it (Clip bounds, scales, axes). */
  sharedInit(name: string, dtype: DType, shape: number[], values: number[]): string {
    if (this.shared.has(name)) return name;
    this.g.initNamed(name, dtype, shape, dtype === 'float32' ? Float32Array.from(values) : values);
    this.shared.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Dim[]): string {
    return this.g.input(name, dtype, shape);
  }

  /**
   * Renames the producer of `tensor` so the graph output has a user-facing name (torch.onnx names
   * outputs after `output_names`).
   */
  output(tensor: string, name: string, dtype: DType = 'float32', shape?: Dim[]): string {
    for (const n of this.g.nodes) {
      const outs = n.output ?? [];
      const i = outs.indexOf(tensor);
      if (i >= 0) outs[i] = name;
    }
    for (const n of this.g.nodes) n.input = (n.input ?? []).map((x) => (x === tensor ? name : x));
    return this.g.output(name, dtype, shape);
  }
}

/** ONNX pads for a symmetric 2-D padding: [top, left, bottom, right]. */
export function pads2(ph: number, pw: number = ph): number[] {
  return [ph, pw, ph, pw];
}

export interface ConvSpec {
  cout: number;
  /** Kernel size: one number for square kernels, [kh, kw] otherwise. */
  k: number | [number, number];
  stride?: number;
  /** Padding per side: one number, or [ph, pw]. */
  pad?: number | [number, number];
  group?: number;
  /** With a bias input (torch: bias=True, or a BatchNormalization folded into the conv). */
  bias?: boolean;
  /** The activation that follows, for the weight scale (see Exporter.param). */
  relu?: boolean;
}

/**
 * A Conv as torch.onnx writes it: every attribute explicit (dilations, group, kernel_shape, pads,
 * strides), weight `<scope>.weight`, bias `<scope>.bias`.
 */
export function conv(e: Exporter, scope: string, x: string, cin: number, s: ConvSpec): string {
  const [kh, kw] = typeof s.k === 'number' ? [s.k, s.k] : s.k;
  const [ph, pw] = s.pad === undefined ? [0, 0] : typeof s.pad === 'number' ? [s.pad, s.pad] : s.pad;
  const group = s.group ?? 1;
  const fanIn = (cin / group) * kh * kw;
  const w = e.param(`${scope}.weight`, [s.cout, cin / group, kh, kw], { fanIn, gain: s.relu === false ? 3 : 6 });
  const inputs = [x, w];
  if (s.bias) inputs.push(e.param(`${scope}.bias`, [s.cout], { uniform: [-0.05, 0.05] }));
  const stride = s.stride ?? 1;
  return e.op(scope, 'Conv', inputs, {
    dilations: [1, 1], group, kernel_shape: [kh, kw], pads: pads2(ph, pw), strides: [stride, stride],
  });
}

/** An inference-mode BatchNormalization with plausible statistics (variance strictly positive). */
export function batchNorm(e: Exporter, scope: string, x: string, c: number, eps = 1e-5): string {
  const scale = e.param(`${scope}.weight`, [c], { uniform: [0.8, 1.2] });
  const bias = e.param(`${scope}.bias`, [c], { uniform: [-0.1, 0.1] });
  const mean = e.param(`${scope}.running_mean`, [c], { uniform: [-0.1, 0.1] });
  const variance = e.param(`${scope}.running_var`, [c], { uniform: [0.8, 1.2] });
  return e.op(scope, 'BatchNormalization', [x, scale, bias, mean, variance], { epsilon: eps, momentum: 0.9 });
}

/** A Linear on a 2-D input as torch.onnx writes it: Gemm with the weight [out, in] and transB=1. */
export function gemm(e: Exporter, scope: string, x: string, fin: number, fout: number): string {
  const w = e.param(`${scope}.weight`, [fout, fin], { fanIn: fin, gain: 3 });
  const b = e.param(`${scope}.bias`, [fout], { uniform: [-0.05, 0.05] });
  return e.op(scope, 'Gemm', [x, w, b], { alpha: float(1), beta: float(1), transB: 1 });
}

/**
 * adaptive_avg_pool2d(1) + flatten(1), as exported: GlobalAveragePool → Flatten(axis=1); the pool
 * in `poolScope` (a module such as `avgpool`, or '' for the functional form).
 */
export function poolFlatten(e: Exporter, poolScope: string, x: string): string {
  return e.op('', 'Flatten', [e.op(poolScope, 'GlobalAveragePool', [x])], { axis: 1 });
}

export function maxPool(e: Exporter, scope: string, x: string, k: number, stride: number, pad = 0): string {
  return e.op(scope, 'MaxPool', [x], { ceil_mode: 0, kernel_shape: [k, k], pads: pads2(pad), strides: [stride, stride] });
}

export function avgPool(e: Exporter, scope: string, x: string, k: number, stride: number, pad = 0): string {
  return e.op(scope, 'AveragePool', [x], { ceil_mode: 0, count_include_pad: 1, kernel_shape: [k, k], pads: pads2(pad), strides: [stride, stride] });
}

/**
 * The repository root: the nearest directory holding package.json above `from` (this module's
 * directory by default), so the scripts work from src (tsx) and from dist alike.
 */
export function repoRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** Whether this module is the script node was started with (`node dist/x.js`). */
export function isMain(metaUrl: string): boolean {
  return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}
