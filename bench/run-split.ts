/**
 * `npm run bench:run-split`: how a model run's one-pass time compares with its layers' own times
 * inside it, by statistic — what separates `analyze`'s reconstruction (a sum of per-layer trimmed
 * means) from its measured latency (the trimmed mean of whole runs) when the layer benchmarks agree
 * with the layers in context.
 *
 * The model runs as `analyze` runs it (src/bench/model.ts): each repeat is one pass for the whole
 * model (the total), then one timed pass per layer. Printed per model:
 *  - the one-pass total and the per-repeat sums of the layers' passes (trimmed means);
 *  - Σ over layers of each layer's trimmed mean (what a reconstruction adds), mean and median. The
 *    means add: Σ of the layers' means is the mean of the per-repeat sums, so Σ means − Σ trimmed
 *    means is time that each layer's samples hold only rarely, and a run holds every time;
 *  - interrupted samples: a layer's samples above 1.5× its median, as a share of all samples,
 *    their excess per repeat, and the largest. On a CPU adapter these are the scheduler handing the
 *    core to another thread for a tick while lavapipe works: the longer a submission runs without
 *    a break, the more of them it holds.
 * Options: `-- --models a,b` (default sparse-dnn-1024,mobilenetv2), `-- --runs N` (default 25).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildModelBytes, findModel, MODELS } from '../models/index.js';
import { modelInputs, runModel } from '../src/bench/model.js';
import { summarize, trimmedMean } from '../src/bench/stats.js';
import { closeGpu, openGpu } from '../src/gpu/device.js';
import { KernelRunner } from '../src/gpu/run.js';
import { loadGraph } from '../src/kernels/model.js';
import { kernelFor } from '../src/kernels/registry.js';
import { Progress } from '../src/util/progress.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const names = (opt('--models') ?? 'sparse-dnn-1024,mobilenetv2').split(',');
const runs = Number(opt('--runs') ?? 25);
const unknown = names.filter((n) => !findModel(n));
if (unknown.length || !(runs >= 3)) {
  console.error(unknown.length ? `--models: unknown model(s) ${unknown.join(', ')}; known: ${MODELS.map((m) => m.name).join(', ')}` : '--runs: at least 3');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-run-split-'));
const ctx = await openGpu();
if (!ctx.timestamps) {
  console.error('the adapter has no GPU timestamps: per-layer times inside a run need them');
  process.exit(3);
}
const runner = new KernelRunner(ctx);
const progress = new Progress();
const head = ['model', 'runs', 'one pass ms', 'Σ passes ms', 'Σ trimmed means', 'Σ means', 'Σ medians', 'trimmed vs one pass', 'interrupted samples', 'excess ms / run', 'largest ms'];
const rows: string[][] = [];
const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${(100 * (a - b) / b).toFixed(1)}%`;
try {
  for (const name of names) {
    const m = findModel(name)!;
    const file = path.join(dir, `${name}.onnx`);
    fs.writeFileSync(file, buildModelBytes(name));
    const g = loadGraph(file, { dims: new Map(Object.entries(m.dims)), shapes: new Map() });
    const run = await runModel(runner, g, modelInputs(g), (c) => kernelFor(c.layer.op)?.defaultVariant(c) ?? '',
      { repeats: runs, budgetMs: 0, readOutputs: false }, (w) => progress.step(1, 1, `${name}: ${w}`));
    progress.done();
    const perRepeat = run.totalsMs.map((_, r) => run.layers.reduce((a, l) => a + l.samplesMs[r], 0));
    const sum = (f: (xs: number[]) => number): number => run.layers.reduce((a, l) => a + f(l.samplesMs), 0);
    let interrupted = 0;
    let excess = 0;
    let largest = 0;
    for (const l of run.layers) {
      const med = summarize(l.samplesMs).median;
      for (const x of l.samplesMs) {
        if (x <= 1.5 * med) continue;
        interrupted++;
        excess += x - med;
        largest = Math.max(largest, x - med);
      }
    }
    const one = trimmedMean(run.totalsMs);
    const tm = sum(trimmedMean);
    const samples = run.layers.length * runs;
    rows.push([name, String(runs), one.toFixed(2), trimmedMean(perRepeat).toFixed(2), tm.toFixed(2), sum((xs) => summarize(xs).mean).toFixed(2),
      sum((xs) => summarize(xs).median).toFixed(2), pct(tm, one), `${interrupted}/${samples} (${(100 * interrupted / samples).toFixed(2)}%)`,
      (excess / runs).toFixed(2), largest.toFixed(2)]);
  }
} finally {
  closeGpu(ctx);
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`adapter: ${ctx.info.description}; default variants; trimmed means take a tenth off each end (stats.ts TRIM)`);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i])).join('  '));
