/**
 * A conformance runner for kernels whose ops have optional or several outputs (RNN/GRU/LSTM,
 * TopK, DynamicQuantizeLinear…): ONNX's cases list only the outputs they check, and a node's
 * omitted output ('' in the node) is still an output of the layer, so expected outputs are matched
 * to layer outputs by the node's output names rather than by position. Exactly the op's listed
 * shape-like input slots become constants (as in a real model); every other input is fed as data.
 * The kernel's reference is checked against the expected outputs too, so a wrong reference cannot
 * hide a wrong kernel.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { processModel } from '../../src/ir/process.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import type { AttrValue } from '../../src/ir/types.js';
import { onnx, type TensorProto } from '../../src/onnx/proto.js';
import { decodeTensor, tensorDims, tensorDtype } from '../../src/onnx/tensor.js';
import { CONFORMANCE_DIR } from '../support/conformance.js';
import { gpu, type ConformanceKernelResult } from '../support/kernels.js';
import { agree } from './movement-cases.js';

export function readPb(file: string): HostTensor | null {
  if (!fs.existsSync(file)) return null;
  const t = onnx.TensorProto.decode(fs.readFileSync(file));
  const dtype = tensorDtype(t);
  const v = decodeTensor(t, undefined, 1 << 24);
  if (!dtype || !v || dtype === 'string') return null;
  const nums = (v.data as Array<number | bigint>).map(Number);
  const data = dtype.startsWith('float') ? Float32Array.from(nums)
    : dtype === 'bool' || dtype === 'uint8' ? Uint8Array.from(nums)
      : dtype === 'int8' ? Int8Array.from(nums)
        : dtype.startsWith('uint') ? Uint32Array.from(nums) : Int32Array.from(nums);
  return { dtype, shape: tensorDims(t), data };
}

/**
 * Runs case `name` with input slots `constSlots` (or `constSlots(op)`) made constants. With `f64AsF32`, float64 data
 * (no GPU element type) is run as float32: declared types and test data are narrowed, and the
 * float32 tolerance judges the result — the cases' values are far inside float32's range.
 */
