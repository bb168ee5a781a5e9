/**
 * The timing harness: raw GPU-time samples of one prepared kernel plan, with a tagged outcome.
 *
 * Method (docs/architecture.md, Timing):
 *  - warm-up runs first (pipeline creation and the first dispatch are never counted);
 *  - a sample is one submission of `batch` executions back to back, enough to span `minPassUs`
 *    (so the queue — and lavapipe's worker threads — stay busy, as in a model run). With GPU
 *    timestamps each execution is its own compute pass with its own timestamp writes, as each
 *    layer runs in a model (after another pass), and the sample is the median of those per-pass
 *    times: this keeps the per-pass cost a model run pays, which batching executions inside one
 *    pass hides (on lavapipe 3–6 µs a layer, half a small layer's time in the model), and leaves
 *    out the start-up of an idle queue, which a single execution per submission adds (on lavapipe
 *    with its default threads, tens of µs). Without timestamps the executions share one pass and
 *    the sample is its wall time divided by `batch`;
 *  - the wall time from submit to completion is recorded too (it includes submission overhead);
 *  - samples are taken until their relative spread ((p90 − p10) / median) is below the target
 *    with at least `minSamples`, or `maxSamples` or the time budget is reached;
 *  - the plan may come as several copies over different input buffers (`Prepared[]`, see
 *    measure.ts: a layer's weights, copied): successive executions cycle through them, so those
 *    inputs come from memory, as a model's weights do in an inference, not from the cache;
 *  - optionally a buffer larger than the last-level cache is overwritten before each sample, so
 *    every sample starts cold;
 *  - or several plans are timed together in rounds (`timeRounds`, the `inference` conditions):
 *    each round runs every plan in turn (as often and in the order a model runs them, when told),
 *    each in its own timed pass, so a plan's executions are separated by the others' as a
 *    layer's are by the rest of a model; a plan's sample is the mean of its passes in one round.
 * Statistics are computed elsewhere (stats.ts) from the returned samples.
 */
import { performance } from 'node:perf_hooks';
import type { DeviceBuffer, Executor, Prepared, Step } from '../gpu/executor.js';
import { summarize } from './stats.js';
import { relativeSpreadCriterion, type StoppingCriterion, type StopReason } from './stopping.js';

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
  /** A sample holds `batch` executions, enough to take at least this many µs. */
  minPassUs: number;
  maxBatch: number;
  cacheFlush: boolean;
  /** When to stop sampling; default: the relative-spread criterion over the options above (stopping.ts). */
  criterion?: StoppingCriterion;
}

