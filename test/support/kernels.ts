/**
 * Data-driven kernel checks (docs/architecture.md, Tests): every variant of a kernel that supports a case runs on
 * the WebGPU device (lavapipe on CPU-only machines) and must agree with the kernel's CPU reference
 * within the dtype's tolerance (src/bench/verify.ts). ONNX's conformance cases run through the
 * kernels in ./conformance-kernels.ts.
 */
import { expect } from 'vitest';
import { closeGpu, openGpu, type GpuContext } from '../../src/gpu/device.js';
import { KernelRunner } from '../../src/gpu/run.js';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { compareOutputs, type Agreement } from '../../src/bench/verify.js';
import type { DeviceCaps, HostTensor, Kernel, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { loadGraph } from '../../src/kernels/model.js';
import type { ModelGraph } from '../../src/ir/graph.js';
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
  return layerCases(loadGraph(saveModel(build, opsets), { dims: new Map(), shapes: new Map() }));
}

export interface VariantCheck {
  op: string;
  variant: string;
  supported: boolean;
  reason?: string;
  agreement?: Agreement;
}

/**
 * Runs every variant of the case's kernel that supports it on `inputs` and compares it with the
 * kernel's reference; returns one entry per variant. `caps` overrides the device's (e.g.
 * `subgroups: false` exercises the shared-memory reductions on a device that has subgroups).
 */
export async function checkVariants(c: LayerCase, inputs: Array<HostTensor | null>, caps: Partial<DeviceCaps> = {}): Promise<VariantCheck[]> {
  const { runner } = await gpu();
  const dc: DeviceCaps = { ...runner.caps, ...caps };
  const kernel = kernelFor(c.layer.op);
  if (!kernel) throw new Error(`no kernel for ${c.layer.op}`);
  const want = kernel.reference(c, inputs);
  const out: VariantCheck[] = [];
  for (const v of kernel.variants) {
    const s = kernel.supports(c, v.name, dc);
    if (!s.ok) { out.push({ op: c.layer.op, variant: v.name, supported: false, reason: s.reason }); continue; }
    const p = await runner.prepare(kernel, c, kernel.plan(c, v.name, dc), inputs, `${kernel.name}/${v.name} ${c.layer.op}`);
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

/** checkVariants on synthetic inputs. */
export function checkCase(c: LayerCase, seed = 7): Promise<VariantCheck[]> {
  return checkVariants(c, syntheticInputs(c, seed));
}

/**
 * checkVariants on synthetic data mapped by `map` (Log, Sqrt, Acosh… need their domain: a NaN in
 * the reference makes compareOutputs' magnitude scale NaN and every element fail).
 */
export function checkCaseWith(c: LayerCase, map: (t: HostTensor, i: number) => HostTensor = (t) => t,
  caps: Partial<DeviceCaps> = {}): Promise<VariantCheck[]> {
  return checkVariants(c, syntheticInputs(c, 7).map((t, i) => (t ? map(t, i) : null)), caps);
}

/** Maps float data elementwise (integer and bool tensors pass unchanged). */
export function mapFloats(f: (x: number) => number): (t: HostTensor) => HostTensor {
  return (t) => (t.data instanceof Float32Array ? { ...t, data: t.data.map(f) } : t);
}

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

const describeCase = (c: LayerCase): string =>
  `${c.layer.op} ${c.layer.inputs.map((t) => (t ? `${t.dtype}[${t.shape.join(',')}]` : '-')).join(' ')} ${JSON.stringify(c.layer.attrs)}`;

/**
 * Asserts every supported variant agrees on `inputs` (default: inputsFor; Gather needs indices in
 * range, negative ones included); returns the names of the variants that ran.
 */
export async function agree(c: LayerCase, inputs: Array<HostTensor | null> = inputsFor(c), caps: Partial<DeviceCaps> = {}): Promise<string[]> {
  const r = await checkVariants(c, inputs, caps);
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${describeCase(c)} ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r.filter((v) => v.supported).map((v) => v.variant);
}

/** The reasons variants were unsupported, by variant. */
export async function reasons(c: LayerCase): Promise<Record<string, string>> {
  const r = await checkVariants(c, inputsFor(c));
  return Object.fromEntries(r.filter((v) => !v.supported).map((v) => [v.variant, v.reason ?? '']));
}

export type { Kernel };
