/**
 * ONNX's conformance cases through the kernels (docs/architecture.md, Tests): a case's single node becomes a
 * layer, the test's inputs go in, and every supported variant's outputs are compared with the
 * expected ones. One runner, `runOpConformance`, decides which node input slots become constants
 * (as in a real model; every other input is fed as data) and matches expected outputs to layer
 * outputs by the node's output names: ONNX's cases list only the outputs they check, and a node's
 * omitted output ('' in the node) is still an output of the layer (RNN/GRU/LSTM, TopK,
 * DynamicQuantizeLinear…). It can check the kernel's reference against the expected outputs too,
 * so a wrong reference cannot hide a wrong kernel.
 *
 * The constant rules in use:
 *  - `runMovementConformance`: exactly the op's shape-like slots (SHAPE_SLOTS: Reshape's shape,
 *    Slice's starts/ends/axes/steps, Pad's pads and constant value, Resize's roi/scales/sizes…).
 *    A rule by dtype and size would leave float Resize scales and Pad values as unknown data (the
 *    layer then has no concrete shape) and make small integer data (Gather indices) constant.
 *  - `runConformanceCase`: small non-float inputs (axes, shapes…), for ops whose shape-like inputs
 *    are integers; `tallyConformance`'s `dataFallback` reruns a case it folds to a constant (integer
 *    and bool elementwise and pooling cases) with every input as data (`runConformanceAllInputs`).
 *  - chosen slots per case, for ops with a few shape-like inputs (TopK's k, DFT's length…).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { loadGraph } from '../../src/kernels/model.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import type { AttrValue } from '../../src/ir/types.js';
import { onnx, type TensorProto } from '../../src/onnx/proto.js';
import { decodeTensor, tensorDims, tensorDtype } from '../../src/onnx/tensor.js';
import { CONFORMANCE_DIR } from './conformance.js';
import { agree, gpu } from './kernels.js';

export interface ConformanceKernelResult {
  name: string;
  op: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
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

/** A test's tensor file as host data (null: no such file, or strings). */
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

/** The node input slots that become constants: a list, or chosen from the op and the test's inputs (by slot). */
export type ConstSlots = number[] | ((op: string, inputs: Array<HostTensor | null>) => number[]);

export interface ConformanceOptions {
  /**
   * float64 data (no GPU element type) runs as float32: declared types and test data are
   * narrowed, and the float32 tolerance judges the result — the cases' values are far inside
   * float32's range.
   */
  f64AsF32?: boolean;
  /** Checks the kernel's reference against the expected outputs too (a `[reference]` result). */
  reference?: boolean;
}

const FOLDED = 'folded to a constant or not a layer';

/**
 * Runs conformance case `name` (a single-node model) with input slots `constSlots` made
 * constants, through every variant of its kernel: one result per variant (and the reference).
 */