/** The criterion `opts` gives, or the relative-spread one its fields describe. */
function criterionOf(opts: TimingOptions): StoppingCriterion {
  return opts.criterion ?? relativeSpreadCriterion(opts);
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
  | { status: 'completed'; samplesMs: number[]; wallMs: number[]; batch: number; source: 'timestamp' | 'wall'; stoppedBy: StopReason }
  | { status: 'errored'; reason: string }
  | { status: 'skipped'; reason: string };

/** Timed passes per submission at most: a query set holds at most 4096 timestamps. */
export const MAX_PASSES = 2048;

/** A plan timed in rounds (Timer.timeRounds): its copies, taken in turn, and buffer copies to make right before each execution. */
export interface RoundItem {
  plans: Prepared[];
  before?: Array<{ source: DeviceBuffer; target: DeviceBuffer }>;
  /** The time it only matters below (stopping.ts SampleState.raceMs): slower on every sample, it leaves the rounds. */
  raceMs?: number;
}

/** What a caller of Timer.timeRounds can hook in. */
export interface RoundHooks {
  /** Checked before each submission: true ends the rounds (every unsettled plan `errored: interrupted`). */
  stop?: () => boolean;
  onProgress?: (settled: number, total: number) => void;
  /**
   * Checked after each submission: while true no plan settles or leaves, whatever its rule says
   * (samples accumulate past `maxSamples`), so the rounds go on for as long as the caller needs
   * them (analyze runs the model between submissions meanwhile). The caller must end it.
   */
  hold?: () => boolean;
  /** Called after each submission (and its bookkeeping), with nothing of the rounds on the GPU. */
  between?: () => Promise<void>;
  /** Called as soon as plan `index` has its outcome (the caller may keep it before the rounds end). */
  onSettled?: (index: number, outcome: Outcome) => void;
}

export class Timer {
  constructor(private readonly runner: Executor) {}

  get usesTimestamps(): boolean {
    return this.runner.timestamps;
  }

  /**
   * One sample: `batch` executions in one submission, of `ps[first]`, `ps[first + 1]`…
   * (cyclically), each in its own timed pass (with timestamps; see the module comment); returns
   * [gpuMs per execution, wallMs per execution]. With `cacheFlush`, the flush precedes every pass.
   */
  async sample(ps: Prepared | Prepared[], batch: number, cacheFlush: boolean, first = 0): Promise<[number, number]> {
    const plans = Array.isArray(ps) ? ps : [ps];
    const plan = (i: number): Prepared => plans[(first + i) % plans.length];
    const steps: Step[] = [];
    if (this.usesTimestamps) {
      for (let i = 0; i < batch; i++) {
        if (cacheFlush) steps.push({ flush: true });
        steps.push({ pass: [plan(i)], timed: true });
      }
    } else {
      if (cacheFlush) steps.push({ flush: true });
      steps.push({ pass: Array.from({ length: batch }, (_, i) => plan(i)) });
    }
    const { passes, wallMs } = await this.runner.submit(steps, `${plans[0].label} timing`);
    const wall = wallMs / batch;
    if (!passes.length) return [wall, wall];
    const gpuMs = summarize(passes.map(([begin, end]) => end - begin)).median;
    return [gpuMs > 0 ? gpuMs : wall, wall];
  }

  /** Times a prepared plan, or copies of one taken in turn (see the module comment for the method). */
  async time(ps: Prepared | Prepared[], opts: TimingOptions = DEFAULT_TIMING): Promise<Outcome> {
    const start = performance.now();
    const plans = Array.isArray(ps) ? ps : [ps];
    let next = 0;
    try {
      let single = Infinity;
      for (let i = 0; i < Math.max(1, opts.warmup); i++) single = Math.min(single, (await this.sample(plans, 1, false, next++))[0]);
      // A flush per execution would dwarf the kernels it is for: one execution per sample then.
      const batch = opts.cacheFlush ? 1 : Math.max(1, Math.min(opts.maxBatch, Math.ceil((opts.minPassUs / 1000) / Math.max(single, 1e-6))));
      const samplesMs: number[] = [];
      const wallMs: number[] = [];
      const sampledFrom = performance.now();
      const criterion = criterionOf(opts);
      let stoppedBy: StopReason | null = null;
      while (!stoppedBy) {
        const [g, w] = await this.sample(plans, batch, opts.cacheFlush, next);
        next += batch;
        samplesMs.push(g);
        wallMs.push(w);
        const now = performance.now();
        stoppedBy = criterion.stop({ samplesMs, sampledForMs: now - sampledFrom, spentMs: now - start });
      }
      return { status: 'completed', samplesMs, wallMs, batch, source: this.usesTimestamps ? 'timestamp' : 'wall', stoppedBy };
    } catch (e) {
      return { status: 'errored', reason: (e as Error).message };
    }
  }

  /**
   * Times several plans together, in rounds (the `inference` conditions, measure.ts): a round runs
   * the plans in `order` (their indices; by default each once, in turn), each execution in its own
   * timed pass right after its `before` copies (its activations re-written, untimed), taking its
   * copies in turn. So between two executions of a plan the others run, as the other layers of a
   * model do between two inferences: its weights, code and outputs were last touched a round ago,
   * its inputs just now. A plan may appear in `order` several times, as a layer the model runs
   * several times does (analyze gives the model's own order: a round is then an inference on the
   * benchmarks' buffers). A submission holds enough rounds to span `minPassUs`, and each round
   * gives every plan in it one sample: the mean of its passes in that round. So a sample is one
   * inference's worth of the plan: what befalls a pass now and then (the scheduler taking the CPU
   * that runs a software adapter) is in as many samples as it is in model runs, and what befalls
   * every inference (in a long one, a tick or two) is in every sample.
   * Each plan stops on its own rule (as `time`), checked after each submission; one that stopped
   * on spread or sample count keeps running, untimed in effect, so the others' rounds stay the
   * same, while one past its budget (`budgetMs` of its own GPU time; or, once it has
   * `minSamples`, the rounds past n × `budgetMs` of wall time: what timing the n plans one by one
   * may take) leaves the rounds; `hooks.hold` suspends all of these rules. Requires timestamps
   * (call `time` per plan without them).
   */
  async timeRounds(items: RoundItem[], opts: TimingOptions = DEFAULT_TIMING, hooks: RoundHooks = {}, order?: readonly number[]): Promise<Outcome[]> {
    const n = items.length;
    const outcomes: Outcome[] = new Array(n);
    if (!this.usesTimestamps) throw new Error('timing in rounds needs GPU timestamps');
    const seq = order ?? [...items.keys()];
    if (seq.length > MAX_PASSES) throw new Error(`timing in rounds: ${seq.length} executions a round, at most ${MAX_PASSES}`);
    const perRound = new Array<number>(n).fill(0);
    for (const i of seq) {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new Error(`timing in rounds: no plan ${i} in the order`);
      perRound[i]++;
    }
    const missing = perRound.findIndex((k) => k === 0);
    if (missing >= 0) throw new Error(`timing in rounds: plan ${missing} is not in the order`);
    const samples: number[][] = items.map(() => []);
    const walls: number[][] = items.map(() => []);
    const spent = new Array<number>(n).fill(0);
    const firstAt = new Array<number>(n).fill(0);
    const next = new Array<number>(n).fill(0);
    const running = new Set(items.keys());
    const start = performance.now();
    try {
      /** Runs `rounds` rounds of `passes` (the order's running plans); per round, each plan's pass times. */
      const submit = async (rounds: number, passes: number[]): Promise<Array<Map<number, number[]>>> => {
        const steps: Step[] = [];
        for (let r = 0; r < rounds; r++) {
          for (const i of passes) {
            const it = items[i];
            for (const c of it.before ?? []) steps.push({ copy: c });
            steps.push({ pass: [it.plans[next[i]++ % it.plans.length]], timed: true });
          }
        }
        const t = (await this.runner.submit(steps, 'dlprof rounds')).passes;
        return Array.from({ length: rounds }, (_, r) => {
          const times = new Map<number, number[]>();
          passes.forEach((i, k) => {
            const [begin, end] = t[r * passes.length + k];
            const have = times.get(i);
            if (have) have.push(end - begin);
            else times.set(i, [end - begin]);
          });
          return times;
        });
      };
      let roundMs = 0;
      for (let w = 0; w < Math.max(1, opts.warmup); w++) {
        const [times] = await submit(1, seq.filter((i) => running.has(i)));
        roundMs = [...times.values()].flat().reduce((a, b) => a + b, 0);
      }
      // At most MAX_PASSES timed passes per submission (the query set's size).
      const rounds = Math.max(1, Math.min(opts.maxBatch, Math.floor(MAX_PASSES / seq.length), Math.ceil((opts.minPassUs / 1000) / Math.max(roundMs, 1e-6))));
      const open = new Set(items.keys());
      const criterion = criterionOf(opts);
      while (open.size) {
        if (hooks.stop?.()) throw new Error('interrupted');
        hooks.onProgress?.(n - open.size, n);
        const timed = [...running];
        const passes = seq.filter((i) => running.has(i));
        const t0 = performance.now();
        const byRound = await submit(rounds, passes);
        const now = performance.now();
        const held = hooks.hold?.() ?? false;
        const wallPerPass = (now - t0) / (rounds * passes.length);
        for (const i of timed) {
          const mine = byRound.map((times) => times.get(i)!);
          spent[i] += mine.flat().reduce((a, b) => a + b, 0);
          if (!open.has(i)) continue;
          if (samples[i].length === 0) firstAt[i] = now;
          for (const x of mine) {
            samples[i].push(x.reduce((a, b) => a + b, 0) / x.length);
            walls[i].push(wallPerPass);
          }
          const stoppedBy = criterion.stop({ samplesMs: samples[i], sampledForMs: now - firstAt[i], spentMs: spent[i], overall: now - start > n * opts.budgetMs, raceMs: items[i].raceMs });
          if (!stoppedBy || held) continue;
          outcomes[i] = { status: 'completed', samplesMs: samples[i], wallMs: walls[i], batch: perRound[i], source: 'timestamp', stoppedBy };
          hooks.onSettled?.(i, outcomes[i]);
          open.delete(i);
          if (stoppedBy === 'budget' || stoppedBy === 'outpaced') running.delete(i);
        }
        await hooks.between?.();
      }
      return outcomes;
    } catch (e) {
      const reason = (e as Error).message;
      return items.map((_, i) => outcomes[i] ?? { status: 'errored', reason });
    }
  }
}
