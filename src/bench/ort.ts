/**
 * onnxruntime-node as the numerical reference (CPU execution provider) and as the "framework"
 * baseline (its WebGPU execution provider on the same adapter, through its own Dawn).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { driverMessagesShown } from '../gpu/quiet.js';
import type { HostTensor } from '../kernels/types.js';
import { halfToFloat } from '../onnx/tensor.js';
import { summarize, trimmedMean } from './stats.js';

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
  // Host integer tensors hold their values in whatever array the producer used (Int32Array for
  // most); onnxruntime wants the array of the element type.
  else if (type === 'uint8' || type === 'bool') data = t.data instanceof Uint8Array ? t.data : Uint8Array.from(t.data as ArrayLike<number>);
  else if (type === 'int8') data = t.data instanceof Int8Array ? t.data : Int8Array.from(t.data as ArrayLike<number>);
  else if (type === 'int32') data = t.data instanceof Int32Array ? t.data : Int32Array.from(t.data as ArrayLike<number>);
  else if (type === 'float32') data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
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

/** onnxruntime-node's version (part of the identity of its stored runs: store/model-runs.ts). */
export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/** Outputs of the model on onnxruntime's CPU execution provider. */
export async function ortOutputs(file: string, inputs: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
  const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  try {
    const out = await s.run(feedsFor(s, inputs));
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
}

/**
 * Median, trimmed mean and minimum of `runs` timed runs of `s` after `warmup` untimed ones, with
 * the profiler off: with it on, the WebGPU EP puts every kernel in its own timed compute pass and
 * reads the timestamps back after each run, which on lavapipe doubled resnet-tiny's run (6.1 →
 * 12.9 ms).
 */
async function timeRuns(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, provider: string, runs: number, warmup: number): Promise<FrameworkResult> {
  for (let i = 0; i < warmup; i++) await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t0);
  }
  const st = summarize(times);
  return { provider, medianMs: st.median, trimmedMeanMs: st.trimmedMean, minMs: st.min, runs };
}

function feedsFor(s: ort.InferenceSession, inputs: Map<string, HostTensor>): Record<string, ort.Tensor> {
  return Object.fromEntries([...inputs].filter(([k]) => s.inputNames.includes(k)).map(([k, v]) => [k, toOrt(v)]));
}

/** One GPU kernel (a program dispatch) of an onnxruntime run, from its WebGPU profiler. */
export interface OrtKernel {
  /** The onnxruntime node that dispatched it (its layout pass renames some: '/conv1/Conv_token_1'). */
  node: string;
  op: string;
  /** The WebGPU EP's program (e.g. 'Conv2dMM', 'MatMulNaive'). */
  program: string;
  /** GPU time between the timestamps around its compute pass. */
  ms: number;
}

/** One profiled run: its wall time as onnxruntime measured it ('model_run') and its GPU kernels in order. */
export interface OrtRun {
  wallMs: number;
  kernels: OrtKernel[];
}

/** A node's GPU kernels in one run, averaged over the profiled runs. */
export interface OrtNodeTime {
  node: string;
  op: string;
  programs: string[];
  /** Dispatches per run. */
  dispatches: number;
  /** Σ of its kernels' GPU time per run, mean over the runs. */
  kernelMs: number;
}

export interface OrtProfile {
  provider: string;
  /** The runs after the warm-ups. */
  runs: OrtRun[];
  /** Trimmed means over the runs of their wall time and of their Σ kernel GPU time; their difference, the host overhead. */
  wallMs: number;
  kernelMs: number;
  hostMs: number;
  dispatches: number;
  nodes: OrtNodeTime[];
  /** Host time per node and run (its '…_kernel_time' events: on the host's clock, inside the runs), mean over the runs. */
  hostNodes: Array<{ node: string; op: string; ms: number }>;
}

interface TraceEvent { cat?: string; name?: string; ph?: string; ts?: number; dur?: number; args?: Record<string, unknown> }

