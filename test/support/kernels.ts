/**
 * Data-driven kernel checks (conventions §6): every variant of a kernel that supports a case runs on
 * the WebGPU device (lavapipe on CPU-only machines) and must agree with the kernel's CPU reference
 * within the dtype's tolerance (src/bench/verify.ts); and kernels run ONNX's conformance cases for
 * their ops against the expected outputs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeGpu, openGpu, type GpuContext } from '../../src/gpu/device.js';
import { KernelRunner, syntheticInputs } from '../../src/gpu/run.js';
import { compareOutputs, type Agreement } from '../../src/bench/verify.js';
import type { HostTensor, Kernel, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { processModel } from '../../src/ir/process.js';
import { decodeTensor, tensorDims, tensorDtype } from '../../src/onnx/tensor.js';
import { onnx } from '../../src/onnx/proto.js';
import type { ModelGraph } from '../../src/ir/graph.js';
import { CONFORMANCE_DIR } from './conformance.js';
import { saveModel } from './models.js';
import type { GraphBuilder } from '../../src/onnx/write.js';

let shared: Promise<{ ctx: GpuContext; runner: KernelRunner }> | undefined;

/** One device for the whole test file. */
export function gpu(): Promise<{ ctx: GpuContext; runner: KernelRunner }> {
  shared ??= openGpu().then((ctx) => ({ ctx, runner: new KernelRunner(ctx) }));
  return shared;
}

export async function releaseGpu(): Promise<void> {
  if (shared) closeGpu((await shared).ctx);
  shared = undefined;
}

/** The layer cases (with constant values) of a processed model, one per unique layer. */
export function layerCases(g: ModelGraph): LayerCase[] {
  return [...g.layers.values()].map((layer) => ({ layer, consts: g.origins.get(layer.key)!.constValues }));
}

/** Builds a one-or-more-node model with GraphBuilder and returns its layer cases. */
export function casesFrom(build: (g: GraphBuilder) => void, opsets?: Record<string, number>): LayerCase[] {
  return layerCases(processModel(saveModel(build, opsets), { dims: new Map(), shapes: new Map() }));
}

export interface VariantCheck {
  op: string;
  variant: string;
  supported: boolean;
  reason?: string;
  agreement?: Agreement;
}

/** Runs every variant of the case's kernel that supports it; returns one entry per variant. */
export async function checkCase(c: LayerCase, seed = 7): Promise<VariantCheck[]> {
  const { runner } = await gpu();
  const kernel = kernelFor(c.layer.op);
  if (!kernel) throw new Error(`no kernel for ${c.layer.op}`);
  const inputs = syntheticInputs(c, seed);
  const want = kernel.reference(c, inputs);
  const out: VariantCheck[] = [];
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, runner.caps);
    if (!s.ok) { out.push({ op: c.layer.op, variant: v.name, supported: false, reason: s.reason }); continue; }
    const plan = kernel.plan(c, v.name, runner.caps);
    const p = await runner.prepare(kernel, c, plan, inputs, `${kernel.name}/${v.name} ${c.layer.op}`);
    try {
      const got = await runner.run(p, c);
      // Reduced-precision variants of float32 layers are judged by the float16 tolerance, as in bench.
      const f16 = v.name.endsWith('-f16') && c.layer.outputs[0]?.dtype === 'float32' ? 'float16' : undefined;
      out.push({ op: c.layer.op, variant: v.name, supported: true, agreement: compareOutputs(got, want, f16) });
    } finally {
      runner.release(p);
    }
  }
  return out;
}

function readPb(file: string): HostTensor | null {
  if (!fs.existsSync(file)) return null;
  const t = onnx.TensorProto.decode(fs.readFileSync(file));
  const v = decodeTensor(t, undefined, 1 << 24);
  const dtype = tensorDtype(t)!;
  if (!v) return null;
  const nums = v.data as number[];
  const data = dtype.startsWith('float') ? Float32Array.from(nums) : dtype === 'bool' || dtype === 'uint8' ? Uint8Array.from(nums) : Int32Array.from(nums);
  return { dtype, shape: tensorDims(t), data };
}

