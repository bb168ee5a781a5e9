/**
 * End-to-end runs interleaved with the layer benchmarks (analyze, `inference` conditions): the
 * model runs in blocks between the submissions of the default variants' rounds, each block for
 * about as long as the rounds since the one before, so that the measured end-to-end time and the
 * layer times that reconstruct it sample the same moments of the machine. On a machine whose speed
 * moves by 10–20 % within seconds (our shared VM), a measurement taken before and after the
 * benchmarks compares with other moments than the benchmarks': alternated in one process,
 * sparse-dnn-1024's reconstruction error was ±1.4 % rms this way and ±3.9 % with runs before and
 * after; nat-tiny's ±1.0 % and ±5.0 %.
 *
 * A block is one warm-up run (not counted: the rounds between blocks leave the caches to other
 * data; none once a run is known to span `blockMs` on its own) and then back-to-back timed runs
 * spanning at least `blockMs`, as an inference loop runs
 * the model (but at least MIN_BLOCKS blocks in all). Over all the benchmarks the blocks take at
 * least `repeats` timed runs and `budgetMs` of them (at most `maxRuns`), shared among the chunks of
 * rounds by their number of layers.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ModelGraph } from '../ir/graph.js';
import type { RoundHooks } from './harness.js';
import type { BoundModel } from './model.js';

/**
 * A model whose layers' bytes (boundBytes) are at most this share
 * of the host's memory stays bound while its layers are benchmarked, to run between them (and
 * again after them, with no second binding); a larger one runs before the benchmarks instead.
 * WebGPU does not tell an adapter's memory; on lavapipe it is the host's, and on a discrete GPU
 * the model must fit to run at all, either way. What the benchmarks add beside it is a few copies
 * of one layer's inputs (COLD_SPAN). sparse-dnn-4096 (7.7 GB) runs bound beside them on a 24 GB
 * lavapipe machine with 15 GB left.
 */
export const INTERLEAVE_MAX_SHARE = 0.5;

/** Σ of the bytes of the model's layers, every occurrence counted: an upper bound of what binding it takes. */
export function boundBytes(g: Pick<ModelGraph, 'nodes' | 'layers'>): number {
  return g.nodes.reduce((a, n) => a + g.layers.get(n.key)!.bytes, 0);
}

/** Whether the model may stay bound beside its layers' benchmarks on a host with `memBytes` of memory (INTERLEAVE_MAX_SHARE). */
export function fitsBeside(g: Pick<ModelGraph, 'nodes' | 'layers'>, memBytes = os.totalmem()): boolean {
  return boundBytes(g) <= INTERLEAVE_MAX_SHARE * memBytes;
}

/** Blocks over all the benchmarks, at least (when the runs wanted allow). */
const MIN_BLOCKS = 8;

export interface InterleaveOptions {
  /** Timed runs over all the benchmarks, at least… */
  repeats: number;
  /** …and at least this much wall time of them (up to `maxRuns`). */
  budgetMs: number;
  maxRuns?: number;
  /** A block's timed runs span at least this much wall time. */
  blockMs?: number;
  onProgress?: (what: string) => void;
}

export class Interleaver {
  /** Every timed run's end-to-end time, in run order, ms. */
  readonly totalsMs: number[] = [];
  private runMs = 0;
  private share = 0;
  private first = 0;
  private got = 0;
  private lastBlockMs = 0;
  private lastEnd = 0;

  constructor(private readonly model: BoundModel, private readonly opts: InterleaveOptions) {}

  /** Runs wanted over all the benchmarks (known once a block has run; the estimate of a run's time improves with every block). */
  private get total(): number {
    const { repeats, budgetMs, maxRuns = 1000 } = this.opts;
    return Math.min(maxRuns, Math.max(repeats, Math.ceil(budgetMs / Math.max(this.runMs, 1e-3))));
  }

  /** This chunk's part of them (at least the first block). */
  private get wanted(): number {
    return Math.max(this.first, Math.ceil(this.total * this.share));
  }

  private async block(): Promise<void> {
    const blockMs = this.opts.blockMs ?? 200;
    // At least MIN_BLOCKS blocks over the benchmarks, however fast the model.
    const per = this.runMs > 0 ? Math.max(1, Math.min(Math.ceil(blockMs / this.runMs), Math.ceil(this.total / MIN_BLOCKS))) : 1;
    const repeats = this.runMs > 0 ? Math.max(1, Math.min(per, this.wanted - this.got)) : 1;
    const t0 = performance.now();
    // Timing only: the outputs are checked on the runs after the benchmarks, not read back per
    // block. A run that spans a block on its own warms the caches in its first layers: the block
    // has no warm-up run then, which halves what the runs between the benchmarks cost a large
    // model on a software adapter. On lavapipe, right after a 256 MiB clear, resnet50 ran in
    // 2123–2137 ms against 2123–2131 ms warm, and mobilenetv2 in 317–320 ms against 317–334 ms.
    const run = await this.model.time({ repeats, perLayer: false, readOutputs: false, warmup: this.runMs < blockMs },
      (w) => this.opts.onProgress?.(`end-to-end runs between the layer benchmarks: ${this.totalsMs.length} done; ${w}`));
    this.totalsMs.push(...run.totalsMs);
    this.got += run.totalsMs.length;
    this.runMs = run.totalMs;
    this.lastEnd = performance.now();
    this.lastBlockMs = this.lastEnd - t0;
  }

  /**
   * A chunk of rounds starts, holding `share` (0–1) of the layers being benchmarked: one block
   * now (the first also learns how long a run takes), and this chunk's part of the runs wanted.
   */
  async begin(share: number): Promise<void> {
    this.share = this.got = this.first = 0;
    await this.block();
    this.first = this.got;
    this.share = share;
  }

  /** Sizes the rounds' submissions so that a stretch of rounds between two blocks holds a few of them. */
  submissionUs(minPassUs: number): number {
    return Math.max(minPassUs, Math.min(100_000, (this.lastBlockMs * 1000) / 4));
  }

  /** The hooks for the chunk's rounds: held until the chunk's runs are taken; a block whenever the rounds since the last one took as long as it. */
  get hooks(): Required<Pick<RoundHooks, 'hold' | 'between'>> {
    return {
      hold: () => this.got < this.wanted,
      between: async () => {
        if (this.got < this.wanted && performance.now() - this.lastEnd >= this.lastBlockMs) await this.block();
      },
    };
  }
}
