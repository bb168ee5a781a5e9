/**
 * Running a whole model on dlprof's kernels: every layer in topological order, in one submission,
 * with real buffers between layers (one GPU buffer per tensor), each layer its own compute pass
 * with timestamp writes — so one run gives both the end-to-end time and each layer's time in
 * context (for the waterfall and the trace). The outputs are read back for comparison with
 * onnxruntime.
 */
import { performance } from 'node:perf_hooks';
import type { ModelGraph } from '../ir/graph.js';
import type { TensorType } from '../ir/types.js';
import type { DeviceBuffer, Executor, Prepared } from '../gpu/executor.js';
import { syntheticInputs } from '../kernels/inputs.js';
import { kernelFor } from '../kernels/registry.js';
import type { GpuType, HostTensor, Kernel, LayerCase } from '../kernels/types.js';
import { gpuTypeOf } from '../kernels/wgsl.js';
import { elementCount, tensorDims, tensorValues } from '../onnx/tensor.js';
import type { TensorInfo } from '../onnx/shapes/types.js';
import { summarize, trimmedMean } from './stats.js';
import { printable } from '../util/errors.js';

export interface ModelRun {
  /** Graph outputs by name. */
  outputs: Map<string, HostTensor>;
  /**
   * Per layer node (graph.nodes order): variant run, its GPU time (trimmed mean over repeats,
   * stats.ts), every repeat's time in run order, and its median start, ms (0 and [] without
   * RunCount.perLayer).
   */
  layers: Array<{ variant: string; ms: number; samplesMs: number[]; startMs: number }>;
  /** First layer's start to last layer's end (trimmed mean over repeats, as every latency: stats.ts TRIM), ms. */
  totalMs: number;
  /** Every repeat's first-start-to-last-end time, in run order, ms. */
  totalsMs: number[];
}

export type RunPlan = { ok: true } | { ok: false; reason: string };

export type VariantChooser = (c: LayerCase, kernel: Kernel) => string;

/** The layer of `key` in `g` as a kernel sees it, with the node it came from (a library reference runs that node). */
export function layerCase(g: ModelGraph, key: string): LayerCase {
  const o = g.origins.get(key)!;
  return { layer: g.layers.get(key)!, consts: o.constValues, origin: { domain: o.domain, opType: o.opType, opset: o.opset, attributes: o.attributes } };
}

/** Deterministic data for the model's inputs (seeded per input), the same in every analysis. */
export function modelInputs(g: ModelGraph): Map<string, HostTensor> {
  return new Map(g.inputs.map((inp, i) => {
    const t = { dtype: inp.dtype as HostTensor['dtype'], shape: inp.shape as number[] };
    // An input bound with --value is fed that value: the model was analyzed for it.
    if (inp.value) return [inp.name, { ...t, data: hostData(t.dtype, inp.value) }];
    const [host] = syntheticInputs({ layer: { key: '', op: '', attrs: {}, inputs: [t], outputs: [], weights: [], flops: 0, bytes: 0, params: 0 }, consts: [null] }, 101 + i);
    return [inp.name, host!];
  }));
}

/** Whether every layer has a kernel whose chosen variant supports it. */
export function canRun(runner: Executor, g: ModelGraph, choose: VariantChooser): RunPlan {
  for (const n of g.nodes) {
    const kernel = kernelFor(n.op);
    if (!kernel) return { ok: false, reason: `no kernel for ${n.op} (node '${n.label}')` };
    const c = layerCase(g, n.key);
    const s = kernel.supports(c, choose(c, kernel), runner.caps);
    if (!s.ok) return { ok: false, reason: `node '${n.label}' (${n.op}): ${s.reason}` };
  }
  // An output computed outside the layers (under an If or Loop left unexpanded, by an unsupported
  // op) is not in the run: its outputs could not be checked.
  for (const o of g.outputs) {
    const t = g.resolve(o.name);
    if (!g.producers.has(t) && !g.inputs.some((i) => i.name === t) && !g.constTensors.has(t)) {
      return { ok: false, reason: `graph output '${printable(o.name)}' is computed by nodes dlprof does not run (control flow left unexpanded, or ops without a layer)` };
    }
  }
  return { ok: true };
}

/** A known value's elements as a host tensor holds them (integers as int32, clamped). */
function hostData(dtype: HostTensor['dtype'], d: number[]): HostTensor['data'] {
  return dtype.startsWith('float') || dtype === 'bfloat16' ? Float32Array.from(d)
    : dtype === 'bool' || dtype === 'uint8' ? Uint8Array.from(d) : Int32Array.from(d, (x) => Math.max(-2147483648, Math.min(2147483647, x)));
}