export interface ConformanceKernelResult {
  name: string;
  op: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
}

/**
 * Runs ONNX conformance case `name` (a single-node model) through its kernel's variants: the
 * test's inputs in, the expected outputs compared. Shape-like integer inputs become constants.
 */
export async function runConformanceCase(name: string): Promise<ConformanceKernelResult[]> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const nodes = proto.graph?.node ?? [];
  const op = nodes[0]?.opType ?? '?';
  if (nodes.length !== 1) return [{ name, op, status: 'skip', reason: 'not a single-node model' }];
  const kernel = kernelFor(op);
  if (!kernel) return [{ name, op, status: 'skip', reason: 'no kernel' }];
  const data = path.join(dir, 'test_data_set_0');
  const inputs = (proto.graph!.input ?? []).map((_, i) => readPb(path.join(data, `input_${i}.pb`)));
  // Make shape-like inputs constants so inference and the kernel see their values.
  const g = proto.graph!;
  (g.input ?? []).forEach((vi, i) => {
    const t = inputs[i];
    if (t && !t.dtype.startsWith('float') && t.data.length <= 64) {
      const tp = onnx.TensorProto.decode(fs.readFileSync(path.join(data, `input_${i}.pb`)));
      tp.name = vi.name ?? '';
      g.initializer = [...(g.initializer ?? []), tp];
    } else if (t) {
      vi.type!.tensorType!.shape = { dim: t.shape.map((d) => ({ dimValue: d })) };
    }
  });
  const file = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'dlprof-kc-')), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  let graph: ModelGraph;
  try {
    graph = processModel(file, { dims: new Map(), shapes: new Map() });
  } catch (e) {
    return [{ name, op, status: 'skip', reason: `model processor: ${(e as Error).message}` }];
  }
  if (graph.nodes.length !== 1) return [{ name, op, status: 'skip', reason: 'folded to a constant or not a layer' }];
  const c: LayerCase = { layer: graph.layers.get(graph.nodes[0].key)!, consts: graph.origins.get(graph.nodes[0].key)!.constValues };
  const expected = (g.output ?? []).map((_, i) => readPb(path.join(data, `output_${i}.pb`)));
  const { runner } = await gpu();
  const results: ConformanceKernelResult[] = [];
  const nodeInputs = (nodes[0].input ?? []).map((n) => {
    const idx = (g.input ?? []).findIndex((vi) => vi.name === n);
    return idx >= 0 ? inputs[idx] : null;
  });
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, runner.caps);
    if (!s.ok) { results.push({ name, op, status: 'skip', reason: `${v.name}: ${s.reason}` }); continue; }
    try {
      const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, runner.caps), nodeInputs, `${kernel.name}/${v.name} ${name}`);
      try {
        const got = await runner.run(p, c);
        const a = compareOutputs(got.slice(0, expected.filter(Boolean).length), expected.filter((x): x is HostTensor => !!x));
        results.push({ name: `${name} [${v.name}]`, op, status: a.ok ? 'pass' : 'fail', reason: a.ok ? undefined : JSON.stringify(a.worst) });
      } finally {
        runner.release(p);
      }
    } catch (e) {
      results.push({ name: `${name} [${v.name}]`, op, status: 'fail', reason: (e as Error).message });
    }
  }
  return results;
}

/** Conformance case directories whose single node is one of `ops`. */
export function conformanceCasesFor(ops: string[]): string[] {
  if (!fs.existsSync(CONFORMANCE_DIR)) return [];
  return fs.readdirSync(CONFORMANCE_DIR).filter((d) => {
    const f = path.join(CONFORMANCE_DIR, d, 'model.onnx');
    if (!fs.existsSync(f)) return false;
    const m = onnx.ModelProto.decode(fs.readFileSync(f));
    const nodes = m.graph?.node ?? [];
    return nodes.length === 1 && ops.includes(nodes[0].opType ?? '') && !(nodes[0].domain ?? '');
  }).sort();
}

export type { Kernel };
