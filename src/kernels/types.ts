/**
 * The kernel descriptor: one op family per file under src/kernels/, registered in registry.ts.
 * A kernel declares the ONNX ops it serves, its *variants* (the analogue of cuDNN's algorithms),
 * which layers each variant supports, how to run a layer (a plan of WGSL compute passes), a CPU
 * reference implementation that every variant is checked against before it is timed, and the
 * work of a layer (its FLOPs).
 */
import type { LayerOrigin } from '../ir/graph.js';
import type { Layer, LayerSignature, TensorType } from '../ir/types.js';
import type { GraphBuilder } from '../onnx/write.js';
import type { DType } from '../onnx/dtype.js';
import type { ConstValue } from '../onnx/tensor.js';

/** A tensor in host memory. Integer tensors (int64 too) use Int32Array; bool/uint8 use Uint8Array. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array;
}

/** A layer as a kernel sees it: its types and attributes, and the values of its small constant inputs. */
export interface LayerCase {
  layer: Layer;
  /** Values of constant inputs that define the computation (Slice starts, Pad pads…); null otherwise. */
  consts: Array<ConstValue | null>;
  /**
   * The ONNX node the layer came from (op type, domain, opset, attributes as written): what a
   * library reference runs (bench/reference.ts). Absent for layers dlprof makes (fused layers).
   */
  origin?: Pick<LayerOrigin, 'domain' | 'opType' | 'opset' | 'attributes'>;
}

/** What the device offers that kernel choice depends on. */
export interface DeviceCaps {
  f16: boolean;
  subgroups: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
}

/**
 * WGSL element type of a tensor on the GPU. float32 → f32, float16 → f16 (needs shader-f16);
 * int64/int32 → i32 (int64 values are range-checked on upload), uint types and bool → u32.
 */
export type GpuType = 'f32' | 'f16' | 'i32' | 'u32';

/** A buffer a pass binds: a layer input, a layer output, or a scratch buffer of the plan. */
export type BufferRef = { kind: 'input' | 'output' | 'scratch'; index: number };

export interface Pass {
  /** For GPU object labels and error messages: kernel, variant and pass. */
  label: string;
  /** A complete WGSL module; its entry point is `main`. Bindings are @group(0) @binding(i) in `buffers` order. */
  wgsl: string;
  workgroups: [number, number, number];
  buffers: BufferRef[];
  /** Packed uniform data (16-byte multiple), bound after the buffers when present. */
  uniforms?: ArrayBuffer;
}

export interface KernelPlan {
  passes: Pass[];
  /** Byte sizes of scratch buffers (im2col matrices, partial sums, attention weights…). */
  scratch: number[];
  /**
   * The buffers the passes bind as `input`, made from the layer's host inputs once, before any
   * timing (a sparse weight's CSR/ELL form, like a sparse library's setup step). Absent: the
   * layer's inputs are bound as they are. Such a plan needs host data, so it runs on its own
   * (KernelRunner.prepare), not inside a whole-model run over shared tensor buffers. The layer's
   * activations (non-constant inputs) keep their index; every other buffer counts as weights
   * (bench/measure.ts weightInputs).
   */
  hostInputs?(inputs: Array<HostTensor | null>): Array<HostTensor | null>;
}

export interface Variant {
  name: string;
  description: string;
}

/**
 * A tunable variant's configuration: named integer parameters its plan is built from (a GEMM's
 * tile sizes and register block). Part of the code's identity: each configuration is a program.
 */
export type TuneConfig = Readonly<Record<string, number>>;

/**
 * How hard the autotuner searches a tunable variant's configurations when a layer is measured:
 * not at all (the variant's own configuration), a few chosen for the layer's shape, or all.
 */
export const AUTOTUNE_LEVELS = ['off', 'quick', 'full'] as const;
export type AutotuneLevel = (typeof AUTOTUNE_LEVELS)[number];

export type Support = { ok: true } | { ok: false; reason: string };
export const supported: Support = { ok: true };
export const unsupported = (reason: string): Support => ({ ok: false, reason });