/**
 * The runs of an onnxruntime profile (its Chrome-trace JSON), the first `warmup` of them left out.
 *
 * The WebGPU EP's profiler writes one 'Api' event per program dispatch, named
 * 'node&op&program', with the GPU timestamps of its compute pass as ts/dur. Those timestamps are
 * on the GPU's clock (offset to its first one), not the host's, so they cannot be placed in a run
 * by time: every run dispatches the same kernels in the same order, so the events are split into
 * equal runs, and a profile where they do not repeat run after run is an error. Node events
 * ('…_kernel_time') are host time spent in each node, on the host's clock, placed in the runs by time.
 * @throws Error when the profile has no runs, no GPU kernel events (the EP had no timestamp-query),
 * events that do not divide into the runs, or a run whose kernels take longer than its wall time.
 */
export function parseOrtProfile(events: unknown, warmup: number, provider = 'webgpu'): OrtProfile {
  if (!Array.isArray(events)) throw new Error('onnxruntime profile: not a JSON array of trace events');
  const ev = events as TraceEvent[];
  const runs = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number');
  const api = ev.filter((e) => e.cat === 'Api' && typeof e.name === 'string' && e.name.includes('&') && typeof e.dur === 'number');
  if (runs.length <= warmup) throw new Error(`onnxruntime profile: ${runs.length} runs recorded, ${warmup} of them warm-ups`);
  if (!api.length) throw new Error('onnxruntime profile: no GPU kernel events (its WebGPU execution provider writes them only where the adapter has timestamp-query)');
  const per = api.length / runs.length;
  if (!Number.isInteger(per)) throw new Error(`onnxruntime profile: ${api.length} GPU kernel events do not divide into ${runs.length} runs`);
  for (let i = per; i < api.length; i++) {
    if (api[i].name !== api[i - per].name) throw new Error(`onnxruntime profile: run ${Math.floor(i / per) + 1} dispatched '${api[i].name}' where the run before dispatched '${api[i - per].name}'`);
  }
  const out: OrtRun[] = [];
  for (let r = warmup; r < runs.length; r++) {
    const kernels = api.slice(r * per, (r + 1) * per).map((e): OrtKernel => {
      const parts = e.name!.split('&');
      const program = parts.pop()!;
      const op = parts.pop()!;
      return { node: parts.join('&'), op, program, ms: e.dur! / 1000 };
    });
    const wallMs = runs[r].dur! / 1000;
    const k = kernels.reduce((a, x) => a + x.ms, 0);
    if (k > wallMs) throw new Error(`onnxruntime profile: run ${r + 1}'s kernels take ${k.toFixed(3)} ms of GPU time, more than the run's ${wallMs.toFixed(3)} ms`);
    out.push({ wallMs, kernels });
  }
  const byNode = new Map<string, OrtNodeTime>();
  for (const run of out) {
    for (const x of run.kernels) {
      const n = byNode.get(x.node) ?? { node: x.node, op: x.op, programs: [], dispatches: 0, kernelMs: 0 };
      if (!n.programs.includes(x.program)) n.programs.push(x.program);
      n.dispatches += 1 / out.length;
      n.kernelMs += x.ms / out.length;
      byNode.set(x.node, n);
    }
  }
  const hostNodes = new Map<string, { node: string; op: string; ms: number }>();
  const timed = runs.slice(warmup);
  for (const e of ev) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || typeof e.ts !== 'number') continue;
    if (!timed.some((r) => e.ts! >= r.ts! && e.ts! <= r.ts! + r.dur!)) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const h = hostNodes.get(node) ?? { node, op: String(e.args?.op_name ?? ''), ms: 0 };
    h.ms += (e.dur ?? 0) / 1000 / timed.length;
    hostNodes.set(node, h);
  }
  const sum = (r: OrtRun): number => r.kernels.reduce((a, x) => a + x.ms, 0);
  const wallMs = trimmedMean(out.map((r) => r.wallMs));
  const kernelMs = trimmedMean(out.map(sum));
  return {
    provider, runs: out, wallMs, kernelMs, hostMs: wallMs - kernelMs,
    dispatches: per,
    nodes: [...byNode.values()].map((n) => ({ ...n, dispatches: Math.round(n.dispatches) })),
    hostNodes: [...hostNodes.values()],
  };
}

