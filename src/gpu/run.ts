/**
 * The executor (executor.ts) on Dawn's WebGPU: executing a KernelPlan on the device — buffers
 * (labelled with kernel and layer), pipelines (cached by specialization key), uploads with the
 * host↔GPU type conversions, submissions of steps (passes with timestamp writes for the harness),
 * and read-back.
 */
import type { TensorType } from '../ir/types.js';
import { SPARSE_KEY_THRESHOLD } from '../ir/key.js';
import { floatToHalf } from '../onnx/write.js';
import { halfToFloat } from '../onnx/tensor.js';
import type { DType } from '../onnx/dtype.js';
import type { DeviceCaps, GpuType, HostTensor, Kernel, KernelPlan, LayerCase } from '../kernels/types.js';
import { kernelFor } from '../kernels/registry.js';
import { specializeCached } from '../kernels/specialize.js';
import { elements, gpuSize, gpuTypeOf } from '../kernels/wgsl.js';
import type { GpuContext } from './device.js';
import type { CopyUse, DeviceBuffer, Executor, Prepared, Step, Submitted } from './executor.js';
import { PassTimestamps } from './timestamps.js';
import { Waiter } from './wait.js';


export function deviceCaps(ctx: GpuContext): DeviceCaps {
  const l = ctx.info.limits;
  return {
    f16: ctx.f16,
    subgroups: ctx.subgroups,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

/** Converts host data to the GPU element type's bytes (padded to 4 bytes). */
export function toGpuBytes(t: HostTensor, gt: GpuType): ArrayBuffer {
  const n = t.data.length;
  const bytes = Math.max(4, Math.ceil((n * gpuSize(gt)) / 4) * 4);
  const buf = new ArrayBuffer(bytes);
  if (gt === 'f32') new Float32Array(buf, 0, n).set(t.data as ArrayLike<number>);
  else if (gt === 'f16') {
    const h = new Uint16Array(buf, 0, n);
    if (t.dtype === 'float16' && t.data instanceof Uint16Array) h.set(t.data);
    else for (let i = 0; i < n; i++) h[i] = floatToHalf(t.data[i]);
  } else if (gt === 'i32') new Int32Array(buf, 0, n).set(t.data as ArrayLike<number>);
  else new Uint32Array(buf, 0, n).set(t.data as ArrayLike<number>);
  return buf;
}

/** Converts GPU bytes back to a host tensor of the layer's dtype. */
export function fromGpuBytes(buf: ArrayBuffer, t: TensorType, gt: GpuType): HostTensor {
  const n = elements(t);
  let data: HostTensor['data'];
  if (gt === 'f32') data = new Float32Array(buf.slice(0, n * 4));
  else if (gt === 'f16') {
    const h = new Uint16Array(buf, 0, n);
    data = Float32Array.from(h, (x) => halfToFloat(x));
  } else if (gt === 'i32') data = new Int32Array(buf.slice(0, n * 4));
  else data = t.dtype === 'bool' || t.dtype === 'uint8' ? Uint8Array.from(new Uint32Array(buf, 0, n)) : new Uint32Array(buf.slice(0, n * 4));
  return { dtype: t.dtype, shape: [...t.shape], data };
}

/** Destroys the buffers of `bufs` that are not the same object as in `original` (a copy's own inputs). */
function destroyCopies(bufs: Array<GPUBuffer | null>, original: Array<GPUBuffer | null>): void {
  bufs.forEach((b, i) => { if (b && b !== original[i]) b.destroy(); });
}

/** Storage buffers are also copy sources and destinations (uploads, read-back). Read lazily: the WebGPU globals exist once a device is opened. */
const storage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/**
 * A test-only knob: DLPROF_TEST_EXTRA_WORK=KERNEL:FRACTION makes every single-pass plan of that kernel
 * dispatch the first FRACTION of its workgroups (along its largest dimension) a second time, the same pipeline on the
 * same buffers: the same outputs, that much more work. Its only use is to prove that `dlprof compare`
 * catches a kernel made slower (test/commands/compare-gate.test.ts).
 */
function withTestExtraWork(p: Prepared, kernel: string): Prepared {
  const knob = process.env.DLPROF_TEST_EXTRA_WORK;
  if (!knob || p.pipelines.length !== 1) return p;
  const [name, fraction] = knob.split(':');
  const f = Number(fraction);
  if (name !== kernel || !(f > 0 && f <= 1)) return p;
  // The largest dimension is cut, so that the extra share stays near FRACTION.
  const w = [...p.workgroups[0]] as [number, number, number];
  const d = w.indexOf(Math.max(...w));
  w[d] = Math.max(1, Math.round(w[d] * f));
  return { ...p, pipelines: [...p.pipelines, p.pipelines[0]], bindGroups: [...p.bindGroups, p.bindGroups[0]], workgroups: [...p.workgroups, w] };
}

/** Bytes of the cache-flush buffer: larger than any CPU's or GPU's last-level cache. */
const FLUSH_BYTES = 256 * 2 ** 20;

export class KernelRunner implements Executor {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private stamps?: PassTimestamps;
  private flushBuf?: GPUBuffer;
  readonly caps: DeviceCaps;
  /** Waits on a software adapter sleep between Dawn's event-loop turns (wait.ts). */
  private readonly waiter: Waiter;

  constructor(readonly ctx: GpuContext) {
    this.caps = deviceCaps(ctx);
    this.waiter = new Waiter(ctx.info.isFallback && ctx.timestamps);
  }

  /** How many distinct programs (specialization keys) this runner has compiled. */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  get timestamps(): boolean {
    return this.ctx.timestamps;
  }

  get lost(): string | undefined {
    return this.ctx.lost;
  }

  /** Timestamps for at least `passes` passes (grown on demand, reused otherwise). */
  private passStamps(passes: number): PassTimestamps {
    if (!this.stamps || this.stamps.passes < passes) {
      this.stamps?.destroy();
      this.stamps = new PassTimestamps(this.device, passes, 'dlprof passes');
    }
    return this.stamps;
  }

  async submit(steps: Step[], label: string): Promise<Submitted> {
    const device = this.device;
    const timed = this.timestamps ? steps.filter((st) => 'pass' in st && st.timed).length : 0;
    const stamps = timed ? this.passStamps(timed) : undefined;
    const encoder = device.createCommandEncoder({ label });
    let q = 0;
    for (const st of steps) {
      if ('copy' in st) encoder.copyBufferToBuffer(st.copy.source, 0, st.copy.target, 0, st.copy.target.size);
      else if ('flush' in st) {
        const size = Math.min(FLUSH_BYTES, this.caps.maxBufferSize);
        this.flushBuf ??= device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST, label: 'dlprof cache flush' });
        encoder.clearBuffer(this.flushBuf);
      } else this.encodeAll(st.pass, encoder, st.timed && stamps ? stamps.writes(q++) : undefined, st.label ?? label);
    }
    if (stamps) stamps.encodeResolve(encoder, q);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await this.waiter.wait(device.queue.onSubmittedWorkDone());
    const wallMs = performance.now() - t0;
    if (this.lost) throw new Error(`device lost: ${this.lost}`);
    return { passes: stamps ? await this.waiter.wait(stamps.read(q)) : [], wallMs };
  }

  free(b: DeviceBuffer): void {
    b.destroy();
  }

  /** Frees the runner's own buffers (timestamps, the cache-flush buffer). */
  destroy(): void {
    this.stamps?.destroy();
    this.flushBuf?.destroy();
    this.stamps = undefined;
    this.flushBuf = undefined;
  }

  typeOf(kernel: Kernel, t: TensorType): GpuType {
    return kernel.gpuType?.(t) ?? gpuTypeOf(t.dtype);
  }

  /** Compiles (or reuses) a pipeline; WGSL errors become exceptions naming the pass. */
  async pipeline(wgsl: string, label: string): Promise<GPUComputePipeline> {
    const cached = this.pipelines.get(wgsl);
    if (cached) return cached;
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: wgsl, label });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      await device.popErrorScope();
      throw new Error(`${label}: WGSL compilation failed: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
    }
    const p = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
    const err = await device.popErrorScope();
    if (err) throw new Error(`${label}: ${err.message}`);
    this.pipelines.set(wgsl, p);
    return p;
  }

  /**
   * Compiles the programs (specialization keys, with a label each) not compiled yet, all in flight
   * at once (createComputePipelineAsync), and returns how many were new. A program that fails is
   * left for `pipeline`, which reports its error where a layer needs it.
   */
  async precompile(programs: Map<string, string>): Promise<number> {
    const todo = [...programs].filter(([source]) => !this.pipelines.has(source));
    await Promise.all(todo.map(async ([source, label]) => {
      try {
        const module = this.device.createShaderModule({ code: source, label });
        const info = await module.getCompilationInfo();
        if (info.messages.some((m) => m.type === 'error')) return;
        this.pipelines.set(source, await this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label }));
      } catch {
        // reported by `pipeline` when a layer binds it
      }
    }));
    return todo.length;
  }

  private buffer(size: number, usage: number, label: string): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(4, Math.ceil(size / 4) * 4), usage, label });
  }

  /**
   * Allocates and fills buffers for one execution of `plan`. `inputs` are host tensors (null for
   * omitted optional inputs); without them, inputs are filled with deterministic data.
   */
  async prepare(kernel: Kernel, c: LayerCase, plan: KernelPlan, inputs: Array<HostTensor | null>, label: string): Promise<Prepared> {
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    // A plan may bind inputs derived from the layer's (plan.hostInputs): they are built here, untimed.
    const inBufs = plan.hostInputs
      ? plan.hostInputs(inputs).map((host, i) => (host ? this.upload(host, this.typeOf(kernel, host), `${label} input ${i}`) : null))
      : c.layer.inputs.map((t, i) => {
        const host = inputs[i];
        return t && host ? this.upload(host, this.typeOf(kernel, t), `${label} input ${i}`) : null;
      });
    const outBufs = c.layer.outputs.map((t, i) => this.allocate(t, this.typeOf(kernel, t), `${label} output ${i}`));
    const verr = await device.popErrorScope();
    const oerr = await device.popErrorScope();
    if (oerr || verr) {
      for (const b of [...inBufs, ...outBufs]) b?.destroy();
      throw new Error(`${label}: ${(oerr ?? verr)!.message}`);
    }
    try {
      return await this.bindPlan(kernel, c, plan, inBufs, outBufs, label);
    } catch (e) {
      for (const b of [...inBufs, ...outBufs]) b?.destroy();
      throw e;
    }
  }

  /** A storage buffer holding `host` converted to the GPU type. */
  upload(host: HostTensor, gt: GpuType, label: string): GPUBuffer {
    const data = toGpuBytes(host, gt);
    const b = this.buffer(data.byteLength, storage(), label);
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  /** An uninitialized storage buffer for a tensor of type `t`. */
  allocate(t: TensorType, gt: GpuType, label: string): GPUBuffer {
    return this.buffer(elements(t) * gpuSize(gt), storage(), label);
  }

  /**
   * Builds pipelines and bind groups of `plan` over existing input and output buffers (a whole
   * model's tensors); scratch and uniform buffers are allocated here and owned by the result.
   */
  async bind(kernel: Kernel, c: LayerCase, plan: KernelPlan, inBufs: Array<GPUBuffer | null>, outBufs: GPUBuffer[], label: string): Promise<Prepared> {
    // Its passes bind buffers made from host data (plan.hostInputs), not the layer's tensors.
    if (plan.hostInputs) throw new Error(`${label}: this kernel variant prepares its inputs on the host and cannot run over shared tensor buffers`);
    return this.bindPlan(kernel, c, plan, inBufs, outBufs, label);
  }

  /**
   * A copy of prepared `p` (of `plan`) whose inputs at `indices` are new buffers holding the same
   * data (copied on the device); the other inputs, the outputs and the scratch buffers are `p`'s.
   * Timing `p` and its copies in turn reads those inputs from memory rather than from the cache.
   * Release it with releaseCopy, before `p`.
   */
  async copyWithFreshInputs(kernel: Kernel, c: LayerCase, plan: KernelPlan, p: Prepared, indices: number[], label: string): Promise<Prepared> {
    const fresh = await this.duplicate(indices.map((i) => p.inputs[i]!), 'storage', `${label} input`);
    const inBufs = p.inputs.map((b, i) => (indices.includes(i) ? fresh[indices.indexOf(i)] : b));
    try {
      return await this.bindPlan(kernel, c, plan, inBufs, p.outputs, label, p.scratch);
    } catch (e) {
      destroyCopies(inBufs, p.inputs);
      throw e;
    }
  }

  /**
   * New buffers (for `use`: bound as storage, or a copy source) holding what `bufs` hold, copied on the device in one submission.
   * @throws Error when device memory runs out (nothing is left allocated).
   */
  async duplicate(bufs: GPUBuffer[], use: CopyUse, label: string): Promise<GPUBuffer[]> {
    const device = this.device;
    const usage = use === 'storage' ? storage() : GPUBufferUsage.COPY_SRC;
    device.pushErrorScope('out-of-memory');
    const copies = bufs.map((b, i) => this.buffer(b.size, usage | GPUBufferUsage.COPY_DST, `${label} ${i} copy`));
    const oom = await device.popErrorScope();
    if (oom) {
      for (const b of copies) b.destroy();
      throw new Error(`${label}: ${oom.message}`);
    }
    const encoder = device.createCommandEncoder({ label: `${label} copies` });
    bufs.forEach((b, i) => encoder.copyBufferToBuffer(b, 0, copies[i], 0, b.size));
    device.queue.submit([encoder.finish()]);
    return copies;
  }

  /** Frees what copyWithFreshInputs made (the input copies, uniforms), leaving what it shares with the original. */
  releaseCopy(copy: Prepared, original: Prepared): void {
    destroyCopies(copy.inputs, original.inputs);
    for (const b of copy.uniforms) b.destroy();
  }

  private async bindPlan(kernel: Kernel, c: LayerCase, plan: KernelPlan, inBufs: Array<GPUBuffer | null>, outBufs: GPUBuffer[], label: string,
    sharedScratch?: GPUBuffer[]): Promise<Prepared> {
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const outputTypes = c.layer.outputs.map((t) => this.typeOf(kernel, t));
    let bytes = [...inBufs, ...outBufs].reduce((s, b) => s + (b?.size ?? 0), 0);
    const scratch = sharedScratch ?? plan.scratch.map((sz, i) => { bytes += sz; return this.buffer(sz, GPUBufferUsage.STORAGE, `${label} scratch ${i}`); });
    const uniforms: GPUBuffer[] = [];
    const pipelines: GPUComputePipeline[] = [];
    const bindGroups: GPUBindGroup[] = [];
    try {
      for (const [pi, pass] of plan.passes.entries()) {
        // Compiled once per specialization key; this layer's sizes are bound as run-time parameters.
        const spec = specializeCached(pass.wgsl);
        const p = await this.pipeline(spec.source, pass.label);
        const entries: GPUBindGroupEntry[] = pass.buffers.map((ref, bi) => {
          const b = ref.kind === 'input' ? inBufs[ref.index] : ref.kind === 'output' ? outBufs[ref.index] : scratch[ref.index];
          if (!b) throw new Error(`${pass.label}: binding ${bi} refers to missing ${ref.kind} ${ref.index}`);
          return { binding: bi, resource: { buffer: b } };
        });
        if (pass.uniforms) {
          const u = this.buffer(pass.uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${pass.label} uniforms`);
          device.queue.writeBuffer(u, 0, pass.uniforms);
          uniforms.push(u);
          entries.push({ binding: pass.buffers.length, resource: { buffer: u } });
        }
        if (spec.binding !== null) {
          const u = this.buffer(spec.params.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${pass.label} parameters`);
          device.queue.writeBuffer(u, 0, spec.params);
          uniforms.push(u);
          entries.push({ binding: spec.binding, resource: { buffer: u } });
        }
        pipelines.push(p);
        bindGroups.push(device.createBindGroup({ layout: p.getBindGroupLayout(0), entries, label: `${pass.label} #${pi}` }));
      }
    } catch (e) {
      await device.popErrorScope();
      await device.popErrorScope();
      for (const b of [...(sharedScratch ? [] : scratch), ...uniforms]) b.destroy();
      throw e;
    }
    const verr = await device.popErrorScope();
    const oerr = await device.popErrorScope();
    if (oerr || verr) {
      for (const b of [...(sharedScratch ? [] : scratch), ...uniforms]) b.destroy();
      throw new Error(`${label}: ${(oerr ?? verr)!.message}`);
    }
    const prepared = { label, pipelines, bindGroups, workgroups: plan.passes.map((p) => p.workgroups), inputs: inBufs, outputs: outBufs, scratch, uniforms, outputTypes, bytes };
    return withTestExtraWork(prepared, kernel.name);
  }

  /** Records every pass of the plan into one compute pass. */
  encode(p: Prepared, encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void {
    this.encodeAll([p], encoder, timestampWrites, p.label);
  }

  /** Records several plans, in order, into one compute pass (a whole model's layers). */
  encodeAll(ps: Prepared[], encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites, label = 'dlprof'): void {
    const pass = encoder.beginComputePass({ label, timestampWrites });
    for (const p of ps) {
      for (let i = 0; i < p.pipelines.length; i++) {
        pass.setPipeline(p.pipelines[i]);
        pass.setBindGroup(0, p.bindGroups[i]);
        const [x, y, z] = p.workgroups[i];
        pass.dispatchWorkgroups(x, y, z);
      }
    }
    pass.end();
  }

  /** Runs the plan once and reads its outputs back. */
  async run(p: Prepared, c: LayerCase): Promise<HostTensor[]> {
    const encoder = this.device.createCommandEncoder({ label: p.label });
    this.encode(p, encoder);
    const take = this.readBack(encoder, p.outputs, p.label);
    this.device.queue.submit([encoder.finish()]);
    return (await take()).map((bytes, i) => fromGpuBytes(bytes, c.layer.outputs[i], p.outputTypes[i]));
  }

  /**
   * Records on `encoder` copies of `bufs` into new read-back buffers; once the encoder is
   * submitted, `take` maps them and returns their bytes (and frees them).
   */
  private readBack(encoder: GPUCommandEncoder, bufs: GPUBuffer[], label: string): () => Promise<ArrayBuffer[]> {
    const reads = bufs.map((b) => {
      const r = this.device.createBuffer({ size: b.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${label} readback` });
      encoder.copyBufferToBuffer(b, 0, r, 0, b.size);
      return r;
    });
    return async () => {
      const out: ArrayBuffer[] = [];
      for (const r of reads) {
        await this.waiter.wait(r.mapAsync(GPUMapMode.READ));
        out.push(r.getMappedRange().slice(0));
        r.unmap();
        r.destroy();
      }
      return out;
    };
  }

  /** Frees everything the plan holds, its input and output buffers included. */
  release(p: Prepared): void {
    for (const b of [...p.inputs, ...p.outputs, ...p.scratch, ...p.uniforms]) b?.destroy();
  }

  /** Frees what `bind` allocated (scratch, uniforms), leaving the shared tensor buffers. */
  releaseBound(p: Prepared): void {
    for (const b of [...p.scratch, ...p.uniforms]) b.destroy();
  }

  /** Reads a buffer back as a host tensor of type `t`. */
  async read(b: GPUBuffer, t: TensorType, gt: GpuType): Promise<HostTensor> {
    const encoder = this.device.createCommandEncoder({ label: `${b.label} readback` });
    const take = this.readBack(encoder, [b], b.label);
    this.device.queue.submit([encoder.finish()]);
    return fromGpuBytes((await take())[0], t, gt);
  }

}