export async function runOpConformance(name: string, constSlots: ConstSlots = [],
  { f64AsF32 = false, reference = true }: ConformanceOptions = {}): Promise<ConformanceKernelResult[]> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const g = proto.graph!;
  const nodes = g.node ?? [];
  const node = nodes[0];
  const op = node?.opType ?? '?';
  if (nodes.length !== 1) return [{ name, op, status: 'skip', reason: 'not a single-node model' }];
  const kernel = kernelFor(op);
  if (!kernel) return [{ name, op, status: 'skip', reason: 'no kernel' }];
  const data = path.join(dir, 'test_data_set_0');
  const narrow = (t: HostTensor | null): HostTensor | null => (t && f64AsF32 && t.dtype === 'float64' ? { ...t, dtype: 'float32' } : t);
  if (f64AsF32) {
    for (const vi of [...(g.input ?? []), ...(g.output ?? [])]) if (vi.type?.tensorType?.elemType === 11) vi.type.tensorType.elemType = 1;
  }
  const byName = new Map((g.input ?? []).map((vi, i) => [vi.name ?? '', narrow(readPb(path.join(data, `input_${i}.pb`)))]));
  const nodeInputs = (node.input ?? []).map((n) => (n ? byName.get(n) ?? null : null));
  const constIdx = typeof constSlots === 'function' ? constSlots(op, nodeInputs) : constSlots;
  const constNames = new Set(constIdx.map((i) => node.input?.[i]).filter((n): n is string => !!n));
  const keep: typeof g.input = [];
  (g.input ?? []).forEach((vi, i) => {
    const file = path.join(data, `input_${i}.pb`);
    const t = byName.get(vi.name ?? '');
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
    const graph = loadGraph(file, { dims: new Map(), shapes: new Map() });
    if (graph.nodes.length !== 1) return [{ name, op, status: 'skip', reason: FOLDED }];
    c = { layer: graph.layers.get(graph.nodes[0].key)!, consts: graph.origins.get(graph.nodes[0].key)!.constValues };
  } catch (e) {
    return [{ name, op, status: 'skip', reason: `model processor: ${(e as Error).message}` }];
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
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
  const results: ConformanceKernelResult[] = [];
  if (reference) {
    try {
      const ref = compareOutputs(pick(kernel.reference(c, nodeInputs)), expected);
      results.push({ name: `${name} [reference]`, op, status: ref.ok ? 'pass' : 'fail', reason: ref.ok ? undefined : JSON.stringify(ref.worst) });
    } catch (e) {
      results.push({ name: `${name} [reference]`, op, status: 'fail', reason: (e as Error).message });
    }
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

/** Small non-float inputs (axes, shapes, indices…): the slots `runConformanceCase` makes constants. */
const smallNonFloat = (_op: string, inputs: Array<HostTensor | null>): number[] =>
  inputs.flatMap((t, i) => (t && !t.dtype.startsWith('float') && t.data.length <= 64 ? [i] : []));

/** Case `name` with its small non-float inputs made constants; variant runs only. */
export function runConformanceCase(name: string): Promise<ConformanceKernelResult[]> {
  return runOpConformance(name, smallNonFloat, { reference: false });
}

/** Case `name` with every input fed as data; variant runs only. */
export function runConformanceAllInputs(name: string): Promise<ConformanceKernelResult[]> {
  return runOpConformance(name, [], { reference: false });
}

/** Input slots that carry shape information, per data-movement op: constants in a real model. */
const SHAPE_SLOTS: Record<string, number[]> = {
  Reshape: [1], Squeeze: [1], Unsqueeze: [1], Split: [1], Slice: [1, 2, 3, 4], Pad: [1, 2, 3],
  Resize: [1, 2, 3], Upsample: [1], Expand: [1], Tile: [1],
};

/** A data-movement op's case with its shape-like input slots (SHAPE_SLOTS) made constants; reference checked. */
export function runMovementConformance(name: string): Promise<ConformanceKernelResult[]> {
  return runOpConformance(name, (op) => SHAPE_SLOTS[op] ?? []);
}

export interface ConformanceTally {
  /** Per op: checks (variant runs, and reference checks where the runner makes them) passed/failed, cases run, and cases no variant ran. */
  perOp: Map<string, { pass: number; fail: number; skip: number; cases: number }>;
  /** Checks passed over all ops. */
  passed: number;
  failed: string[];
  /** Cases no variant ran (and `known` ones), with the reasons. */
  skipped: string[];
  /** Variants that did not run on a case that another variant ran, with the reasons. */
  unsupported: string[];
}

export interface TallyOptions {
  /** Cases skipped up front, with reasons. */
  known?: Record<string, string>;
  /** A case `run` folds to a constant runs again with all inputs as data (runConformanceAllInputs). */
  dataFallback?: boolean;
}

/** Runs conformance cases through `run` (default: runOpConformance, no constants) and tallies them. */
export async function tallyConformance(names: string[], run: (name: string) => Promise<ConformanceKernelResult[]> = (n) => runOpConformance(n),
  { known = {}, dataFallback = false }: TallyOptions = {}): Promise<ConformanceTally> {
  const t: ConformanceTally = { perOp: new Map(), passed: 0, failed: [], skipped: [], unsupported: [] };
  for (const name of names) {
    if (known[name]) { t.skipped.push(`${name}: ${known[name]}`); continue; }
    let results = await run(name);
    if (dataFallback && results.every((r) => r.status === 'skip' && r.reason === FOLDED)) results = await runConformanceAllInputs(name);
    const op = results[0]?.op ?? '?';
    const e = t.perOp.get(op) ?? { pass: 0, fail: 0, skip: 0, cases: 0 };
    e.cases++;
    for (const r of results) {
      if (r.status === 'pass') { e.pass++; t.passed++; }
      if (r.status === 'fail') { e.fail++; t.failed.push(`${r.name}: ${r.reason}`); }
    }
    const skips = results.filter((r) => r.status === 'skip');
    if (results.some((r) => r.status !== 'skip' && !r.name.endsWith('[reference]'))) {
      t.unsupported.push(...skips.map((r) => `${r.name}: ${r.reason}`));
    } else {
      e.skip++;
      t.skipped.push(`${name}: ${[...new Set(skips.map((r) => r.reason))].join('; ')}`);
    }
    t.perOp.set(op, e);
  }
  return t;
}

export function printTally(label: string, t: ConformanceTally): void {
  const ops = [...t.perOp].sort(([a], [b]) => a.localeCompare(b))
    .map(([op, e]) => `${op}: ${e.cases} cases, ${e.pass}/${e.pass + e.fail} checks passed${e.skip ? `, ${e.skip} cases with no runnable variant` : ''}`);
  console.log(`${label} conformance (checks: each supported variant per case, and the reference where checked), ${t.passed} passed:\n  ${ops.join('\n  ')}`);
  if (t.skipped.length) console.log(`${label} cases skipped:\n  ${t.skipped.join('\n  ')}`);
  if (t.unsupported.length) console.log(`${label} variants unsupported: ${t.unsupported.length > 30 ? t.unsupported.length : `\n  ${t.unsupported.join('\n  ')}`}`);
  if (t.failed.length) console.log(`${label} failures:\n  ${t.failed.join('\n  ')}`);
}

/**
 * Runs every conformance case of `ops` through `run` and asserts that all of them pass: no failure,
 * no skipped case, no unsupported variant, `cases` cases (when given) and exactly `passed` checks
 * (a number, or a function of the case count). Returns the tally for further checks.
 */
export async function expectEveryCasePasses(label: string, ops: string[], expected: { cases?: number; passed: number | ((cases: number) => number) },
  run?: (name: string) => Promise<ConformanceKernelResult[]>): Promise<ConformanceTally> {
  const names = conformanceCasesFor(ops);
  const t = await tallyConformance(names, run);
  printTally(label, t);
  if (expected.cases !== undefined) expect(names.length, `${label} cases`).toBe(expected.cases);
  expect(t.failed).toEqual([]);
  expect(t.skipped).toEqual([]);
  expect(t.unsupported).toEqual([]);
  expect(t.passed).toBe(typeof expected.passed === 'number' ? expected.passed : expected.passed(names.length));
  return t;
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