/** Reads and parses an onnxruntime profile file (parseOrtProfile). */
export function readOrtProfile(file: string, warmup: number, provider = 'webgpu'): OrtProfile {
  let events: unknown;
  try {
    events = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`onnxruntime profile ${file}: ${(e as Error).message}`);
  }
  return parseOrtProfile(events, warmup, provider);
}

/**
 * The model on an onnxruntime execution provider with its profiler on: `warmup` runs, then `runs`
 * profiled ones, each split into GPU kernel time (the WebGPU EP's timestamps) and host time.
 * `keep`, when given, is a path the profile JSON is copied to.
 */
export async function ortProfile(file: string, inputs: Map<string, HostTensor>, opts: Omit<FrameworkOptions, 'latencyRuns'> = {}): Promise<OrtProfile> {
  const { profile } = await startOrtFramework(file, inputs, { ...opts, latencyRuns: 0 }).measure();
  if ('error' in profile) throw new Error(profile.error);
  return profile;
}

/** The framework baseline's session, started early (startOrtFramework). */
export interface OrtFrameworkRun {
  /** Settles when the session exists and its warm-up runs (where it compiles its programs) are done; never rejects. */
  ready: Promise<void>;
  /** The profiled runs, then the timed ones; throws what the session or its warm-up threw. Once. */
  measure(): Promise<FrameworkMeasured>;
  /** Ends a session that was started but not measured (an analysis that ended early), its process and its profile folder. */
  close(): Promise<void>;
}

export interface FrameworkMeasured { latency: FrameworkResult | null; profile: OrtProfile | { error: string } }

export interface FrameworkOptions {
  provider?: string;
  /** Profiled runs, at most (at least MIN_PROFILED_RUNS, and more only within `profileBudgetMs`)… */
  runs?: number;
  /** …of wall time, ms (default: no limit). */
  profileBudgetMs?: number;
  warmup?: number;
  keep?: string;
  /** Timed runs with the profiler off; default `runs`. */
  latencyRuns?: number;
}

/** Profiled runs, at least (a profile's kernels are averaged over its runs). */
const MIN_PROFILED_RUNS = 3;

/**
 * The framework baseline in one session, so that onnxruntime compiles its programs once (on a
 * software adapter, most of the cost: 13 s of resnet-tiny's 27 s with two sessions), in a process
 * of its own (ort-child.ts, which runs `ortFrameworkHere`), started at once so that the caller may
 * do other work while it compiles (analyze checks its kernels meanwhile, and waits for `ready`
 * before it times anything). A process of its own, because on a software adapter two compilers in
 * one process take turns (on lavapipe, resnet-tiny's checks took 20.4 s alone and 33.0 s beside
 * onnxruntime's 12.3 s compile in the same process), and because onnxruntime's Dawn writes its
 * warnings to the process's stderr: the child's is kept, and shown only with the driver's messages
 * (--verbose) or in the error when it fails. `measure` then takes `runs` profiled runs (fewer past
 * MIN_PROFILED_RUNS where they would take longer than `profileBudgetMs`), stops the profiler
 * (endProfiling: the WebGPU EP stops timing each kernel in a pass of its own) and times
 * `latencyRuns` more (timeRuns), unless 0. A profile that cannot be read is returned as its error;
 * the latency is still measured.
 */
