/**
 * The machine's measured peaks, for the roofline (probed, not taken from a spec sheet), and the
 * cost of the harness's own timing:
 *  - compute: a kernel of independent vec4 FMA chains (no memory traffic in the loop), f32 and,
 *    where the device has shader-f16, f16;
 *  - bandwidth: a vec4 copy of a buffer far larger than any cache (read + write bytes counted);
 *  - pass overhead: what a small kernel costs more in its own timed compute pass (as the harness
 *    times each execution) than among others in one pass (as a model run records its layers).
 */
import type { Layer } from '../ir/types.js';
import type { Executor, Prepared } from '../gpu/executor.js';
import type { Kernel, LayerCase } from '../kernels/types.js';
import { bindings, dispatch1d, entry1d, header } from '../kernels/wgsl.js';
import { DEFAULT_TIMING, type Timer } from './harness.js';
import { summarize } from './stats.js';

export const PROBE_KINDS = ['fma-f32', 'fma-f16', 'copy', 'pass-overhead'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export interface ProbeResult {
  kind: ProbeKind;
  /** GFLOP/s for fma-*, GB/s for copy, ms for pass-overhead. */
  value: number;
  unit: 'GFLOP/s' | 'GB/s' | 'ms';
  medianMs: number;
}

const WG = 64;
const CHAINS = 8;

/**
 * Time per peak measurement. A peak is a median of at least 5 samples of a kernel that runs for
 * tens of ms on a software adapter (µs on a GPU); a longer budget moved lavapipe's figures by
 * under the run-to-run noise and cost a first analysis 6 s.
 */
const PROBE_BUDGET_MS = 1000;

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
async function fma(runner: Executor, timer: Timer, f16: boolean): Promise<ProbeResult> {
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
    const out = await timer.time(p, { ...DEFAULT_TIMING, minSamples: 5, budgetMs: PROBE_BUDGET_MS });
    if (out.status !== 'completed') throw new Error(out.reason);
    const ms = summarize(out.samplesMs).median;
    const flops = threads * iters * CHAINS * 4 * 2;
    return { kind: f16 ? 'fma-f16' : 'fma-f32', value: flops / (ms * 1e6), unit: 'GFLOP/s', medianMs: ms };
  } finally {
    runner.release(p);
  }
}

/** Peak bandwidth: a vec4 copy of `bytes` (read once, written once). */
async function copy(runner: Executor, timer: Timer): Promise<ProbeResult> {
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
    const out = await timer.time(p, { ...DEFAULT_TIMING, minSamples: 5, budgetMs: PROBE_BUDGET_MS });
    if (out.status !== 'completed') throw new Error(out.reason);
    const ms = summarize(out.samplesMs).median;
    return { kind: 'copy', value: (2 * bytes) / (ms * 1e6), unit: 'GB/s', medianMs: ms };
  } finally {
    runner.release(p);
  }
}

/**
 * The pass overhead: two small elementwise kernels (different pipelines, as consecutive layers
 * are) executed alternately, 2 × PASSES times each in its own timed pass, and as many times in one
 * timed pass; the overhead is the median per-pass time less the one pass's time per execution
 * (median over repeats, at least 0). On lavapipe it is the timestamp writes and the flush they
 * force, a few µs: most of a µs-scale layer's time, which a model run, timing only its start and
 * end, does not pay.
 */
export async function passOverhead(runner: Executor): Promise<ProbeResult> {
  const n = 256;
  const plans: Prepared[] = [];
  // Ping-pong: each reads what the other wrote, so every execution waits for the one before, as
  // a layer waits for its input.
  for (const [name, expr] of [['scale', 'x[gid] * 0.5'], ['shift', 'x[gid] + 1.0']]) {
    const wgsl = `${bindings([{ name: 'x', type: 'f32', access: 'read' }, { name: 'y', type: 'f32', access: 'read_write' }])}
${entry1d(WG, n, `  y[gid] = ${expr};`)}`;
    const c = fakeCase(name, [n], n);
    const k = probeKernel(`probe/pass-${name}`, wgsl, dispatch1d(n, WG, runner.caps), true);
    const plan = k.plan(c, 'probe', runner.caps);
    plans.push(plans.length === 0
      ? await runner.prepare(k, c, plan, [{ dtype: 'float32', shape: [n], data: new Float32Array(n) }], k.name)
      : await runner.bind(k, c, plan, [plans[0].outputs[0]], [plans[0].inputs[0]!], k.name));
  }
  const PASSES = 32;
  const seq = Array.from({ length: 2 * PASSES }, (_, i) => plans[i % 2]);
  const submit = async (own: boolean): Promise<Array<[number, number]>> =>
    (await runner.submit(own ? seq.map((p) => ({ pass: [p], timed: true })) : [{ pass: seq, timed: true }], 'probe pass overhead')).passes;
  try {
    const diffs: number[] = [];
    const perPass: number[] = [];
    for (let r = 0; r < 43; r++) {
      const own = summarize((await submit(true)).map(([b, e]) => e - b)).median;
      const [[b, e]] = await submit(false);
      if (r < 3) continue; // warm-up
      diffs.push(own - (e - b) / seq.length);
      perPass.push(own);
    }
    return { kind: 'pass-overhead', value: Math.max(0, summarize(diffs).median), unit: 'ms', medianMs: summarize(perPass).median };
  } finally {
    if (plans[1]) runner.releaseBound(plans[1]);
    if (plans[0]) runner.release(plans[0]);
  }
}

export async function probeMachine(runner: Executor, timer: Timer): Promise<ProbeResult[]> {
  const out = [await fma(runner, timer, false), await copy(runner, timer)];
  if (runner.caps.f16) out.push(await fma(runner, timer, true));
  if (runner.timestamps) out.push(await passOverhead(runner));
  return out;
}
