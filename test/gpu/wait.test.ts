/**
 * Waiter (src/gpu/wait.ts): while a long dispatch runs on the software adapter, the waiting thread
 * sleeps between Dawn's event-loop turns instead of spinning, and still sees the work finish.
 * The thread's own CPU time comes from /proc/thread-self (Linux, where these tests run).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { Waiter } from '../../src/gpu/wait.js';
import { gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

/** This thread's user + system CPU time, ms (utime and stime in clock ticks of 10 ms). */
function threadCpuMs(): number {
  const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

describe('waiting for the device', () => {
  it('sleeps through a long dispatch where Dawn alone spins, and returns when it ends', async () => {
    const { runner } = await gpu();
    const d = runner.device;
    // One workgroup of dependent FMAs: ~0.5 s on lavapipe, however many cores it has.
    const module = d.createShaderModule({ code: `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
struct P { n: u32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {
  var a = f32(i);
  for (var k = 0u; k < p.n; k++) { a = fma(a, 0.999, 0.001); }
  y[i] = a;
}` });
    const pipeline = await d.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const y = d.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const n = d.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bg = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: y } }, { binding: 1, resource: { buffer: n } }] });
    const dispatch = (iters: number): Promise<undefined> => {
      d.queue.writeBuffer(n, 0, new Uint32Array([iters, 0, 0, 0]));
      const e = d.createCommandEncoder();
      const pass = e.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(1);
      pass.end();
      d.queue.submit([e.finish()]);
      return d.queue.onSubmittedWorkDone();
    };
    await dispatch(1000);
    // Calibrate to about half a second of device time.
    let t0 = performance.now();
    await dispatch(1e6);
    const iters = Math.round(1e6 * Math.min(200, 500 / Math.max(1, performance.now() - t0)));
    const measure = async (w: Waiter): Promise<{ wallMs: number; cpuMs: number }> => {
      const c0 = threadCpuMs();
      t0 = performance.now();
      await w.wait(dispatch(iters));
      return { wallMs: performance.now() - t0, cpuMs: threadCpuMs() - c0 };
    };
    const spinning = await measure(new Waiter(false));
    const sleeping = await measure(new Waiter(true));
    // Long waits, however busy the host (the calibration is a guess then).
    expect(spinning.wallMs).toBeGreaterThan(100);
    expect(sleeping.wallMs).toBeGreaterThan(100);
    // Dawn's loop alone keeps the thread busy (as much as the other work on the host lets it:
    // 85–90 % of the wait alone), the waiter leaves it idle almost all the time (4 % alone).
    expect(spinning.cpuMs).toBeGreaterThan(0.3 * spinning.wallMs);
    expect(sleeping.cpuMs).toBeLessThan(0.15 * sleeping.wallMs);
    expect(sleeping.cpuMs).toBeLessThan(spinning.cpuMs / 3);
    // And it notices the end (the two runs differ by the device's and the host's noise too).
    expect(sleeping.wallMs).toBeLessThan(1.5 * spinning.wallMs + 50);
    y.destroy();
    n.destroy();
  });
});