export function startOrtFramework(file: string, inputs: Map<string, HostTensor>, opts: FrameworkOptions = {}): OrtFrameworkRun {
  const here = fileURLToPath(import.meta.url);
  // Built: dist/src/bench/ort-child.js beside this file; from the sources (tests), the .ts through tsx.
  const script = here.replace(/ort\.(js|ts)$/, 'ort-child.$1');
  const child = fork(script, [], {
    execArgv: script.endsWith('.ts') ? ['--import', 'tsx'] : [],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', driverMessagesShown() ? 'inherit' : 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  let exited: string | undefined;
  const replies: Array<(m: ChildReply) => void> = [];
  const failAll = (why: string): void => { for (const r of replies.splice(0)) r({ error: why }); };
  child.on('message', (m: ChildReply) => {
    replies.shift()?.(m);
    // Between requests the channel does not keep this process alive.
    if (!replies.length) child.channel?.unref();
  });
  child.on('error', (e) => { exited = e.message; failAll(e.message); });
  child.on('exit', (code, signal) => {
    const last = stderr.split('\n').filter(Boolean).slice(-3).join(' | ');
    exited = `onnxruntime's process ended (${signal ?? `exit ${code}`})${last ? `: ${last}` : ''}`;
    failAll(exited);
  });
  const ask = (msg: ChildRequest): Promise<ChildReply> => new Promise((resolve) => {
    if (exited) return resolve({ error: exited });
    replies.push(resolve);
    child.channel?.ref();
    child.send(msg);
  });
  const started = ask({ start: { file, inputs: [...inputs], opts } });
  let measured = false;
  // Ended: it exited, or it never started (a spawn error emits no 'exit').
  const gone = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  const end = async (): Promise<void> => {
    if (!exited) child.kill();
    await gone;
  };
  return {
    ready: started.then(() => undefined),
    async measure() {
      measured = true;
      try {
        const r = await started;
        if ('error' in r) throw new Error(r.error);
        const m = await ask({ measure: true });
        if (!('measured' in m)) throw new Error('error' in m ? m.error : "onnxruntime's process answered out of turn");
        return m.measured;
      } finally {
        await end();
      }
    },
    async close() {
      if (measured) return;
      measured = true;
      await end();
    },
  };
}

export type ChildRequest = { start: { file: string; inputs: Array<[string, HostTensor]>; opts: FrameworkOptions } } | { measure: true };
export type ChildReply = { ready: true } | { measured: FrameworkMeasured } | { error: string };

/**
 * The framework baseline in this process: what ort-child.ts runs (startOrtFramework). `discard`
 * removes its profile folder, for a process that ends without measuring.
 */
export function ortFrameworkHere(file: string, inputs: Map<string, HostTensor>, opts: FrameworkOptions = {}): { ready: Promise<void>; measure(): Promise<FrameworkMeasured>; discard(): void } {
  const { provider = 'webgpu', runs = 10, warmup = 2, latencyRuns = runs, profileBudgetMs = Infinity } = opts;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-ort-'));
  const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
  const begun = (async () => {
    const s = await ort.InferenceSession.create(file, {
      executionProviders: [provider], graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: path.join(dir, 'profile'),
    });
    try {
      const feeds = feedsFor(s, inputs);
      for (let i = 0; i < warmup; i++) await s.run(feeds);
      return { s, feeds };
    } catch (e) {
      await s.release();
      throw e;
    }
  })();
  begun.catch(removeDir);
  const measure = async (): Promise<FrameworkMeasured> => {
    try {
      const { s, feeds } = await begun;
      let latency: FrameworkResult | null = null;
      try {
        const t0 = performance.now();
        for (let i = 0; i < runs && (i < MIN_PROFILED_RUNS || performance.now() - t0 < profileBudgetMs); i++) await s.run(feeds);
        s.endProfiling();
        if (latencyRuns > 0) latency = await timeRuns(s, feeds, provider, latencyRuns, 1);
      } finally {
        await s.release();
      }
      let profile: OrtProfile | { error: string };
      try {
        const json = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
        if (!json) throw new Error('onnxruntime wrote no profile');
        if (opts.keep) fs.copyFileSync(path.join(dir, json), opts.keep);
        profile = readOrtProfile(path.join(dir, json), warmup, provider);
      } catch (e) {
        profile = { error: (e as Error).message.split('\n')[0] };
      }
      return { latency, profile };
    } finally {
      removeDir();
    }
  };
  return { ready: begun.then(() => undefined), measure, discard: removeDir };
}
