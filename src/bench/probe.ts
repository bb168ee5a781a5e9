/**
 * The machine's measured peaks, for the roofline (probed, not taken from a spec sheet):
 *  - compute: a kernel of independent vec4 FMA chains (no memory traffic in the loop), f32 and,
 *    where the device has shader-f16, f16;
 *  - bandwidth: a vec4 copy of a buffer far larger than any cache (read + write bytes counted).
 */
import type { Layer } from '../ir/types.js';
import type { KernelRunner } from '../gpu/run.js';
import type { Kernel, LayerCase } from '../kernels/types.js';
import { bindings, dispatch1d, entry1d, header } from '../kernels/wgsl.js';
import { DEFAULT_TIMING, type Timer } from './harness.js';
import { summarize } from './stats.js';

export interface ProbeResult {
  kind: 'fma-f32' | 'fma-f16' | 'copy';
  /** GFLOP/s for fma-*, GB/s for copy. */
  value: number;
  unit: 'GFLOP/s' | 'GB/s';
  medianMs: number;
}

const WG = 64;
const CHAINS = 8;

function fakeCase(op: string, inputs: number[], output: number): LayerCase {
  const layer: Layer = {
    key: `probe-${op}`, op, attrs: {}, weights: [], flops: 0, bytes: 0, params: 0,
    inputs: inputs.map((n) => ({ dtype: 'float32', shape: [n] })), outputs: [{ dtype: 'float32', shape: [output] }],
  };
  return { layer, consts: inputs.map(() => null) };
}

function probeKernel(name: string, wgsl: string, workgroups: [number, number, number], hasInput: boolean): Kernel {
  return {
    name, ops: [], variants: [{ name: 'probe', description: name }],
    defaultVariant: () => 'probe',
    supports: () => ({ ok: true }),
    plan: () => ({
      scratch: [],
      passes: [{ label: name, wgsl, workgroups, buffers: hasInput ? [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }] : [{ kind: 'output', index: 0 }] }],
    }),
    reference: () => [],
  };
}

/** Peak FMA throughput: `threads` invocations × `iters` iterations × CHAINS vec4 FMAs (8 FLOPs each). */
async function fma(runner: KernelRunner, timer: Timer, f16: boolean): Promise<ProbeResult> {
  const t = f16 ? 'f16' : 'f32';
  const threads = 64 * 1024;
  const iters = 256;
  const chains = Array.from({ length: CHAINS }, (_, i) => `  var a${i} = vec4<${t}>(${t}(gid + ${i}u) * ${t}(0.001));`).join('\n');
  const steps = Array.from({ length: CHAINS }, (_, i) => `    a${i} = fma(a${i}, m, c);`).join('\n');
  const sum = Array.from({ length: CHAINS }, (_, i) => `a${i}`).join(' + ');
  const wgsl = `${header([t])}${bindings([{ name: 'y', type: 'f32', access: 'read_write' }])}
${entry1d(WG, threads, `${chains}
  let m = vec4<${t}>(${t}(0.999));
  let c = vec4<${t}>(${t}(0.001));
  for (var i = 0u; i < ${iters}u; i++) {
${steps}
  }
  let s = ${sum};
  y[gid] = f32(s.x + s.y + s.z + s.w);`)}`;
  const c = fakeCase(`fma-${t}`, [], threads);
  const k = probeKernel(`probe/fma-${t}`, wgsl, dispatch1d(threads, WG, runner.caps), false);
  const p = await runner.prepare(k, c, k.plan(c, 'probe', runner.caps), [], k.name);
  try {
    const out = await timer.time(p, { ...DEFAULT_TIMING, minSamples: 5, budgetMs: 3000 });
    if (out.status !== 'completed') throw new Error(out.reason);
    const ms = summarize(out.samplesMs).median;
    const flops = threads * iters * CHAINS * 4 * 2;
    return { kind: f16 ? 'fma-f16' : 'fma-f32', value: flops / (ms * 1e6), unit: 'GFLOP/s', medianMs: ms };
  } finally {
    runner.release(p);
  }
}

/** Peak bandwidth: a vec4 copy of `bytes` (read once, written once). */
async function copy(runner: KernelRunner, timer: Timer): Promise<ProbeResult> {
  const bytes = Math.min(64 * 2 ** 20, runner.caps.maxStorageBufferBindingSize);
  const n = bytes / 4;
  const vecs = n / 4;
  const wgsl = `${bindings([{ name: 'x', type: 'f32', access: 'read' }, { name: 'y', type: 'f32', access: 'read_write' }])
    .replace(/array<f32>/g, 'array<vec4<f32>>')}
${entry1d(256, vecs, '  y[gid] = x[gid];')}`;
  const c = fakeCase('copy', [n], n);
  const k = probeKernel('probe/copy', wgsl, dispatch1d(vecs, 256, runner.caps), true);
  const p = await runner.prepare(k, c, k.plan(c, 'probe', runner.caps), [{ dtype: 'float32', shape: [n], data: new Float32Array(n) }], k.name);
  try {
    const out = await timer.time(p, { ...DEFAULT_TIMING, minSamples: 5, budgetMs: 3000 });
    if (out.status !== 'completed') throw new Error(out.reason);
    const ms = summarize(out.samplesMs).median;
    return { kind: 'copy', value: (2 * bytes) / (ms * 1e6), unit: 'GB/s', medianMs: ms };
  } finally {
    runner.release(p);
  }
}

export async function probeMachine(runner: KernelRunner, timer: Timer): Promise<ProbeResult[]> {
  const out = [await fma(runner, timer, false), await copy(runner, timer)];
  if (runner.caps.f16) out.push(await fma(runner, timer, true));
  return out;
}