export async function runOpConformance(name: string, constSlots: number[] | ((op: string) => number[]) = [], f64AsF32 = false): Promise<ConformanceKernelResult[]> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const g = proto.graph!;
  const node = g.node![0];
  const op = node.opType ?? '?';
  const kernel = kernelFor(op);
  if (!kernel) return [{ name, op, status: 'skip', reason: 'no kernel' }];
  const data = path.join(dir, 'test_data_set_0');
  const narrow = (t: HostTensor | null): HostTensor | null => (t && f64AsF32 && t.dtype === 'float64' ? { ...t, dtype: 'float32' } : t);
  if (f64AsF32) {
    for (const vi of [...(g.input ?? []), ...(g.output ?? [])]) if (vi.type?.tensorType?.elemType === 11) vi.type.tensorType.elemType = 1;
  }
  const constIdx = typeof constSlots === 'function' ? constSlots(op) : constSlots;
  const constNames = new Set(constIdx.map((i) => node.input?.[i]).filter((n): n is string => !!n));
  const byName = new Map<string, HostTensor | null>();
  const keep: typeof g.input = [];
  (g.input ?? []).forEach((vi, i) => {
    const file = path.join(data, `input_${i}.pb`);
    const t = narrow(readPb(file));
    byName.set(vi.name ?? '', t);
    if (constNames.has(vi.name ?? '') && fs.existsSync(file)) {
      const tp = onnx.TensorProto.decode(fs.readFileSync(file));
      tp.name = vi.name ?? '';
      g.initializer = [...(g.initializer ?? []), tp];
    } else {
      if (t && vi.type?.tensorType) vi.type.tensorType.shape = { dim: t.shape.map((d) => ({ dimValue: d })) };
      keep.push(vi);
    }
  });
  g.input = keep;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-ko-')), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  let c: LayerCase;
  try {
    const graph = processModel(file, { dims: new Map(), shapes: new Map() });
    if (graph.nodes.length !== 1) return [{ name, op, status: 'skip', reason: 'folded to a constant or not a layer' }];
    c = { layer: graph.layers.get(graph.nodes[0].key)!, consts: graph.origins.get(graph.nodes[0].key)!.constValues };
  } catch (e) {
    return [{ name, op, status: 'skip', reason: `model processor: ${(e as Error).message}` }];
  }
  // Expected outputs, each with the position of the node output it checks.
  const slots: number[] = [];
  const expected: HostTensor[] = [];
  (g.output ?? []).forEach((vo, i) => {
    const t = narrow(readPb(path.join(data, `output_${i}.pb`)));
    const slot = (node.output ?? []).indexOf(vo.name ?? '');
    if (t && slot >= 0) { slots.push(slot); expected.push(t); }
  });
  const pick = (outs: HostTensor[]): HostTensor[] => slots.map((s) => outs[s]);
  const nodeInputs = (node.input ?? []).map((n) => (n ? byName.get(n) ?? null : null));
  const results: ConformanceKernelResult[] = [];
  try {
    const ref = compareOutputs(pick(kernel.reference(c, nodeInputs)), expected);
    results.push({ name: `${name} [reference]`, op, status: ref.ok ? 'pass' : 'fail', reason: ref.ok ? undefined : JSON.stringify(ref.worst) });
  } catch (e) {
    results.push({ name: `${name} [reference]`, op, status: 'fail', reason: (e as Error).message });
  }
  const { runner } = await gpu();
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, runner.caps);
    if (!s.ok) { results.push({ name, op, status: 'skip', reason: `${v.name}: ${s.reason}` }); continue; }
    try {
      const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, runner.caps), nodeInputs, `${kernel.name}/${v.name} ${name}`);
      try {
        const a = compareOutputs(pick(await runner.run(p, c)), expected);
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

/** Runs cases; returns passes (variant runs and reference checks), failures and skips with reasons. */
export async function runAll(names: string[], constSlots: (name: string) => number[] = () => [], known: Record<string, string> = {}, f64AsF32 = false):
Promise<{ passed: number; failed: string[]; skipped: string[] }> {
  const out = { passed: 0, failed: [] as string[], skipped: [] as string[] };
  for (const name of names) {
    if (known[name]) { out.skipped.push(`${name}: ${known[name]}`); continue; }
    for (const r of await runOpConformance(name, constSlots(name), f64AsF32)) {
      if (r.status === 'pass') out.passed++;
      else if (r.status === 'fail') out.failed.push(`${r.name}: ${r.reason}`);
      else out.skipped.push(`${r.name}: ${r.reason}`);
    }
  }
  return out;
}

/**
 * A conformance case the model processor folds to a constant (small generators: ConstantOfShape,
 * EyeLike, Range, the windows…), as a layer: it is assembled from the node (its attributes,
 * ConstantOfShape's value as the summary the processor records, EyeLike's default k, the
 * windows' default periodic) and the test's tensors, with float64 narrowed to float32. The
 * reference must reproduce the expected output, and the kernel the reference.
 */
export async function rebuiltLayer(name: string): Promise<void> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const node = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx'))).graph!.node![0];
  const data = path.join(dir, 'test_data_set_0');
  const narrow = (t: HostTensor): HostTensor => (t.dtype === 'float64' ? { ...t, dtype: 'float32' } : t);
  const inputs = (node.input ?? []).map((_, i) => narrow(readPb(path.join(data, `input_${i}.pb`))!));
  const want = narrow(readPb(path.join(data, 'output_0.pb'))!);
  const attrs: Record<string, AttrValue> = {};
  for (const a of node.attribute ?? []) {
    if (a.t) {
      const t = a.t as TensorProto;
      const v = decodeTensor(t)!;
      attrs[a.name!] = { kind: 'tensor', dtype: tensorDtype(t)!, shape: tensorDims(t), values: (v.data as number[]).map(Number) };
    } else attrs[a.name!] = Number(a.i);
  }
  if (node.opType === 'EyeLike') attrs.k ??= 0;
  if (node.opType!.endsWith('Window')) attrs.periodic ??= 1;
  const c: LayerCase = {
    layer: {
      key: name, op: node.opType!, attrs, inputs: inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
      outputs: [{ dtype: want.dtype, shape: want.shape }], weights: [], flops: 0, bytes: 0, params: 0,
    },
    // Scalar inputs are constants in a model (MelWeightMatrix's parameters, a window's size).
    consts: inputs.map((t) => (t.data.length === 1 ? { dtype: t.dtype, shape: t.shape, data: [Number(t.data[0])] } : null)),
  };
  const ref = compareOutputs(kernelFor(c.layer.op)!.reference(c, inputs), [want]);
  expect(ref.ok, `${name} reference: ${JSON.stringify(ref.worst)}`).toBe(true);
  expect(await agree(c, inputs), name).toEqual(['naive']);
}

