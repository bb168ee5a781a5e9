/**
 * onnxruntime-node as the numerical reference (CPU execution provider) and as the "framework"
 * baseline (its WebGPU execution provider on the same adapter, through its own Dawn).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { quietlyAsync } from '../gpu/quiet.js';
import type { HostTensor } from '../kernels/types.js';
import { halfToFloat } from '../onnx/tensor.js';
import { summarize } from './stats.js';

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  float32: 'float32', float16: 'float16', int64: 'int64', int32: 'int32', uint8: 'uint8', int8: 'int8', bool: 'bool', float64: 'float64',
};

export function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`onnxruntime input of dtype ${t.dtype} is not supported here`);
  let data: ort.Tensor.DataType;
  if (type === 'int64') data = BigInt64Array.from(t.data as Int32Array, (x) => BigInt(x));
  else if (type === 'float16') data = Uint16Array.from(t.data as Float32Array, (x) => f16bits(x));
  else if (type === 'float64') data = Float64Array.from(t.data as Float32Array);
  else data = t.data as ort.Tensor.DataType;
  return new ort.Tensor(type, data, t.shape);
}

function f16bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 112;
  if (e <= 0) return sign;
  if (e >= 31) return sign | 0x7c00;
  return sign | (e << 10) | ((u >>> 13) & 0x3ff);
}

export function fromOrt(t: ort.Tensor): HostTensor {
  const shape = [...t.dims].map(Number);
  const d = t.data as ArrayLike<number | bigint>;
  const data = t.type === 'int64' ? Int32Array.from(d as BigInt64Array, (x) => Number(x))
    // float16 comes as its bit patterns.
    : t.type === 'float16' ? Float32Array.from(d as Uint16Array, (x) => halfToFloat(x))
    : t.type === 'bool' || t.type === 'uint8' ? Uint8Array.from(d as Uint8Array)
      : Float32Array.from(d as ArrayLike<number>, Number);
  return { dtype: t.type === 'float32' ? 'float32' : t.type === 'int64' ? 'int64' : t.type === 'float16' ? 'float16' : (t.type as HostTensor['dtype']), shape, data };
}

/** Outputs of the model on onnxruntime's CPU execution provider. */
export async function ortOutputs(file: string, inputs: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
  const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  try {
    const feeds = Object.fromEntries([...inputs].filter(([k]) => s.inputNames.includes(k)).map(([k, v]) => [k, toOrt(v)]));
    const out = await s.run(feeds);
    return new Map(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
  } finally {
    await s.release();
  }
}

export interface FrameworkResult {
  provider: string;
  medianMs: number;
  /** The runs' trimmed mean (stats.ts trimmedMean), ms: the statistic of dlprof's own latencies, for the ladder. */
  trimmedMeanMs: number;
  minMs: number;
  runs: number;
  /** Per-node times from onnxruntime's profiler, where it reports them (kernel dispatch on the host for the WebGPU EP). */
  nodes: Array<{ name: string; op: string; ms: number }>;
}

/** End-to-end latency of the model on an onnxruntime execution provider (median and trimmed mean of `runs`). */
export async function ortLatency(file: string, inputs: Map<string, HostTensor>, provider = 'webgpu', runs = 10): Promise<FrameworkResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-ort-'));
  let s: ort.InferenceSession;
  try {
    s = await quietlyAsync(() => ort.InferenceSession.create(file, {
      executionProviders: [provider], graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: path.join(dir, 'profile'),
    }));
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  try {
    const feeds = Object.fromEntries([...inputs].filter(([k]) => s.inputNames.includes(k)).map(([k, v]) => [k, toOrt(v)]));
    for (let i = 0; i < 2; i++) await s.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t0);
    }
    s.endProfiling();
    const st = summarize(times);
    return { provider, medianMs: st.median, trimmedMeanMs: st.trimmedMean, minMs: st.min, runs, nodes: readProfile(dir, runs + 2) };
  } finally {
    await s.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean per-node kernel time over the profiled runs, from onnxruntime's Chrome-trace profile. */
function readProfile(dir: string, runs: number): Array<{ name: string; op: string; ms: number }> {
  const file = fs.readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.json'));
  if (!file) return [];
  let events: Array<{ cat?: string; name?: string; dur?: number; args?: { op_name?: string } }>;
  try {
    events = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  const byNode = new Map<string, { op: string; us: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const x = byNode.get(name) ?? { op: e.args?.op_name ?? '', us: 0 };
    x.us += e.dur ?? 0;
    byNode.set(name, x);
  }
  return [...byNode].map(([name, x]) => ({ name, op: x.op, ms: x.us / 1000 / runs }));
}
