/**
 * Helpers for the elementwise/normalization/softmax/reduce/pool kernel tests, beside
 * test/support/kernels.ts:
 *  - `checkCaseWith`: checkCase with chosen inputs (Log, Sqrt, Acosh… need their domain: a NaN in
 *    the reference makes compareOutputs' magnitude scale NaN and every element fail).
 *  - `runConformanceAllInputs`: ONNX conformance cases with every test input fed as data. The
 *    shared runner turns small integer inputs into constants (right for axes and shapes), which
 *    folds integer/bool elementwise and pooling cases away entirely; these ops take no
 *    shape-like inputs, so feeding everything as data is what a real model does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareOutputs } from '../../src/bench/verify.js';
import { processModel } from '../../src/ir/process.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DeviceCaps, HostTensor, LayerCase } from '../../src/kernels/types.js';
import { syntheticInputs } from '../../src/gpu/run.js';
import { onnx } from '../../src/onnx/proto.js';
import { readPb } from './op-conformance.js';
import { CONFORMANCE_DIR } from '../support/conformance.js';
import { gpu, type ConformanceKernelResult, type VariantCheck } from '../support/kernels.js';

/**
 * Runs every supported variant on synthetic data mapped by `map`. `caps` overrides the device's
 * (e.g. `subgroups: false` exercises the shared-memory reductions on a device that has subgroups).
 */
export async function checkCaseWith(c: LayerCase, map: (t: HostTensor, i: number) => HostTensor = (t) => t,
  caps: Partial<DeviceCaps> = {}): Promise<VariantCheck[]> {
  const { runner } = await gpu();
  const dc: DeviceCaps = { ...runner.caps, ...caps };
  const kernel = kernelFor(c.layer.op)!;
  const inputs = syntheticInputs(c, 7).map((t, i) => (t ? map(t, i) : null));
  const want = kernel.reference(c, inputs);
  const out: VariantCheck[] = [];
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, dc);
    if (!s.ok) { out.push({ op: c.layer.op, variant: v.name, supported: false, reason: s.reason }); continue; }
    const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, dc), inputs, `${kernel.name}/${v.name} ${c.layer.op}`);
    try {
      out.push({ op: c.layer.op, variant: v.name, supported: true, agreement: compareOutputs(await runner.run(p, c), want) });
    } finally {
      runner.release(p);
    }
  }
  return out;
}

/** Maps float data elementwise (integer and bool tensors pass unchanged). */
export function mapFloats(f: (x: number) => number): (t: HostTensor) => HostTensor {
  return (t) => (t.data instanceof Float32Array ? { ...t, data: t.data.map(f) } : t);
}


/**
 * Conformance case `name` with all of its inputs as graph inputs (typed by the test data),
 * through every variant of its kernel.
 */
export async function runConformanceAllInputs(name: string): Promise<ConformanceKernelResult[]> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const g = proto.graph!;
  const node = g.node![0];
  const op = node.opType ?? '?';
  const kernel = kernelFor(op);
  if (!kernel) return [{ name, op, status: 'skip', reason: 'no kernel' }];
  const data = path.join(dir, 'test_data_set_0');
  const inputs = (g.input ?? []).map((_, i) => readPb(path.join(data, `input_${i}.pb`)));
  (g.input ?? []).forEach((vi, i) => {
    const t = inputs[i];
    if (t && vi.type?.tensorType) vi.type.tensorType.shape = { dim: t.shape.map((d) => ({ dimValue: d })) };
  });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-kd-')), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  let c: LayerCase;
  try {
    const graph = processModel(file, { dims: new Map(), shapes: new Map() });
    if (graph.nodes.length !== 1) return [{ name, op, status: 'skip', reason: 'folded to a constant or not a layer' }];
    c = { layer: graph.layers.get(graph.nodes[0].key)!, consts: graph.origins.get(graph.nodes[0].key)!.constValues };
  } catch (e) {
    return [{ name, op, status: 'skip', reason: `model processor: ${(e as Error).message}` }];
  }
  const expected = (g.output ?? []).map((_, i) => readPb(path.join(data, `output_${i}.pb`))).filter((x): x is HostTensor => !!x);
  const nodeInputs = (node.input ?? []).map((n) => {
    const idx = (g.input ?? []).findIndex((vi) => vi.name === n);
    return idx >= 0 ? inputs[idx] : null;
  });
  const { runner } = await gpu();
  const results: ConformanceKernelResult[] = [];
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, runner.caps);
    if (!s.ok) { results.push({ name, op, status: 'skip', reason: `${v.name}: ${s.reason}` }); continue; }
    try {
      const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, runner.caps), nodeInputs, `${kernel.name}/${v.name} ${name}`);
      try {
        const got = await runner.run(p, c);
        const a = compareOutputs(got.slice(0, expected.length), expected);
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

export interface ConformanceTally {
  /** Per op: variant runs that passed/failed, and cases no variant could run. */
  perOp: Map<string, { pass: number; fail: number; skip: number }>;
  /** Cases no variant ran, with the reasons. */
  skipped: string[];
  failed: string[];
}

/**
 * Runs conformance cases and tallies them: `run` is the shared runner; a case it folds to a
 * constant runs again with all inputs as data. `known` lists cases skipped up front, with reasons.
 */
export async function runConformance(names: string[], run: (n: string) => Promise<ConformanceKernelResult[]>,
  known: Record<string, string> = {}): Promise<ConformanceTally> {
  const t: ConformanceTally = { perOp: new Map(), skipped: [], failed: [] };
  for (const name of names) {
    if (known[name]) { t.skipped.push(`${name}: ${known[name]}`); continue; }
    let results = await run(name);
    if (results.every((r) => r.status === 'skip' && r.reason === 'folded to a constant or not a layer')) results = await runConformanceAllInputs(name);
    const op = results[0]?.op ?? '?';
    const e = t.perOp.get(op) ?? { pass: 0, fail: 0, skip: 0 };
    for (const r of results) {
      if (r.status === 'pass') e.pass++;
      if (r.status === 'fail') { e.fail++; t.failed.push(`${r.name}: ${r.reason}`); }
    }
    if (results.every((r) => r.status === 'skip')) {
      e.skip++;
      t.skipped.push(`${name}: ${[...new Set(results.map((r) => r.reason))].join('; ')}`);
    }
    t.perOp.set(op, e);
  }
  return t;
}

export function printTally(label: string, t: ConformanceTally): void {
  const ops = [...t.perOp].sort(([a], [b]) => a.localeCompare(b))
    .map(([op, e]) => `${op} ${e.pass}/${e.pass + e.fail}${e.skip ? ` (${e.skip} cases skipped)` : ''}`);
  console.log(`${label} conformance, variant runs passed/run per op: ${ops.join(', ')}`);
  if (t.skipped.length) console.log(`${label} cases skipped:\n  ${t.skipped.join('\n  ')}`);
}