function constHost(info: TensorInfo, g: ModelGraph): HostTensor | undefined {
  if (!info.dtype || !info.shape) return undefined;
  const shape = info.shape as number[];
  if (info.value) return { dtype: info.dtype, shape, data: hostData(info.dtype, info.value.data as number[]) };
  if (!info.weight) return undefined;
  const sparse = info.weight.sparse;
  if (sparse) {
    // COO → dense: indices are linear [nnz] or per-axis [nnz, rank].
    const values = tensorValues(info.weight.proto, g.external);
    const idx = sparse.indices ? tensorValues(sparse.indices, g.external) : undefined;
    if (!values || !idx) return undefined;
    const dense = new Float32Array(elementCount(shape));
    const rank = shape.length;
    const perAxis = sparse.indices && tensorDims(sparse.indices).length === 2;
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    for (let k = 0; k < values.length; k++) {
      let lin = 0;
      if (perAxis) for (let a = 0; a < rank; a++) lin += idx[k * rank + a] * strides[a];
      else lin = idx[k];
      dense[lin] = values[k];
    }
    return { dtype: info.dtype, shape, data: dense };
  }
  const data = tensorValues(info.weight.proto, g.external);
  return data ? { dtype: info.dtype, shape, data } : undefined;
}

/**
 * The model's outputs from dlprof's own CPU reference implementations, layer by layer in
 * topological order: the output check for models onnxruntime cannot run (ops in dlprof's own
 * domain, or custom ops like mmcv's). Slow for large models (plain JavaScript loops); `onLayer`
 * reports progress and yields to the event loop between layers.
 * @throws Error when a layer has no kernel (call canRun first) or a tensor has no value.
 */
export async function referenceRun(g: ModelGraph, inputs: Map<string, HostTensor>, onLayer?: (i: number, n: number) => void): Promise<Map<string, HostTensor>> {
  const values = new Map(inputs);
  const valueOf = (name: string): HostTensor => {
    let v = values.get(name);
    if (!v) {
      const info = g.constTensors.get(name);
      v = info ? constHost(info, g) : undefined;
      if (!v) throw new Error(`tensor '${name}' has no producer, input data or constant value`);
      values.set(name, v);
    }
    return v;
  };
  for (const [i, n] of g.nodes.entries()) {
    onLayer?.(i, g.nodes.length);
    await new Promise((r) => setImmediate(r));
    const kernel = kernelFor(n.op);
    if (!kernel) throw new Error(`no kernel for ${n.op} (node '${n.label}')`);
    const c = layerCase(g, n.key);
    const outs = kernel.reference(c, c.layer.inputs.map((t, k) => (t && n.inputs[k] ? valueOf(n.inputs[k]) : null)));
    outs.forEach((t, k) => { if (n.outputs[k]) values.set(n.outputs[k], t); });
  }
  return new Map(g.outputs.map((o) => [o.name, valueOf(o.name)]));
}

/** Runs (at least `repeats`) that also time each layer in context… */
const LAYER_RUNS = 50;
/** …and at least this many, whatever RunCount.layerBudgetMs allows. */
const MIN_LAYER_RUNS = 3;

/** How many timed runs: at least `repeats`; more, up to `maxRepeats`, while under `budgetMs` of wall time. */
export interface RunCount {
  repeats: number;
  /** Wall time (ms, after the warm-up) to keep repeating past `repeats`: a fast model gets many runs, so its time is stable. */
  budgetMs?: number;
  maxRepeats?: number;
  /** Also time each layer in context (a second submission per repeat, one pass per layer); default true. */
  perLayer?: boolean;
  /** Read the model's outputs back after the runs; default true (false: `outputs` is empty, as for the timing-only runs between the benchmarks). */
  readOutputs?: boolean;
  /** One untimed run first; default true. */
  warmup?: boolean;
  /**
   * Time each layer in context in at most this much wall time of such runs (past the first
   * MIN_LAYER_RUNS; default no limit: LAYER_RUNS runs, or `repeats` if more).
   */
  layerBudgetMs?: number;
}

/** A model bound to GPU buffers, ready to run as often as asked; `release` frees it. */
export interface BoundModel {
  /** Runs the model (after one warm-up) as often as `count` says and returns its outputs and timings. */
  time(count?: RunCount, onProgress?: (what: string) => void): Promise<ModelRun>;
  release(): void;
}

/**
 * Runs the model (after one warm-up) as often as `count` says and returns its outputs and timings.
 * @throws Error when a layer cannot be planned or bound (call canRun first).
 */
export async function runModel(runner: Executor, g: ModelGraph, inputs: Map<string, HostTensor>, choose: VariantChooser,
  count: RunCount = { repeats: 5 }, onProgress?: (what: string) => void): Promise<ModelRun> {
  const m = await bindModel(runner, g, inputs, choose, onProgress);
  try {
    return await m.time(count, onProgress);
  } finally {
    m.release();
  }
}

/**
 * Binds every layer of the model to GPU buffers (one per tensor, inputs and constants uploaded), on
 * the variants `choose` picks, to be run later (BoundModel.time) as often as needed.
 * @throws Error when a layer cannot be planned or bound (call canRun first).
 */
