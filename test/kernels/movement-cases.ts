/**
 * Helpers for the data-movement kernel tests (copy, transpose, concat, split, slice, gather, pad,
 * resize, expand), beside test/support/kernels.ts:
 *  - `agree`: every supported variant of a case agrees with the reference (on synthetic inputs,
 *    or on chosen ones — Gather needs indices in range, negative ones included).
 *  - `runMovementConformance`: ONNX conformance cases with exactly the op's shape-like input slots
 *    (Reshape's shape, Slice's starts/ends/axes/steps, Pad's pads and constant value, Resize's
 *    roi/scales/sizes…) made constants, as a model has them, and every other input fed as data.
 *    The shared runner decides by dtype and size instead, which leaves float Resize scales and
 *    Pad values as unknown data (the layer then has no concrete shape) and makes small integer
 *    data (Gather indices) constant. The kernel's reference is checked against the expected
 *    outputs too, so a wrong reference cannot hide a wrong kernel.
 */
import { expect } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DeviceCaps, HostTensor, LayerCase } from '../../src/kernels/types.js';
import { syntheticInputs } from '../../src/gpu/run.js';
import { onnx } from '../../src/onnx/proto.js';
import { gpu, type ConformanceKernelResult, type VariantCheck } from '../support/kernels.js';
import { runOpConformance } from './op-conformance.js';

/**
 * Synthetic inputs with float16 data rounded to multiples of 2⁻¹⁰ (exact in f16). The upload's
 * float→half conversion (floatToHalf in src/onnx/write.ts) ORs the rounding carry into the
 * exponent instead of adding it, so values that round up across a power of two (0.49988 → 0.25)
 * arrive wrong; data movement must reproduce its input bit for bit, so these tests use values
 * that need no rounding.
 */
export function inputsFor(c: LayerCase): Array<HostTensor | null> {
  return syntheticInputs(c, 7).map((t) => (t && t.dtype === 'float16' && t.data instanceof Float32Array
    ? { ...t, data: t.data.map((v) => Math.round(v * 1024) / 1024) } : t));
}

/** Runs every supported variant on `inputs` (default: synthetic) against the reference. */
export async function checkWith(c: LayerCase, inputs?: Array<HostTensor | null>, capsOverride: Partial<DeviceCaps> = {}): Promise<VariantCheck[]> {
  const { runner } = await gpu();
  const caps = { ...runner.caps, ...capsOverride };
  const kernel = kernelFor(c.layer.op)!;
  const ins = inputs ?? inputsFor(c);
  const want = kernel.reference(c, ins);
  const out: VariantCheck[] = [];
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, caps);
    if (!s.ok) { out.push({ op: c.layer.op, variant: v.name, supported: false, reason: s.reason }); continue; }
    const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, caps), ins, `${kernel.name}/${v.name} ${c.layer.op}`);
    try {
      out.push({ op: c.layer.op, variant: v.name, supported: true, agreement: compareOutputs(await runner.run(p, c), want) });
    } finally {
      runner.release(p);
    }
  }
  return out;
}

const describeCase = (c: LayerCase): string =>
  `${c.layer.op} ${c.layer.inputs.map((t) => (t ? `${t.dtype}[${t.shape.join(',')}]` : '-')).join(' ')} ${JSON.stringify(c.layer.attrs)}`;

/** Asserts every supported variant agrees; returns the names of the variants that ran. */
export async function agree(c: LayerCase, inputs?: Array<HostTensor | null>, capsOverride: Partial<DeviceCaps> = {}): Promise<string[]> {
  const r = await checkWith(c, inputs, capsOverride);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${describeCase(c)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r.filter((v) => v.supported).map((v) => v.variant);
}

/** The reasons variants were unsupported, by variant. */
export async function reasons(c: LayerCase): Promise<Record<string, string>> {
  const r = await checkWith(c);
  return Object.fromEntries(r.filter((v) => !v.supported).map((v) => [v.variant, v.reason ?? '']));
}

/** A float tensor 0, 1, 2, … (distinct values make misplaced elements visible). */
export function iota(shape: number[], dtype: 'float32' | 'float16' = 'float32'): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: Float32Array.from({ length: n }, (_, i) => (dtype === 'float16' ? i % 2048 : i)) };
}

export function ints(shape: number[], values: number[], dtype: 'int64' | 'int32' = 'int64'): HostTensor {
  return { dtype, shape, data: Int32Array.from(values) };
}

// ---------------------------------------------------------------------------------------------
// Conformance

/** Input slots that carry shape information, per op: constants in a real model. */
const CONST_SLOTS: Record<string, number[]> = {
  Reshape: [1], Squeeze: [1], Unsqueeze: [1], Split: [1], Slice: [1, 2, 3, 4], Pad: [1, 2, 3],
  Resize: [1, 2, 3], Upsample: [1], Expand: [1], Tile: [1],
};

/** The op's ONNX conformance case with its shape-like input slots (CONST_SLOTS) made constants. */
export function runMovementConformance(name: string): Promise<ConformanceKernelResult[]> {
  return runOpConformance(name, (op) => CONST_SLOTS[op] ?? []);
}

export interface Tally {
  /** Per op: variant runs (and reference checks) passed/failed, and cases that could not run. */
  perOp: Map<string, { pass: number; fail: number; skip: number; cases: number }>;
  skipped: string[];
  failed: string[];
}

/** Runs conformance cases; `known` lists cases skipped up front, with reasons. */
export async function conformance(names: string[], known: Record<string, string> = {}): Promise<Tally> {
  const t: Tally = { perOp: new Map(), skipped: [], failed: [] };
  for (const name of names) {
    if (known[name]) { t.skipped.push(`${name}: ${known[name]}`); continue; }
    const results = await runMovementConformance(name);
    const op = results[0]?.op ?? '?';
    const e = t.perOp.get(op) ?? { pass: 0, fail: 0, skip: 0, cases: 0 };
    e.cases++;
    for (const r of results) {
      if (r.status === 'pass') e.pass++;
      if (r.status === 'fail') { e.fail++; t.failed.push(`${r.name}: ${r.reason}`); }
    }
    const ran = results.filter((r) => r.status !== 'skip' && !r.name.endsWith('[reference]'));
    if (ran.length === 0) {
      e.skip++;
      t.skipped.push(`${name}: ${[...new Set(results.filter((r) => r.status === 'skip').map((r) => r.reason))].join('; ')}`);
    }
    t.perOp.set(op, e);
  }
  return t;
}

export function printTally(label: string, t: Tally): void {
  const ops = [...t.perOp].sort(([a], [b]) => a.localeCompare(b))
    .map(([op, e]) => `${op}: ${e.cases} cases, ${e.pass}/${e.pass + e.fail} checks passed${e.skip ? `, ${e.skip} cases with no runnable variant` : ''}`);
  console.log(`${label} conformance (checks = the reference and each supported variant per case):\n  ${ops.join('\n  ')}`);
  if (t.skipped.length) console.log(`${label} cases skipped:\n  ${t.skipped.join('\n  ')}`);
  if (t.failed.length) console.log(`${label} failures:\n  ${t.failed.join('\n  ')}`);
}
