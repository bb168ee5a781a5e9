/**
 * The timing harness: raw GPU-time samples of one prepared kernel plan, with a tagged outcome.
 *
 * Method (design.md, Timing):
 *  - warm-up runs first (pipeline creation and the first dispatch are never counted);
 *  - each sample is one compute pass with timestamp writes at its start and end, holding `batch`
 *    back-to-back executions of the plan, so kernels of a few microseconds are timed over a span
 *    long enough for the timer; the sample is the pass time divided by `batch`;
 *  - the wall time from submit to completion is recorded too (it includes submission overhead);
 *  - samples are taken until their relative spread ((p90 − p10) / median) is below the target
 *    with at least `minSamples`, or `maxSamples` or the time budget is reached;
 *  - optionally a buffer larger than the last-level cache is overwritten before each sample, so
 *    every sample starts cold.
 * Statistics are computed elsewhere (stats.ts) from the returned samples.
 */
import { performance } from 'node:perf_hooks';
import type { KernelRunner, Prepared } from '../gpu/run.js';
import { relativeSpread } from './stats.js';

export interface TimingOptions {
  warmup: number;
  minSamples: number;
  maxSamples: number;
  /** Stop once (p90 − p10) / median is at most this… */
  targetSpread: number;
  /**
   * …and the samples span at least this many ms of wall time (or maxSamples are taken): samples
   * taken within a few ms can all fall in one burst of interference (lavapipe's thread hand-offs
   * on a busy VM) and agree with each other while being far from the usual time.
   */
  minTimeMs: number;
  /** Time budget per measurement, in ms of wall time (including warm-up). */
  budgetMs: number;
  /** A pass shorter than this (µs) is repeated `batch` times per sample to reach it. */
  minPassUs: number;
  maxBatch: number;
  cacheFlush: boolean;
}

export const DEFAULT_TIMING: TimingOptions = {
  warmup: 2,
  minSamples: 5,
  maxSamples: 100,
  targetSpread: 0.05,
  minTimeMs: 100,
  budgetMs: 2000,
  minPassUs: 1000,
  maxBatch: 64,
  cacheFlush: false,
};

export type Outcome =
  | { status: 'completed'; samplesMs: number[]; wallMs: number[]; batch: number; source: 'timestamp' | 'wall'; stoppedBy: 'spread' | 'samples' | 'budget' }
  | { status: 'errored'; reason: string }
  | { status: 'skipped'; reason: string };

/** Bytes of the cache-flush buffer: larger than any CPU's or GPU's last-level cache. */
const FLUSH_BYTES = 256 * 2 ** 20;

export class Timer {
  private readonly querySet?: GPUQuerySet;
  private readonly resolve?: GPUBuffer;
  private flushBuf?: GPUBuffer;

  constructor(private readonly runner: KernelRunner) {
    const d = runner.device;
    if (runner.ctx.timestamps) {
      this.querySet = d.createQuerySet({ type: 'timestamp', count: 2, label: 'dlprof timer' });
      this.resolve = d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'dlprof timer resolve' });
    }
  }

  get usesTimestamps(): boolean {
    return !!this.querySet;
  }

  private flush(encoder: GPUCommandEncoder): void {
    const size = Math.min(FLUSH_BYTES, this.runner.caps.maxBufferSize);
    this.flushBuf ??= this.runner.device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST, label: 'dlprof cache flush' });
    encoder.clearBuffer(this.flushBuf);
  }

  /** One sample: `batch` executions in one pass; returns [gpuMs per execution, wallMs per execution]. */
  async sample(p: Prepared, batch: number, cacheFlush: boolean): Promise<[number, number]> {
    const d = this.runner.device;
    const encoder = d.createCommandEncoder({ label: `${p.label} timing` });
    if (cacheFlush) this.flush(encoder);
    const tw = this.querySet ? { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } : undefined;
    this.runner.encode(p, encoder, batch, tw);
    let read: GPUBuffer | undefined;
    if (this.querySet && this.resolve) {
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      read = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'dlprof timer read' });
      encoder.copyBufferToBuffer(this.resolve, 0, read, 0, 16);
    }
    const t0 = performance.now();
    d.queue.submit([encoder.finish()]);
    await d.queue.onSubmittedWorkDone();
    const wall = (performance.now() - t0) / batch;
    if (this.runner.ctx.lost) throw new Error(`device lost: ${this.runner.ctx.lost}`);
    if (!read) return [wall, wall];
    await read.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    read.destroy();
    const gpuMs = Number(end - begin) / 1e6 / batch;
    return [gpuMs > 0 ? gpuMs : wall, wall];
  }

  /** Times a prepared plan (see the module comment for the method). */
  async time(p: Prepared, opts: TimingOptions = DEFAULT_TIMING): Promise<Outcome> {
    const start = performance.now();
    try {
      let single = Infinity;
      for (let i = 0; i < Math.max(1, opts.warmup); i++) single = Math.min(single, (await this.sample(p, 1, false))[0]);
      const batch = Math.max(1, Math.min(opts.maxBatch, Math.ceil((opts.minPassUs / 1000) / Math.max(single, 1e-6))));
      const samplesMs: number[] = [];
      const wallMs: number[] = [];
      const sampledFrom = performance.now();
      let stoppedBy: 'spread' | 'samples' | 'budget' = 'samples';
      while (samplesMs.length < opts.maxSamples) {
        const [g, w] = await this.sample(p, batch, opts.cacheFlush);
        samplesMs.push(g);
        wallMs.push(w);
        if (samplesMs.length >= opts.minSamples && relativeSpread(samplesMs) <= opts.targetSpread && performance.now() - sampledFrom >= opts.minTimeMs) { stoppedBy = 'spread'; break; }
        if (samplesMs.length >= Math.min(3, opts.minSamples) && performance.now() - start > opts.budgetMs) { stoppedBy = 'budget'; break; }
      }
      return { status: 'completed', samplesMs, wallMs, batch, source: this.querySet ? 'timestamp' : 'wall', stoppedBy };
    } catch (e) {
      return { status: 'errored', reason: (e as Error).message };
    }
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.flushBuf?.destroy();
  }
}