export async function bindModel(runner: Executor, g: ModelGraph, inputs: Map<string, HostTensor>, choose: VariantChooser,
  onProgress?: (what: string) => void): Promise<BoundModel> {
  const buffers = new Map<string, { buf: DeviceBuffer; type: TensorType; gt: GpuType }>();
  const owned: DeviceBuffer[] = [];
  const prepared: Prepared[] = [];
  const variants: string[] = [];
  const release = (): void => {
    for (const p of prepared) runner.releaseBound(p);
    for (const b of owned) runner.free(b);
  };
  try {
    const tensorBuffer = (name: string, type: TensorType): DeviceBuffer => {
      const have = buffers.get(name);
      if (have) return have.buf;
      const gt = gpuTypeOf(type.dtype);
      let host = inputs.get(name);
      if (!host) {
        const info = g.constTensors.get(name);
        host = info ? constHost(info, g) : undefined;
      }
      if (!host) throw new Error(`tensor '${name}' has no producer, input data or constant value`);
      const buf = runner.upload(host, gt, `${g.name} ${name}`);
      owned.push(buf);
      buffers.set(name, { buf, type, gt });
      return buf;
    };
    for (const [i, n] of g.nodes.entries()) {
      onProgress?.(`binding layer ${i + 1}/${g.nodes.length}`);
      const kernel = kernelFor(n.op)!;
      const c = layerCase(g, n.key);
      const variant = choose(c, kernel);
      variants.push(variant);
      const inBufs = c.layer.inputs.map((t, k) => (t && n.inputs[k] ? tensorBuffer(n.inputs[k], t) : null));
      const outBufs = c.layer.outputs.map((t, k) => {
        const gt = runner.typeOf(kernel, t);
        const buf = runner.allocate(t, gt, `${g.name} ${n.outputs[k]}`);
        owned.push(buf);
        if (n.outputs[k]) buffers.set(n.outputs[k], { buf, type: t, gt });
        return buf;
      });
      prepared.push(await runner.bind(kernel, c, kernel.plan(c, variant, runner.caps), inBufs, outBufs, `${kernel.name}/${variant} '${n.label}'`));
    }
  } catch (e) {
    release();
    throw e;
  }
  const time = async (count: RunCount = { repeats: 5 }, progress = onProgress): Promise<ModelRun> => {
    const { repeats, budgetMs = 0, maxRepeats = 200, perLayer = true, readOutputs = true, warmup = true, layerBudgetMs = Infinity } = count;
    const layerTimer = perLayer && runner.timestamps;
    const layerSamples: number[][] = g.nodes.map(() => []);
    const startSamples: number[][] = g.nodes.map(() => []);
    const totals: number[] = [];
    let timedFrom = 0;
    let layerRunsMs = 0;
    const more = (done: number): boolean => done < repeats || (done < maxRepeats && performance.now() - timedFrom < budgetMs);
    for (let r = warmup ? 0 : 1; r === 0 || more(r - 1); r++) {
      if (r === 1) timedFrom = performance.now();
      progress?.(r === 0 ? 'warm-up' : `run ${r}${budgetMs > 0 ? '' : `/${repeats}`}`);
      // The end-to-end time: every layer's dispatches in one compute pass, as a runtime would
      // record them, timestamps at its start and end only.
      const run = await runner.submit([{ pass: prepared, timed: true, label: `${g.name} end-to-end` }], `${g.name} run`);
      if (r > 0) totals.push(run.passes.length ? run.passes[0][1] : run.wallMs);
      // Each layer's time in context: one pass per layer with its own timestamps (this adds a
      // little per-pass overhead, so it is a separate run from the end-to-end one), in the first
      // LAYER_RUNS runs: a layer's trimmed mean settles in fewer runs than the model's, whose
      // runs go on alone (on lavapipe this halves a warm analysis of resnet-tiny's run time);
      // past MIN_LAYER_RUNS, only within `layerBudgetMs` (a model of seconds a run on a
      // software adapter: each of these runs costs as much as a run of the model).
      if (!layerTimer || r > Math.max(repeats, LAYER_RUNS) || (r > MIN_LAYER_RUNS && layerRunsMs >= layerBudgetMs)) continue;
      const t0 = performance.now();
      const layers = await runner.submit(prepared.map((p) => ({ pass: [p], timed: true })), `${g.name} layer timing`);
      if (r === 0) continue;
      layerRunsMs += performance.now() - t0;
      layers.passes.forEach(([begin, end], i) => {
        layerSamples[i].push(end - begin);
        startSamples[i].push(begin);
      });
    }
    const outputs = new Map<string, HostTensor>();
    for (const o of readOutputs ? g.outputs : []) {
      const b = buffers.get(g.resolve(o.name));
      if (b) outputs.set(o.name, await runner.read(b.buf, b.type, b.gt));
    }
    return {
      outputs,
      layers: g.nodes.map((_, i) => ({ variant: variants[i], ms: trimmedMean(layerSamples[i]) || 0, samplesMs: layerSamples[i], startMs: summarize(startSamples[i]).median || 0 })),
      totalMs: trimmedMean(totals),
      totalsMs: totals,
    };
  };
  return { time, release };
}
