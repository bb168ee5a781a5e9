/**
 * Measuring one layer on every kernel variant that supports it: plan, prepare (synthetic inputs),
 * check against the CPU reference, then time. A variant that disagrees with the reference beyond
 * its tolerance is never timed; one that cannot run says why.
 */
import type { KernelRunner } from '../gpu/run.js';
import { syntheticInputs } from '../gpu/run.js';
import type { HostTensor, Kernel, LayerCase } from '../kernels/types.js';
import { kernelFor } from '../kernels/registry.js';
import { DEFAULT_TIMING, type Timer, type TimingOptions } from './harness.js';
import { summarize, type Stats } from './stats.js';
import { compareOutputs } from './verify.js';

export interface VariantResult {
  variant: string;
  status: 'completed' | 'errored' | 'skipped' | 'mismatch';
  reason?: string;
  stats?: Stats;
  wallMedianMs?: number;
  samplesMs?: number[];
  batch?: number;
  maxAbsError?: number;
}

export interface LayerMeasurement {
  key: string;
  op: string;
  kernel?: string;
  defaultVariant?: string;
  variants: VariantResult[];
}

/** The outputs' dtype decides the tolerance, except for reduced-precision variants of float32 layers. */
function toleranceDtype(variant: string, c: LayerCase): string | undefined {
  return variant.endsWith('-f16') && c.layer.outputs[0]?.dtype === 'float32' ? 'float16' : undefined;
}

export async function measureVariant(runner: KernelRunner, timer: Timer, kernel: Kernel, c: LayerCase, variant: string,
  inputs: Array<HostTensor | null>, want: () => HostTensor[], timing: TimingOptions = DEFAULT_TIMING): Promise<VariantResult> {
  const s = kernel.supports(c, variant, runner.caps);
  if (!s.ok) return { variant, status: 'skipped', reason: s.reason };
  if (runner.ctx.lost) return { variant, status: 'errored', reason: `device lost: ${runner.ctx.lost}` };
  let prepared;
  try {
    prepared = await runner.prepare(kernel, c, kernel.plan(c, variant, runner.caps), inputs, `${kernel.name}/${variant} ${c.layer.op} ${c.layer.key}`);
  } catch (e) {
    return { variant, status: 'errored', reason: (e as Error).message };
  }
  try {
    const got = await runner.run(prepared, c);
    const agreement = compareOutputs(got, want(), toleranceDtype(variant, c));
    if (!agreement.ok) {
      const w = agreement.worst;
      return { variant, status: 'mismatch', maxAbsError: agreement.maxAbsError,
        reason: `disagrees with the reference${w ? ` at output ${w.output}[${w.index}]: ${w.got} vs ${w.want}` : ''} (rtol ${agreement.tolerance.rtol})` };
    }
    const outcome = await timer.time(prepared, timing);
    if (outcome.status !== 'completed') return { variant, status: outcome.status, reason: outcome.reason, maxAbsError: agreement.maxAbsError };
    return {
      variant, status: 'completed', stats: summarize(outcome.samplesMs), wallMedianMs: summarize(outcome.wallMs).median,
      samplesMs: outcome.samplesMs, batch: outcome.batch, maxAbsError: agreement.maxAbsError,
    };
  } catch (e) {
    return { variant, status: 'errored', reason: (e as Error).message };
  } finally {
    runner.release(prepared);
  }
}

/** Every variant of the layer's kernel (or those named in `only`). */
export async function measureLayer(runner: KernelRunner, timer: Timer, c: LayerCase, opts: {
  timing?: TimingOptions; only?: string[]; onVariant?: (variant: string, i: number, n: number) => void; seed?: number;
} = {}): Promise<LayerMeasurement> {
  const kernel = kernelFor(c.layer.op);
  if (!kernel) return { key: c.layer.key, op: c.layer.op, variants: [] };
  const variants = kernel.variants.map((v) => v.name).filter((v) => !opts.only || opts.only.includes(v));
  const inputs = syntheticInputs(c, opts.seed ?? 1);
  let reference: HostTensor[] | undefined;
  const want = (): HostTensor[] => (reference ??= kernel.reference(c, inputs));
  const results: VariantResult[] = [];
  for (const [i, v] of variants.entries()) {
    opts.onVariant?.(v, i, variants.length);
    results.push(await measureVariant(runner, timer, kernel, c, v, inputs, want, opts.timing));
  }
  return { key: c.layer.key, op: c.layer.op, kernel: kernel.name, defaultVariant: kernel.defaultVariant(c), variants: results };
}

/** The fastest completed variant at the layer's own precision (reduced-precision -f16 variants excluded). */
export function bestVariant(vs: VariantResult[]): VariantResult | undefined {
  return vs.filter((v) => v.status === 'completed' && v.stats && !v.variant.endsWith('-f16')).sort((a, b) => a.stats!.median - b.stats!.median)[0];
}
