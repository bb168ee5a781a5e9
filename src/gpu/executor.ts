/**
 * The executor seam: what the benchmarking code (src/bench) asks of a device, and nothing more.
 * It prepares a kernel plan over buffers it owns, records work as a list of steps (buffer copies, a
 * cache flush, compute passes with or without timestamps), submits it and reads the timestamps
 * back. src/bench talks to this interface only; KernelRunner (run.ts) is its implementation on
 * Dawn's WebGPU, and another executor (a native backend, a simulator) would implement the same.
 */
import type { TensorType } from '../ir/types.js';
import type { DeviceCaps, GpuType, HostTensor, Kernel, KernelPlan, LayerCase } from '../kernels/types.js';

/** A device buffer: opaque to the benchmarking code, which only passes it back to its executor. */
export type DeviceBuffer = GPUBuffer;

/** A plan made ready to run: buffers allocated and filled, programs compiled and bound (Executor.prepare, bind). */
export interface Prepared {
  label: string;
  pipelines: GPUComputePipeline[];
  bindGroups: GPUBindGroup[];
  workgroups: Array<[number, number, number]>;
  inputs: Array<DeviceBuffer | null>;
  outputs: DeviceBuffer[];
  scratch: DeviceBuffer[];
  uniforms: DeviceBuffer[];
  outputTypes: GpuType[];
  /** Bytes of device memory the plan holds. */
  bytes: number;
}

/** One step of a submission (Executor.submit), recorded in order. */
export type Step =
  /** Copies `source` into `target` (target's size). */
  | { copy: { source: DeviceBuffer; target: DeviceBuffer } }
  /** Overwrites a buffer larger than any last-level cache (a cold-cache measurement). */
  | { flush: true }
  /** The plans' dispatches in one compute pass, with timestamps at its beginning and end when `timed` (and the device has them). */
  | { pass: Prepared[]; timed?: boolean; label?: string };

export interface Submitted {
  /** Each timed pass's [begin, end], ms, relative to the first timed pass's beginning; empty without timestamps. */
  passes: Array<[number, number]>;
  /** Wall time from submission to completion, ms. */
  wallMs: number;
}

/** What a buffer copy made by `duplicate` is for. */
export type CopyUse = 'storage' | 'copy-source';

export interface Executor {
  readonly caps: DeviceCaps;
  /** Whether passes can carry timestamps (timestamp-query). */
  readonly timestamps: boolean;
  /** Why the device was lost, once it is. */
  readonly lost: string | undefined;
  /** How many distinct programs have been compiled. */
  readonly pipelineCount: number;
  typeOf(kernel: Kernel, t: TensorType): GpuType;
  /** Compiles the programs (specialization key → label) not compiled yet, all in flight at once; how many were new. */
  precompile(programs: Map<string, string>): Promise<number>;
  /** Buffers for one execution of `plan`, filled with `inputs`, programs bound. */
  prepare(kernel: Kernel, c: LayerCase, plan: KernelPlan, inputs: Array<HostTensor | null>, label: string): Promise<Prepared>;
  /** The plan bound over existing tensor buffers (a whole model's). */
  bind(kernel: Kernel, c: LayerCase, plan: KernelPlan, inBufs: Array<DeviceBuffer | null>, outBufs: DeviceBuffer[], label: string): Promise<Prepared>;
  /** A copy of `p` whose inputs at `indices` are fresh buffers with the same data. */
  copyWithFreshInputs(kernel: Kernel, c: LayerCase, plan: KernelPlan, p: Prepared, indices: number[], label: string): Promise<Prepared>;
  releaseCopy(copy: Prepared, original: Prepared): void;
  /** New buffers holding what `bufs` hold. */
  duplicate(bufs: DeviceBuffer[], use: CopyUse, label: string): Promise<DeviceBuffer[]>;
  upload(host: HostTensor, gt: GpuType, label: string): DeviceBuffer;
  allocate(t: TensorType, gt: GpuType, label: string): DeviceBuffer;
  read(b: DeviceBuffer, t: TensorType, gt: GpuType): Promise<HostTensor>;
  /** Runs the plan once and reads its outputs back. */
  run(p: Prepared, c: LayerCase): Promise<HostTensor[]>;
  /** Records `steps` into one submission, submits it and waits for the device. */
  submit(steps: Step[], label: string): Promise<Submitted>;
  /** Frees everything a prepared plan holds, its inputs and outputs included. */
  release(p: Prepared): void;
  /** Frees what `bind` allocated, leaving the shared tensor buffers. */
  releaseBound(p: Prepared): void;
  free(b: DeviceBuffer): void;
}