export interface Kernel {
  /** Family name, e.g. 'matmul', 'conv'. */
  name: string;
  /** ONNX op types served (domain-qualified for non-default domains, as Layer.op). */
  ops: string[];
  variants: Variant[];
  /** What a straightforward runtime would run for this layer (the baseline of algorithm selection). */
  defaultVariant(c: LayerCase): string;
  supports(c: LayerCase, variant: string, caps: DeviceCaps): Support;
  /** The layer's plan on `variant`, in configuration `config` (one of `tuning`'s) or the variant's own. */
  plan(c: LayerCase, variant: string, caps: DeviceCaps, config?: TuneConfig): KernelPlan;
  /**
   * A tunable variant's search space on this layer: the variant's own configuration (what `plan`
   * builds without one) first, then those worth timing against it — `quick`, the few most
   * promising for the layer's shape; `full`, every one that fits the device. Each is checked
   * against the reference and timed against the own one (bench/measure.ts, autotuning). Absent,
   * or fewer than two: not tunable here.
   */
  tuning?(c: LayerCase, variant: string, caps: DeviceCaps, level: Exclude<AutotuneLevel, 'off'>): TuneConfig[];
  /** CPU reference: outputs for the given inputs (the layer's non-null inputs, in slot order; null for omitted ones). */
  reference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[];
  /**
   * Where an op is defined on part of the reals only (a variance, a logarithm's argument, a
   * divisor): the range [lo, hi) synthetic data for input `input` is drawn from, so that kernel and
   * reference compare values, not NaNs. Absent or undefined: [-1, 1).
   */
  inputDomain?(op: string, input: number): [number, number] | undefined;
  /**
   * The layer as standard ONNX nodes, for a layer dlprof makes (a fused layer): appends them to `b`,
   * reading the graph inputs `inputs` (the layer's, '' where omitted), and returns the names of the
   * layer's outputs. onnxruntime then computes the reference (bench/reference.ts).
   */
  decompose?(c: LayerCase, b: GraphBuilder, inputs: string[]): string[];
  /**
   * For an activation `op` this kernel serves, the same activation as another kernel's epilogue
   * (a fused layer applies it before its store): the op's fusion epilogue, one definition for the
   * fusion finder (src/analysis/fusion.ts), the fused kernels and their references. Undefined:
   * `op` is not fused into an epilogue.
   */
  epilogue?(op: string): Epilogue | undefined;
  /**
   * False where onnxruntime's result cannot be the reference though it runs the op (random
   * generators: the reference is dlprof's own generator, bit for bit).
   */
  libraryReference?: boolean;
  /** Element types on the GPU; defaults follow GpuType's rule. */
  gpuType?(t: TensorType): GpuType;
  /**
   * FLOPs of one execution of layer `l` (one of `ops`), from its op, attributes and tensor types
   * alone: `Layer.flops`, through registry.ts `layerFlops`. The counting conventions (as in Benanza
   * and the roofline literature):
   *  - FLOPs count arithmetic operations; a multiply-add is 2 FLOPs.
   *  - Comparisons, selects and transcendental functions count 1 each per element unless the
   *    formula says otherwise (a GPU issues them as one or a few instructions; this keeps op
   *    families comparable, not exact).
   *  - An op that only moves or reinterprets data (Reshape, Transpose, Gather, Pad, Cast…) costs 0
   *    (flops.ts `noFlops`).
   *  - The work counted is the op's, not a variant's: every variant of a layer has the same FLOPs
   *    (a Winograd convolution is credited the direct count), so that FLOP/s compare variants.
   * Next to each formula, a one-line comment says what it counts and where it comes from.
   * Absent: one FLOP per output element (flops.ts `perOutputElement`).
   */
  cost?(l: LayerSignature): number;
}

/**
 * An activation applied in another kernel's epilogue, in f32, with its two parameters `alpha` and
 * `beta` (LeakyRelu's slope; HardSigmoid's alpha and beta; Clip's bounds; unused otherwise).
 */
export interface Epilogue {
  /** Module-scope WGSL helpers, and the expression of the f32 `x` that applies the activation. */
  wgsl(alpha: number, beta: number): { helpers: string; body: string };
  /** The CPU form of one element. */
  ref(alpha: number, beta: number): (x: number) => number;
  /** The activation as standard ONNX nodes on `x`, appended to `b`; returns its output's name. */
  onnx(b: GraphBuilder, x: string, alpha: number, beta: number): string;
}
